"""Query benchmark: the eight queries of ../shared/bench/README.md over the whole benchmark day.

Loads the workload into a fresh server (or reuses `--data-dir` from `bench/ingest.py --keep DIR`),
then runs each query once to warm up and 5 times measured, over HTTP, and prints the median beside
the real Loki's and VictoriaLogs' medians, with the CPU seconds (per run) and the peak PSS of the
whole process tree (server, resource tracker, decode workers; Linux /proc) while each query runs, and the
tree's PSS after all of them. `server ms` is the server's own median time (the answer's
`stats.summary.execTime`: from the request's parameters to the answer built), so what HTTP and the
JSON transfer add is the difference. Also checks each answer against the workload's ground truth
where the manifest has one, so a fast wrong answer cannot pass for a fast right one.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import TreeSampler, day_args, server_data_dir, tree_pss_mib, workload  # noqa: E402
from bench.ingest import push_all, settled_size  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402

START, END = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"
PATTERN = '<ip> - <user> [<_>] "<method> <path> <_>" <status> <size> <_>'
# (name, query, kind, extra params, Loki median ms, VictoriaLogs median ms)
QUERIES = [
    ("a selector", '{compose_service="nginx"}', "range", {"limit": "100"}, 24.5, 24),
    ("b substring", '{compose_project="aixcl"} |= "error"', "range", {"limit": "100"}, 743, 73),
    ("c regex", '{compose_project="aixcl"} |~ "(?i)timeout|refused"', "range", {"limit": "100"}, 1682, 327),
    ("d pattern+status", '{compose_service="nginx"} | pattern `' + PATTERN + '` | status >= 500', "range",
     {"limit": "100"}, 571, 55.5),
    ("e count by service", 'sum by (compose_service) (count_over_time({compose_project="aixcl"}[5m]))', "range",
     {"step": "5m"}, 2270, 44),
    ("f rate of filter", 'sum(rate({compose_project="aixcl"} |= "error" [1m]))', "range", {"step": "1m"}, 1787, 301),
    ("g topk bytes", 'topk(5, sum by (container) (bytes_over_time({compose_project="aixcl"}[1h])))', "instant",
     {}, 184, 39),
    ("h needle", '{compose_project="aixcl"} |= "xq7-needle-5150"', "range", {"limit": "100"}, 1654, 7.75),
]


def run(client: httpx.Client, query: str, kind: str, extra: dict) -> tuple[float, dict]:
    if kind == "range":
        params = {"query": query, "start": START, "end": END, **extra}
        path = "/loki/api/v1/query_range"
    else:
        params = {"query": query, "time": END, **extra}
        path = "/loki/api/v1/query"
    t0 = time.perf_counter()
    r = client.get(path, params=params)
    elapsed = (time.perf_counter() - t0) * 1000
    if r.status_code != 200:
        raise SystemExit(f"{query}: HTTP {r.status_code}: {r.text[:300]}")
    return elapsed, r.json()


def check(name: str, body: dict, expected: dict) -> str:
    """A short correctness note against the generator's ground truth."""
    result = body["data"]["result"]
    if name.startswith("h"):
        n = sum(len(s["values"]) for s in result)
        return "ok" if n == expected.get("needle_lines") else f"WRONG: {n} needle lines"
    if name.startswith("g"):
        got = [(s["metric"]["container"], int(float(s["value"][1]))) for s in result]
        return "ok" if len(got) == 5 else f"WRONG: {got}"
    if body["data"]["resultType"] == "streams":
        n = sum(len(s["values"]) for s in result)
        return "ok" if n == 100 else f"WRONG: {n} entries"
    return "ok" if result else "WRONG: empty"


def main() -> None:
    args = day_args(__doc__, runs=5)
    files, manifest = workload()
    data = server_data_dir(args.data_dir, "logyard-qbench-")
    srv = ServerProcess(data).start()
    try:
        pid = srv.proc.pid
        with TreeSampler(pid, every_s=0.1) as load:
            if not args.data_dir:
                push_all(srv.url, files, 4)
                httpx.post(srv.url + "/flush", timeout=600)
                settled_size(data)  # queries on the compacted day, without compaction beside them
        before = tree_pss_mib(pid)
        cpu_all = 0.0
        print(f"process tree PSS before the queries: {before:.0f} MiB (peak while loading {load.peak_pss_mib:.0f})")
        print(f"{'query':<22}{'logyard ms':>12}{'server ms':>10}{'Loki ms':>10}{'VLogs ms':>10}{'vs Loki':>9}"
              f"{'CPU s':>8}{'peak PSS':>10}  answer")
        with httpx.Client(base_url=srv.url, timeout=600) as client:
            for name, query, kind, extra, loki, vlogs in QUERIES:
                with TreeSampler(pid) as tree:
                    _, body = run(client, query, kind, extra)
                    timed = [run(client, query, kind, extra) for _ in range(args.runs)]
                cpu_all += tree.cpu_s
                med = statistics.median(t for t, _ in timed)
                server = statistics.median(b["data"]["stats"]["summary"]["execTime"] * 1000 for _, b in timed)
                note = check(name, body, manifest.get("expected", {}))
                print(f"{name:<22}{med:>12.1f}{server:>10.1f}{loki:>10.1f}{vlogs:>10.1f}{med / loki:>8.2f}x"
                      f"{tree.cpu_s / (args.runs + 1):>8.3f}{tree.peak_pss_mib:>10.0f}  {note}", flush=True)
        print(f"CPU s and peak PSS (MiB) of the whole process tree per query run, the peak over its "
              f"{args.runs + 1} runs; CPU s for all {len(QUERIES) * (args.runs + 1)} runs: {cpu_all:.1f} "
              f"(Loki ~80.7, VictoriaLogs ~8.7)")
        time.sleep(1.0)
        print(f"process tree PSS after the queries: {tree_pss_mib(pid):.0f} MiB")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()

"""Parser benchmark: queries that parse every line of a day, as users write them for their apps.

`bench/query.py` times the eight queries of ../shared/bench; none of them parses logfmt or JSON
over a whole day, which is what "log volume by level" of an app without a detected level, or an
error count of a JSON-logging service, does. These run over HTTP against a real `logyard serve`
holding the benchmark day (loaded like bench/query.py, or `--data-dir` from `bench/ingest.py
--keep DIR`), 24 hours in 5-minute steps; each query runs once to warm up and `--runs` times
measured, and the median wall and server time (`stats.summary.execTime`) and the answer's size
(series, or lines) are printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import server_data_dir, workload  # noqa: E402
from bench.ingest import push_all, settled_size  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402

START_NS = 1767225600 * 10**9
END_NS = START_NS + 86400 * 10**9
SEL = '{compose_project="aixcl"}'
QUERIES = [
    ("logfmt, by level", f"sum by (level) (count_over_time({SEL} | logfmt [5m]))"),
    ("logfmt, filter, by service", f'sum by (compose_service) (count_over_time({SEL} | logfmt | level=~"error|warn" [5m]))'),
    ("logfmt, top error messages", f'topk(5, sum by (msg) (count_over_time({SEL} | logfmt | level="error" [5m])))'),
    ("logfmt, error lines", f'{SEL} | logfmt | level="error"'),
    ("json, errors by service", f'sum by (compose_service) (count_over_time({SEL} | json | __error__="" | level="error" [5m]))'),
]


def run(client: httpx.Client, query: str) -> tuple[float, float, int] | None:
    """Wall ms, server ms and the size of the answer (series, or lines) of one query; None when
    it ran past the server's query timeout (504)."""
    r = client.get("/loki/api/v1/query_range", params={"query": query, "start": str(START_NS), "end": str(END_NS),
                                                        "step": "300", "limit": "100", "direction": "backward"})
    if r.status_code == 504:
        return None
    if r.status_code != 200:
        raise SystemExit(f"{query}: HTTP {r.status_code}: {r.text[:300]}")
    data = r.json()["data"]
    size = sum(len(s["values"]) for s in data["result"]) if data["resultType"] == "streams" else len(data["result"])
    return r.elapsed.total_seconds() * 1000, data["stats"]["summary"]["execTime"] * 1000, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", help="the DIR of an earlier `bench/ingest.py --keep DIR` (its loaded data)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs of each query (after one warm-up); medians")
    args = ap.parse_args()
    data = server_data_dir(args.data_dir, "logyard-pbench-")
    srv = ServerProcess(data).start()
    try:
        if not args.data_dir:
            files, _ = workload()
            push_all(srv.url, files, 4)
            httpx.post(srv.url + "/flush", timeout=600)
            settled_size(data)
        print(f"{'query':<30}{'ms':>10}{'server ms':>11}{'answer':>8}  LogQL")
        with httpx.Client(base_url=srv.url, timeout=1800) as client:
            for name, query in QUERIES:
                timed = []
                if run(client, query) is not None:  # the warm-up
                    timed = [t for t in (run(client, query) for _ in range(args.runs)) if t is not None]
                if not timed:
                    print(f"{name:<30}{'timed out (the server query timeout, 504)':>29}  {query}", flush=True)
                    continue
                print(f"{name:<30}{statistics.median(t[0] for t in timed):>10.1f}"
                      f"{statistics.median(t[1] for t in timed):>11.1f}{timed[-1][2]:>8}  {query}", flush=True)
    finally:
        srv.stop()


if __name__ == "__main__":
    main()

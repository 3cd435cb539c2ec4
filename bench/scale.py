"""Scale-out benchmark (docs/scaling.md): the bench day pushed into 1 and into 2 writers, and the
eight queries of bench/query.py asked of 1 reader and of 2 readers at once, beside the same figures of
one `target: all` process; the object store is a SeaweedFS on loopback, started and stopped here.

    python bench/scale.py [--clients 4] [--runs 3] [--bodies N]

* Ingest: the workload's bodies over `--clients` keep-alive connections (bench/ingest.py's pusher),
  spread over the writers (each writer its share of the bodies and of the clients); lines/s is
  lines over the wall time of the pushes, acknowledged into the writers' WALs and heads (blocks
  reach the store as heads fill, as in production).
* Queries: after the writers flushed and a backend compacted their blocks (as the `all` process
  compacts its own), once the readers list the compacted blocks and the writers' heads are empty.
  "1 client": each query alone, median of `--runs` (latency). "2 clients": two clients at once, each
  asking all queries `--runs` times, with 1 reader both at it, with 2 readers one each (and the `all`
  process both at it); median per query and queries/s over both. Every answer is checked against the
  workload's ground truth as bench/query.py does (unless `--bodies` cuts the workload).

All processes share this machine's cores: the figures say what the arrangement costs and where it
stops paying on one host, not what separate hosts give.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import workload  # noqa: E402
from bench.ingest import push_all, settled_size  # noqa: E402
from bench.query import QUERIES, check, run  # noqa: E402
from tests.cluster.test_reader_conformance import head_rows, node_config  # noqa: E402
from tests.cluster.test_scalable import metric, until, writers_of  # noqa: E402
from tests.support.s3 import WeedS3  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402


def ingest(urls: list[str], files: list[Path], clients: int) -> float:
    """Wall seconds to push `files`, body i to writer i mod len(urls), each writer its share of clients."""
    shares = [files[i::len(urls)] for i in range(len(urls))]
    threads = [threading.Thread(target=push_all, args=(url, share, max(1, clients // len(urls))))
               for url, share in zip(urls, shares)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def latencies(url: str, runs: int, expected: dict | None) -> dict[str, float]:
    """Median ms per query, each asked alone `runs` times after a warm-up whose answer is checked."""
    out = {}
    with httpx.Client(base_url=url, timeout=600) as client:
        for name, query, kind, extra, *_ in QUERIES:
            _, body = run(client, query, kind, extra)
            if expected is not None and (note := check(name, body, expected)) != "ok":
                raise SystemExit(f"{name} at {url}: {note}")
            out[name] = statistics.median(run(client, query, kind, extra)[0] for _ in range(runs))
    return out


def concurrent(urls: list[str], runs: int) -> tuple[dict[str, float], float]:
    """Two clients at once, client i asking urls[i]: median ms per query over both, and queries/s."""
    times: dict[str, list[float]] = {name: [] for name, *_ in QUERIES}
    lock = threading.Lock()

    def client_loop(url: str) -> None:
        with httpx.Client(base_url=url, timeout=600) as client:
            for _ in range(runs):
                for name, query, kind, extra, *_ in QUERIES:
                    ms = run(client, query, kind, extra)[0]
                    with lock:
                        times[name].append(ms)

    threads = [threading.Thread(target=client_loop, args=(url,)) for url in urls]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {k: statistics.median(v) for k, v in times.items()}, len(urls) * runs * len(QUERIES) / wall


def single(root: Path, files: list[Path], args, expected) -> dict:
    srv = ServerProcess(root / "all" / "data").start()
    try:
        wall = ingest([srv.url], files, args.clients)
        httpx.post(srv.url + "/flush", timeout=600)
        settled_size(root / "all" / "data")  # its compaction done, as the scaled-out backend's below
        lat = latencies(srv.url, args.runs, expected)
        both, qps = concurrent([srv.url, srv.url], args.runs)
        return {"ingest": wall, "lat": lat, "lat2": both, "qps2": qps}
    finally:
        srv.stop()


def scaled(root: Path, weed: WeedS3, files: list[Path], writers_n: int, args, expected) -> dict:
    """`writers_n` writers ingest; with 2, two readers and a backend then answer the queries."""
    bucket = weed.bucket()
    tmp = root / f"scaled-{writers_n}"
    names = [f"w{i + 1}" for i in range(writers_n)]
    procs = {n: ServerProcess(tmp / n / "data") for n in names + ["r1", "r2", "b"]}
    addrs = [f"127.0.0.1:{procs[n].port}" for n in names]
    for name, p in procs.items():
        target = {"w": "write", "r": "read", "b": "backend"}[name[0]]
        p.config.write_text(node_config(target, weed, bucket, name, addrs))
    writers = [procs[n] for n in names]
    readers = [procs["r1"], procs["r2"]]
    try:
        for p in writers:
            p.start(wait=False)
        for p in writers:
            p.wait_ready(120)
        out = {"ingest": ingest([w.url for w in writers], files, args.clients)}
        if writers_n < 2:
            return out
        for w in writers:
            assert httpx.post(w.url + "/flush", timeout=600).status_code == 204
        for p in (*readers, procs["b"]):
            p.start(wait=False)
        for p in (*readers, procs["b"]):
            p.wait_ready(300)
        until(lambda: writers_of(weed, bucket) == {"b"}, "the backend compacts the writers' blocks", 1800)
        blocks = len(weed.keys(bucket, "blocks"))
        until(lambda: all(metric(r.url, "logyard_storage_blocks") == blocks for r in readers),
              "the readers list the compacted blocks", 300)
        until(lambda: all(head_rows(w) == 0 for w in writers), "the writers' retained heads expire", 300)
        out["lat"] = latencies(readers[0].url, args.runs, expected)
        out["lat2_one"], out["qps2_one"] = concurrent([readers[0].url, readers[0].url], args.runs)
        out["lat2"], out["qps2"] = concurrent([r.url for r in readers], args.runs)
        return out
    finally:
        for p in procs.values():
            p.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bodies", type=int, default=0, help="only the first N bodies (a quick run; answers unchecked)")
    args = ap.parse_args()
    files, manifest = workload()
    lines = int(manifest["pushed_entries"])
    expected = manifest.get("expected", {})
    if args.bodies:
        files, expected = files[:args.bodies], None
        lines = round(lines * len(files) / len(workload()[0]))  # the bodies are of about one size
    root = Path(tempfile.mkdtemp(prefix="logyard-scale-bench-"))
    weed = WeedS3(root / "weed").start()
    try:
        one = single(root, files, args, expected)
        w1 = scaled(root, weed, files, 1, args, expected)
        w2 = scaled(root, weed, files, 2, args, expected)
    finally:
        weed.stop()
    print(f"workload: {len(files)} bodies, ~{lines:,} lines, {args.clients} push clients; "
          f"queries: {args.runs} runs; object store: SeaweedFS on loopback")
    print(f"{'ingest lines/s':<26}{'all':>12}{'1 writer':>12}{'2 writers':>12}")
    print(f"{'':<26}{lines / one['ingest']:>12,.0f}{lines / w1['ingest']:>12,.0f}{lines / w2['ingest']:>12,.0f}")
    print(f"{'query median ms':<22}{'all':>9}{'1 reader':>10}{'all 2cl':>9}{'1 rdr 2cl':>10}{'2 rdrs 2cl':>11}")
    for name, *_ in QUERIES:
        print(f"{name:<22}{one['lat'][name]:>9.1f}{w2['lat'][name]:>10.1f}{one['lat2'][name]:>9.1f}"
              f"{w2['lat2_one'][name]:>10.1f}{w2['lat2'][name]:>11.1f}")
    print(f"{'queries/s, 2 clients':<22}{'':>9}{'':>10}{one['qps2']:>9.2f}{w2['qps2_one']:>10.2f}{w2['qps2']:>11.2f}")


if __name__ == "__main__":
    main()

"""Ingest benchmark: the shared workload pushed by 4 keep-alive clients into a fresh `logyard serve`.

Prints lines/s, MB/s of line text, CPU seconds and peak PSS of the whole process tree (server,
resource tracker, decode workers; Linux /proc) while the bodies are pushed, the summed peak RSS, and bytes
on disk per raw line byte after a flush, beside the Loki and VictoriaLogs figures of
../shared/bench/README.md; then the same tree's CPU and peak PSS through the flush and the
compaction after it. `--runs N` fresh servers, medians.
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import TreeSampler, dir_bytes, peak_rss_mib, tree_pss_mib, workload  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402

LOKI = {"lines/s": 156_800, "MB/s": 27.1, "cpu s": 25.9, "peak PSS MiB": 518, "peak RSS MiB": 538, "disk/raw": 0.230}
VLOGS = {"lines/s": 258_000, "MB/s": 44.6, "cpu s": 14.8, "peak PSS MiB": 274, "peak RSS MiB": 268, "disk/raw": 0.208}


def push_all(url: str, files: list[Path], clients: int) -> None:
    """Each body POSTed once over `clients` keep-alive connections. The standard library's client:
    the bench shares the server's 2 cores, and httpx spent 1.4 CPU s of them on the 460 bodies
    (http.client 0.33 s), which the server's figure would otherwise pay for."""
    parts = urlsplit(url)
    queue = list(files)
    lock = threading.Lock()
    errors: list[str] = []
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    path = queue.pop(0)
                conn.request("POST", "/loki/api/v1/push", body=path.read_bytes(), headers=headers)
                r = conn.getresponse()
                text = r.read()
                if r.status != 204:
                    errors.append(f"{path.name}: {r.status} {text[:200]!r}")
        except (OSError, http.client.HTTPException) as e:
            errors.append(f"{type(e).__name__}: {e}")
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit("push failed: " + "; ".join(errors[:3]))


def settled_size(path: Path, quiet_s: float = 15.0, limit_s: float = 180.0) -> int:
    """Bytes of the data dir once background compaction has stopped changing it (the README's method)."""
    deadline = time.monotonic() + limit_s
    last, since = dir_bytes(path), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = dir_bytes(path)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return last


def ingest_once(files: list[Path], lines: int, line_bytes: int, clients: int, keep: str | None) -> dict:
    """One fresh server: push everything (the ingest phase), flush, wait for compaction to settle.
    Figures of the whole process tree (server, resource tracker, decode workers)."""
    tmp = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="logyard-bench-"))
    srv = ServerProcess(tmp / "data").start()
    try:
        pid = srv.proc.pid
        with TreeSampler(pid) as push:
            t0 = time.perf_counter()
            push_all(srv.url, files, clients)
            wall = time.perf_counter() - t0
        rss = peak_rss_mib(pid)  # before compaction, as in the README's method
        with TreeSampler(pid, every_s=0.1) as settle:
            httpx.post(srv.url + "/flush", timeout=600)
            disk = settled_size(tmp / "data")
        after = tree_pss_mib(pid)
    finally:
        srv.stop()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return {"lines/s": lines / wall, "MB/s": line_bytes / wall / 1e6, "cpu s": push.cpu_s,
            "peak PSS MiB": push.peak_pss_mib, "peak RSS MiB": rss, "disk/raw": disk / line_bytes,
            "wall s": wall, "flush+compact cpu s": settle.cpu_s, "flush+compact peak PSS MiB": settle.peak_pss_mib,
            "PSS settled MiB": after}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--runs", type=int, default=5, help="fresh servers to ingest into; medians are printed")
    ap.add_argument("--keep", help="keep the (last run's) data dir here (for bench/query.py) instead of a temp dir")
    args = ap.parse_args()
    files, manifest = workload()
    lines = int(manifest["pushed_entries"])
    line_bytes = int(manifest["pushed_line_bytes"])
    runs = []
    for i in range(args.runs):
        keep = args.keep if args.keep and i == args.runs - 1 else None
        runs.append(r := ingest_once(files, lines, line_bytes, args.clients, keep))
        print(f"run {i + 1}: " + ", ".join(f"{k} {v:,.3f}" if k == "disk/raw" else f"{k} {v:,.1f}"
                                           for k, v in r.items()), flush=True)
    ours = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"workload: {lines:,} lines, {line_bytes / 1e6:.1f} MB of line text, {len(files)} bodies, "
          f"{args.clients} clients; medians of {args.runs} runs; memory and CPU of the whole process tree")
    print(f"{'figure':<28}{'logyard':>12}{'Loki':>12}{'VictoriaLogs':>14}")
    for k, v in ours.items():
        fmt = "{:>12,.0f}" if k == "lines/s" else "{:>12.3f}" if k == "disk/raw" else "{:>12.1f}"
        print(f"{k:<28}" + fmt.format(v) + (fmt.format(LOKI[k]) + fmt.format(VLOGS[k]).rjust(14) if k in LOKI else ""))
    print(f"data on disk after flush: {ours['disk/raw'] * line_bytes / 1e6:.1f} MB")


if __name__ == "__main__":
    main()

"""Ingest benchmark: the shared workload pushed by 4 keep-alive clients into a fresh `logyard serve`.

Prints lines/s, MB/s of line text, the server's CPU seconds and peak RSS, and bytes on disk per raw
line byte after a flush, beside the Loki and VictoriaLogs figures of ../shared/bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import cpu_seconds, dir_bytes, peak_rss_mib, workload  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402

LOKI = {"lines/s": 156_800, "MB/s": 27.1, "cpu s": 25.9, "peak RSS MiB": 538, "disk/raw": 0.230}
VLOGS = {"lines/s": 258_000, "MB/s": 44.6, "cpu s": 14.8, "peak RSS MiB": 268, "disk/raw": 0.208}


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--keep", help="keep the data dir here (for bench/query.py) instead of a temp dir")
    args = ap.parse_args()
    files, manifest = workload()
    lines = int(manifest["pushed_entries"])
    line_bytes = int(manifest["pushed_line_bytes"])
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="logyard-bench-"))
    srv = ServerProcess(tmp / "data").start()
    try:
        pid = srv.proc.pid
        cpu0 = cpu_seconds(pid)
        t0 = time.perf_counter()
        push_all(srv.url, files, args.clients)
        wall = time.perf_counter() - t0
        cpu = cpu_seconds(pid) - cpu0
        rss = peak_rss_mib(pid)  # before compaction, as in the README's method
        httpx.post(srv.url + "/flush", timeout=600)
        disk = settled_size(tmp / "data")
    finally:
        srv.stop()
    ours = {"lines/s": lines / wall, "MB/s": line_bytes / wall / 1e6, "cpu s": cpu,
            "peak RSS MiB": rss, "disk/raw": disk / line_bytes}
    print(f"workload: {lines:,} lines, {line_bytes / 1e6:.1f} MB of line text, {len(files)} bodies, "
          f"{args.clients} clients; wall {wall:.1f} s")
    print(f"{'figure':<16}{'logyard':>12}{'Loki':>12}{'VictoriaLogs':>14}")
    for k in ours:
        fmt = "{:>12,.0f}" if k == "lines/s" else "{:>12.3f}" if k == "disk/raw" else "{:>12.1f}"
        print(f"{k:<16}" + fmt.format(ours[k]) + fmt.format(LOKI[k]) + fmt.format(VLOGS[k]).rjust(14))
    print(f"data on disk after flush: {disk / 1e6:.1f} MB")


if __name__ == "__main__":
    main()

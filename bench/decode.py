"""Push decoding throughput on the benchmark workload (gzipped Loki JSON bodies from gen_bench.py).

    python bench/decode.py [--data DIR] [--files 460] [--repeat 2]   (DIR: the workload's, bench/common.py)

Prints one table: CPU time per line (process time, so that other processes on a shared machine
distort it less than wall time) for gunzip alone (zlib, and ISA-L as decode uses it), orjson
parsing alone (what the reference JSON path pays before any of its own work), the whole
decode_push of the gzipped body, level detection alone, and the server's worker path end to end
(`decode_body`: decode_push, sample-age filter, WAL payload). The process's memory is set up as a
decode worker's (system allocator for Arrow, glibc keeping freed memory). Level detection is timed
twice: the reference (level.py, RE2 passes) and the C pass that decode uses (level_fast.py).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import sys
import time
from pathlib import Path

import orjson
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DEFAULT_DATA  # noqa: E402
from logyard.api.ingest_pool import DecodeOptions, decode_body, keep_freed_memory, use_system_allocator  # noqa: E402
from logyard.ingest.body import decompress  # noqa: E402
from logyard.ingest.decode import DEFAULT_LIST, decode_push  # noqa: E402
from logyard.ingest.level import detect_levels  # noqa: E402
from logyard.ingest.level_fast import detect_levels as fast_levels  # noqa: E402


def best_of(repeat: int, fn) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def parse_all(raw: list[bytes]) -> None:
    gc.disable()  # as decode_push does; each document is dropped at once
    try:
        for b in raw:
            orjson.loads(b)
    finally:
        gc.enable()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--files", type=int, default=460)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    # Memory set up as in a decode worker (ingest_pool._warm): it changes the cost of every
    # large allocation a body makes.
    use_system_allocator()
    keep_freed_memory()

    paths = sorted(Path(args.data).glob("push-*.json.gz"))[: args.files]
    if not paths:
        sys.exit(f"no push-*.json.gz in {args.data}: run gen_bench.py --out {args.data} first")
    bodies = [p.read_bytes() for p in paths]
    raw_size = sum(len(gzip.decompress(b)) for b in bodies)
    columns = []
    lines = 0
    for b in bodies:
        text = [v[1] for s in orjson.loads(gzip.decompress(b))["streams"] for v in s["values"]]
        columns.append(pa.array(text, type=pa.string()))
        lines += len(text)
    decode_push(bodies[0], "application/json", "gzip")  # warm up imports and caches

    def run_decode() -> None:
        n = sum(decode_push(b, "application/json", "gzip").lines for b in bodies)
        assert n == lines, (n, lines)

    # The workload's timestamps lie in the past: no sample-age limit, so every line is kept.
    opts = DecodeOptions(262144, tuple(DEFAULT_LIST), True, None, 0)

    def run_body() -> None:
        n = sum(decode_body("bench", b, "application/json", "gzip", opts).lines for b in bodies)
        assert n == lines, (n, lines)

    raw = [gzip.decompress(b) for b in bodies]
    rows = [
        ("gunzip only (zlib)", best_of(args.repeat, lambda: [gzip.decompress(b) for b in bodies])),
        ("gunzip only (ISA-L, used)", best_of(args.repeat, lambda: [decompress(b, "gzip") for b in bodies])),
        ("orjson.loads only", best_of(args.repeat, lambda: parse_all(raw))),
        ("decode_push (gzip JSON)", best_of(args.repeat, run_decode)),
        ("  level.py (reference)", best_of(args.repeat, lambda: [detect_levels(c) for c in columns])),
        ("  level_fast.py (C, used)", best_of(args.repeat, lambda: [fast_levels(c) for c in columns])),
        (
            "decode_push, levels off",
            best_of(args.repeat, lambda: [decode_push(b, "application/json", "gzip", discover_log_levels=False) for b in bodies]),
        ),
        ("decode_body (worker, e2e)", best_of(args.repeat, run_body)),
    ]
    print(f"{len(bodies)} bodies, {lines:,} lines, ~{raw_size / 1e6:,.0f} MB JSON")
    print(f"{'phase':28s} {'us/line':>8s} {'lines/s':>12s}")
    for name, seconds in rows:
        print(f"{name:28s} {seconds / lines * 1e6:8.3f} {lines / seconds:12,.0f}")


if __name__ == "__main__":
    main()

"""Storage benchmark: append lines/s, flush time, bytes on disk per raw line byte, full reads.

Usage: python bench/storage.py [--data DIR] [--dir STORE_DIR] [--threads 4]   (defaults under the temp dir)
The workload comes from ../shared/bench/gen_bench.py (generated into --data when missing). Bodies are decoded
here with orjson into PushStreams (labels + service_name; structured metadata as canonical JSON),
outside the timed section, so the figures are the store's alone. Prints a stable table.
"""

from __future__ import annotations

import argparse
import gzip
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import orjson
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_DATA, workload  # noqa: E402
from logyard.ingest.model import PushStream  # noqa: E402
from logyard.labels import LabelSet, Matcher  # noqa: E402
from logyard.storage.store import Store  # noqa: E402
from logyard.storage.wal import prepare_append  # noqa: E402

SERVICE_NAME_FROM = ("service", "app", "application", "app_name", "name", "app_kubernetes_io_name",
                     "container", "container_name", "k8s_container_name", "component", "workload",
                     "job", "k8s_job_name")


def to_push_streams(body: bytes) -> list[PushStream]:
    """A trivial push decoder for the benchmark (the real one lives in logyard.ingest)."""
    out = []
    for s in orjson.loads(body)["streams"]:
        labels = dict(s["stream"])
        if "service_name" not in labels:
            labels["service_name"] = next((labels[k] for k in SERVICE_NAME_FROM if k in labels), "unknown_service")
        values = s["values"]
        ts = np.array([int(v[0]) for v in values], dtype=np.int64)
        lines = [v[1] for v in values]
        meta = [orjson.dumps(v[2], option=orjson.OPT_SORT_KEYS).decode() if len(v) > 2 and v[2] else "" for v in values]
        out.append(PushStream(LabelSet(labels.items()), ts, lines, meta))
    return out


def load(data: Path, limit: int = 0) -> list[list[PushStream]]:
    files = sorted(data.glob("push-*.json.gz"))[: limit or None]
    return [to_push_streams(gzip.decompress(f.read_bytes())) for f in files]


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def row(name: str, value: str) -> None:
    print(f"| {name:<44} | {value:>18} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "logyard-bench-store")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--head-mb", type=int, default=64)
    ap.add_argument("--files", type=int, default=0, help="use only the first N bodies (0 = all)")
    ap.add_argument("--rss", action="store_true",
                    help="decode bodies inside the append threads (no decoded workload held in memory) "
                         "and report the peak RSS of the store's ingest; throughput then includes decoding")
    args = ap.parse_args()
    _, manifest = workload(args.data)
    if args.rss:
        return rss_run(args)
    t0 = time.perf_counter()
    pushes = load(args.data, args.files)
    t_decode = time.perf_counter() - t0
    lines = sum(len(s) for p in pushes for s in p)
    raw = int(manifest["pushed_line_bytes"]) if not args.files else sum(len(x.encode()) for p in pushes for s in p for x in s.lines)
    # Append alone (one thread, no flush): the per-line cost of the ingest path.
    shutil.rmtree(args.dir, ignore_errors=True)
    probe = pushes[:100]
    store = Store(args.dir, head_max_bytes=1 << 40)
    store.open()
    c0 = time.process_time()
    for p in probe:
        store.append("fake", p)
    cpu_only = (time.process_time() - c0) / sum(len(s) for p in probe for s in p)
    c0 = time.process_time()
    store.flush()
    cpu_flush = (time.process_time() - c0) / sum(len(s) for p in probe for s in p)
    store.close()
    # The server's path: payloads prepared elsewhere (worker processes), committed here.
    shutil.rmtree(args.dir, ignore_errors=True)
    payloads = [prepare_append("fake", p) for p in probe]
    store = Store(args.dir, head_max_bytes=1 << 40)
    store.open()
    c0 = time.process_time()
    for pl in payloads:
        store.append_prepared(pl)
    cpu_prepared = (time.process_time() - c0) / sum(len(s) for p in probe for s in p)
    store.close()
    shutil.rmtree(args.dir, ignore_errors=True)
    store = Store(args.dir, head_max_bytes=args.head_mb << 20)
    store.open()
    store.start_background()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(lambda p: store.append("fake", p), pushes))
    t_append = time.perf_counter() - t0
    cpu_append = time.process_time() - cpu0
    store.stop_background()
    head_lines = store.sizes()["head_lines"]
    t0 = time.perf_counter()
    store.flush()
    t_flush = time.perf_counter() - t0
    sz = store.sizes()
    blocks_before = sz["blocks"]
    block_bytes_before = sz["block_bytes"]
    t0, c0 = time.perf_counter(), time.process_time()
    merged = store.compact()
    t_compact, cpu_compact = time.perf_counter() - t0, time.process_time() - c0
    sz = store.sizes()
    start, end = int(manifest["start_ns"]), int(manifest["end_ns"])
    ids = store.streams("fake", [Matcher("compose_project", "=", "aixcl")], start, end)
    t0 = time.perf_counter()
    n_read = sum(t.num_rows for t in store.read("fake", ids, start, end, direction="forward"))
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_count = sum(t.num_rows for t in store.read("fake", ids, start, end, columns=("stream", "ts")))
    t_count = time.perf_counter() - t0
    nginx = store.streams("fake", [Matcher("compose_service", "=", "nginx")], start, end)
    t0 = time.perf_counter()
    for t in store.read("fake", nginx, start, end):
        break
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    needle = manifest["needle"]
    hits = sum(pc.sum(pc.match_substring(t.column("line"), needle)).as_py() or 0
               for t in store.read("fake", ids, start, end, line_contains=[needle]))
    t_needle = time.perf_counter() - t0
    store.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"workload: {lines:,} lines, {raw / 1e6:.1f} MB of line text, {len(pushes)} pushes (decode {t_decode:.1f}s, untimed)")
    print("| figure                                       |              value |")
    print("|----------------------------------------------|--------------------|")
    row("append lines/s (%d threads)" % args.threads, f"{lines / t_append:,.0f}")
    row("CPU us/line: append alone, 1 thread", f"{cpu_only * 1e6:.3f}")
    row("CPU us/line: append_prepared (commit only)", f"{cpu_prepared * 1e6:.3f}")
    row("CPU us/line: flush alone", f"{cpu_flush * 1e6:.3f}")
    row("CPU us/line: appends + background flushes", f"{cpu_append / lines * 1e6:.3f}")
    row("final flush s (head lines)", f"{t_flush:.2f} ({head_lines:,})")
    row("blocks before / after compaction", f"{blocks_before} / {sz['blocks']}")
    row("compaction s (blocks merged)", f"{t_compact:.2f} ({merged})")
    row("compaction CPU s", f"{cpu_compact:.2f}")
    row("block bytes / line bytes before compaction", f"{block_bytes_before / raw:.4f}")
    row("block bytes / line bytes after compaction", f"{sz['block_bytes'] / raw:.4f}")
    row("data dir bytes / line bytes", f"{dir_bytes(args.dir) / raw:.4f}")
    row("full read all columns, rows", f"{n_read:,}")
    row("full read all columns s", f"{t_read:.2f}")
    row("read stream+ts only s", f"{t_count:.2f} ({n_count:,})")
    row("first window of nginx backward ms", f"{t_first * 1000:.1f}")
    row("needle read+filter ms (hits)", f"{t_needle * 1000:.1f} ({hits})")
    row("peak RSS MiB (incl. decoded workload)", f"{rss:.0f}")


def vm(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def rss_run(args) -> None:
    files = sorted(args.data.glob("push-*.json.gz"))[: args.files or None]
    shutil.rmtree(args.dir, ignore_errors=True)
    store = Store(args.dir, head_max_bytes=args.head_mb << 20)
    store.open()
    store.start_background()
    base = vm("VmRSS")
    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        n = sum(pool.map(lambda f: _append_file(store, f), files))
    t_ingest = time.perf_counter() - t0
    store.close()
    print(f"streaming ingest of {len(files)} bodies, {n:,} lines, head_max {args.head_mb} MiB")
    print("| figure                                       |              value |")
    print("|----------------------------------------------|--------------------|")
    row("lines/s incl. gunzip + JSON decode", f"{n / t_ingest:,.0f}")
    row("RSS before ingest MiB", f"{base:.0f}")
    row("peak RSS MiB", f"{vm('VmHWM'):.0f}")


def _append_file(store: Store, f: Path) -> int:
    streams = to_push_streams(gzip.decompress(f.read_bytes()))
    store.append("fake", streams)
    return sum(len(s) for s in streams)


if __name__ == "__main__":
    main()

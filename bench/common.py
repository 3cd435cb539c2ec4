"""Shared benchmark plumbing: the workload from ../shared/bench, a server process, /proc readings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.paths import shared_file

DEFAULT_DATA = Path(os.environ.get("LOGYARD_BENCH_DATA", Path(tempfile.gettempdir()) / "bench-data"))


def server_data_dir(kept: str | None, prefix: str) -> Path:
    """The data directory of the server a query benchmark starts: `kept`'s (the DIR of an earlier
    `bench/ingest.py --keep DIR`, its loaded day; exits when it holds none), else a new one to load."""
    if not kept:
        return Path(tempfile.mkdtemp(prefix=prefix)) / "data"
    data = Path(kept) / "data"  # where bench/ingest.py --keep DIR leaves the server's data
    if not (data / "index.sqlite").is_file():
        sys.exit(f"{kept} holds no logyard data: load it with `bench/ingest.py --keep {kept}` first")
    return data


def day_args(doc: str | None, runs: int):
    """The options of a benchmark over the day's queries: `--data-dir` (a kept day) and `--runs`."""
    import argparse

    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--data-dir", help="the DIR of an earlier `bench/ingest.py --keep DIR` (its loaded data)")
    ap.add_argument("--runs", type=int, default=runs, help="timed runs of each query (after one warm-up); medians")
    return ap.parse_args()


@contextmanager
def day_server(kept: str | None, prefix: str) -> Iterator:
    """A real `logyard serve` holding the benchmark day: `kept`'s loaded data (server_data_dir), or
    the workload pushed into a new one, flushed and left to settle; stopped afterwards."""
    import httpx

    from bench.ingest import push_all, settled_size  # bench.ingest uses this module
    from tests.support.server import ServerProcess

    data = server_data_dir(kept, prefix)
    srv = ServerProcess(data).start()
    try:
        if not kept:
            files, _ = workload()
            push_all(srv.url, files, 4)
            httpx.post(srv.url + "/flush", timeout=600)
            settled_size(data)  # queries on the compacted day, without compaction beside them
        yield srv
    finally:
        srv.stop()


def timed_answer(r, what: str) -> tuple[float, float, int]:
    """Wall ms, the server's own ms (`stats.summary.execTime`) and the size of the answer (lines
    of a streams result, else series) of a query's httpx response; exits on an error status."""
    if r.status_code != 200:
        raise SystemExit(f"{what}: HTTP {r.status_code}: {r.text[:300]}")
    data = r.json()["data"]
    size = sum(len(s["values"]) for s in data["result"]) if data["resultType"] == "streams" else len(data["result"])
    return r.elapsed.total_seconds() * 1000, data["stats"]["summary"]["execTime"] * 1000, size


def workload(out: Path = DEFAULT_DATA) -> tuple[list[Path], dict]:
    """The benchmark push bodies, generated once with ../shared/bench/gen_bench.py and reused."""
    manifest = out / "manifest.json"
    if not manifest.exists():
        print(f"generating the workload into {out} (1-2 minutes)...", file=sys.stderr)
        subprocess.run([sys.executable, str(shared_file("bench", "gen_bench.py")), "--out", str(out)], check=True)
    return sorted(out.glob("push-*.json.gz")), json.loads(manifest.read_text())


def tree_pids(pid: int) -> list[int]:
    """The process and all its descendants (the server's decode workers count as the server)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                pass
    return out


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime + stime + waited-for children's cutime + cstime
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU seconds of the whole process tree so far."""
    return sum(_cpu(p) for p in tree_pids(pid))


def _rollup_kib(pid: int, key: str = "Pss:") -> int | None:
    """One field of /proc/PID/smaps_rollup in KiB (None: the process is gone or it is unreadable)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return None


def tree_pss_mib(pid: int) -> float:
    """PSS of the process tree now, summed: pages shared by the server, the resource tracker and the decode
    workers count once in all (each process holds its share), unlike RSS summed."""
    return sum(_rollup_kib(p) or 0 for p in tree_pids(pid)) / 1024


class TreeSampler:
    """The whole process tree of `pid` (server, resource tracker, decode workers) over a phase of a
    benchmark: CPU seconds spent in it and the peak of its summed PSS.

    Linux only (/proc). A background thread sums PSS every `every_s` (plus once at the start and
    once at the end), so a peak shorter than that interval can be missed. CPU seconds are utime +
    stime of every process of the tree plus cutime + cstime (children that exited and were waited
    for by a process of the tree, as a process pool's parent does for its workers); a process that left
    the tree unreaped by it is not counted. The sampler's own reading runs in the benchmark's
    process, not in the tree it measures.

        with TreeSampler(pid) as s:
            ...
        s.cpu_s, s.peak_pss_mib
    """

    def __init__(self, pid: int, every_s: float = 0.05) -> None:
        self.pid = pid
        self.every_s = every_s
        self.peak_pss_mib = 0.0
        self.cpu_s = 0.0
        self._cpu0 = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> float:
        pss = tree_pss_mib(self.pid)
        self.peak_pss_mib = max(self.peak_pss_mib, pss)
        return pss

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.sample()

    def __enter__(self) -> "TreeSampler":
        self._cpu0 = cpu_seconds(self.pid)
        self.sample()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()
        self.cpu_s = cpu_seconds(self.pid) - self._cpu0


def peak_rss_mib(pid: int) -> float:
    """Sum of the peak RSS (VmHWM) of every process of the tree: an upper bound of the tree's peak."""
    total = 0
    for p in tree_pids(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def memory_mib(pid: int) -> tuple[float, float | None]:
    """Current RSS (VmRSS) and PSS of the process tree, summed; PSS is None where smaps_rollup is unreadable.

    RSS counts pages shared by the server and its forked decode workers once per process; PSS splits
    them, so its sum is the tree's real footprint."""
    rss, pss = 0, 0
    for p in tree_pids(pid):
        try:
            rss += next(int(line.split()[1]) for line in Path(f"/proc/{p}/status").read_text().splitlines()
                        if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
        if pss is not None:
            kib = _rollup_kib(p)
            pss = None if kib is None else pss + kib
    return rss / 1024, None if pss is None else pss / 1024


def disk_usage(path: Path) -> tuple[int, int]:
    """Bytes of the data dir apart from its WAL, and of the WAL, in one walk."""
    data = wal = 0
    for root, _dirs, files in os.walk(path):
        in_wal = "wal" in Path(root).relative_to(path).parts
        for name in files:
            try:
                size = os.stat(os.path.join(root, name)).st_size
            except OSError:  # a file compaction removed meanwhile
                continue
            if in_wal:
                wal += size
            else:
                data += size
    return data, wal


def dir_bytes(path: Path) -> int:
    """Bytes of the data dir, the WAL excluded (the README measures Loki without its WAL too)."""
    return disk_usage(path)[0]

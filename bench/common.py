"""Shared benchmark plumbing: the workload from ../shared/bench, a server process, /proc readings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import shared_file

DEFAULT_DATA = Path(os.environ.get("LOGYARD_BENCH_DATA", "/tmp/bench-data"))


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
            try:
                pss += next(int(line.split()[1]) for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()
                            if line.startswith("Pss:"))
            except (OSError, StopIteration):
                pss = None
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

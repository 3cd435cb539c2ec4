"""Shared benchmark plumbing: the workload from ../shared/bench, a server process, /proc readings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GEN = REPO.parent / "shared" / "bench" / "gen_bench.py"
DEFAULT_DATA = Path(os.environ.get("LOGYARD_BENCH_DATA", "/tmp/bench-data"))


def workload(out: Path = DEFAULT_DATA) -> tuple[list[Path], dict]:
    """The benchmark push bodies, generated once with ../shared/bench/gen_bench.py and reused."""
    manifest = out / "manifest.json"
    if not manifest.exists():
        print(f"generating the workload into {out} (1-2 minutes)...", file=sys.stderr)
        subprocess.run([sys.executable, str(GEN), "--out", str(out)], check=True)
    return sorted(out.glob("push-*.json.gz")), json.loads(manifest.read_text())


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())

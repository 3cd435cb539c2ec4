"""A small real filesystem for disk-full tests: a tmpfs mounted for the test and unmounted after.

Mounting needs root (CI runs as root); elsewhere the tests that use it are skipped, saying why.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest


@contextlib.contextmanager
def mounted_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of `size` (mount's syntax: "4m") on `where`; unmounted on exit, whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("disk-full tests mount a tmpfs, which needs root (CI runs them as root)")
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {r.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def fill(directory: Path, leave: int = 0) -> Path:
    """Write a filler file until the filesystem has at most `leave` bytes free; returns its path."""
    path = directory / "filler"
    chunk = b"\0" * (64 << 10)
    with open(path, "ab", buffering=0) as f:
        while True:
            st = os.statvfs(directory)
            free = st.f_bavail * st.f_frsize
            if free <= leave:
                break
            try:
                f.write(chunk[: max(1, min(len(chunk), free - leave))])
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
    return path

"""Real small filesystems and unwritable directories for the disk-full and startup tests.

A tmpfs mounted for a test gives a disk that really fills (ENOSPC) or really refuses writes (EROFS).
Mounting needs root, as CI has; elsewhere those tests are skipped, saying why. Root ignores permission
bits (a `chmod 0555` directory is still writable for it), so "not writable" for root is the immutable
attribute.
"""

from __future__ import annotations

import errno
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest


@contextmanager
def mounted_tmpfs(where: Path, size: str, *, read_only: bool = False) -> Iterator[Path]:
    """Mount a tmpfs of `size` (mount's syntax: "4m") on `where` (created if missing); unmounted
    when the block ends, whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs these tests as root)")
    where.mkdir(parents=True, exist_ok=True)
    options = f"ro,size={size}" if read_only else f"size={size}"
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True)
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


def read_only_dir(path: Path):
    """`path` with an empty read-only tmpfs mounted on it until the block ends."""
    return mounted_tmpfs(path, "1m", read_only=True)


@contextmanager
def not_writable_dir(path: Path) -> Iterator[Path]:
    """`path` (created if missing) made a directory this user cannot write until the block ends:
    mode 0555 for a normal user; for root, which ignores mode bits, the immutable attribute
    (`chattr +i`), which root too must remove before writing."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)
        return
    r = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot make a directory immutable here (root ignores mode bits): {r.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)

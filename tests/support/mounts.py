"""Directories that refuse writes even to root, for the startup tests.

Tests run as root in CI, and root ignores permission bits: a `chmod 0555` directory is still writable
for it. A read-only tmpfs mounted on the directory refuses every write with EROFS, whoever asks; so does a directory with the immutable attribute.
"""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest


@contextmanager
def read_only_dir(path: Path) -> Iterator[Path]:
    """`path` (created if missing) with an empty read-only tmpfs mounted on it until the block ends."""
    if os.geteuid() != 0:
        pytest.skip("mounting a read-only tmpfs needs root (the chmod case is covered by the not-writable tests)")
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {r.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


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

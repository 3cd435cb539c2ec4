"""Durability helpers shared by the server's storage and the agent's journal and positions."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make a directory's entries durable: a file created or renamed in it survives a power loss
    only once the directory itself is synced, not just the file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

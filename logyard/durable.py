"""Durability helpers shared by the server's storage and the agent's journal and positions."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from logyard.errors import StorageError

# errno values that mean "no room": the write can succeed later, once space is freed.
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def fsync_dir(path: Path) -> None:
    """Make a directory's entries durable: a file created or renamed in it survives a power loss
    only once the directory itself is synced, not just the file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def storage_error(what: str, exc: BaseException) -> StorageError:
    """A client-facing error for a failed write of the data directory: the operation and the
    reason (`no space left on device`), never the file's absolute path, which OSError carries."""
    if isinstance(exc, OSError) and exc.errno is not None:
        reason = os.strerror(exc.errno).lower()
        full = exc.errno in _FULL
    elif isinstance(exc, sqlite3.Error):
        reason = str(exc)  # SQLite names no file: "database or disk is full"
        full = isinstance(exc, sqlite3.OperationalError) and "full" in reason
    else:
        reason, full = type(exc).__name__, False
    return StorageError(f"storage: {what} failed: {reason}", status=507 if full else 500)

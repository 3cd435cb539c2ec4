"""What `logyard serve` and `logyard agent` check before they report themselves up.

A process that cannot bind its port or write its directories can never work: it stops at once with one
line naming the address or the path and the reason, instead of a traceback, or a "listening" line
followed by death, or an endpoint answering "not ready" forever. The checks are made before the port is
bound and before anything is read, so nothing half-starts.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


class StartupError(Exception):
    """The process cannot start; `str()` is the one line to show the operator."""


def bind_error(host: str, port: int, exc: OSError) -> StartupError:
    # Go (and so Loki) says "listen tcp 127.0.0.1:3100: bind: address already in use"; same facts, one line.
    shown = f"[{host}]" if ":" in host else host
    return StartupError(f"cannot listen on {shown}:{port}: {(exc.strerror or str(exc)).lower()}")


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port, or StartupError naming the address."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                          flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise bind_error(host, port, exc) from None
    try:
        # as uvicorn does: a restart may bind while the old connections sit in TIME_WAIT
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise bind_error(host, port, exc) from None
    return sock


def writable_dir(path: Path, what: str) -> None:
    """Create `path` with its parents if missing, then prove it takes a new file; else StartupError
    "cannot use the <what> <path>: <reason>" (lower case, as Go words them, e.g. "permission denied"). Root ignores mode bits but not a read-only mount or
    the immutable attribute, so only a real write tells."""
    path = Path(path)
    try:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # exist_ok only forgives an existing directory
            raise StartupError(f"cannot use the {what} {path}: not a directory") from None
        probe = path / f".logyard-write-test-{os.getpid()}"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        probe.unlink()
    except OSError as exc:
        raise StartupError(f"cannot use the {what} {path}: {(exc.strerror or str(exc)).lower()}") from None

"""`Deadline`: when a query must stop, checked by the engine between units of work.

Python threads cannot be killed, so a query stops cooperatively: the engine calls `check()` at
block, batch and stage boundaries (between windows read, between line filters, every few thousand
row-stage calls, before each metric node) and `check()` raises once the query's time is up
(`QueryTimeoutError`, Loki's 504) or its client has gone (`ClientClosedError`, 499). Every thread
working for the query (the window readers too) checks the same object, so all of them stop.
"""

from __future__ import annotations

import time

from logyard.errors import ClientClosedError, QueryTimeoutError


class Deadline:
    """A query's time limit (`timeout_ns`, None for none) and cancel flag; thread-safe by design:
    `cancel` only sets a flag that `check` reads."""

    __slots__ = ("expires", "cancelled")

    def __init__(self, timeout_ns: int | None, clock=time.monotonic_ns) -> None:
        self.expires = None if timeout_ns is None else clock() + timeout_ns
        self.cancelled = False

    def cancel(self) -> None:
        """The client went away: the next `check` in any thread raises."""
        self.cancelled = True

    def check(self) -> None:
        if self.cancelled:
            raise ClientClosedError()
        if self.expires is not None and time.monotonic_ns() >= self.expires:
            raise QueryTimeoutError()


# For callers with no deadline: `check` never raises.
NO_DEADLINE = Deadline(None)

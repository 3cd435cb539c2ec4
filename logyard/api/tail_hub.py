"""The open live tails: counted per tenant against `limits.max_concurrent_tail_requests`, measured
for /metrics, and closed together when the server shuts down.

A tail session registers here for its whole life. `close_all` asks every session to close its
websocket with a reason and waits (boundedly) for them to finish, before the ASGI server drops the
connections: uvicorn would otherwise close them with a bare 1012 before the app hears of it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from logyard.errors import LimitError

# Loki's querier text when one tail too many is asked for (checkTailRequestLimit).
TOO_MANY_TAILS = "max concurrent tail requests limit exceeded, count > limit ({count} > {limit})"
# How long close_all waits for the sessions to send their close frames (a client that does not read
# may never take one).
CLOSE_WAIT_S = 2.0


class Session(Protocol):
    tenant: str

    def buffered_bytes(self) -> int: ...
    def dropped_total(self) -> int: ...
    def request_close(self, reason: str) -> None: ...
    async def finished(self) -> None: ...


class TailHub:
    def __init__(self, max_per_tenant: Callable[[str], int]) -> None:
        self.max_per_tenant = max_per_tenant  # the tenant's limit, overrides included
        self._sessions: set[Session] = set()
        self._per_tenant: Counter[str] = Counter()
        self.sent_bytes = 0       # line bytes sent to tail clients
        self._dropped_closed = 0  # entries slow clients did not get, of the sessions closed
        self.closing: str | None = None

    def register(self, session: Session) -> None:
        """Count the session in, or raise Loki's limit error (the count includes this one)."""
        n = self._per_tenant[session.tenant]
        limit = self.max_per_tenant(session.tenant)
        if n >= limit:
            raise LimitError(TOO_MANY_TAILS.format(count=n + 1, limit=limit))
        self._per_tenant[session.tenant] = n + 1
        self._sessions.add(session)

    def unregister(self, session: Session) -> None:
        if session in self._sessions:
            self._sessions.discard(session)
            self._per_tenant[session.tenant] -= 1
            self._dropped_closed += session.dropped_total()

    def __len__(self) -> int:
        return len(self._sessions)

    async def close_all(self, reason: str) -> None:
        """Close every tail with `reason`; sessions opened from now on are closed at once."""
        self.closing = reason
        sessions = list(self._sessions)
        for s in sessions:
            s.request_close(reason)
        if sessions:
            await asyncio.wait([asyncio.ensure_future(s.finished()) for s in sessions], timeout=CLOSE_WAIT_S)

    def collect(self):
        """Prometheus collector: Loki's querier tail metrics, and what the tails hold in memory."""
        g = GaugeMetricFamily("loki_querier_tail_active", "Number of active tailers.")
        g.add_metric([], float(len(self._sessions)))
        yield g
        c = CounterMetricFamily("loki_querier_tail_bytes_total", "Total log line bytes sent to tail clients.")
        c.add_metric([], float(self.sent_bytes))
        yield c
        c = CounterMetricFamily("logyard_tail_dropped_entries_total",
                                "Entries not sent to a tail client that did not keep up (reported to it as "
                                "dropped_entries).")
        sessions = list(self._sessions)
        c.add_metric([], float(self._dropped_closed + sum(s.dropped_total() for s in sessions)))
        yield c
        g = GaugeMetricFamily("logyard_tail_buffered_bytes",
                              "Bytes of entries the live tails hold for their clients (bounded per tail).")
        g.add_metric([], float(sum(s.buffered_bytes() for s in sessions)))
        yield g

"""Delete requests (Loki's compactor deletion API): stored durably per tenant, applied to reads from
the moment they are accepted, and to the block files once their cancel period is over.

Requests live in their own SQLite file beside the label index (`deletes.sqlite`, FULL sync: a
request acknowledged is a request kept, through a kill -9), or, when processes share an object store,
in its bucket (delete_bucket.py); either way mirrored in memory for the read path (`RequestMirror`).
A request's query is a LogQL log selector with an optional pipeline; storage never imports logql, so
the caller injects `compile`, which turns the text into a `DeleteFilter`.

Times are Loki's: milliseconds, and a request covers start <= ts <= end, both ends included.
A processed request goes on filtering reads: rows of its range that arrive after its pass (late,
out-of-order pushes) stay hidden, as in Loki, whose queriers filter with every request.
"""

from __future__ import annotations

import logging
import sqlite3
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa

from logyard.labels import LabelSet, Matcher, matches_all
from logyard.storage import rows as R

log = logging.getLogger(__name__)

RECEIVED = "received"
PROCESSED = "processed"
MS = 10**6  # ns per ms

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id TEXT NOT NULL, tenant TEXT NOT NULL, query TEXT NOT NULL,
    start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL,
    status TEXT NOT NULL, processed_ms INTEGER, deleted_lines INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, id)
);
"""


class DeleteFilter(Protocol):
    """A delete request's query, compiled by the caller (logql)."""

    matchers: Sequence[Matcher]

    @property
    def has_pipeline(self) -> bool:
        """Whether the query has stages after its selector (line filters, parsers, ...)."""
        ...

    def keeps(self, table: pa.Table, labels: dict[int, LabelSet]) -> np.ndarray:
        """Which rows of `table` (columns stream, ts, line, meta; all of streams matching
        `matchers`, labels in `labels`) the query's pipeline keeps, i.e. deletes: a bool mask."""
        ...


@dataclass(frozen=True)
class DeleteRequest:
    request_id: str
    tenant: str
    query: str
    start_ms: int
    end_ms: int
    created_ms: int
    status: str = RECEIVED

    @property
    def start_ns(self) -> int:
        return self.start_ms * MS

    @property
    def end_ns(self) -> int:
        """The last nanosecond covered (included)."""
        return self.end_ms * MS

    def as_loki(self) -> dict:
        """Loki's JSON of a request in the listing: times as seconds (model.Time), user_id blanked."""
        return {"request_id": self.request_id, "start_time": _seconds(self.start_ms),
                "end_time": _seconds(self.end_ms), "query": self.query, "status": self.status,
                "created_at": _seconds(self.created_ms), "user_id": ""}


def _seconds(ms: int) -> int | float:
    # Prometheus' model.Time prints seconds with the milliseconds only when there are some.
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def request_id(tenant: str, query: str, now_ns: int) -> str:
    """Loki's id: FNV-1 32 of tenant, creation time (8 bytes LE) and query, as 8 hex digits."""
    h = 0x811C9DC5
    for byte in tenant.encode() + struct.pack("<Q", now_ns & (2**64 - 1)) + query.encode():  # a short key
        h = (h * 0x01000193) & 0xFFFFFFFF
        h ^= byte
    return f"{h:08x}"


@dataclass(frozen=True)
class Active:
    """A request and its compiled query, as reads and the deletion pass use them."""

    request: DeleteRequest
    filter: DeleteFilter


class RequestMirror:
    """The requests of every tenant in memory, as reads and the deletion pass use them: the part
    shared by the two homes of requests, the data directory's SQLite file (`DeleteRequests`) and an
    object store's bucket (delete_bucket.py). Subclasses persist and call `_put`/`_drop`."""

    shared = False  # whether other processes see the requests (and may take, list and cancel them)

    def __init__(self, compile: Callable[[str], DeleteFilter] | None, clock: Callable[[], float] = time.time) -> None:
        """`compile` turns a query into its filter, raising the client's error for a bad one; None
        (a store used without the API): adding a request is a bug, stored ones are not applied.
        `clock`: wall time in seconds, the requests' creation time."""
        self._clock = clock
        self._compile = compile
        self._lock = threading.Lock()  # serializes the changes of requests
        self._by_tenant: dict[str, tuple[Active, ...]] = {}  # swapped whole, never mutated
        self.received: Counter[str] = Counter()  # per tenant: loki_compactor_delete_requests_received_total
        self.processed: Counter[str] = Counter()  # loki_compactor_delete_requests_processed_total
        self.deleted_lines: Counter[str] = Counter()  # loki_compactor_deleted_lines

    def compile(self, query: str) -> DeleteFilter:
        """The filter of a query; raises the client's error for a bad one."""
        if self._compile is None:
            raise AssertionError("BUG: delete requests used on a store without a LogQL compiler")
        return self._compile(query)

    def _active(self, req: DeleteRequest) -> Active | None:
        """A stored request with its filter, or None (logged) when it cannot be applied."""
        if self._compile is None:
            log.error("delete request %s of tenant %s is not applied: no LogQL compiler", req.request_id, req.tenant)
            return None
        try:
            return Active(req, self._compile(req.query))
        except Exception:  # accepted once, so this is a regression of the compiler: say so, go on
            log.exception("delete request %s of tenant %s: query %r does not compile; not applied",
                          req.request_id, req.tenant, req.query)
            return None

    def _new_id(self, tenant: str, query: str, now_ns: int) -> tuple[str, int]:
        """Loki's id for a new request, and the creation time it was made with: one nanosecond on for
        an id this process already knows (the same query twice in one nanosecond)."""
        rid = request_id(tenant, query, now_ns)
        while any(a.request.request_id == rid for a in self._by_tenant.get(tenant, ())):
            now_ns += 1
            rid = request_id(tenant, query, now_ns)
        return rid, now_ns

    def _put(self, active: Active) -> None:
        """Add or replace (same tenant and id) a request in the mirror."""
        rid, tenant = active.request.request_id, active.request.tenant
        have = self._by_tenant.get(tenant, ())
        if any(a.request.request_id == rid for a in have):
            now = tuple(active if a.request.request_id == rid else a for a in have)
        else:
            now = (*have, active)
        self._by_tenant = {**self._by_tenant, tenant: now}

    def _drop(self, tenant: str, rid: str) -> None:
        kept = tuple(a for a in self._by_tenant.get(tenant, ()) if a.request.request_id != rid)
        self._by_tenant = {**self._by_tenant, tenant: kept}

    def list(self, tenant: str) -> list[DeleteRequest]:
        """The tenant's requests, oldest first."""
        return sorted((a.request for a in self._by_tenant.get(tenant, ())), key=lambda r: r.created_ms)

    def get(self, tenant: str, rid: str) -> DeleteRequest | None:
        return next((a.request for a in self._by_tenant.get(tenant, ()) if a.request.request_id == rid), None)

    def overlapping(self, tenant: str, start_ns: int, end_ns: int) -> tuple[Active, ...]:
        """The tenant's requests covering some of [start_ns, end_ns)."""
        return tuple(a for a in self._by_tenant.get(tenant, ())
                     if a.request.start_ns < end_ns and a.request.end_ns >= start_ns)

    def due(self, now_ms: int, cancel_period_ms: int) -> list[Active]:
        """Received requests past their cancel period (Loki: created_at + period before now)."""
        return [a for t in self._by_tenant.values() for a in t
                if a.request.status == RECEIVED and a.request.created_ms + cancel_period_ms < now_ms]

    def refresh(self) -> None:
        """Take in the changes other processes made (a shared home); nothing for a private one."""


class DeleteRequests(RequestMirror):
    """Requests in the data directory's `deletes.sqlite` (a single process, or no object store)."""

    def __init__(self, path: Path, compile: Callable[[str], DeleteFilter] | None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(compile, clock)
        self.path = path
        self._db: sqlite3.Connection | None = None

    def open(self) -> None:
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        q = "SELECT id, tenant, query, start_ms, end_ms, created_ms, status FROM requests ORDER BY created_ms, id"
        by: dict[str, list[Active]] = {}
        for row in self._db.execute(q).fetchall():
            a = self._active(DeleteRequest(*row))
            if a is not None:
                by.setdefault(a.request.tenant, []).append(a)
        self._by_tenant = {t: tuple(a) for t, a in by.items()}

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # ---- the API's operations -------------------------------------------------------------------
    def add(self, tenant: str, query: str, start_ms: int, end_ms: int) -> DeleteRequest:
        flt = self.compile(query)
        with self._lock:
            db = self._db
            assert db is not None
            rid, now_ns = self._new_id(tenant, query, int(self._clock() * 1e9))
            req = DeleteRequest(rid, tenant, query, start_ms, end_ms, now_ns // MS)
            db.execute("INSERT INTO requests (id, tenant, query, start_ms, end_ms, created_ms, status)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (rid, tenant, query, start_ms, end_ms, req.created_ms, req.status))
            self._put(Active(req, flt))
        self.received[tenant] += 1
        return req

    def remove(self, tenant: str, rid: str) -> bool:
        """Cancel: the request is forgotten, and reads show its lines again. False when it was
        processed meanwhile (then it stays)."""
        with self._lock:
            db = self._db
            assert db is not None
            cur = db.execute("DELETE FROM requests WHERE tenant = ? AND id = ? AND status = ?", (tenant, rid, RECEIVED))
            if cur.rowcount == 0 and (r := self.get(tenant, rid)) is not None and r.status == PROCESSED:
                return False
            self._drop(tenant, rid)
        return True

    # ---- the deletion pass ----------------------------------------------------------------------
    def mark_processed(self, req: DeleteRequest, deleted_lines: int, now_ms: int) -> None:
        with self._lock:
            db = self._db
            assert db is not None
            cur = db.execute("UPDATE requests SET status = ?, processed_ms = ?, deleted_lines = ?"
                             " WHERE tenant = ? AND id = ?",
                             (PROCESSED, now_ms, deleted_lines, req.tenant, req.request_id))
            if cur.rowcount == 0:
                return  # cancelled meanwhile (with ?force): nothing to mark
            current = next(a for a in self._by_tenant[req.tenant] if a.request.request_id == req.request_id)
            self._put(Active(replace(req, status=PROCESSED), current.filter))
        self.processed[req.tenant] += 1
        self.deleted_lines[req.tenant] += deleted_lines


def deleted_rows(table: pa.Table, active: Sequence[Active], labels_of: Callable[[int], LabelSet],
                 counts: list[int] | None = None) -> np.ndarray | None:
    """Which rows of `table` (columns stream and ts; line and meta too when a request has a
    pipeline) some request of `active` deletes: a bool mask, or None when none does. `counts`, if
    given, gets each request's number of rows (a row two requests cover counts for both)."""
    if not active or table.num_rows == 0:
        return None
    stream = R._np(table.column("stream"))
    ts = R._np(table.column("ts"))
    out: np.ndarray | None = None
    for i, a in enumerate(active):  # one step per request
        req, flt = a.request, a.filter
        hit = (ts >= req.start_ns) & (ts <= req.end_ns)
        if hit.any():
            sids = np.unique(stream[hit]).tolist()
            labels = {s: labels_of(s) for s in sids}
            chosen = [s for s in sids if matches_all(labels[s], flt.matchers)]  # one step per stream
            hit &= np.isin(stream, chosen)
            if flt.has_pipeline and hit.any():
                idx = np.flatnonzero(hit)
                hit[idx] = flt.keeps(table.take(pa.array(idx)), labels)
        if counts is not None:
            counts[i] += int(np.count_nonzero(hit))
        out = hit if out is None else out | hit
    return out if out is not None and out.any() else None

"""A reader's client of the writers' heads (target read, docs/scaling.md): at each call, every writer
of `querier.writers` is asked for its unflushed rows of a tenant (api/internal.py), all at once, in
the call's scope (logyard/read_scope.py: `match[]` selectors, `start` and `end`), so each writer
sends only the rows of the streams and times the query can read.

An entry is `host:port`; its name is resolved at every call and each address it resolves to is a
writer (a Kubernetes headless service or a compose service scaled out lists every replica). A writer
that does not answer within the timeout, or answers wrong, is left out of that answer: logged (at most
once a minute per address, with the count), counted (`logyard_writer_head_failures_total`), named in
the `warnings` of the query's answer (`MISSED`), and the query is answered from the object store and
the other writers, as Loki's queriers answer without an ingester that is down. What that writer acknowledged and did not flush is then missing from the
answer until it comes back (its WAL holds it) and flushes.
"""

from __future__ import annotations

import logging
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar

import httpx

from logyard.errors import CorruptDataError
from logyard.labels import LabelSet
from logyard.logql.syntax.ast import StreamSelector
from logyard.read_scope import INT64_MAX, INT64_MIN, ReadScope
from logyard.storage.head import TenantHeadView
from logyard.storage.head_wire import decode_head

log = logging.getLogger("logyard.api")

HEAD_PATH = "/internal/head"  # served by api/internal.py
# Set by a query route to a list: the writers left out of its answer are added to it (in the thread
# that asked, which runs in the route's context).
MISSED: ContextVar[list[str] | None] = ContextVar("logyard_writers_missed", default=None)

LOG_EVERY_S = 60.0


class WriterWarnings:
    """A writer left out of `what`, logged at most once a minute per address with the failures held
    back since: a writer down for an hour must not flood the log with one line per query or tail."""

    def __init__(self, what: str, consequence: str) -> None:
        self.what, self.consequence = what, consequence
        self._logged: dict[str, tuple[float, int]] = {}  # address -> last log time, failures since

    def __call__(self, address: str, reason: str) -> None:
        now = time.monotonic()
        last, count = self._logged.get(address, (float("-inf"), 0))
        if now - last >= LOG_EVERY_S:
            log.warning("writer %s left out of %s (%d more times since the last warning): %s; %s",
                        address, self.what, count, reason, self.consequence)
            self._logged[address] = (now, 0)
        else:
            self._logged[address] = (last, count + 1)


def resolve(entries: list[str]) -> list[str]:
    """`host:port` of every address each entry's name resolves to, in order, without repeats; a name
    that does not resolve is logged and left out (a writer being replaced may be briefly unknown)."""
    out: list[str] = []
    for entry in entries:
        host, _, port = entry.rpartition(":")
        host = host.strip("[]")
        try:
            infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
        except (socket.gaierror, ValueError) as e:
            log.warning("writer %s does not resolve: %s", entry, e)
            continue
        for info in infos:  # one step per address
            addr = info[4][0]
            text = f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"
            if text not in out:
                out.append(text)
    return out


def scope_params(scope: ReadScope) -> list[tuple[str, str]]:
    """A scope as the query parameters of a head request (api/internal.py reads them back)."""
    params = [("match[]", str(StreamSelector(g))) for g in scope.groups or ()]
    if scope.start_ns > INT64_MIN:
        params.append(("start", str(scope.start_ns)))
    if scope.end_ns < INT64_MAX:
        params.append(("end", str(scope.end_ns)))
    return params


class WriterHeads:
    """Callable(tenant, scope) -> [(head view, labels)] for Store(remote_heads=...). Thread-safe."""

    def __init__(self, entries: list[str], *, timeout_s: float, on_failure=lambda: None) -> None:
        self.entries = list(entries)
        self.on_failure = on_failure
        self._client = httpx.Client(timeout=timeout_s)
        self._pool = ThreadPoolExecutor(max(1, min(16, 2 * len(entries))), thread_name_prefix="writer-heads")
        self._warn = WriterWarnings("reads", "answers miss what it holds unflushed")

    def __call__(self, tenant: str, scope: ReadScope) -> list[tuple[TenantHeadView, dict[int, LabelSet]]]:
        addresses = resolve(self.entries)
        params = scope_params(scope)
        got = list(self._pool.map(lambda a: self._fetch(a, tenant, params), addresses))
        missed = MISSED.get()
        if missed is not None:
            missed.extend(a for a, g in zip(addresses, got) if g is None and a not in missed)
        return [g for g in got if g is not None]

    def _fetch(self, address: str, tenant: str, params: list[tuple[str, str]]):
        try:
            r = self._client.get(f"http://{address}{HEAD_PATH}", params=params, headers={"X-Scope-OrgID": tenant})
            if r.status_code != 200:
                raise httpx.HTTPStatusError(f"answered {r.status_code}: {r.text[:200]}", request=r.request, response=r)
            return decode_head(r.content, address)
        except (httpx.HTTPError, CorruptDataError) as e:
            self.on_failure()
            self._warn(address, str(e) or type(e).__name__)
            return None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

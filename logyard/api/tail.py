"""`/loki/api/v1/tail` and Loki's legacy `/api/prom/tail`: a log query followed live over a websocket.

As Loki's querier does (pkg/querier/http.go TailHandler, tail.go, pkg/loghttp/tail.go):
- a bad request is answered before the upgrade, with the HTTP status and text of any other route
  (a LogQL parse error, `limit`, `start`, `delay_for` over 5: 400);
- once upgraded, what goes wrong closes the websocket with 1011 and Loki's text: a metric query
  ("only log selector is supported"), one tail too many, the history's query limits, the tail's
  `querier.tail_max_duration`, and the server shutting down ("all ingesters closed the
  connection", what a Loki querier says when the ingesters it tails go away);
- first the newest `limit` entries of [start, now) (start defaults to an hour ago), oldest first,
  then every new matching entry, each released once `delay_for` seconds have passed since its
  timestamp, at most 100 entries a frame, each entry its own stream in the frame: v1 frames are
  `{"streams": [{"stream": {...}, "values": [[ts, line]]}], "dropped_entries": [{"timestamp",
  "labels"}]}`, legacy ones `{"streams": [{"labels": "{...}", "entries": [{"ts", "line"}]}],
  "dropped_entries": null | [{"Timestamp", "Labels"}]}`.

The v1 tail follows the upgrade request's encoding flags (api/encoding_flags.py) as Loki's
EncodeTailResult does: any flags are echoed as `encodingFlags` after `dropped_entries`, and with
`categorize-labels` (Grafana's) the frame's entries are grouped by their stream labels alone, each
value `[ts, line, {"structuredMetadata", "parsed"}]`, encoded by the query path's `encode_streams`
(back-fill and live entries alike). The legacy tail ignores them.

A session holds: the storage subscription's inbox (storage/live.py, at most MAX_INBOX_BYTES), the
entries waiting for their time or for the client (at most MAX_HELD_BYTES, beyond which the inbox
is not emptied), and the frame being sent. A client that does not read blocks only its own send;
meanwhile its inbox fills and further rows are dropped and reported with its next frame as
`dropped_entries`, as Loki reports what it dropped for a blocked client.

On a reader (target read, docs/scaling.md) the appends are the writers': the subscription is fed by
a websocket to each writer (api/writer_tails.py) instead of this process's store, and the back-fill
is a query of the reader (blocks and the writers' heads); the rest of the session is the same.

One deliberate difference: `limit` is held to `limits.max_entries_limit_per_query` (Loki does not
check it for tails), so that the back-fill a client asks for is bounded like any query's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import orjson
import pyarrow as pa
from starlette.concurrency import run_in_threadpool
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from logyard.api.encoding_flags import categorize, encoding_flags
from logyard.api.params import Params, parse_tail_query
from logyard.api.responses import error_response
from logyard.api.server import Server
from logyard.api.writer_tails import Following
from logyard.config.server import parse_duration_ns
from logyard.errors import BadRequestError, LogyardError
from logyard.gocompat.timevalue import GoTime
from logyard.labels import LabelSet, quote
from logyard.logql.deadline import Deadline
from logyard.logql.head_scope import query_scope
from logyard.logql.log_result import encode_streams
from logyard.logql.rows import Rows
from logyard.logql.syntax import ast
from logyard.logql.syntax.parser import parse
from logyard.logql.tail import Entries, TailPipeline, entries_from_streams
from logyard.storage.live import Subscription

log = logging.getLogger("logyard.api")

MAX_ENTRIES_PER_FRAME = 100  # Loki's maxEntriesPerTailResponse
MAX_HELD_BYTES = 8 << 20     # entries a session holds (for delay_for, or while its client is slow)
CLOSE_CODE = 1011            # Loki closes tails with websocket.CloseInternalServerErr and the error's text
CLOSE_REASON_MAX = 123       # a close frame's reason is at most 123 bytes
CLOSE_WAIT_S = 2.0

ONLY_LOG_SELECTOR = "only log selector is supported"
MAX_DURATION_REACHED = "reached tail max duration limit"
SHUTTING_DOWN = "all ingesters closed the connection"


@dataclass(frozen=True)
class TailRequest:
    tenant: str
    query: str
    expr: object
    start: int
    limit: int
    delay_ns: int
    flags: tuple[str, ...] = ()   # the v1 tail's encoding flags

    @property
    def categorize(self) -> bool:
        return categorize(list(self.flags))


class TailRoutes:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.max_duration_s = parse_duration_ns(server.cfg.querier.tail_max_duration) / 1e9 or None

    def routes(self) -> list[WebSocketRoute]:
        return [
            WebSocketRoute("/loki/api/v1/tail", self.tail),
            WebSocketRoute("/api/prom/tail", self.tail_legacy),
        ]

    async def tail(self, ws: WebSocket) -> None:
        flags = tuple(encoding_flags(ws.headers))
        await self._serve(ws, lambda *frame: v1_frame(*frame, flags=flags), flags)

    async def tail_legacy(self, ws: WebSocket) -> None:
        await self._serve(ws, legacy_frame, ())

    async def _serve(self, ws: WebSocket, encode: Callable, flags: tuple[str, ...]) -> None:
        try:
            req = self._request(ws, flags)
        except LogyardError as exc:
            log.info("GET %s -> %d: %s", ws.url.path, exc.status, exc.message)
            await ws.send_denial_response(error_response(exc))
            return
        await TailSession(self.server, ws, req, encode, self.server.query_timeout_ns(req.tenant)).run(self.max_duration_s)

    def _request(self, ws: WebSocket, flags: tuple[str, ...]) -> TailRequest:
        """Tenant (401), readiness (503), then Loki's ParseTailQuery in its order (400s)."""
        srv = self.server
        tenant = srv.tenant(ws)
        srv.require_ready()
        p = Params(list(ws.query_params.multi_items()))
        query = p.get("query") or ""
        expr = parse(query)
        regexp = p.get("regexp")
        if regexp:
            # Loki's legacy `regexp` parameter: a `|~` filter appended to the log query.
            if not ast.is_log_query(expr):
                raise BadRequestError(ONLY_LOG_SELECTOR)
            query = f"{expr} |~ {quote(regexp)}"
            expr = parse(query)
        q = parse_tail_query(p, max_entries=srv.engine.limits_for(tenant).max_entries)
        return TailRequest(tenant, query, expr, q.start, q.limit, q.delay_for_s * 1_000_000_000, flags)


class _ClientGone(Exception):
    """The websocket failed under a send: the client has gone."""


class TailSession:
    """One tail: subscription, back-fill, pump (inbox -> pipeline -> held entries -> frames)."""

    def __init__(self, server: Server, ws: WebSocket, req: TailRequest, encode: Callable,
                 timeout_ns: int | None) -> None:
        self.server = server
        self.ws = ws
        self.req = req
        self.tenant = req.tenant
        self.encode = encode
        self.timeout_ns = timeout_ns
        self.sub: Subscription | None = None
        self._following: Following | None = None  # a reader's connections to the writers
        self.held_bytes = 0
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._close_asked = asyncio.Event()
        self._close_reason = ""
        self._done = asyncio.Event()

    # --- what the hub sees ----------------------------------------------------------------------
    def buffered_bytes(self) -> int:
        return self.held_bytes + (self.sub.pending_bytes() if self.sub is not None else 0)

    def dropped_total(self) -> int:
        return self.sub.dropped_total if self.sub is not None else 0

    def request_close(self, reason: str) -> None:
        self._close_reason = reason
        self._close_asked.set()

    async def finished(self) -> None:
        await self._done.wait()

    # --- the session ----------------------------------------------------------------------------
    async def run(self, max_duration_s: float | None) -> None:
        srv, req = self.server, self.req
        await self.ws.accept()
        hub = srv.tails
        try:
            if hub.closing is not None:
                raise LogyardError(hub.closing)
            hub.register(self)
        except LogyardError as exc:
            await self._close(exc.message)
            self._done.set()
            return
        log.info("starting to tail logs tenant=%s query=%s", self.tenant, req.query)
        try:
            await self._follow(max_duration_s)
        finally:
            if self._following is not None:
                self._following.close()
            elif self.sub is not None:
                srv.store.live.unsubscribe(self.sub)
            hub.unregister(self)
            self._done.set()
            log.info("ended tailing logs tenant=%s query=%s", self.tenant, req.query)

    async def _follow(self, max_duration_s: float | None) -> None:
        srv, req = self.server, self.req
        if not ast.is_log_query(req.expr):
            await self._close(ONLY_LOG_SELECTOR)
            return
        # Subscribe before reading the history, so that nothing committed in between is missed
        # (an entry committed meanwhile may come twice, as with Loki's history and live streams).
        self.sub = Subscription(self.tenant, req.expr.selector.matchers, self._notify)
        if srv.writer_tails is None:
            srv.store.live.subscribe(self.sub)
        else:  # a reader: the appends are the writers' (api/writer_tails.py)
            self._following = await srv.writer_tails.follow(self.tenant, str(req.expr.selector), self.sub)
        pipeline = TailPipeline(req.expr, self.sub.stream_labels, req.categorize)
        pump = asyncio.ensure_future(self._pump(pipeline))
        receive = asyncio.ensure_future(self._receive())
        close_asked = asyncio.ensure_future(self._close_asked.wait())
        tasks = {pump, receive, close_asked}
        try:
            done, _ = await asyncio.wait(tasks, timeout=max_duration_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
        if receive in done:
            return  # the client closed
        if close_asked in done:
            reason = self._close_reason
        elif pump in done:
            exc = pump.exception()
            if isinstance(exc, _ClientGone):
                return
            if isinstance(exc, LogyardError):
                log.info("tail of %s ended: %s", req.query, exc.message)
                reason = exc.message
            else:
                log.error("tail of %s failed", req.query, exc_info=exc)
                reason = f"internal error: {exc}"
        else:
            reason = MAX_DURATION_REACHED
        await self._close(reason)

    def _notify(self) -> None:
        """Called from a pushing thread when the inbox gets rows."""
        try:
            self._loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:  # the event loop is closed: the server is gone, and this tail with it
            pass

    async def _receive(self) -> None:
        while (await self.ws.receive())["type"] != "websocket.disconnect":
            pass  # Loki reads and ignores what a tail client sends

    def _history(self) -> Entries:
        req, srv, now = self.req, self.server, time.time_ns()
        # One fetch of the writers' heads for the back-fill's reads, of the rows it can read (a reader).
        with srv.store.heads_snapshot(self.tenant, query_scope(req.query, req.start, now)):
            data = srv.engine.query_range(self.tenant, req.query, req.start, now, None, None, req.limit, "backward",
                                          deadline=Deadline(self.timeout_ns), categorize=req.categorize)
        return entries_from_streams(data["result"])

    async def _pump(self, pipeline: TailPipeline) -> None:
        sub, wake, delay = self.sub, self._wake, self.req.delay_ns
        held = await run_in_threadpool(self._history)
        while True:
            full = held.nbytes >= MAX_HELD_BYTES
            if not full:
                wake.clear()
                batches = sub.take()
                if batches:
                    held = held.merge(await run_in_threadpool(pipeline.run, batches))
                    if self._following is not None:  # a reader: the writers may hold a line twice
                        held = held.unique()
            self.held_bytes = held.nbytes
            ready, held = held.split_before(time.time_ns() - delay)
            if len(ready):
                self.held_bytes = held.nbytes + ready.nbytes
                await self._send(ready)
                self.held_bytes = held.nbytes
                continue  # more may have come in while the client was taking these
            timeout = None
            if len(held):
                # Loki releases an entry once now is after its timestamp plus delay_for.
                timeout = max(0.0, (int(held.ts[0]) + delay - time.time_ns()) / 1e9) + 0.001
            if full:
                await asyncio.sleep(timeout if timeout is not None else 0.1)
                continue
            try:
                await asyncio.wait_for(wake.wait(), timeout)
            except TimeoutError:
                pass

    async def _send(self, ready: Entries) -> None:
        hub = self.server.tails
        for ts, lines, labels, nbytes in ready.chunks(MAX_ENTRIES_PER_FRAME):
            text = self.encode(ts, lines, labels, self._dropped())
            try:
                await self.ws.send_text(text)
            except Exception as exc:  # noqa: BLE001 - any failure of the socket: the client is gone
                raise _ClientGone() from exc
            hub.sent_bytes += nbytes

    def _dropped(self) -> list[tuple[int, dict]]:
        """What the subscription dropped since the last frame, with its streams' labels."""
        sub = self.sub
        ts, ids = sub.take_dropped()
        if not len(ts):
            return []
        labels = sub.stream_labels
        # Per dropped entry, at most MAX_DROPPED (1000) of them a frame.
        return [(t, dict(labels[s])) for t, s in zip(ts.tolist(), ids.tolist())]

    async def _close(self, reason: str) -> None:
        """Close with Loki's code and `reason` (cut to what a close frame holds); a client that does
        not read may never take the frame, so the wait is bounded."""
        data = reason.encode()[:CLOSE_REASON_MAX].decode(errors="ignore")
        try:
            async with asyncio.timeout(CLOSE_WAIT_S):
                await self.ws.close(CLOSE_CODE, data)
        except Exception as exc:  # noqa: BLE001 - the client went away first: nothing left to tell it
            log.debug("closing a tail socket failed: %r", exc)


# --- frames -------------------------------------------------------------------------------------

def _sorted_labels(labels: list[dict]) -> list[dict]:
    """Each entry's label set sorted by name (Go's JSON of a map), each distinct set once."""
    done: dict[int, dict] = {}
    out = []
    for d in labels:
        s = done.get(id(d))
        if s is None:
            s = done[id(d)] = dict(sorted(d.items()))
        out.append(s)
    return out


def v1_frame(ts: list[int], lines: list[str], labels: list[dict], dropped: list[tuple[int, dict]],
             flags: tuple[str, ...] = ()) -> str:
    """Loki's v1 tail response (pkg/util/marshal EncodeTailResult): one stream per entry; with the
    `categorize-labels` flag, the query's categorized streams (`labels` are then `EntryLabels`)."""
    if categorize(list(flags)):
        rows = Rows(np.asarray(ts, np.int64), np.zeros(len(ts), np.int64), pa.array(lines, pa.large_string()),
                    None, labels)
        streams = encode_streams([rows], {}, "forward", categorize=True)
    else:
        streams = [{"stream": lb, "values": [[str(t), line]]}
                   for t, line, lb in zip(ts, lines, _sorted_labels(labels))]
    doc: dict = {"streams": streams}
    if dropped:
        doc["dropped_entries"] = [
            {"timestamp": str(t), "labels": dict(sorted(lb.items()))} if lb else {"timestamp": str(t)}
            for t, lb in dropped]
    if flags:
        doc["encodingFlags"] = list(flags)
    return orjson.dumps(doc).decode()


RFC3339_NANO = "2006-01-02T15:04:05.999999999Z07:00"


def legacy_frame(ts: list[int], lines: list[str], labels: list[dict], dropped: list[tuple[int, dict]]) -> str:
    """Loki's legacy tail response: logproto streams (labels as text, RFC 3339 times) and its
    DroppedEntry fields without JSON names; `dropped_entries` is null when none."""
    texts: dict[int, str] = {}

    def text(d: dict) -> str:
        s = texts.get(id(d))
        if s is None:
            s = texts[id(d)] = str(LabelSet(d.items()))
        return s

    streams = [{"labels": text(lb), "entries": [{"ts": GoTime(t).format(RFC3339_NANO), "line": line}]}
               for t, line, lb in zip(ts, lines, labels)]
    drops = [{"Timestamp": GoTime(t).format(RFC3339_NANO), "Labels": text(lb)} for t, lb in dropped] or None
    return orjson.dumps({"streams": streams, "dropped_entries": drops}).decode()

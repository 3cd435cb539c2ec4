"""Routes between the processes of a scaled-out installation (docs/scaling.md), not Loki's API.

`GET /internal/head`: a writer's unflushed rows of the request's tenant (X-Scope-OrgID, as every
route), as one Arrow IPC stream with the label sets of their streams (storage/head_wire.py). Readers
ask every writer for it at each query, with the query's scope (logyard/read_scope.py): `match[]`
selectors (a stream matching any of them) and [start, end) in integer nanoseconds, all optional.

`/internal/tail` (websocket): a writer's appends of the tenant's streams matching `query` (a stream
selector), as they are committed, for a reader's live tail (api/writer_tails.py). The writer sends
`{"subscribed":true}` once it watches its appends, then each batch of new rows as a binary message
in the head's encoding, and the rows its reader did not take in time (the subscription's bound,
storage/live.py) as a text message `{"dropped": [[ts, stream id, [[name, value], ...]], ...]}`. The
query's pipeline, `delay_for` and the frames are the reader's.
"""

from __future__ import annotations

import asyncio

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from logyard.api.responses import error_response
from logyard.api.server import Server
from logyard.api.writer_heads import HEAD_PATH
from logyard.api.writer_tails import SUBSCRIBED, TAIL_PATH
from logyard.errors import LogyardError
from logyard.logql.syntax.parser import parse_matchers
from logyard.read_scope import INT64_MAX, INT64_MIN, ReadScope
from logyard.storage.head import HEAD_SCHEMA
from logyard.storage.head_wire import MEDIA_TYPE, encode_head
from logyard.storage.live import Subscription


def _ns(value: str | None, default: int, name: str) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise LogyardError(f"invalid {name}: {value!r} is not nanoseconds", status=400) from None


class InternalRoutes:
    def __init__(self, server: Server) -> None:
        self.server = server

    def routes(self) -> list:
        return [Route(HEAD_PATH, self.head), WebSocketRoute(TAIL_PATH, self.tail)]

    async def head(self, request: Request) -> Response:
        tenant = self.server.tenant(request)
        self.server.require_ready()
        q = request.query_params
        groups = [parse_matchers(text, validate_query=False) for text in q.getlist("match[]")]
        scope = ReadScope.of(groups, _ns(q.get("start"), INT64_MIN, "start"), _ns(q.get("end"), INT64_MAX, "end"))

        def encoded() -> bytes:
            table, labels = self.server.store.head_rows(tenant, scope)
            self.server.metrics.head_rows_sent.inc(table.num_rows)
            return encode_head(table, labels)

        return Response(await run_in_threadpool(encoded), media_type=MEDIA_TYPE)

    async def tail(self, ws: WebSocket) -> None:
        srv = self.server
        try:
            tenant = srv.tenant(ws)
            srv.require_ready()
            matchers = parse_matchers(ws.query_params.get("query") or "", validate_query=False)
        except LogyardError as exc:
            await ws.send_denial_response(error_response(exc))
            return
        await ws.accept()
        loop, wake = asyncio.get_running_loop(), asyncio.Event()

        def notify() -> None:  # from a pushing thread
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # the event loop is closed: the server is gone, and this tail with it
                pass

        sub = srv.store.live.subscribe(Subscription(tenant, matchers, notify))
        srv.metrics.writer_tails.inc()
        tasks = {asyncio.ensure_future(_send_appends(ws, sub, wake)), asyncio.ensure_future(_until_closed(ws))}
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            srv.store.live.unsubscribe(sub)
            srv.metrics.writer_tails.dec()


async def _until_closed(ws: WebSocket) -> None:
    while (await ws.receive())["type"] != "websocket.disconnect":
        pass


async def _send_appends(ws: WebSocket, sub: Subscription, wake: asyncio.Event) -> None:
    """The subscription's rows to the reader as they come; ends when the socket fails."""
    await ws.send_text(SUBSCRIBED)
    while True:
        wake.clear()
        ts, ids = sub.take_dropped()
        if len(ts):
            labels = sub.stream_labels
            await ws.send_text(orjson.dumps({"dropped": [[t, s, [list(p) for p in labels[s]]]  # at most MAX_DROPPED
                                                         for t, s in zip(ts.tolist(), ids.tolist())]}).decode())
        batches = sub.take()
        if batches:
            await ws.send_bytes(await run_in_threadpool(_encode, batches, sub))
            continue
        await wake.wait()


def _encode(batches: list[pa.RecordBatch], sub: Subscription) -> bytes:
    table = pa.Table.from_batches(batches, schema=HEAD_SCHEMA)
    ids = pc.unique(table.column("stream")).to_pylist()
    return encode_head(table, {sid: sub.stream_labels[sid] for sid in ids})  # one step per stream

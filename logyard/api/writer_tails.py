"""A reader's live tails of the writers (target read, docs/scaling.md): a tail opened on a reader
follows the appends of every writer of `querier.writers`, as a Loki querier's tail follows every
ingester.

For each tail, each writer address (entries resolved as for the heads, api/writer_heads.py, and again
every `RECHECK_S`, so writers added meanwhile are followed too) gets a websocket to the writer's
`/internal/tail` (api/internal.py) with the query's stream selector; the rows that come are offered
to the tail's subscription (storage/live.py) as local appends are, so the tail's session
(api/tail.py) runs the pipeline, `delay_for`, the ordering and the frames the same way for one
process and for many writers. The tail starts (its back-fill is read) once every writer has said it
watches its appends, or failed, or `querier.writer_timeout` passed: what is committed after that
is in the tail.

A writer that cannot be reached, or whose connection ends, is left out meanwhile as a query leaves
it out: logged (at most once a minute per address), counted (`logyard_writer_tail_failures_total`),
and connected to again (every `RETRY_MIN_S`, doubling to `RETRY_MAX_S`), so a writer restarted is
followed again; what it acknowledged while not followed is not in the tail (it is in queries).
"""

from __future__ import annotations

import asyncio
from typing import Callable
from urllib.parse import urlencode

import numpy as np
import orjson
import pyarrow as pa
from starlette.concurrency import run_in_threadpool
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from logyard.api.writer_heads import WriterWarnings, resolve
from logyard.errors import CorruptDataError
from logyard.labels import LabelSet
from logyard.storage.head import HEAD_SCHEMA
from logyard.storage.head_wire import decode_head
from logyard.storage.live import Subscription

TAIL_PATH = "/internal/tail"  # served by api/internal.py
SUBSCRIBED = '{"subscribed":true}'  # a writer's first message: it watches its appends from now on
RECHECK_S = 3.0  # Loki's querier checks its tails' ingesters as often (checkConnectionsWithIngestersInterval)
RETRY_MIN_S, RETRY_MAX_S = 0.5, 5.0


class WriterTails:
    """The reader's side: `follow` starts one tail's connections to the writers."""

    def __init__(self, entries: list[str], *, timeout_s: float, on_failure: Callable[[], None] = lambda: None) -> None:
        self.entries = list(entries)
        self.timeout_s = timeout_s
        self.on_failure = on_failure
        self._warn = WriterWarnings("live tails", "tails miss what it takes until it is back")

    async def follow(self, tenant: str, selector: str, sub: Subscription) -> "Following":
        """Connections of one tail to every writer, once each is subscribed or failed (or the timeout)."""
        following = Following(self, tenant, selector, sub)
        await following.start()
        return following

    def warn(self, address: str, reason: str) -> None:
        self.on_failure()
        self._warn(address, reason)


class Following:
    """One tail's connections: a task per writer address, and one that looks for new addresses."""

    def __init__(self, tails: WriterTails, tenant: str, selector: str, sub: Subscription) -> None:
        self.tails, self.tenant, self.selector, self.sub = tails, tenant, selector, sub
        self._tasks: dict[str, asyncio.Task] = {}
        self._watch: asyncio.Task | None = None

    async def start(self) -> None:
        ready = await self._add_new()
        if ready:
            waits = [asyncio.ensure_future(e.wait()) for e in ready]
            _, pending = await asyncio.wait(waits, timeout=self.tails.timeout_s)
            for w in pending:
                w.cancel()
        self._watch = asyncio.ensure_future(self._recheck())

    async def _add_new(self) -> list[asyncio.Event]:
        addresses = await run_in_threadpool(resolve, self.tails.entries)
        ready = []
        for address in addresses:
            if address not in self._tasks:
                event = asyncio.Event()
                self._tasks[address] = asyncio.ensure_future(self._follow(address, event))
                ready.append(event)
        return ready

    async def _recheck(self) -> None:
        while True:
            await asyncio.sleep(RECHECK_S)
            await self._add_new()

    async def _follow(self, address: str, ready: asyncio.Event) -> None:
        """Connect, take the writer's messages until the connection ends, connect again."""
        url = f"ws://{address}{TAIL_PATH}"
        retry_s = RETRY_MIN_S
        while True:
            try:
                async with connect(url + "?" + _query(self.selector), additional_headers={"X-Scope-OrgID": self.tenant},
                                   open_timeout=self.tails.timeout_s, max_size=None, compression=None) as ws:
                    first = await asyncio.wait_for(ws.recv(), self.tails.timeout_s)
                    if first != SUBSCRIBED:
                        raise CorruptDataError(f"writer {address} began its tail with {str(first)[:100]!r}")
                    ready.set()
                    retry_s = RETRY_MIN_S
                    async for message in ws:
                        await self._offer(address, message)
                reason = "it closed the connection"
            except (OSError, TimeoutError, WebSocketException, CorruptDataError) as e:
                reason = str(e) or type(e).__name__
            ready.set()  # a writer that is down does not hold the tail up
            self.tails.warn(address, reason)
            await asyncio.sleep(retry_s)
            retry_s = min(2 * retry_s, RETRY_MAX_S)

    async def _offer(self, address: str, message: str | bytes) -> None:
        sub = self.sub
        if isinstance(message, bytes):
            view, labels = await run_in_threadpool(decode_head, message, address)
            sub.offer_rows(pa.Table.from_batches(view.batches, HEAD_SCHEMA), labels)
            return
        try:
            dropped = orjson.loads(message)["dropped"]
            ts = [int(t) for t, _, _ in dropped]
            ids = [int(s) for _, s, _ in dropped]
            labels = [LabelSet((k, v) for k, v in pairs) for _, _, pairs in dropped]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise CorruptDataError(f"writer {address} sent a tail message that does not decode: {e}") from e
        sub.offer_dropped(np.asarray(ts, np.int64), np.asarray(ids, np.int64), labels)

    def close(self) -> None:
        for t in [*self._tasks.values(), *([self._watch] if self._watch else [])]:
            t.cancel()


def _query(selector: str) -> str:
    return urlencode({"query": selector})

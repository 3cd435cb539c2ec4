"""`logyard query --tail`: a log query followed over Loki's tail websocket (`/loki/api/v1/tail`).

Loki sends the newest `limit` entries since `start` first, then each new entry once `delay_for`
seconds have passed. A connection that drops without a close frame (a querier going away) is opened
again from the last timestamp received, up to five times with back-off (also while it answers 5xx,
as a restarting server does), as logcli does; entries at that timestamp already printed are skipped.
A close with a reason (a metric query, too many tails, the server shutting down) ends the tail with
that reason.
"""

from __future__ import annotations

import time
from typing import Callable

import orjson
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import connect

from logyard.client.batching import Entry
from logyard.client.http import LokiClient, UnreachableError, loki_error, unreachable_message
from logyard.errors import LogyardError
from logyard.labels import LabelSet

TAIL_PATH = "/loki/api/v1/tail"
RECONNECTS = 5
ABNORMAL_CLOSURE = 1006
NORMAL_CLOSURE = 1000


def frame_entries(frame: dict) -> tuple[list[Entry], list[dict]]:
    """A v1 tail frame's entries in the order sent, and its `dropped_entries`."""
    entries = []
    for stream in frame.get("streams") or ():
        labels = LabelSet.from_dict(stream.get("stream") or {})
        entries.extend(Entry(labels, int(v[0]), v[1]) for v in stream.get("values") or ())
    return entries, frame.get("dropped_entries") or []


def follow(client: LokiClient, query: str, start_ns: int, limit: int, delay_for: int,
           on_entries: Callable[[list[Entry], list[dict]], None],
           notice: Callable[[str], None] = lambda text: None,
           sleep: Callable[[float], None] = time.sleep) -> None:
    """Print (through `on_entries`) until the server closes the tail or the user interrupts it."""
    last_ts = start_ns
    seen_at_last: set[Entry] = set()
    failures = 0  # in a row, since the last frame: 0 is the first connection, whose failure is final
    while True:
        params = {"query": query, "limit": str(limit), "delay_for": str(delay_for), "start": str(last_ts)}
        try:
            ws = _open(client, params)
        except LogyardError as exc:  # a server starting again answers 503 until it is ready
            if not failures or exc.status < 500:
                raise
            failures = _back_off(client, failures, sleep)
            continue
        try:
            while True:
                frame = orjson.loads(ws.recv())
                failures = 0
                entries, dropped = frame_entries(frame)
                entries = [e for e in entries if e.ts != last_ts or e not in seen_at_last]
                if entries:
                    newest = max(e.ts for e in entries)
                    at_newest = {e for e in entries if e.ts == newest}
                    seen_at_last = seen_at_last | at_newest if newest == last_ts else at_newest
                    last_ts = newest
                on_entries(entries, dropped)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else ABNORMAL_CLOSURE
            if code == NORMAL_CLOSURE:
                return
            if code != ABNORMAL_CLOSURE:
                raise LogyardError(f"the tail was closed: {exc.rcvd.reason or code}", 500) from None
            notice(f"the tail's connection to {client.addr} dropped; connecting again")
            failures = _back_off(client, max(failures, 1), sleep)
        finally:
            ws.close()


def _back_off(client: LokiClient, failures: int, sleep: Callable[[float], None]) -> int:
    """Wait 1, 2, 4, 8, 10 s before the next attempt; after RECONNECTS of them, give up."""
    if failures > RECONNECTS:
        raise LogyardError(f"the tail's connection to {client.addr} could not be opened again after "
                           f"{RECONNECTS} attempts", 502)
    sleep(min(2 ** (failures - 1), 10))
    return failures + 1


def _open(client: LokiClient, params: dict):
    url = client.ws_url(TAIL_PATH, params)
    if client.on_request:
        client.on_request(url)
    try:
        return connect(url, additional_headers=client.headers(), open_timeout=10, max_size=None)
    except InvalidStatus as exc:  # refused before the upgrade: a bad query, a missing tenant
        body = exc.response.body.decode(errors="replace") if exc.response.body else ""
        raise loki_error(exc.response.status_code, body) from None
    except (OSError, TimeoutError) as exc:
        reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else str(exc)
        raise UnreachableError(unreachable_message(client.addr, reason)) from None
    except InvalidHandshake as exc:
        raise LogyardError(f"{client.addr} did not open a websocket for the tail ({exc}): is --addr a Loki?",
                           502) from None

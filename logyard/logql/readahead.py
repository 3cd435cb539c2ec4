"""Reading storage ahead of the query: windows decoded and filtered in worker threads.

Parquet decoding and the Arrow/RE2 line filters release the GIL, so while the query groups or
collects one window, the next ones decode and filter on the other core. `window_reads` reads a
range window by window in two worker threads, answering in order and checking the query's
`Deadline` before each table; `read_ahead` advances one sequence of tables in a single worker.
Both stop reading when their consumer stops (an error, the limit met, the generator closed) and
raise a worker's error in the consumer.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from typing import Iterator

import pyarrow as pa

from logyard.logql.deadline import NO_DEADLINE
from logyard.logql.source import HitSource, LogSource, WindowSource


def read_ahead(tables: Iterator[pa.Table], depth: int = 1) -> Iterator[pa.Table]:
    """`tables`, advanced up to `depth` windows ahead in a worker thread.

    Metric queries read every window; Parquet decoding (most of a read) releases the GIL, so the
    next window decodes on the other core while this one is filtered and grouped. The worker stops
    when the consumer does (an error, or the generator closed) and its errors surface here.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for t in tables:
                if not put((t, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # noqa: BLE001 -- handed to the consumer, raised there
            put((_END, exc))

    # In the consumer's context: the query's snapshot of the writers' heads (Store.heads_snapshot).
    worker = threading.Thread(target=copy_context().run, args=(produce,), name="logyard-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, exc = q.get()
            if item is _END:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()


_END = object()

# Windows read at once by `window_reads`; a range of more windows than this (a query from 1970)
# is read as one sequence, since each window's read costs a snapshot of the store.
MAX_WINDOW_READS = 24 * 31

# Each `store.read` call selects its rows from the whole head again (a head of 300k lines costs a
# 24-window read about 12 ms a window): with a head larger than this, one sequential read it is.
MAX_HEAD_LINES_FOR_WINDOW_READS = 20_000

# A window read (and worked on) within this long keeps a ramped read in the calling thread.
CHEAP_WINDOW_S = 0.002

# A line hint leaving at most this many row groups of a query's range to decode (a needle) has
# them read in one go (`HitSource`); a busier one is read window by window, up to its limit. A log
# query whose limit the first few of them would fill decodes them all (~1.5 ms each): the bound.
# Bench day, needle query h, in-process, interleaved: 23-27 -> 20-22 ms a query, CPU 33-41 -> 30-32 ms
# (each window's read setup, pipeline and collection paid once instead of ten times).
MAX_HIT_ROW_GROUPS = 32

# The worker threads of every query's window reads, each query keeping at most `ahead` windows in
# flight: a pool of its own cost each query ~0.3 ms to start its two threads. Threads are started
# only when none is idle, so the bound matters only with many queries at once (a slow remote read
# then holds one worker, not the others' windows).
MAX_WINDOW_WORKERS = 32
_WORKERS = ThreadPoolExecutor(max_workers=MAX_WINDOW_WORKERS, thread_name_prefix="logyard-window")


def window_reads(store: LogSource, tenant: str, ids, lo: int, hi: int, *, direction: str, columns: tuple,
                 line_contains=(), work=None, ahead: int = 2, ramp: bool = False,
                 first: int | None = None, line_match=None, check=NO_DEADLINE.check) -> Iterator:
    """The tables of [lo, hi), window by window in `direction` order, each read (and passed
    through `work`) in a worker thread, up to `ahead` windows at once.

    Parquet decoding and the Arrow/RE2 line filters release the GIL, so on two cores two windows
    decode and filter at once. With `ramp`, the first window is read alone, in the calling thread, and
    the next ones too while each takes less than CHEAP_WINDOW_S: a log query whose limit the newest
    window fills reads nothing more, and one whose windows are pruned to little pays no hand-offs.
    With a line hint and a source that tells which windows may hold such lines (`WindowSource`),
    only those are read: asked once the first window did not end the read (up front without
    `ramp`); when more than one is left, each holds a row group to decode, and the workers take
    them. A `line_match` whose hint leaves the windows still to read at most MAX_HIT_ROW_GROUPS
    row groups to decode (a needle) has them read in one go instead (`HitSource`): one plan, the
    row groups up to `ahead` at once, and for a log query (`ramp`) one table for them all, its
    entries sorted by time downstream whatever table they come in.
    `first` is `LogSource.read`'s hint, `line_match` its exact filter (passed on only when set).
    `check` (the query's `Deadline.check`) runs before each table is worked on, in whichever thread.
    """
    work = work or (lambda t: t)
    more = {} if line_match is None else {"line_match": line_match}
    window = store.window_ns
    w0 = lo // window * window if window else 0
    if (not window or hi <= lo or (hi - w0) // window > MAX_WINDOW_READS
            or store.head_lines() > MAX_HEAD_LINES_FOR_WINDOW_READS):
        tables = store.read(tenant, ids, lo, hi, direction=direction, columns=columns, line_contains=line_contains,
                            first=first, **more)
        # A log query may stop at its first window: decode nothing ahead of it then.
        for t in (tables if ramp else read_ahead(tables)):
            check()
            yield work(t)
        return
    starts = list(range(w0, hi, window))
    if direction == "backward":
        starts.reverse()
    # A line hint may rule out most windows (a needle): ask the source which to read, once the
    # first window (which a log query's limit may fill) did not end the read.
    planned = not line_contains or not isinstance(store, WindowSource)

    def hits(a: int, b: int) -> list | None:
        """The tables of [a, b) in `direction` order, read in one go when the hint leaves them only
        a needle's row groups (`HitSource`); None, nothing read, when it leaves more."""
        if line_match is None or not isinstance(store, HitSource) or a >= b:
            return None
        tables = store.read_hits(tenant, ids, a, b, columns=columns, line_contains=line_contains,
                                 line_match=line_match, max_row_groups=MAX_HIT_ROW_GROUPS,
                                 run=lambda fn, items: _in_order(fn, items, ahead))
        if tables is None:
            return None
        if ramp and len(tables) > 1:
            # A log query's entries are sorted by time whatever table they come in (windows do
            # not overlap): one table is worked on and collected once instead of once a window.
            return [pa.concat_tables(tables)]
        return tables if direction == "forward" else tables[::-1]

    if not planned and not ramp:
        got = hits(lo, hi)
        if got is not None:
            for t in got:
                check()
                yield work(t)
            return
        starts, planned = _planned(store, tenant, ids, lo, hi, starts, line_contains), True

    def one(w: int) -> list:
        out = []
        for t in store.read(tenant, ids, max(lo, w), min(hi, w + window), direction=direction,
                            columns=columns, line_contains=line_contains, first=first, **more):
            check()
            out.append(work(t))
        return out

    nxt = 0
    while ramp and nxt < len(starts):
        # In this thread: no hand-off to a worker (and back) when one window is all it takes, nor
        # while windows are cheap (a needle query's windows, pruned to a row group or none, cost
        # less than the hand-offs and the workers' start); the first dear one brings the workers in.
        t0 = time.perf_counter()
        out = one(starts[nxt])
        nxt += 1
        yield from out
        if not planned:
            # The windows left, in one go when they hold only a needle's row groups.
            rest = (lo, min(hi, starts[nxt - 1])) if direction == "backward" else (max(lo, starts[nxt - 1] + window), hi)
            got = hits(*rest)
            if got is not None:
                for t in got:
                    check()
                    yield work(t)
                return
            starts = starts[:nxt] + _planned(store, tenant, ids, lo, hi, starts[nxt:], line_contains)
            planned = True
            if len(starts) - nxt > 1:  # each window left holds a row group to decode: two cores
                break
        if time.perf_counter() - t0 > CHEAP_WINDOW_S:
            break
    if nxt == len(starts):
        return
    pending: deque = deque()
    try:
        while nxt < len(starts) or pending:
            check()
            while nxt < len(starts) and len(pending) < ahead:
                pending.append(_WORKERS.submit(copy_context().run, one, starts[nxt]))
                nxt += 1
            yield from pending.popleft().result()
    finally:
        for f in pending:
            f.cancel()


def _in_order(fn, items, ahead: int) -> list:
    """`[fn(x) for x in items]`, up to `ahead` at once in the window workers."""
    items = list(items)
    if ahead < 2 or len(items) < 2:
        return [fn(x) for x in items]
    pending: deque = deque()
    out = []
    try:
        for x in items:
            if len(pending) >= ahead:
                out.append(pending.popleft().result())
            pending.append(_WORKERS.submit(copy_context().run, fn, x))
        while pending:
            out.append(pending.popleft().result())
    finally:
        for f in pending:
            f.cancel()
    return out


def _planned(store: WindowSource, tenant: str, ids, lo: int, hi: int, starts: list[int], line_contains) -> list[int]:
    """`starts` (window starts within [lo, hi)) without the windows the source rules out."""
    if not starts:
        return starts
    window = store.window_ns
    keep = store.windows(tenant, ids, max(lo, min(starts)), min(hi, max(starts) + window), line_contains=line_contains)
    if keep is None:
        return starts
    kept = set(keep)
    return [w for w in starts if w in kept]

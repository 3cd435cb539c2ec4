"""A log query of any size, asked in batches that walk the time range, as logcli walks it.

Loki answers at most `limit` entries a request (and refuses a limit above its
`max_entries_limit_per_query`, 5000 by default), so a larger `--limit` is asked as several requests.
Backward, each next request ends just after the oldest timestamp seen (`end` is exclusive); forward,
each starts at the newest one seen (`start` is inclusive). Both therefore ask again for the entries
at that boundary timestamp, because more entries than were returned may share it: those already
printed are recognised by (stream labels, timestamp, line) and skipped, and each request asks for
that many more entries so that it still brings new ones. The walk stops at `--limit`, or when a
request returns fewer entries than it asked for: the range holds no more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, NamedTuple

from logyard.errors import LogyardError
from logyard.labels import LabelSet

LOKI_MAX_ENTRIES = 5000  # Loki's default max_entries_limit_per_query: no request asks for more


class Entry(NamedTuple):
    labels: LabelSet
    ts: int
    line: str
    # Structured metadata as sorted (name, value) pairs: only in a `categorize-labels` answer (the
    # third element of a value); part of an entry's identity, so two entries that differ only in it
    # are both kept at a batch boundary.
    meta: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Batch:
    """One answer: Loki's `data` (resultType, result, stats), its entries not printed before, in
    the query's direction, and how far the walk has come (0..1, for a progress bar)."""

    data: dict
    entries: list[Entry]
    progress: float


# ask(start_ns, end_ns, limit) -> Loki's `data` object of a query_range answer
Ask = Callable[[int, int, int], dict]


def stream_entries(result: list[dict], forward: bool) -> list[Entry]:
    """The entries of a `streams` result merged into one list in the query's direction; entries of
    one timestamp stay in the order Loki sent them (a stable sort)."""
    out = []
    for stream in result:
        labels = LabelSet.from_dict(stream.get("stream") or {})
        out.extend(Entry(labels, int(v[0]), v[1], _meta(v)) for v in stream.get("values") or ())
    out.sort(key=lambda e: e.ts, reverse=not forward)
    return out


def _meta(value: list) -> tuple[tuple[str, str], ...]:
    """The structured metadata of a categorized value `[ts, line, {"structuredMetadata": {...}}]`."""
    if len(value) < 3 or not value[2]:
        return ()
    return tuple(sorted((value[2].get("structuredMetadata") or {}).items()))


def walk(ask: Ask, start: int, end: int, limit: int, batch: int, forward: bool) -> Iterator[Batch]:
    """Batches of a range query over [start, end): `limit` entries in all (0: every entry), at most
    `batch` new ones a request. A metric query's answer is yielded once, as it comes."""
    batch = max(1, min(batch, LOKI_MAX_ENTRIES))
    remaining = limit or None
    lo, hi = start, end
    edge_ts: int | None = None  # the boundary timestamp, and the entries printed at it
    edge: set[Entry] = set()
    printed = 0
    while True:
        want = batch if remaining is None else min(batch, remaining)
        ask_n = min(want + len(edge), LOKI_MAX_ENTRIES)
        if ask_n <= len(edge):
            raise LogyardError(f"more than {LOKI_MAX_ENTRIES - 1} entries share the timestamp {edge_ts}: "
                               f"a batched query cannot get past them; narrow the query or the range", 400)
        data = ask(lo, hi, ask_n)
        if data.get("resultType") != "streams":
            yield Batch(data, [], 1.0)
            return
        got = stream_entries(data.get("result") or [], forward)
        fresh = [e for e in got if e.ts != edge_ts or e not in edge]
        if remaining is not None:
            fresh = fresh[:remaining]
            remaining -= len(fresh)
        printed += len(fresh)
        done = len(got) < ask_n or remaining == 0
        if got and not done:
            last = got[-1].ts
            at_last = {e for e in got if e.ts == last}
            edge = edge | at_last if last == edge_ts else at_last
            edge_ts = last
            if forward:
                lo = last
            else:
                hi = last + 1
        yield Batch(data, fresh, 1.0 if done else _progress(start, end, lo, hi, forward, printed, limit))
        if done:
            return
        if not fresh:
            raise LogyardError("the server returned only entries already printed for a full batch; "
                               "it does not order entries of one timestamp the same way twice", 502)


def _progress(start: int, end: int, lo: int, hi: int, forward: bool, printed: int, limit: int) -> float:
    span = max(end - start, 1)
    walked = (lo - start) / span if forward else (end - hi) / span
    counted = printed / limit if limit else 0.0
    return min(max(walked, counted, 0.0), 1.0)

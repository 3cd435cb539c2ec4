"""What the query engine reads logs from: the `LogSource` protocol (what Loki's `Querier` is to its
engine). Storage's `Store` is one; the engine's tests use small fakes. It is declared here, on the
consumer's side, so that logql never imports storage.

Times are int64 nanoseconds since the epoch; a range [start_ns, end_ns) includes its start and
excludes its end.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Protocol, runtime_checkable

import pyarrow as pa

from logyard.labels import LabelSet, Matcher
from logyard.needles import LineMatch, Needle


@runtime_checkable
class LogSource(Protocol):
    @property
    def window_ns(self) -> int:
        """The width of the time windows the source stores rows in (windows start at multiples of
        it); reads aligned to them are cheapest. 0: the source has no windows, the engine reads a
        range as one sequence."""
        ...

    def head_lines(self) -> int:
        """Rows held in memory, not yet in windows on disk. Every `read` call selects from all of
        them again, so the engine reads one sequence instead of window by window when they are many."""
        ...

    def streams(self, tenant: str, matchers: list[Matcher], start_ns: int, end_ns: int) -> dict[int, LabelSet]:
        """The streams of `tenant` that match every matcher (none: all streams) and have at least
        one row in [start_ns, end_ns): stream id -> label set. The dict is the caller's."""
        ...

    def read(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int, *,
             direction: str = "backward", columns: Sequence[str] = ("stream", "ts", "line", "meta"),
             line_contains: Sequence[str | Needle] = (), first: int | None = None,
             line_match: LineMatch | None = None,
             scanned: Callable[[int, int, int], None] | None = None) -> Iterator[pa.Table]:
        """The rows of `stream_ids` with start_ns <= ts < end_ns, as one table per window that has
        any, windows in `direction` order ("backward": newest first; "forward": oldest first).

        Within a table, each stream's rows are together and sorted by ts whatever the direction
        (streams in no particular order: blocks keep them in the order of their labels), and exact
        duplicates (same stream, ts and line) appear once. A table holds exactly `columns`, in that
        order, from: stream (int64), ts (int64 ns), line (large_string), meta (dictionary of
        string: structured metadata as JSON text, "" for none) and len (int32: line bytes).

        `line_contains`: what every wanted line contains (each a `Needle`, or a `str`: a
        case-sensitive substring), a pruning hint only: rows without it may still be returned, the
        caller applies its own line filter.
        `first`: the caller wants only the first `first` rows of each window by ts in `direction`
        order; a table then holds at least those and every row tied in ts with the last of them,
        and may omit the others.
        `line_match`: an exact filter, not a hint: only rows whose line it keeps are returned, and
        `columns` need not hold `line` for it. Never passed with `first`; callers pass it only when
        set (sources that never get one need not take it). `scanned(rows, line bytes, metadata
        bytes)`, passed only with it, is told per window what the filter ran on, as the caller
        would have counted the unfiltered tables (metadata bytes when `meta` is among `columns`).

        Tables are immutable and stay valid after the iterator ends. The iterator keeps the
        source's files of that time range from being deleted until it is exhausted or closed:
        close it when stopping early instead of keeping it suspended.
        """
        ...


@runtime_checkable
class CountSource(Protocol):
    """What a `LogSource` may offer besides (storage's `Store` does; `metric/count_samples.py`
    uses it when present): rows counted without reading them."""

    def read_counts(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int, *,
                    grain_ns: int, with_bytes: bool = False) -> Iterator[pa.Table]:
        """The rows `read` would return, counted: tables of stream, ts, n (int64) [, len (line bytes
        summed)] in forward window order, grouped by stream as `read`'s, each row standing for `n` rows of
        its stream with timestamps in (ts - grain_ns, ts]. For a caller whose bucket boundaries
        are all multiples of `grain_ns` since the epoch."""
        ...

    def metadata_names(self, tenant: str, stream_ids: Collection[int], start_ns: int,
                       end_ns: int) -> frozenset[str] | None:
        """The structured-metadata names the rows of `stream_ids` in [start_ns, end_ns) may carry (a
        superset), or None when the source cannot tell."""
        ...


@runtime_checkable
class WindowSource(Protocol):
    """What a `LogSource` may offer besides (storage's `Store` does; `readahead.window_reads` uses
    it when a query has a line hint): which of its windows are worth a `read`."""

    def windows(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int, *,
                line_contains: Sequence[str | Needle] = ()) -> list[int] | None:
        """The starts of the windows of [start_ns, end_ns), ascending, that may hold rows of
        `stream_ids` whose lines contain every `line_contains` (a superset: a window left out has
        none), or None when the source cannot tell."""
        ...


@runtime_checkable
class HitSource(Protocol):
    """What a `LogSource` may offer besides (storage's `Store` does; `readahead.window_reads` uses
    it when a query's leading line filters are storage's `line_match`): a needle's few hits read
    in one go."""

    def read_hits(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int, *,
                  columns: Sequence[str], line_contains: Sequence[str | Needle], line_match: LineMatch,
                  max_row_groups: int, scanned: Callable[[int, int, int], None] | None = None,
                  run: Callable = map) -> list[pa.Table] | None:
        """The tables `read(..., line_match=)` would hand over, as a list in ascending window
        order, when `line_contains` leaves at most `max_row_groups` row groups of the range to
        decode; None, having read nothing, when it leaves more. `run(fn, items)` maps the source's
        reads in order: the caller may run them at once."""
        ...

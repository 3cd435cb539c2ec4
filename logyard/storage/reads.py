"""The read side of a Store: which streams match, their rows per time window, and the label APIs.

A read takes a snapshot (head views, then the block list) and reads without the store's lock:
blocks through `BlockFiles` (files.py: cached readers; a read pins the files it may open; a block
that does not decode is quarantined and the read goes on without it), the head from its in-memory
tables. A window's rows from several sources are merged and deduplicated here, and the rows of pending
delete requests (deletes.py) are taken out: this is the one place every answer reads rows through.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Collection, Iterator, Sequence

import numpy as np
import pyarrow as pa

from logyard.errors import CorruptDataError
from logyard.labels import LabelSet, Matcher
from logyard.needles import LineMatch, Needle
from logyard.storage import block_counts, line_scan, trigrams
from logyard.storage import format as F
from logyard.storage import rows as R
from logyard.storage.block import BlockInfo, BlockReader
from logyard.storage.deletes import Active, deleted_rows
from logyard.storage.files import BlockFiles
from logyard.storage.head import TenantHeadView
from logyard.storage.index import Index

READ_COLUMNS = ("stream", "ts", "line", "meta", "len")
# Set to 0, reads ignore `line_contains` (no row group skipped by its lines): for tests and the
# benchmark to compare answers and times with and without the trigram maps.
LINE_PRUNING_ENV = "LOGYARD_LINE_PRUNING"
# Set to 0, `read_counts` counts every window from its rows, never from the blocks' per-minute
# counts: for tests and the benchmark to compare answers and times.
COUNTS_AHEAD_ENV = "LOGYARD_COUNTS_AHEAD"


@dataclass(frozen=True)
class _Window:
    """One window of a read: its start, the range read in it, and its sources."""

    start: int
    lo: int
    hi: int
    blocks: list[BlockInfo]
    head: pa.Table | None  # the head's rows in it (or None: no head rows at all)
    active: tuple[Active, ...]  # the delete requests covering it


class Reads:
    def __init__(self, index: Index, files: BlockFiles, *, window_ns: int,
                 head_views: Callable[[str], list[TenantHeadView]],
                 deletes: Callable[[str, int, int], tuple[Active, ...]] = lambda t, a, b: ()) -> None:
        """`head_views(tenant)`: views of the tenant's rows in every head still readable (the
        active one and those being flushed), taken atomically against a flush swapping heads.
        `deletes(tenant, start_ns, end_ns)`: the delete requests whose rows reads leave out."""
        self.window_ns = window_ns
        self.line_pruning = os.environ.get(LINE_PRUNING_ENV, "1") != "0"
        self.counts_ahead = os.environ.get(COUNTS_AHEAD_ENV, "1") != "0"
        self._deletes = deletes
        self._index = index
        self._files = files
        self._head_views = head_views

    def _snapshot(self, tenant: str) -> tuple[list[TenantHeadView], tuple[BlockInfo, ...]]:
        """Head views, then the block list. In this order a concurrent flush can only make a row
        appear twice (frozen head + its new block: reads dedup), never make it vanish."""
        views = self._head_views(tenant)
        return views, self._index.blocks(tenant)

    def _active(self, tenant: str, cands: list[int], start_ns: int, end_ns: int) -> np.ndarray:
        """Which of the sorted stream ids `cands` have data in [start_ns, end_ns), in blocks or
        in the head: a mask. Blocks are visited newest first and the visit stops once every
        candidate was seen (a query over recent data usually finds them all in one window)."""
        want = np.asarray(cands, dtype=np.int64)
        found = np.zeros(len(want), dtype=bool)
        views, blocks = self._snapshot(tenant)
        for v in views:
            found |= [(st := v.stats.get(sid)) is not None and st.min_ts < end_ns and st.max_ts >= start_ns
                      for sid in cands]  # one step per candidate stream
        for b in sorted(blocks, key=lambda b: b.window_start, reverse=True):
            if found.all():
                break
            if b.min_ts < end_ns and b.max_ts >= start_ns:
                s = b.streams
                ids = s.ids[s.overlapping(start_ns, end_ns)]  # sorted
                if ids.size:
                    at = np.minimum(np.searchsorted(ids, want), ids.size - 1)
                    found |= ids[at] == want
        return found

    def streams(self, tenant: str, matchers: list[Matcher], start_ns: int, end_ns: int) -> dict[int, LabelSet]:
        """Streams matching all matchers that have data in [start_ns, end_ns)."""
        cands = self._index.match(tenant, list(matchers))
        if not cands:
            return {}
        active = self._active(tenant, cands, start_ns, end_ns)
        return {sid: self._index.labels_of(tenant, sid) for sid, on in zip(cands, active.tolist()) if on}

    def read(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int, *,
             direction: str = "backward", columns: Sequence[str] = ("stream", "ts", "line", "meta"),
             line_contains: Sequence[str | Needle] = (), first: int | None = None,
             line_match: LineMatch | None = None,
             scanned: Callable[[int, int, int], None] | None = None) -> Iterator[pa.Table]:
        """Tables of consecutive windows (newest first for backward), rows grouped by stream and
        sorted by ts within each stream (LogSource.read).

        `line_contains` is a pruning hint: what every wanted line contains (a `str` is a
        case-sensitive substring). Row groups whose trigram bitmap rules one out are skipped; the
        rows that are returned are NOT filtered by it, the caller still applies its line filter.

        `first` is a hint for a reader that wants only the first `first` rows of each window in
        `direction` order by ts (a log query with no stage that drops rows): a window's table then
        holds at least those rows and every row tied in ts with the last of them, and may omit the
        others. Ordering a window's rows stably by ts and taking `first` gives the same rows as
        from the full window. Row groups holding none of them are not decoded beyond stream and ts.

        `line_match`, unlike `line_contains`, is a filter: only rows whose line it keeps are
        returned (searched as stored, line_scan.py; `line` need not be among `columns`). It does
        not go with `first`. `scanned(rows, line bytes, metadata bytes)` is then told, once per
        window, what the filter ran on: the rows of the window (a row both in the head and a block
        before compaction counts twice), their lines' bytes, and their metadata's bytes when
        `meta` is among `columns`: what a reader of the unfiltered rows would have counted.
        """
        if direction not in ("backward", "forward"):
            raise AssertionError(f"BUG: direction {direction!r}")
        columns = tuple(columns)
        for c in columns:
            if c not in READ_COLUMNS:
                raise AssertionError(f"BUG: unknown column {c!r}")
        if line_match is not None and first is not None:
            raise AssertionError("BUG: line_match with first")
        ids = np.unique(np.fromiter(stream_ids, dtype=np.int64))
        if ids.size == 0 or start_ns >= end_ns:
            return
        pin = self._files.pin()  # the files of the blocks it lists stay until the read ends
        try:
            yield from self._read(tenant, ids, start_ns, end_ns, direction, columns, line_contains, first,
                                  line_match, scanned)
        finally:
            self._files.unpin(pin)

    def _read(self, tenant: str, ids: np.ndarray, start_ns: int, end_ns: int, direction: str,
              columns: tuple[str, ...], line_contains: Sequence[str | Needle], first: int | None,
              match: LineMatch | None, on_scanned: Callable[[int, int, int], None] | None) -> Iterator[pa.Table]:
        tri = trigrams.needs_for(tuple(line_contains)) if line_contains and self.line_pruning else None
        for w in self._windows(tenant, ids, start_ns, end_ns, direction):
            scanned = line_scan.Scanned(meta="meta" in columns) if match is not None else None
            t = self._read_plan(tenant, w, ids, columns, tri, first, direction == "backward", match, scanned)
            if scanned is not None and on_scanned is not None:
                on_scanned(scanned.rows, scanned.line_bytes, scanned.meta_bytes)
            if t.num_rows:
                yield t

    def windows(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int, *,
                line_contains: Sequence[str | Needle] = ()) -> list[int]:
        """The starts of the windows of [start_ns, end_ns), ascending, that may hold rows of
        `stream_ids` whose lines meet `line_contains` (a superset): those with head rows of them, or
        with a block a row group of which is left after pruning by streams, time and trigrams.

        One snapshot and one pass over the blocks for the whole range, so that a caller reading
        window by window (readahead.window_reads) spends nothing on the windows a needle rules out:
        most of the windows of a needle query, each of which cost a read's setup (~0.3 ms) before.
        A block that does not decode counts as a hit: its read quarantines it."""
        ids = np.unique(np.fromiter(stream_ids, dtype=np.int64))
        if ids.size == 0 or start_ns >= end_ns:
            return []
        tri = trigrams.needs_for(tuple(line_contains)) if line_contains and self.line_pruning else None
        pin = self._files.pin()
        try:
            views, blocks = self._snapshot(tenant)
            found: set[int] = set()
            for b in blocks:  # one step per block
                w = b.window_start
                if w in found or b.min_ts >= end_ns or b.max_ts < start_ns:
                    continue
                lo, hi = max(start_ns, w), min(end_ns, w + self.window_ns)
                try:
                    if self._files.reader(b).row_groups(ids, lo, hi, tri):
                        found.add(w)
                except CorruptDataError:
                    found.add(w)
        finally:
            self._files.unpin(pin)
        head = self._head_rows(views, ids, start_ns, end_ns)
        if head.num_rows:
            found.update(np.unique(R._np(head.column("ts")) // self.window_ns * self.window_ns).tolist())
        return sorted(found)

    def read_hits(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int, *,
                  columns: Sequence[str], line_contains: Sequence[str | Needle], line_match: LineMatch,
                  max_row_groups: int, scanned: Callable[[int, int, int], None] | None = None,
                  run: Callable = map) -> list[pa.Table] | None:
        """What `read(..., line_match=)` returns, as a list of the windows' tables in ascending
        order, when `line_contains` leaves at most `max_row_groups` row groups to decode in the
        whole range (a needle); None, having read nothing, when it leaves more.

        One snapshot and one plan for the whole range, where `read` pays a read's setup for each
        window: a needle's windows each hold about one row group to decode, and that setup cost as
        much again. `run(fn, windows)` maps the window reads, in order (the caller may run them at
        once); `scanned` is told per window read, as by `read`."""
        ids = np.unique(np.fromiter(stream_ids, dtype=np.int64))
        if not line_contains or not self.line_pruning:
            return None
        if ids.size == 0 or start_ns >= end_ns:
            return []
        tri = trigrams.needs_for(tuple(line_contains))
        meta = "meta" in tuple(columns)
        pin = self._files.pin()
        try:
            plan: list[_Window] = []
            left = max_row_groups
            # The newest window first: a busy hint is told from a needle after a window or two.
            for w in self._windows(tenant, ids, start_ns, end_ns, "backward"):
                blocks = []
                for b in w.blocks:
                    try:
                        n = len(self._files.reader(b).row_groups(ids, w.lo, w.hi, tri))
                    except CorruptDataError:
                        n = 1  # its read quarantines it
                    if n:
                        blocks.append(b)
                        left -= n
                if left < 0:
                    return None
                if blocks or (w.head is not None and w.head.num_rows):
                    plan.append(_Window(w.start, w.lo, w.hi, blocks, w.head, w.active))
            plan.reverse()

            def one(w: _Window) -> tuple[pa.Table, line_scan.Scanned]:
                s = line_scan.Scanned(meta=meta)
                return self._read_plan(tenant, w, ids, tuple(columns), tri, None, False, line_match, s), s

            got = list(run(one, plan))
        finally:
            self._files.unpin(pin)
        out = []
        for t, s in got:
            if scanned is not None:
                scanned(s.rows, s.line_bytes, s.meta_bytes)
            if t.num_rows:
                out.append(t)
        return out

    def _windows(self, tenant: str, ids: np.ndarray, start_ns: int, end_ns: int, direction: str) -> Iterator[_Window]:
        """The windows of [start_ns, end_ns) with rows of `ids`, in `direction` order: what each
        is read from (one snapshot of the head and the block list for them all)."""
        views, blocks = self._snapshot(tenant)
        blocks_by_window: dict[int, list[BlockInfo]] = {}
        for b in blocks:
            if b.min_ts >= end_ns or b.max_ts < start_ns:
                continue
            s = b.streams
            hit = _among(s.ids, ids) & s.overlapping(start_ns, end_ns)
            if hit.any():
                blocks_by_window.setdefault(b.window_start, []).append(b)
        head = self._head_rows(views, ids, start_ns, end_ns)
        head_win = R._np(head.column("ts")) // self.window_ns * self.window_ns if head.num_rows else np.empty(0, np.int64)
        windows = sorted(set(blocks_by_window) | set(np.unique(head_win).tolist()), reverse=direction == "backward")
        deletes = self._deletes(tenant, start_ns, end_ns)
        for w in windows:
            lo, hi = max(start_ns, w), min(end_ns, w + self.window_ns)
            hpart = head.filter(pa.array(head_win == w)) if head.num_rows else None
            active = tuple(a for a in deletes if a.request.start_ns < hi and a.request.end_ns >= lo)
            yield _Window(w, lo, hi, blocks_by_window.get(w, []), hpart, active)

    def _read_plan(self, tenant: str, w: _Window, ids: np.ndarray, columns: tuple[str, ...],
                   tri: trigrams.Needs | None, first: int | None, backward: bool,
                   match: LineMatch | None = None, scanned: line_scan.Scanned | None = None) -> pa.Table:
        """One window's rows, sorted and deduplicated, without the rows of delete requests (and
        only those `match` keeps, when given)."""
        if w.active:
            return self._read_window_without(tenant, w.active, w.blocks, w.head, ids, w.lo, w.hi, columns, tri,
                                             first, backward, match, scanned)
        return self._read_window(tenant, w.blocks, w.head, ids, w.lo, w.hi, columns, tri, first=first, backward=backward,
                                 match=match, scanned=scanned)

    def read_counts(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int, *,
                    grain_ns: int, with_bytes: bool = False, left: bool = False) -> Iterator[pa.Table]:
        """The rows `read` would return (deletes left out, duplicates once), counted: tables of
        (stream, ts, n[, len]) in forward window order, grouped by stream and by ts within each, where each row
        stands for `n` rows of its stream (and `len` their line bytes) whose timestamps lie in
        (ts - grain_ns, ts] ([ts, ts + grain_ns) when `left`: index/volume's buckets) -- exact rows
        (n = 1) where a window is not counted ahead.

        Only for a caller whose every bucket boundary is a multiple of `grain_ns` since the epoch:
        then a row and its count fall between the same boundaries. A window is answered from its
        block's per-minute counts (block_counts.py) when they fit: one block, no head rows, no
        delete request, the grain a multiple of the block's, and no minute cut by the range."""
        ids = np.unique(np.fromiter(stream_ids, dtype=np.int64))
        if ids.size == 0 or start_ns >= end_ns:
            return
        columns = ("stream", "ts", "len") if with_bytes else ("stream", "ts")
        pin = self._files.pin()
        try:
            for w in self._windows(tenant, ids, start_ns, end_ns, "forward"):
                t = self._window_cells(w, ids, grain_ns, with_bytes, left) if self.counts_ahead else None
                if t is None:
                    rows = self._read_plan(tenant, w, ids, columns, None, None, False)
                    t = rows.append_column("n", pa.array(np.ones(rows.num_rows, np.int64)))
                    t = t.select(["stream", "ts", "n", "len"] if with_bytes else ["stream", "ts", "n"])
                if t.num_rows:
                    yield t
        finally:
            self._files.unpin(pin)

    def _window_cells(self, w: _Window, ids: np.ndarray, grain_ns: int, with_bytes: bool,
                      left: bool = False) -> pa.Table | None:
        """A window's counts from its block's cells, or None when they cannot stand for its rows."""
        if w.active or (w.head is not None and w.head.num_rows) or len(w.blocks) != 1:
            return None
        b = w.blocks[0]
        try:
            c = self._files.reader(b).cells(left)
        except CorruptDataError as e:
            self._files.quarantine(b, e)
            return _empty(("stream", "ts", "n", "len") if with_bytes else ("stream", "ts", "n"))
        if c is None or grain_ns % c.grain:
            return None
        keep = block_counts.cells_in(c, ids, w.start, self.window_ns, w.lo, w.hi)
        if keep is None:
            return None
        arrays = [pa.array(c.stream[keep]), pa.array(c.end[keep]), pa.array(c.rows[keep])]
        if with_bytes:
            arrays.append(pa.array(c.bytes[keep]))
        return pa.Table.from_arrays(arrays, names=["stream", "ts", "n", "len"][:len(arrays)])

    def metadata_names(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int) -> frozenset[str] | None:
        """The structured-metadata names the rows of `stream_ids` in [start_ns, end_ns) may carry
        (a superset: a block's names count for all the rows of a stream in it), or None when a
        block does not say."""
        ids = np.unique(np.fromiter(stream_ids, dtype=np.int64))
        names: set[str] = set()
        views, blocks = self._snapshot(tenant)
        pin = self._files.pin()
        try:
            for b in blocks:
                if b.min_ts >= end_ns or b.max_ts < start_ns:
                    continue
                if not (np.isin(b.streams.ids, ids) & b.streams.overlapping(start_ns, end_ns)).any():
                    continue
                try:
                    got = self._files.reader(b).meta_names()
                except CorruptDataError as e:
                    self._files.quarantine(b, e)
                    continue
                if got is None:
                    return None
                for n, sids in got.items():  # one step per name: a handful
                    if n not in names and (ids[np.minimum(np.searchsorted(ids, sids), ids.size - 1)] == sids).any():
                        names.add(n)
        finally:
            self._files.unpin(pin)
        for v in views:
            rows = R.select_rows(v.table(), ids, start_ns, end_ns)
            if rows.num_rows:
                names.update(block_counts.meta_names(rows.column("meta"), R._np(rows.column("stream"))))
        return frozenset(names)

    def _read_window_without(self, tenant: str, active: tuple[Active, ...], blocks: list[BlockInfo],
                             head: pa.Table | None, ids: np.ndarray, lo: int, hi: int, columns: tuple[str, ...],
                             tri: trigrams.Needs | None, first: int | None, backward: bool,
                             match: LineMatch | None = None, scanned: line_scan.Scanned | None = None) -> pa.Table:
        """A window some delete requests cover: read with what their filters need (lines and
        metadata for a pipeline), mask their rows out (column operations), then the asked columns.
        `first` is not passed on: the first rows of the window may be deleted ones. `match` is:
        whether a row is deleted depends on that row alone."""
        need = ("stream", "ts", "line", "meta") if any(a.filter.has_pipeline for a in active) else ("stream", "ts")
        wide = tuple(dict.fromkeys((*columns, *need)))
        t = self._read_window(tenant, blocks, head, ids, lo, hi, wide, tri, first=None, backward=backward, match=match,
                              scanned=scanned)
        gone = deleted_rows(t, active, lambda sid: self._index.labels_of(tenant, sid))
        if gone is not None:
            t = R.keep_rows(t, ~gone)
        if first is not None:
            t = R.first_rows(t, first, backward)
        return R.conform(t, columns)

    def _label_order(self, tenant: str, t: pa.Table) -> np.ndarray:
        """The rows' streams' places in label order: a window merged from several sources (or from a
        head) comes in the order of a block's rows, so that the same rows come in the same order
        before and after a flush or a compaction."""
        return R.label_ranks(R._np(t.column("stream")), self._index.tenants[tenant].labels.__getitem__)

    def _head_rows(self, views: list[TenantHeadView], ids: np.ndarray, start_ns: int, end_ns: int) -> pa.Table:
        parts = [R.select_rows(v.table(), ids, start_ns, end_ns) for v in views]
        parts = [p for p in parts if p.num_rows]
        if not parts:
            return _NO_HEAD_ROWS
        return pa.concat_tables(parts)

    def _read_window(self, tenant: str, blocks: list[BlockInfo], head: pa.Table | None, ids: np.ndarray, lo: int, hi: int,
                     columns: tuple[str, ...], tri: trigrams.Needs | None = None, *, first: int | None = None,
                     backward: bool = True, match: LineMatch | None = None,
                     scanned: line_scan.Scanned | None = None) -> pa.Table:
        want = list(dict.fromkeys(("stream", "ts", *columns)))
        parts: list[pa.Table] = []
        sources: list[tuple[BlockReader, list[int]]] = []
        blocks_read: list[BlockInfo] = []
        for b in blocks:  # one step per block; a damaged one is quarantined and left out
            r = self._files.reader(b)
            try:
                rgs = r.row_groups(ids, lo, hi, tri)
                if not rgs:
                    continue
                if match is not None:
                    part = r.read_matching(rgs, want, match, ids, lo, hi, scanned or line_scan.Scanned())
                elif first is not None:
                    # Each source's first rows (and ties) include every row of the merged window's
                    # first rows that the source holds, duplicates across sources or not.
                    part = r.read_first(rgs, want, ids, lo, hi, first, backward)
                else:
                    t = r.read(rgs, want)
                    part = t if r.covers(rgs, ids, lo, hi) else R.select_rows(t, ids, lo, hi)
            except CorruptDataError as e:
                self._files.quarantine(b, e)
                continue
            sources.append((r, rgs))
            blocks_read.append(b)
            parts.append(part)
        if head is not None and head.num_rows:
            # The head may hold duplicates of itself; it has its lines in memory, so dedup is cheap.
            hp = _matching(R.sort_dedup(head, self._label_order(tenant, head)), match, scanned)
            if first is not None:
                hp = R.first_rows(hp, first, backward)
            if "len" in want:
                hp = R.with_len(hp)
            parts.append(hp.select(want))
        parts = [p for p in parts if p.num_rows]
        if not parts:
            return _empty(columns)  # most windows of a needle query: no row group left
        if len(parts) == 1:
            return R.conform(parts[0], columns)  # a block part, or the sorted head part
        if R.has_cross_duplicates(parts):
            # A row may be in two sources (a block and the head, or two blocks before compaction):
            # dedup needs the lines and metadata, so read them where they were not wanted.
            if "line" not in want or "meta" not in want:
                full = want + [c for c in ("line", "meta") if c not in want]
                parts = []
                for (r, rgs), b in zip(sources, blocks_read):
                    try:
                        if match is None:
                            parts.append(R.select_rows(r.read(rgs, full), ids, lo, hi))
                        else:  # counted already
                            parts.append(r.read_matching(rgs, full, match, ids, lo, hi, line_scan.Scanned()))
                    except CorruptDataError as e:
                        self._files.quarantine(b, e)
                if head is not None and head.num_rows:
                    hp = _matching(R.sort_dedup(head, self._label_order(tenant, head)), match, None)
                    parts.append(R.with_len(hp).select(full) if "len" in full else hp.select(full))
                want = full
            merged = pa.concat_tables([R.conform(p, tuple(want)) for p in parts if p.num_rows])
            merged = R.sort_dedup(merged, self._label_order(tenant, merged))
        else:
            merged = pa.concat_tables([R.conform(p, tuple(want)) for p in parts])
            merged = R.sort_rows(merged, self._label_order(tenant, merged))
        return R.conform(merged, columns)

    # ---- label APIs (Loki's /labels, /label/NAME/values, /series, /index/stats, /index/volume) ---------------------------------------------------------------------------
    def label_names(self, tenant: str, start_ns: int, end_ns: int, matchers: list[Matcher] | None = None) -> list[str]:
        names: set[str] = set()
        for ls in self.streams(tenant, matchers or [], start_ns, end_ns).values():
            names.update(k for k, _ in ls)
        return sorted(names)

    def label_values(self, tenant: str, name: str, start_ns: int, end_ns: int,
                     matchers: list[Matcher] | None = None) -> list[str]:
        values = {ls.get(name) for ls in self.streams(tenant, matchers or [], start_ns, end_ns).values()}
        values.discard("")
        return sorted(values)

    def series(self, tenant: str, matcher_groups: list[list[Matcher]], start_ns: int, end_ns: int) -> list[LabelSet]:
        found: dict[int, LabelSet] = {}
        for group in matcher_groups or [[]]:
            found.update(self.streams(tenant, group, start_ns, end_ns))
        return sorted(found.values())  # by labels: stream ids are hashes, in no useful order

    def index_stats(self, tenant: str, matchers: list[Matcher], start_ns: int, end_ns: int) -> dict:
        """Loki's index/stats: chunks from metadata (every (block, stream) overlapping the window), the
        rest from the rows in the window, counted as `volume` counts them.

        Loki takes both answers from the same chunk statistics (its index's ChunkStats, prorated to the
        window), so its stats bytes are the sum of its volume for the same selector; ours are too.
        """
        found = self.streams(tenant, matchers, start_ns, end_ns)
        ids = np.array(sorted(found), dtype=np.int64)
        out = {"streams": 0, "chunks": 0, "bytes": 0, "entries": 0}
        if not ids.size:
            return out
        nbytes, nrows = self._window_sums(tenant, ids, start_ns, end_ns, None)
        out["streams"] = int(np.count_nonzero(nrows))
        out["bytes"] = int(nbytes.sum())
        out["entries"] = int(nrows.sum())
        views, blocks = self._snapshot(tenant)
        for b in blocks:
            if b.min_ts >= end_ns or b.max_ts < start_ns:
                continue
            s = b.streams
            out["chunks"] += int((np.isin(s.ids, ids) & s.overlapping(start_ns, end_ns)).sum())
        idset = set(ids.tolist())
        for v in views:
            out["chunks"] += sum(1 for sid, st in v.stats.items()
                                 if sid in idset and st.min_ts < end_ns and st.max_ts >= start_ns)
        return out

    def volume(self, tenant: str, matchers: list[Matcher], start_ns: int, end_ns: int, *,
               step_ns: int | None = None) -> list[tuple[LabelSet, np.ndarray, np.ndarray]]:
        """Line bytes per stream per step bucket, a line in the bucket of its timestamp.

        Buckets are Loki's (queryrange NewVolumeMiddleware over util.ForInterval): aligned to
        multiples of the step since the epoch, not to `start_ns`, so bucket k is
        [k*step, (k+1)*step) and the first one is cut at `start_ns`. Returns (labels, bucket
        start times (the first one's aligned start, possibly before `start_ns`), bytes) per stream
        with data, only non-empty buckets; one bucket stamped `start_ns` when step_ns is None.
        """
        found = self.streams(tenant, matchers, start_ns, end_ns)
        if not found:
            return []
        ids = np.array(sorted(found), dtype=np.int64)
        acc, _ = self._window_sums(tenant, ids, start_ns, end_ns, step_ns)
        origin = start_ns - start_ns % step_ns if step_ns else start_ns
        starts = origin + np.arange(acc.shape[1], dtype=np.int64) * (step_ns or 0)
        out = []
        for i, sid in enumerate(ids.tolist()):
            nz = acc[i] > 0
            if nz.any():
                out.append((found[sid], starts[nz], acc[i][nz]))
        return out

    def _window_sums(self, tenant: str, ids: np.ndarray, start_ns: int, end_ns: int,
                     step: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Line bytes and rows of each stream of `ids` (sorted) per step bucket of [start, end), one
        bucket when `step` is None: two (streams x buckets) arrays, the one count that index/stats and
        index/volume share. Buckets sit on multiples of `step` since the epoch (see `volume`). One
        bucket needs no time arithmetic (a window may be all of int64)."""
        origin = start_ns - start_ns % step if step else start_ns
        nb = max(1, -(-(end_ns - origin) // step)) if step else 1
        nbytes = np.zeros(ids.size * nb, dtype=np.int64)
        nrows = np.zeros(ids.size * nb, dtype=np.int64)
        # Line bytes only: Loki's figures come from chunk sizes (compressed, KiB-rounded) and track the
        # raw line bytes far closer than line + metadata text does on the conformance corpus.
        # Buckets [k*step, (k+1)*step): counts of whole minutes (left-closed cells) fall in one.
        grain = step or F.BLOCK_COUNT_GRAIN_NS  # one bucket: any whole minute inside it is in it
        for t in self.read_counts(tenant, ids, start_ns, end_ns, grain_ns=grain, with_bytes=True, left=True):
            cell = np.searchsorted(ids, R._np(t.column("stream")))
            if step:
                cell = cell * nb + (R._np(t.column("ts")) - origin) // step
            nbytes += np.bincount(cell, weights=R._np(t.column("len")), minlength=nbytes.size).astype(np.int64)
            nrows += np.bincount(cell, weights=R._np(t.column("n")), minlength=nrows.size).astype(np.int64)
        return nbytes.reshape(ids.size, nb), nrows.reshape(ids.size, nb)


def _matching(head: pa.Table, match: LineMatch | None, scanned: line_scan.Scanned | None) -> pa.Table:
    """The head rows whose line `match` keeps (all without one), counted into `scanned`."""
    if match is None or not head.num_rows:
        return head
    if scanned is not None:
        scanned.add(head.column("line"), None, head.column("meta") if scanned.meta else None, None)
    return R.keep_rows(head, line_scan.mask(head.column("line"), match))


_NO_HEAD_ROWS = pa.table({"stream": pa.array([], pa.int64()), "ts": pa.array([], pa.int64())})


def _among(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Which `values` are in the sorted unique `ids` (np.isin sorts both, ~10x the time for the
    few hundred ids of a block and a query, once per block per window read)."""
    if not ids.size:
        return np.zeros(len(values), dtype=bool)
    return ids[np.minimum(np.searchsorted(ids, values), ids.size - 1)] == values


@functools.lru_cache(maxsize=64)
def _empty(columns: tuple[str, ...]) -> pa.Table:
    """A table of no rows with `columns` in their public types (tables are immutable: shared)."""
    types = {"stream": pa.int64(), "ts": pa.int64(), "line": pa.large_string(), "meta": pa.string(), "len": pa.int32()}
    return R.conform(pa.table({c: pa.array([], types[c]) for c in columns}), columns)

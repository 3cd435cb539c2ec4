"""Skipping row groups by their trigram maps never changes an answer: on random lines in compacted
blocks on disk, every query's line filter keeps the same rows from a read with the maps as from one
without (LOGYARD_LINE_PRUNING=0), needles present or absent, at a row-group edge or straddling two
lines, case-insensitive, regexps with literal parts; and the maps do skip row groups."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from logyard.logql.line_hint import line_hint
from logyard.logql.stages.line_filter import LineFilter, filters_mask
from logyard.logql.syntax.parser import parse
from logyard.needles import LineMatch, Needle
from logyard.storage import block, trigrams
from logyard.storage import format as F
from logyard.storage.reads import LINE_PRUNING_ENV
from tests.storage.conftest import HOUR, T0, push

GROUP_ROWS = 100
PER_STREAM = 1000
WORDS = ["GET", "post", "Error", "timeout", "refused", "user", "Kill", "sigterm", "ok", "status=200",
         "café", "ſtate", "trace_id", "ALPHA", "beta", "x9z", "{json}", "a.b.c", "[warn]"]

QUERIES = [
    '{app=~"s.*"} |= "xq7-needle-5150"',                 # present, case-sensitive
    '{app=~"s.*"} |= "XQ7-NEEDLE-5150"',                 # only its case differs: kept nowhere
    '{app=~"s.*"} |= "absent-needle-000"',               # absent
    '{app=~"s.*"} |= "edge-needle-777"',                 # the last row of a row group and the first of the next
    '{app=~"s.*"} |= "stra-ddle-9"',                     # split across two lines: in none
    '{app=~"s.*"} |= "xq7-needle-5150" or "edge-needle-777"',
    '{app=~"s.*"} |~ "(?i)xq7-NEEDLE-5150"',
    '{app=~"s.*"} |~ "(?i)kill-me-now"',                 # matches the Kelvin sign's line too
    '{app=~"s.*"} |~ "(?i)ſtate-of-the-art"',            # and the long s's: "STATE-OF-THE-ART"
    '{app=~"s.*"} |~ "(?i)CAFÉ-au-lait"',
    '{app=~"s.*"} |~ "xq7-ne+dle-5[0-9]+"',
    '{app=~"s.*"} |~ "edge-(needle|pin)-7{3}"',
    '{app=~"s.*"} |~ "never-here|nor-here-either"',
    '{app=~"s.*"} |~ "(?i)timeout.*refused"',
    '{app=~"s.*"} |= "xq7" |~ "needle-[0-9]+$"',
]


def random_lines(rng: np.random.Generator, n: int) -> list[str]:
    picks = rng.integers(0, len(WORDS), size=(n, 6))
    return [" ".join(WORDS[j] for j in row) for row in picks]


def load(s, rng: np.random.Generator) -> None:
    """Three streams of random lines with needles placed; row groups of GROUP_ROWS rows, so the
    rows of stream k are rows k*PER_STREAM.. of the window's block and line i of stream 0 sits in
    row group i // GROUP_ROWS."""
    for k, app in enumerate(["s0", "s1", "s2"]):
        lines = random_lines(rng, PER_STREAM)
        if k == 0:
            lines[GROUP_ROWS - 1] += " edge-needle-777"  # the last row of group 0
            lines[GROUP_ROWS] = "edge-needle-777 " + lines[GROUP_ROWS]  # the first of group 1
            lines[3 * GROUP_ROWS - 1] += " stra-"
            lines[3 * GROUP_ROWS] = "ddle-9 " + lines[3 * GROUP_ROWS]
        for i in rng.choice(PER_STREAM, size=2, replace=False).tolist():
            lines[i] += " ref=xq7-needle-5150"
        i = int(rng.integers(PER_STREAM))
        lines[i] += [" \u212aill-me-now", " STATE-OF-THE-ART", " café-AU-LAIT"][k]  # K = Kelvin sign
        s.append("t", [push({"app": app}, T0 + np.arange(PER_STREAM) * 1000, lines)])
    s.flush()
    s.compact()


def kept(s, query: str) -> list[tuple]:
    """The rows (stream, ts, line) the query's line filters keep from a read hinted by them."""
    expr = parse(query)
    ids = sorted(s.streams("t", list(expr.selector.matchers), T0, T0 + HOUR))
    filters = [LineFilter(f.op, [v for v, _ in f.terms()], [i for _, i in f.terms()]) for f in expr.line_filters()]
    out = []
    for t in s.read("t", ids, T0, T0 + HOUR, line_contains=line_hint(expr)):
        t = t.filter(filters_mask(t.column("line"), filters))
        d = t.to_pydict()
        out.extend(zip(d["stream"], d["ts"], d["line"]))
    return sorted(out)


def row_groups_read(s, query: str, monkeypatch) -> int:
    read = []
    orig = block.BlockReader.read

    def spy(self, row_groups, columns, pf=None):
        if pf is None:
            read.extend(row_groups)
        return orig(self, row_groups, columns, pf)

    monkeypatch.setattr(block.BlockReader, "read", spy)
    kept(s, query)
    monkeypatch.setattr(block.BlockReader, "read", orig)
    return len(read)


def without_pruning(s, make_store, monkeypatch):
    """The same data directory reopened, read without the maps."""
    s.close()
    monkeypatch.setenv(LINE_PRUNING_ENV, "0")
    full = make_store()
    assert not full._reads.line_pruning
    return full


@pytest.fixture
def small_groups(monkeypatch):
    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", GROUP_ROWS)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pruned_reads_keep_the_same_rows_as_full_reads(make_store, small_groups, monkeypatch, seed):
    s = make_store()
    load(s, np.random.default_rng(seed))
    assert s._reads.line_pruning
    pruned = {q: kept(s, q) for q in QUERIES}
    expected = {'|= "xq7-needle-5150"': 6, '|= "edge-needle-777"': 2, '|~ "(?i)kill-me-now"': 1,
                '|~ "(?i)ſtate-of-the-art"': 1, '|~ "(?i)CAFÉ-au-lait"': 1, '|= "stra-ddle-9"': 0}
    for q, n in expected.items():
        assert len(kept(s, '{app=~"s.*"} ' + q)) == n, q
    full = without_pruning(s, make_store, monkeypatch)
    for q in QUERIES:
        assert pruned[q] == kept(full, q), q


def test_the_maps_skip_row_groups_without_the_needle(make_store, small_groups, monkeypatch):
    s = make_store()
    load(s, np.random.default_rng(7))
    total = 3 * PER_STREAM // GROUP_ROWS
    assert row_groups_read(s, '{app=~"s.*"} |= "absent-needle-000"', monkeypatch) == 0
    assert row_groups_read(s, '{app=~"s.*"} |= "edge-needle-777"', monkeypatch) == 2
    assert row_groups_read(s, '{app=~"s.*"} |~ "(?i)XQ7-needle-5150"', monkeypatch) <= 6
    assert row_groups_read(s, '{app=~"s.*"} |~ "never-here|nor-here-either"', monkeypatch) == 0
    assert row_groups_read(s, '{app=~"s.*"} |~ "timeout.*"', monkeypatch) == total  # in every group
    full = without_pruning(s, make_store, monkeypatch)
    assert row_groups_read(full, '{app=~"s.*"} |= "absent-needle-000"', monkeypatch) == total


def test_blocks_with_the_older_exact_maps_still_prune_case_sensitive_needles(make_store, small_groups, monkeypatch):
    """Blocks written before the lowered maps carry `logyard.trigrams` over exact bytes: they serve
    case-sensitive needles and are read whole for case-insensitive ones."""
    monkeypatch.setattr(F, "BLOCK_TRIGRAM_LOWER_KEY", F.BLOCK_TRIGRAM_KEY)
    monkeypatch.setattr(trigrams, "MapBuilder", functools.partial(trigrams.MapBuilder, lowered=False))
    s = make_store()
    load(s, np.random.default_rng(4))
    s.close()
    monkeypatch.undo()
    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", GROUP_ROWS)
    old = make_store()
    r = old.files.reader(old._index.blocks("t")[0])
    r.row_groups(None, T0, T0 + HOUR)
    assert r._trigrams is not None and not r._trigrams.lowered
    total = 3 * PER_STREAM // GROUP_ROWS
    assert row_groups_read(old, '{app=~"s.*"} |= "edge-needle-777"', monkeypatch) == 2
    assert row_groups_read(old, '{app=~"s.*"} |~ "(?i)edge-needle-777"', monkeypatch) == total
    pruned = {q: kept(old, q) for q in QUERIES}
    full = without_pruning(old, make_store, monkeypatch)
    for q in QUERIES:
        assert pruned[q] == kept(full, q), q


def load_hours(s, rng: np.random.Generator) -> dict[int, list[str]]:
    """Six hours of random lines of two streams, compacted, with needles in some hours only, and
    a seventh hour left in the head: the needles each hour holds."""
    placed: dict[int, list[str]] = {}
    for h in range(7):
        needles = [n for n in ("xq7-needle-5150", "edge-needle-777") if rng.random() < 0.4]
        placed[h] = needles
        for app in ("s0", "s1"):
            lines = random_lines(rng, 300)
            for n in needles:
                lines[int(rng.integers(300))] += " " + n
            s.append("t", [push({"app": app}, T0 + h * HOUR + np.arange(300) * 1000, lines)])
        if h == 5:
            s.flush()
            s.compact()
    return placed


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_windows_a_needle_leaves_hold_every_kept_row(make_store, small_groups, monkeypatch, seed):
    """`windows` (what a window-by-window read asks before reading) rules out only windows without
    the needle: every window the full read finds a kept row in is listed; hours without it in a
    block are not; the head's hour is (its rows are not pruned by lines)."""
    s = make_store()
    placed = load_hours(s, np.random.default_rng(seed))
    queries = [q for q in QUERIES if "stra-ddle" not in q]
    ids = sorted(s.streams("t", [], T0, T0 + 7 * HOUR))
    listed = {q: s.windows("t", ids, T0, T0 + 7 * HOUR, line_contains=line_hint(parse(q))) for q in queries}
    for h in range(6):
        if not placed[h]:
            assert T0 + h * HOUR not in listed['{app=~"s.*"} |= "xq7-needle-5150" or "edge-needle-777"']
    for q in queries:
        assert T0 + 6 * HOUR in listed[q], q
    for q in queries:
        expr = parse(q)
        filters = [LineFilter(f.op, [v for v, _ in f.terms()], [i for _, i in f.terms()]) for f in expr.line_filters()]
        for t in s.read("t", ids, T0, T0 + 7 * HOUR):
            t = t.filter(filters_mask(t.column("line"), filters))
            hours = {ts // HOUR * HOUR for ts in t.column("ts").to_pylist()}
            assert hours <= set(listed[q]), q
    assert s.windows("t", ids, T0, T0 + 7 * HOUR) == [T0 + h * HOUR for h in range(7)]
    monkeypatch.setenv(LINE_PRUNING_ENV, "0")
    s.close()
    full = make_store()
    assert full.windows("t", ids, T0, T0 + 7 * HOUR, line_contains=["absent-needle-000"]) == \
        [T0 + h * HOUR for h in range(7)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_needle_read_in_one_go_hands_over_what_window_reads_do(make_store, small_groups, seed):
    """`read_hits` (a needle's row groups planned over the whole range and read at once) returns
    the tables, and tells `scanned` the counts, that a window-by-window read with the same filter
    does: compacted hours with and without the needle and the head's hour; and reads nothing (None)
    when the hint leaves more row groups than it may read."""
    s = make_store()
    load_hours(s, np.random.default_rng(seed))
    ids = sorted(s.streams("t", [], T0, T0 + 7 * HOUR))
    columns = ("stream", "ts", "line", "meta")
    for match in (LineMatch((("xq7-needle-5150",),)), LineMatch((("edge-needle-777", "xq7-needle-5150"),)),
                  LineMatch((("needle",),), ("edge",)), LineMatch((("absent-needle-000",),))):
        hint = [Needle(tuple((v,) for v in group)) for group in match.contains]
        by_windows, in_one_go = [], []
        want = list(s.read("t", ids, T0, T0 + 7 * HOUR, direction="forward", columns=columns, line_contains=hint,
                           line_match=match, scanned=lambda *n: by_windows.append(n)))
        got = s.read_hits("t", ids, T0, T0 + 7 * HOUR, columns=columns, line_contains=hint, line_match=match,
                          max_row_groups=1000, scanned=lambda *n: in_one_go.append(n))
        assert got is not None
        assert [t.to_pydict() for t in got] == [t.to_pydict() for t in want], match
        assert np.sum(in_one_go, axis=0).tolist() == np.sum(by_windows, axis=0).tolist(), match
    busy = LineMatch((("GET",),))
    assert s.read_hits("t", ids, T0, T0 + 7 * HOUR, columns=columns, line_contains=["GET"], line_match=busy,
                       max_row_groups=2) is None

"""The C level pass (`_levelscan.c` via level_fast.py) against level.py's reference, line by line:
on the conformance corpus, on benchmark-shaped bodies (conftest.bench_bodies), and on generated lines built from
the fragments each of the reference's rules looks at."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from logyard.ingest import _levelscan
from logyard.ingest.level import LEVEL_FIELDS, LEVELS, VALUE_LEVELS
from logyard.ingest.level import detect_levels as reference
from logyard.ingest.level_fast import DEFER, detect_levels

DATA = Path(__file__).resolve().parents[1] / "conformance" / "data"


def _c_pass(column: pa.Array) -> np.ndarray:
    _, offsets, data = column.buffers()
    return np.frombuffer(_levelscan.levels(data or b"", offsets, len(column), False), dtype=np.int8)


def _corpus_lines(paths: list[Path]) -> list[str]:
    out = []
    for path in paths:
        doc = orjson.loads(gzip.decompress(path.read_bytes()))
        out += [v[1] for s in doc["streams"] for v in s["values"]]
    return out


def _assert_same(lines: list[str]) -> np.ndarray:
    column = pa.array(lines, type=pa.string())
    want, got = reference(column), detect_levels(column)
    bad = np.flatnonzero(want != got)
    assert not len(bad), [(lines[i], LEVELS[want[i]], LEVELS[got[i]]) for i in bad[:5]]
    return _c_pass(column)


def test_corpus_levels_equal_the_reference_and_are_settled_in_c():
    lines = _corpus_lines(sorted(DATA.glob("push-*.json.gz")))
    assert len(lines) > 1000
    raw = _assert_same(lines)
    # The C pass must settle nearly every line itself, or the comparison above says little.
    assert (raw == DEFER).mean() < 0.01


def test_bench_levels_equal_the_reference(bench_bodies):
    raw = _assert_same(_corpus_lines(bench_bodies[:8]))
    assert (raw == DEFER).mean() < 0.01


def test_sliced_and_large_string_columns():
    lines = ["level=info a", '{"level":"warn"}', "an error here", "", "x=1 lvl=debug"] * 3
    column = pa.array(lines, type=pa.string())
    want = reference(column)
    assert detect_levels(column.slice(2, 9)).tolist() == want[2:11].tolist()
    assert detect_levels(column.cast(pa.large_string())).tolist() == want.tolist()
    assert detect_levels(pa.array([], type=pa.string())).tolist() == []


# Fragments that steer each rule of the reference: JSON keys and nesting, logfmt tokens and their
# malformed cousins, keywords and the bytes around them, Go and Unicode spaces, case folds.
_KEYS = [*LEVEL_FIELDS, "msg", "lev", "levels", "Levelx", "log", "ſeverity", "lvL"]
_VALUES = [*VALUE_LEVELS, "INFO", "Warn", "eRR", "İNFO", "ınfo", "bogus", "", "in\\u0066o", "i\\nfo", "wárn", "a\\\nb"]
_SPACES = [" ", "  ", "\t", "\n", "\r", "\v", "\f", "\x00", "\x1f", "\u0085", "\u00a0", "\u2003", "\u3000"]
_WORDS = ["trace", "debug", "fatal", "critical", "error", "err", "warning", "warn", "info", "errors", "INFO", "Warn", "inf"]
_PUNCT = list("[](){}:,!\"'=|.;-_/\\") + ["\\\"", "\\\n", "é", "😀", "ſ"]

_key = st.sampled_from(_KEYS)
_value = st.sampled_from(_VALUES)
_space = st.sampled_from(_SPACES)
_json_member = st.builds(
    lambda k, sp1, sp2, v: f'"{k}"{sp1}:{sp2}"{v}"', _key, st.sampled_from(["", " ", "\n"]), st.sampled_from(["", " ", "\t"]), _value
)
_json_nested = st.builds(lambda m: "{" + m + "}", _json_member) | st.builds(lambda m: "[" + f'"{m}"' + "]", _value)
_json_other = st.builds(lambda k, v: f'"{k}":{v}', st.sampled_from(["a", "msg", "ts"]), st.sampled_from(['"x"', "1", "null", "{}", "[]"]))


@st.composite
def json_lines(draw) -> str:
    members = draw(st.lists(_json_member | _json_other | st.builds(lambda k, o: f'"{k}":{o}', _key, _json_nested), max_size=4))
    lead = draw(st.sampled_from(["", "", " ", "\t", "\u00a0", "\u2028", "x"]))
    tail = draw(st.sampled_from(["", "", " ", "\n", "\r\n", "\u00a0", "x"]))
    sep = draw(st.sampled_from([",", ", ", ",\n"]))
    return lead + "{" + sep.join(members) + "}" + tail


_logfmt_token = st.one_of(
    st.builds(lambda k, v: f"{k}={v}", _key, _value),
    st.builds(lambda k, v: f'{k}="{v}"', _key, st.sampled_from([*_VALUES, 'a \\" b', "x y", "a\nb"])),
    st.builds(lambda k: k, _key),
    st.builds(lambda k: f"{k}=", _key),
    st.sampled_from(["a=b", 'time="2026-01-01 00:00"', "x==y", "=z", '"q"', "a=b=c", 'k="unterminated', "msg=x\\"]),
)


@st.composite
def logfmt_lines(draw) -> str:
    tokens = draw(st.lists(_logfmt_token, max_size=5))
    seps = draw(st.lists(st.one_of(_space, st.just("")), min_size=len(tokens) + 1, max_size=len(tokens) + 1))
    return "".join(s + t for s, t in zip(seps, tokens)) + seps[-1]


# A keyword between two bytes, each a word boundary on its side or not.
_BOUNDS = [*" \t\n[](){}:,!\"'=|", "", "", "a", "_", ".", "-", ";", "\r", "\v", "é"]
_kw_fragment = st.builds(lambda a, w, b: a + w + b, st.sampled_from(_BOUNDS), st.sampled_from(_WORDS), st.sampled_from(_BOUNDS))


@st.composite
def keyword_lines(draw) -> str:
    parts = st.one_of(_kw_fragment, st.sampled_from(_WORDS), st.sampled_from(_PUNCT), _space, st.text(max_size=3))
    return "".join(draw(st.lists(parts, max_size=8)))


lines_strategy = st.one_of(json_lines(), logfmt_lines(), keyword_lines(), st.text(max_size=30))


@settings(max_examples=400, deadline=None)
@given(st.lists(lines_strategy, min_size=1, max_size=30))
@example(['{"level":"info"}', ' {"level":"warn"}', '{"a":{"level":"x"},"level":"error"}', "level=İNFO", ""])
# A value with a backslash-newline matches _JSON_FLAT's (?s) but not _JSON_FIRST: the next key counts.
@example(['{"level":"a\\\nb","lvl":"dbg"}', '{"level":"in\\\nfo"} error', 'ſeverity=debug info', 'level="a\\\nb" warn', 'a="x"level=fatal'])
# Go's Unicode spaces make a line JSON (then no logfmt) or not (U+200B is no space).
@example([c + "{ level=dbg }" for c in "\x85\xa0\u1680\u2000\u200a\u200b\u2028\u2029\u202f\u205f\u3000"])
def test_generated_lines_equal_the_reference(lines):
    _assert_same(lines)


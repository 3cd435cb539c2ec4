"""A log query's pruning hint holds for every line its filters keep: the literal runs of a regexp,
alternatives, case folding, and no hint where the pattern is beyond the reader."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from logyard.gocompat.text import re2_escape
from logyard.logql.line_hint import line_hint, regex_needle
from logyard.logql.stages.line_filter import LineFilter
from logyard.logql.syntax.parser import parse
from logyard.needles import Needle


@pytest.mark.parametrize("pattern,any_of,fold", [
    ("xq7-needle-5150", [["xq7-needle-5150"]], False),
    ("(?i)timeout|refused", [["timeout"], ["refused"]], True),
    ("abc.*def", [["abc", "def"]], False),
    ("ab+cd?e", [["ab", "c", "e"]], False),  # d may be absent; b occurs at least once
    ("err{2}or", [["er", "or"]], False),
    ("x{abc}", [["x{abc}"]], False),  # not a repetition: literal braces, as in Go
    ("foo(bar)?baz", [["foo", "baz"]], False),
    ("[[:alpha:]]abc", [["abc"]], False),  # the POSIX class closes inside the brackets
    ("[]a]bc", [["bc"]], False),
    ("a\\x41bc|\\x{42}de", [["a", "bc"], ["de"]], False),
    ("\\p{Greek}xyz\\pLw", [["xyz", "w"]], False),
    ("\\.log\\b", [[".log"]], False),
    ("(?s)(?i)Hello World", [["Hello World"]], True),
    ("(?i:ab)cde", [["cde"]], False),
    ("a|", [["a"], []], False),
])
def test_regex_needles_are_the_literal_runs_of_each_alternative(pattern, any_of, fold):
    assert regex_needle(pattern) == Needle(tuple(tuple(a) for a in any_of), fold)


@pytest.mark.parametrize("pattern", ["a(?i)bcd", "\\Qa.b\\E", "ab)c", "a[bc", "(ab", "\\e", "(?-i)abc"])
def test_patterns_beyond_the_reader_give_no_hint(pattern):
    assert regex_needle(pattern) is None


def test_a_query_hints_only_its_leading_positive_filters():
    expr = parse('{a="b"} |= "one" or "two" != "three" |~ "(?i)Four.*five" |= ip("10.0.0.0/8") | json |= "six"')
    assert line_hint(expr) == [Needle((("one",), ("two",))), Needle((("Four", "five"),), True)]
    assert line_hint(parse('{a="b"} |= "" or "x"')) == []  # an empty alternative keeps every line
    assert line_hint(parse('{a="b"} |~ "a" or "(?i)b"')) == [Needle((("a",), ("b",)), True)]


ATOMS = ["a", "b", "c", "K", "s", "\\.", ".", "[a-c]", "[[:upper:]]", "(ab|c)", "\\d", "\\x41", "x{2}", "{",
         "é", "(?:sa)", "^", "$", "\\b"]
QUANTS = ["", "", "", "*", "+", "?", "{0,2}", "{1}", "+?"]
ALPHABET = list("abcsKABSx1.{}é") + ["\u212a", "\u017f", "É", " "]


def random_pattern(rng: np.random.Generator) -> str:
    alts = []
    for _ in range(int(rng.integers(1, 3))):
        alts.append("".join(ATOMS[rng.integers(len(ATOMS))] + QUANTS[rng.integers(len(QUANTS))]
                            for _ in range(int(rng.integers(1, 7)))))
    return ("(?i)" if rng.random() < 0.4 else "") + "|".join(alts)


def contains(lines: pa.Array, s: str, fold: bool) -> np.ndarray:
    """Whether each line holds `s`, judged by the engine's own regexp filter."""
    return LineFilter("|~", [("(?i)" if fold else "") + re2_escape(s)]).mask(lines)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # Python re on some translated classes
def test_every_line_a_random_regexp_keeps_holds_its_hint():
    rng = np.random.default_rng(11)
    lines = pa.array(["".join(rng.choice(ALPHABET, size=int(rng.integers(0, 14)))) for _ in range(3000)],
                     pa.large_string())
    checked = 0
    for _ in range(400):
        pattern = random_pattern(rng)
        needle = regex_needle(pattern)
        if needle is None:
            continue
        try:
            keeps = LineFilter("|~", [pattern]).mask(lines)
        except Exception:  # noqa: BLE001 -- an invalid random pattern: nothing to check
            continue
        held = np.zeros(len(lines), dtype=bool)
        for alt in needle.any_of:
            all_of = np.ones(len(lines), dtype=bool)
            for s in alt:
                all_of &= contains(lines, s, needle.fold)
            held |= all_of
        assert not (keeps & ~held).any(), (pattern, needle, lines.filter(pa.array(keeps & ~held))[:3])
        checked += int(keeps.sum() > 0 and any(alt for alt in needle.any_of))
    assert checked > 50

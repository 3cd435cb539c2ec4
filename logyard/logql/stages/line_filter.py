"""Line filters: `|=`, `!=`, `|~`, `!~`, `|>`, `!>` and `ip("…")`, with `or` alternatives.

They run on a whole column of lines at once and return a NumPy bool mask: substring search and
RE2 regex search are Arrow compute kernels; pattern and `ip()` filters use an Arrow regex prefilter
and run their exact (Loki, leftmost, byte-wise) test per row only on the rows it kept.

Loki quirks copied here:
* `|= ""` (and `|~ ""`, `|~ ".*"`) keeps every line; `!= ""` / `!~ ""` keep none.
* In an `or` chain, an always-true alternative is dropped rather than making the whole chain
  true: `|= "" or "foo"` keeps only lines containing `foo` (Loki's newOrFilter).
* `!= "a" or "b"` means neither `a` nor `b`.
* `|~ ".+"` keeps non-empty lines (Loki replaces it by an exists filter).
* `|~ "(notfound|)"`: the empty leg vanishes, only lines containing "notfound" are kept.
* `|> ""` keeps only empty lines.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logyard.errors import BadRequestError
from logyard.gocompat.text import compile_re2

from .ip import IPMatcher
from .label_regex import line_regex_without_empty_legs
from .pattern import PatternLineFilter
from .substring import contains_mask

LINE_FILTER_OPS = ("|=", "!=", "|~", "!~", "|>", "!>")
_NEGATED = {"!=", "!~", "!>"}
_TRUE_REGEXES = {"", ".*", "(?:)", "()", "(.*)", "(?:.*)"}


def as_string_array(lines: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous (large_)string array: Arrow's string kernels take neither chunks nor string_view."""
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks() if lines.num_chunks else pa.array([], pa.large_string())
    if pa.types.is_string_view(lines.type):
        lines = lines.cast(pa.large_string())
    return lines


def _as_bool(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    mask = pc.fill_null(mask, False)
    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks() if mask.num_chunks else pa.array([], pa.bool_())
    return mask.to_numpy(zero_copy_only=False).astype(bool, copy=False)


class _Alternative:
    """One operand of a line filter: a string (literal/regex/pattern per op) or an ip() pattern."""

    __slots__ = ("kind", "value", "always", "_regex", "_pattern", "_ip")

    def __init__(self, op: str, value: str, is_ip: bool) -> None:
        self.value = value
        self.always = False
        self._regex = None
        self._pattern: PatternLineFilter | None = None
        self._ip: IPMatcher | None = None
        if is_ip:
            if op not in ("|=", "!="):
                raise BadRequestError("ip: invalid operation")
            self.kind = "ip"
            self._ip = IPMatcher(value)
        elif op in ("|=", "!="):
            self.kind = "contains"
            self.always = value == ""
        elif op in ("|~", "!~"):
            self.kind = "regex"
            try:
                self._regex = compile_re2(value)
            except ValueError as exc:
                raise BadRequestError(str(exc)) from None
            self.always = value in _TRUE_REGEXES
            if value == ".+":
                self.kind = "exists"
            quirk = line_regex_without_empty_legs(value)
            if quirk is True:
                self.always = True
            elif isinstance(quirk, str):
                self.value = quirk
                self._regex = compile_re2(quirk)
        else:
            self.kind = "pattern"
            self._pattern = PatternLineFilter(value)

    def mask(self, lines: pa.Array) -> np.ndarray:
        n = len(lines)
        if self.always:
            return np.ones(n, dtype=bool)
        if self.kind == "contains":
            return contains_mask(lines, self.value)
        if self.kind == "regex":
            return _as_bool(pc.match_substring_regex(lines, self.value))
        if self.kind == "exists":
            return _as_bool(pc.greater(pc.binary_length(lines), 0))
        if self.kind == "pattern":
            pat = self._pattern
            assert pat is not None
            if pat.regex is None:
                return _as_bool(pc.equal(pc.binary_length(lines), 0))
            candidates = _as_bool(pc.match_substring_regex(lines, pat.regex))
            return _refine(lines, candidates, pat.test)
        ipm = self._ip
        assert ipm is not None
        candidates = _as_bool(pc.match_substring_regex(lines, ipm.candidate_regex))
        return _refine(lines, candidates, ipm.search)

    def test(self, line: str) -> bool:
        if self.always:
            return True
        if self.kind == "contains":
            return self.value in line
        if self.kind == "exists":
            return line != ""
        if self.kind == "pattern":
            assert self._pattern is not None
            return self._pattern.test(line)
        if self.kind == "ip":
            assert self._ip is not None
            return self._ip.search(line)
        return self._regex.search(line) is not None


def _refine(lines: pa.Array, candidates: np.ndarray, test) -> np.ndarray:
    """Run an exact per-row test on the prefiltered rows only (deliberate per-row loop)."""
    idx = np.flatnonzero(candidates)
    if len(idx) == 0:
        return candidates
    out = np.zeros(len(candidates), dtype=bool)
    kept = lines.take(pa.array(idx)).to_pylist()
    out[idx] = [test(s) for s in kept]
    return out


class LineFilter:
    """One line filter stage: `op` with one or more `or` alternatives.

    `values` are the alternatives in order; `ips[i]` is true when alternative i is `ip("…")`.
    Positive ops keep a line when any alternative matches; negated ops when none does.
    """

    def __init__(self, op: str, values: Sequence[str], ips: Sequence[bool] | None = None) -> None:
        if op not in LINE_FILTER_OPS:
            raise AssertionError(f"BUG: unknown line filter operator {op!r}")
        if not values:
            raise AssertionError("BUG: a line filter needs at least one value")
        ips = list(ips) if ips is not None else [False] * len(values)
        self.op = op
        self.negated = op in _NEGATED
        alts = [_Alternative(op, v, i) for v, i in zip(values, ips)]
        # Loki quirk (newOrFilter): always-true alternatives vanish from an `or` chain unless all are.
        kept = [a for a in alts if not a.always]
        self.alternatives = kept or alts[:1]

    def mask(self, lines: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Bool mask of the lines this filter keeps."""
        lines = as_string_array(lines)
        acc = self.alternatives[0].mask(lines)
        for alt in self.alternatives[1:]:
            acc = acc | alt.mask(lines)
        return ~acc if self.negated else acc

    def test(self, line: str) -> bool:
        """The same decision for one line (after `line_format`, lines are per row anyway)."""
        hit = any(a.test(line) for a in self.alternatives)
        return not hit if self.negated else hit

    def process(self, ts: int, line: str, lbs: object) -> tuple[str, bool]:
        """Row form, for a line filter placed after a stage that rewrites lines."""
        return line, self.test(line)


def filters_mask(lines: pa.Array | pa.ChunkedArray, filters: Sequence[LineFilter], check=None) -> np.ndarray:
    """AND of several consecutive line filters, evaluating each only on rows still alive; `check`
    (a query's deadline check) runs before each filter."""
    if isinstance(lines, pa.ChunkedArray) and lines.num_chunks > 1:
        # Chunk by chunk: the rows are independent, and no concatenated copy of the lines is made.
        return np.concatenate([filters_mask(c, filters, check) for c in lines.chunks])
    lines = as_string_array(lines)
    keep = np.ones(len(lines), dtype=bool)
    for f in filters:
        if check is not None:
            check()
        idx = np.flatnonzero(keep)
        if len(idx) == 0:
            break
        if len(idx) == len(keep):
            keep = f.mask(lines)
        else:
            keep[idx] = f.mask(lines.take(pa.array(idx)))
    return keep


"""Label filters: `| name op value` on an entry's labels, and their `and` / `or` combinations.

Loki's rules, copied:
* string filters (`=`, `!=`, `=~`, `!~`) compare the label value, "" when the label is missing;
  regexes are RE2, anchored at both ends. `__error__` is compared with the pipeline error.
  Quirks: a regex that Loki simplifies to "always true" (`=~""`, `=~".*"`) keeps every entry,
  and its negation keeps none; `=~"foo.*"`-like shapes are substring tests (see label_regex).
* numeric (`status >= 500`), duration (`duration > 50ms`, Go's ParseDuration) and bytes
  (`size > 150KB`, go-humanize's ParseBytes) filters drop an entry whose label is MISSING, and keep
  an entry whose value does not parse, marking it `__error__=LabelFilterErr` with the parse error as
  `__error_details__` — unless an error is already set.
* `ip()` filters keep entries that already carry an error, drop entries missing the label.
* `a and b` evaluates both sides; `a or b` skips b when a holds.
"""

from __future__ import annotations

from logyard.errors import BadRequestError
from logyard.gocompat.humanize import parse_bytes
from logyard.gocompat.text import compile_re2, parse_float
from logyard.units import parse_go_duration

from .builder import LabelsBuilder
from .ip import IPMatcher
from .label_regex import matches as simple_matches
from .label_regex import simplify_label_regex

LABEL_FILTER_ERROR = "LabelFilterErr"
STRING_OPS = ("=", "!=", "=~", "!~")
COMPARISON_OPS = ("==", "=", "!=", ">", ">=", "<", "<=")
ALWAYS_TRUE_REGEXES = {"", ".*", "(?:)", "(.*)", "(?:.*)"}


def _compare(op: str, a: float | int, b: float | int) -> bool:
    if op in ("==", "="):
        return a == b
    if op == "!=":
        return a != b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "<":
        return a < b
    return a <= b


class StringLabelFilter:
    """`name = "v"`, `name != "v"`, `name =~ "re"`, `name !~ "re"`."""

    def __init__(self, name: str, op: str, value: str) -> None:
        if op not in STRING_OPS:
            raise AssertionError(f"BUG: unknown string label filter operator {op!r}")
        self.name, self.op, self.value = name, op, value
        self._regex = None
        self._always: bool | None = None
        self._simple = None
        if op in ("=~", "!~"):
            try:
                compile_re2(value)
                self._regex = compile_re2(f"^(?:{value})$")
            except ValueError as exc:
                raise BadRequestError(str(exc)) from None
            if value in ALWAYS_TRUE_REGEXES:
                self._always = op == "=~"
            else:
                self._simple = simplify_label_regex(value)

    def required_label_names(self) -> list[str]:
        return [self.name]

    def matches(self, value: str) -> bool:
        if self._always is not None:
            return self._always
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        if self._simple is not None:
            hit = simple_matches(self._simple[0], self._simple[1], value)
        else:
            hit = self._regex.search(value) is not None  # type: ignore[union-attr]
        return hit if self.op == "=~" else not hit

    def process(self, ts: int, line: str, lbs: LabelsBuilder) -> tuple[str, bool]:
        return line, self.matches(lbs.value(self.name))


class _ParsedLabelFilter:
    """Shared body of numeric, duration and bytes filters: parse the label, compare, or flag."""

    parse = staticmethod(parse_float)

    def __init__(self, name: str, op: str, value: float | int) -> None:
        if op not in COMPARISON_OPS:
            raise AssertionError(f"BUG: unknown comparison operator {op!r}")
        self.name, self.op, self.value = name, op, value

    def required_label_names(self) -> list[str]:
        return [self.name]

    def process(self, ts: int, line: str, lbs: LabelsBuilder) -> tuple[str, bool]:
        text = lbs.get(self.name)
        if text is None:
            return line, False
        try:
            parsed = self.parse(text)
        except ValueError as exc:
            if not lbs.has_err():
                lbs.err, lbs.err_details = LABEL_FILTER_ERROR, str(exc)
            return line, True
        return line, _compare(self.op, parsed, self.value)


class NumericLabelFilter(_ParsedLabelFilter):
    """`name op 123.4`: the label parsed with Go's strconv.ParseFloat."""

    parse = staticmethod(parse_float)


class DurationLabelFilter(_ParsedLabelFilter):
    """`name op 50ms` (value in ns): the label parsed with Go's time.ParseDuration."""

    parse = staticmethod(parse_go_duration)


class BytesLabelFilter(_ParsedLabelFilter):
    """`name op 150KB` (value in bytes): the label parsed with go-humanize's ParseBytes."""

    parse = staticmethod(parse_bytes)


class IPLabelFilter:
    """`name = ip("…")` / `name != ip("…")`."""

    def __init__(self, name: str, op: str, pattern: str) -> None:
        if op not in ("=", "==", "!="):
            raise BadRequestError("ip: invalid operation")
        self.name, self.op, self.pattern = name, op, pattern
        self.matcher = IPMatcher(pattern)

    def required_label_names(self) -> list[str]:
        return [self.name]

    def process(self, ts: int, line: str, lbs: LabelsBuilder) -> tuple[str, bool]:
        if lbs.has_err():
            return line, True
        value = lbs.get(self.name)
        if value is None:
            return line, False
        hit = self.matcher.search(value)
        return line, (not hit) if self.op == "!=" else hit


class _BinaryLabelFilter:
    """Loki's BinaryLabelFilter, over two or more operands: `a and b and c` is one node (a chain of
    `a=1, b=2, …` can be thousands long, too deep for a recursive `process`). Both connectives are
    associative in Loki's evaluation order, so the flat form decides exactly as the nested one."""

    def __init__(self, *parts, stage: bool = False) -> None:
        if len(parts) < 2:
            raise AssertionError("BUG: a label filter connective needs two operands")
        self.parts = parts
        self.stage = stage  # the whole filter of a stage (not inside another connective)

    def required_label_names(self) -> list[str]:
        return list(dict.fromkeys(n for p in self.parts for n in p.required_label_names()))


class AndLabelFilter(_BinaryLabelFilter):
    def process(self, ts: int, line: str, lbs: LabelsBuilder) -> tuple[str, bool]:
        # Loki runs every operand, even after one failed: inside an `or`, a failing one may have set
        # __error__ on an entry the `or` keeps. As a whole stage, a failure drops the entry and its
        # labels, so the rest need not run.
        ok = True
        for p in self.parts:
            line, pok = p.process(ts, line, lbs)
            if not pok:
                if self.stage:
                    return line, False
                ok = False
        return line, ok


class OrLabelFilter(_BinaryLabelFilter):
    def process(self, ts: int, line: str, lbs: LabelsBuilder) -> tuple[str, bool]:
        for p in self.parts:
            line, ok = p.process(ts, line, lbs)
            if ok:
                return line, True
        return line, False


LABEL_FILTERS = (StringLabelFilter, NumericLabelFilter, DurationLabelFilter, BytesLabelFilter, IPLabelFilter)


def is_label_filter(stage, kinds: tuple = LABEL_FILTERS) -> bool:
    """A compiled label filter stage (and/or of them too) of the given kinds: it reads the entry's
    labels (its required names) and nothing else; of those, only numeric, duration and bytes
    filters change a label (`__error__`, when a value does not convert)."""
    if isinstance(stage, (AndLabelFilter, OrLabelFilter)):
        return all(is_label_filter(p, kinds) for p in stage.parts)
    return type(stage) in kinds

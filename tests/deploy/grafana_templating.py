"""How Grafana turns a Loki panel's `expr` into the query it sends, for the dashboard's tests.

Two passes, as Grafana makes them:
  1. the browser (Loki data source `applyTemplateVariables`) fills dashboard variables: a single-value
     variable as typed; a multi-value or include-All variable with each value regex-escaped
     (`lokiSpecialRegexEscape`, doubled for the LogQL string it lands in) and joined with `|`; "All"
     as the variable's custom `allValue`, unescaped. It leaves `$__interval`, `$__range`, `$__auto`
     for the backend;
  2. the backend (pkg/tsdb/loki `parse_query.go` `interpolateVariables`, `step.go` `calculateStep`)
     fills those: interval = the browser's `roundInterval(range / maxDataPoints)` (at least 1 ms);
     step = interval rounded up to the millisecond, at least range / 11000; `$__interval` and
     `$__auto` of a range query = that duration in its largest unit (`gtime.FormatInterval`, truncating);
     `$__range` and `$__auto` of an instant query = the range in whole seconds + "s".
`$__rate_interval` is Prometheus's: Grafana's Loki data source substitutes it nowhere, so a dashboard
that uses it sends it verbatim; `interpolate` refuses it like any unknown `$__` name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# packages/grafana-data rangeutil.ts roundInterval: (upper bound exclusive, result), milliseconds.
_ROUNDING = (
    (10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000),
    (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000), (45000, 30000),
    (90000, 60000), (210000, 120000), (450000, 300000), (750000, 600000), (1050000, 900000),
    (1500000, 1200000), (2700000, 1800000), (5400000, 3600000), (9000000, 7200000),
    (16200000, 10800000), (32400000, 21600000), (86400000, 43200000), (604800000, 86400000),
    (1814400000, 604800000), (3628800000, 2592000000),
)  # fmt: skip
_YEAR_MS = 31536000000
_UNITS_MS = (("y", _YEAR_MS), ("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000), ("ms", 1))
_REGEX_SPECIAL = re.compile(r"[$^*{}\[\]+?.()|]")
_BUILTIN = re.compile(r"\$\{?__\w+\}?")


def round_interval(ms: float) -> int:
    for bound, result in _ROUNDING:
        if ms < bound:
            return result
    return _YEAR_MS


def format_interval(ms: int) -> str:
    """gtime.FormatInterval: the largest unit that fits, the rest dropped."""
    for unit, size in _UNITS_MS:
        if ms >= size:
            return f"{ms // size}{unit}"
    return "1ms"


@dataclass(frozen=True)
class TimeRange:
    start_ms: int
    end_ms: int
    max_data_points: int  # a panel's width in pixels unless the panel sets maxDataPoints

    @property
    def range_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def interval_ms(self) -> int:
        return max(round_interval(self.range_ms / self.max_data_points), 1)

    @property
    def step_ms(self) -> int:
        return math.ceil(max(self.interval_ms, self.range_ms / 11000))

    def builtins(self, query_type: str) -> dict[str, str]:
        range_s = f"{round(self.range_ms / 1000)}s"
        return {
            "$__interval_ms": str(self.interval_ms), "$__interval": format_interval(self.interval_ms),
            "$__range_ms": str(self.range_ms), "$__range_s": range_s[:-1], "$__range": range_s,
            "$__auto": range_s if query_type == "instant" else format_interval(self.step_ms),
        }  # fmt: skip


def loki_regex_escape(value: str) -> str:
    """lokiSpecialRegexEscape: a value made literal inside a regex inside a LogQL string."""
    return _REGEX_SPECIAL.sub(lambda m: "\\\\" + m.group(0), value.replace("\\", "\\\\\\\\"))


def variable_text(variable: Mapping, selected: str | Sequence[str]) -> str:
    """What Grafana writes for `$name` given the selected value(s) (`$__all` for All)."""
    values = [selected] if isinstance(selected, str) else list(selected)
    if "$__all" in values:
        assert variable.get("allValue"), f"BUG: variable {variable['name']} has All but no allValue"
        return variable["allValue"]
    if not variable.get("multi") and not variable.get("includeAll"):
        return values[0]
    return "|".join(loki_regex_escape(v) for v in values)


def interpolate(expr: str, variables: Sequence[Mapping], selection: Mapping[str, str | Sequence[str]],
                time_range: TimeRange, query_type: str) -> str:
    """`expr` as Grafana sends it; every `$name` must be a dashboard variable or a Loki built-in."""
    by_name = {v["name"]: v for v in variables}
    # Longest names first, so `$service` never eats the start of `$services`.
    for name in sorted(by_name, key=len, reverse=True):
        if "$" + name not in expr and "${" + name + "}" not in expr:
            continue
        text = variable_text(by_name[name], selection[name])
        expr = expr.replace("${" + name + "}", text).replace("$" + name, text)
    for name, text in sorted(time_range.builtins(query_type).items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace("${" + name[1:] + "}", text).replace(name, text)
    leftover = _BUILTIN.findall(expr)
    assert not leftover, f"Grafana's Loki data source does not fill {leftover} in {expr!r}"
    return expr

"""Every LogQL function in one table (sqlglot's `FUNCTION_BY_NAME` idea): what the lexer, the
parser and the evaluators need to know about a function, so that adding one is an entry here plus
its kernel.

Kinds, and where each kind's grammar and kernel live:
- RANGE (`count_over_time({…}[5m])`, `rate`, …): parsed by `syntax/parser.parse_range_aggregation`;
  `by`/`without` only after the closing `)`. Kernel: a branch of `metric/range_agg._reduce`, and a
  branch of `metric/additive.additive_step_matrix` as well when `additive`.
- VECTOR_AGG (`sum`, `topk`, `sort`, …): `by`/`without` before the `(` or after the `)`. Kernel: a
  branch of `metric/vector_agg.aggregate`.
- CONVERSION (`| unwrap bytes(x)`, `duration`, `duration_seconds`): the kernel is `convert` below.
- LABEL (`label_replace`, `vector`): each has its own grammar in the parser and kernel in
  `metric/binop`.
- FILTER (`ip("…")` in a label filter): a grammar of its own in the parser, kernel in
  `stages/ip`.

The kernels import this table, so it imports none of them: a test checks that every function has
its kernel (`tests/logql/test_functions.py`).

Token names are Loki's (`syntax error: unexpected COUNT_OVER_TIME`): a function's name upper-cased
unless `token` says otherwise. A function name is a keyword only when a `(` (or `by (` /
`without (`) follows it; elsewhere it is an IDENTIFIER, so a label may be called `rate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from logyard.gocompat.humanize import parse_bytes
from logyard.units import parse_go_duration

# kinds
RANGE = "range"
VECTOR_AGG = "vector aggregation"
CONVERSION = "conversion"
LABEL = "label function"
FILTER = "label filter function"

# parameter rules (the number before the first `,`)
NO_PARAM = "none"  # a number there is an error
PHI = "phi"  # required float: quantile_over_time's φ
K = "k"  # required integer > 0: topk's k

# grouping rules (`by (…)` / `without (…)`)
ANY = "any"
NEVER = "never"  # "grouping not allowed for <op> aggregation"
EMPTY = "empty"  # only `by ()` / `without ()`: sort and sort_desc

# unwrap rules (range functions)
FORBIDDEN = "forbidden"  # "invalid aggregation <op> with unwrap"
OPTIONAL = "optional"
REQUIRED = "required"  # "invalid aggregation <op> without unwrap"


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    kind: str
    token: str = ""  # Loki's token name; "" means the name upper-cased
    param: str = NO_PARAM
    grouping: str = ANY
    unwrap: str = FORBIDDEN
    # Range functions without unwrap: each line's sample is its byte length (else 1).
    bytes_samples: bool = False
    # Range functions: a sum over each window, so samples need no sorting (`metric/additive`).
    additive: bool = False
    # Range functions: under a grouping-less `sum by (g)`, samples are grouped by g as they are read
    # (Loki's canInjectVectorGrouping); vector aggregations: the one that injects its grouping.
    takes_sum_grouping: bool = False
    injects_grouping: bool = False
    # Vector aggregations: the result keeps the evaluation order and every series (sort, sort_desc).
    sorts: bool = False
    # False: parsed and validated, but there is no kernel.
    evaluated: bool = True
    # Vector aggregations Loki answers for instant queries only (approx_topk's count-min sketch).
    instant_only: bool = False
    # Conversions: the unwrapped label's text as a sample value; ValueError carries Go's text.
    convert: Callable[[str], float] | None = None

    @property
    def token_name(self) -> str:
        return self.token or self.name.upper()


def _seconds(text: str) -> float:
    return parse_go_duration(text) / 1e9


def _bytes(text: str) -> float:
    return float(parse_bytes(text))


# Sums over each window. Loki allows a `by (…)` after the `)` of a range function only for
# avg/min/max/stddev/stdvar/quantile/first/last_over_time (RangeAggregationExpr.Validate).
_WINDOW_SUM = dict(additive=True, takes_sum_grouping=True, grouping=NEVER)

FUNCTIONS: tuple[Function, ...] = (
    # range aggregations over log lines or unwrapped samples
    Function("count_over_time", RANGE, **_WINDOW_SUM),
    Function("rate", RANGE, unwrap=OPTIONAL, **_WINDOW_SUM),
    Function("rate_counter", RANGE, unwrap=REQUIRED, grouping=NEVER),
    Function("bytes_over_time", RANGE, bytes_samples=True, **_WINDOW_SUM),
    Function("bytes_rate", RANGE, bytes_samples=True, **_WINDOW_SUM),
    Function("sum_over_time", RANGE, unwrap=REQUIRED, **_WINDOW_SUM),
    Function("avg_over_time", RANGE, unwrap=REQUIRED),
    Function("min_over_time", RANGE, unwrap=REQUIRED),
    Function("max_over_time", RANGE, unwrap=REQUIRED),
    Function("stdvar_over_time", RANGE, unwrap=REQUIRED),
    Function("stddev_over_time", RANGE, unwrap=REQUIRED),
    Function("quantile_over_time", RANGE, param=PHI, unwrap=REQUIRED),
    Function("first_over_time", RANGE, unwrap=REQUIRED),
    Function("last_over_time", RANGE, unwrap=REQUIRED),
    Function("absent_over_time", RANGE, unwrap=OPTIONAL, grouping=NEVER),
    # vector aggregations
    Function("sum", VECTOR_AGG, injects_grouping=True),
    Function("avg", VECTOR_AGG),
    Function("count", VECTOR_AGG),
    Function("max", VECTOR_AGG),
    Function("min", VECTOR_AGG),
    Function("stddev", VECTOR_AGG),
    Function("stdvar", VECTOR_AGG),
    Function("topk", VECTOR_AGG, param=K),
    Function("bottomk", VECTOR_AGG, param=K),
    Function("approx_topk", VECTOR_AGG, param=K, grouping=NEVER, instant_only=True),
    Function("sort", VECTOR_AGG, grouping=EMPTY, sorts=True),
    Function("sort_desc", VECTOR_AGG, grouping=EMPTY, sorts=True),
    # unwrap conversions
    Function("bytes", CONVERSION, token="BYTES_CONV", convert=_bytes),
    Function("duration", CONVERSION, token="DURATION_CONV", convert=_seconds),
    Function("duration_seconds", CONVERSION, token="DURATION_SECONDS_CONV", convert=_seconds),
    # functions with a grammar of their own
    Function("vector", LABEL),
    Function("label_replace", LABEL, token="label_replace"),
    Function("ip", FILTER, token="ip"),
)

FUNCTION_BY_NAME: dict[str, Function] = {f.name: f for f in FUNCTIONS}
FUNCTION_BY_TOKEN: dict[str, Function] = {f.token_name: f for f in FUNCTIONS}


def names(kind: str) -> frozenset[str]:
    """The names of every function of one kind."""
    return frozenset(f.name for f in FUNCTIONS if f.kind == kind)

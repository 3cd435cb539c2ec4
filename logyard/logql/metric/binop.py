"""Binary operators between vectors and scalars, `vector(x)` and `label_replace`, as Loki computes them.

Loki's rules (pkg/logql/evaluator.go `vectorBinop`, syntax `MergeBinOp`), where they differ from
Prometheus: `x / 0` and `x % 0` are NaN (not ±Inf); `__name__` is never dropped; a comparison
without `bool` keeps the left-hand sample's value (the vector's value against a scalar); two
literals fold to a number even for comparisons (0 or 1). Matching is per step: series are paired
once by their matching signature, then each pair is combined for all steps in one NumPy call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from logyard.errors import LogyardError
from logyard.labels import LabelSet, compile_anchored
from logyard.logql.metric.series import StepMatrix

ARITHMETIC_OPS = frozenset({"+", "-", "*", "/", "%", "^"})
COMPARISON_OPS = frozenset({"==", "!=", ">", ">=", "<", "<="})
SET_OPS = frozenset({"and", "or", "unless"})

ONE_TO_ONE, MANY_TO_ONE, ONE_TO_MANY = "one-to-one", "many-to-one", "one-to-many"

# Error texts of Loki's vectorBinop (the missing space after ';' is Loki's). They are plain Go errors,
# none of Loki's client error types, so Loki answers them with 500 (LogyardError's status).
DUPLICATE_SERIES = ("found duplicate series on the {side} hand-side;many-to-many matching not allowed: "
                    "matching labels must be unique on one side")
MANY_TO_ONE_IMPLICIT = "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
GROUPING_NOT_UNIQUE = "multiple matches for labels: grouping labels must ensure unique matches"


@dataclass(frozen=True)
class VectorMatching:
    """`on(labels)` / `ignoring(labels)` and `group_left(include)` / `group_right(include)`."""

    card: str = ONE_TO_ONE           # many-to-one is group_left, one-to-many is group_right
    on: bool = False
    labels: tuple[str, ...] = ()
    include: tuple[str, ...] = ()

    def signature(self, labels: LabelSet) -> LabelSet:
        return labels.keep(self.labels) if self.on else labels.without(self.labels)


def apply_op(op: str, a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """`a op b` elementwise; comparisons give 1.0/0.0."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(all="ignore"):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return np.where(b == 0, np.nan, a / b)  # Loki quirk: divide by zero is NaN
        if op == "%":
            return np.where(b == 0, np.nan, np.fmod(a, b))  # Go's math.Mod; mod by zero is NaN
        if op == "^":
            return np.power(a, b)
        if op in COMPARISON_OPS:
            return _compare(op, a, b).astype(np.float64)
    raise AssertionError(f"BUG: unknown binary operator {op!r}")


def _compare(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return {"==": np.equal, "!=": np.not_equal, ">": np.greater, ">=": np.greater_equal,
            "<": np.less, "<=": np.less_equal}[op](a, b)


def scalar_binop(op: str, a: float, b: float) -> float:
    """Two literals: Loki folds them at parse time, comparisons included (1 or 0, with or without bool)."""
    if op in SET_OPS:
        raise AssertionError("BUG: set operators need vectors on both sides")
    return float(apply_op(op, a, b))


def vector_scalar_binop(op: str, sm: StepMatrix, scalar: float, scalar_left: bool = False,
                        return_bool: bool = False) -> StepMatrix:
    """`vector op scalar` (or `scalar op vector` when `scalar_left`); labels are kept."""
    if op in SET_OPS:
        raise AssertionError("BUG: set operators need vectors on both sides")
    a, b = (scalar, sm.values) if scalar_left else (sm.values, scalar)
    if op in COMPARISON_OPS and not return_bool:
        with np.errstate(invalid="ignore"):
            hit = _compare(op, np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
        # The vector's own value survives the filter, whichever side it is on (loki#10741).
        return StepMatrix(sm.labels, sm.steps, np.where(hit, sm.values, np.nan), sm.present & hit)
    out = apply_op(op, a, b)
    return StepMatrix(sm.labels, sm.steps, np.where(sm.present, out, np.nan), sm.present.copy())


def vector(value: float, steps: np.ndarray) -> StepMatrix:
    """`vector(x)`: one series without labels, present at every step."""
    steps = np.asarray(steps, dtype=np.int64)
    n = len(steps)
    return StepMatrix((LabelSet(),), steps, np.full((1, n), float(value)), np.ones((1, n), dtype=bool))


def _sig_ids(sms: Sequence[StepMatrix], matching: VectorMatching) -> tuple[list[np.ndarray], dict[LabelSet, int]]:
    sigs: dict[LabelSet, int] = {}
    ids = [np.array([sigs.setdefault(matching.signature(l), len(sigs)) for l in sm.labels], dtype=np.int64)
           for sm in sms]  # per series: label sets are Python objects
    return ids, sigs


def _present_by_sig(sm: StepMatrix, ids: np.ndarray, n_sigs: int) -> np.ndarray:
    """(n_sigs, n_steps) counts of present rows per signature."""
    counts = np.zeros((n_sigs, len(sm.steps)), dtype=np.int64)
    np.add.at(counts, ids, sm.present.astype(np.int64))
    return counts


def set_binop(op: str, lhs: StepMatrix, rhs: StepMatrix, matching: VectorMatching = VectorMatching()) -> StepMatrix:
    """`and`, `or`, `unless`: per step, by matching signature; samples keep their labels and values."""
    (lid, rid), sigs = _sig_ids((lhs, rhs), matching)
    if op == "or":
        lcount = _present_by_sig(lhs, lid, len(sigs))
        rpresent = rhs.present & (lcount[rid] == 0)
        return StepMatrix(lhs.labels + rhs.labels, lhs.steps, np.concatenate([lhs.values, rhs.values]),
                          np.concatenate([lhs.present, rpresent])).merge_duplicates()
    rcount = _present_by_sig(rhs, rid, len(sigs))
    if op == "and":
        present = lhs.present & (rcount[lid] > 0)
    elif op == "unless":
        present = lhs.present & (rcount[lid] == 0)
    else:
        raise AssertionError(f"BUG: unknown set operator {op!r}")
    return StepMatrix(lhs.labels, lhs.steps, np.where(present, lhs.values, np.nan), present)


def result_labels(many: LabelSet, one: LabelSet, matching: VectorMatching) -> LabelSet:
    """Loki's `resultMetric`: one-to-one keeps the `on` labels (or drops the `ignoring` ones);
    `group_x(include)` copies the included labels from the "one" side (deleting them when empty there)."""
    out = many
    if matching.card == ONE_TO_ONE:
        out = many.keep(matching.labels) if matching.on else many.without(matching.labels)
    if matching.include:
        d = out.to_dict()
        for name in matching.include:
            value = one.get(name)
            if value:
                d[name] = value
            else:
                d.pop(name, None)
        out = LabelSet.from_dict(d)
    return out


def _first_step_where(mask: np.ndarray) -> int | None:
    cols = np.flatnonzero(mask.any(axis=0)) if mask.size else []
    return int(cols[0]) if len(cols) else None


def vector_binop(op: str, lhs: StepMatrix, rhs: StepMatrix, matching: VectorMatching = VectorMatching(),
                 return_bool: bool = False) -> StepMatrix:
    """Arithmetic or comparison between two vectors, with Loki's matching rules and errors."""
    if op in SET_OPS:
        return set_binop(op, lhs, rhs, matching)
    swap = matching.card == ONE_TO_MANY
    many, one = (rhs, lhs) if swap else (lhs, rhs)
    (mid, oid), sigs = _sig_ids((many, one), matching)
    m = len(lhs.steps)

    # Error 1: two "one"-side samples with the same signature at a step.
    ocount = _present_by_sig(one, oid, len(sigs))
    errors: list[tuple[int, int, str]] = []
    step = _first_step_where(ocount > 1)
    if step is not None:
        errors.append((step, 0, DUPLICATE_SERIES.format(side="left" if swap else "right")))

    # Pair every "many" row with every "one" row of its signature (usually exactly one).
    one_rows: dict[int, list[int]] = {}
    for r, s in enumerate(oid.tolist()):
        one_rows.setdefault(s, []).append(r)
    pairs = [(i, r) for i, s in enumerate(mid.tolist()) for r in one_rows.get(s, ())]
    if not pairs:
        if errors:
            raise LogyardError(errors[0][2])
        return StepMatrix.empty(lhs.steps)
    pi = np.array([p[0] for p in pairs], dtype=np.int64)
    pr = np.array([p[1] for p in pairs], dtype=np.int64)
    matched = many.present[pi] & one.present[pr]
    labels = [result_labels(many.labels[i], one.labels[r], matching) for i, r in pairs]

    # Error 2: a signature matched by several samples at one step (one-to-one), or two matches that
    # end up with the same result labels (group_left/group_right).
    if matching.card == ONE_TO_ONE:
        group_key = [mid[i] for i in pi.tolist()]
        text = MANY_TO_ONE_IMPLICIT
    else:
        group_key = [(mid[i], lbs) for i, lbs in zip(pi.tolist(), labels)]
        text = GROUPING_NOT_UNIQUE
    gkeys: dict[object, int] = {}
    gid = np.array([gkeys.setdefault(k, len(gkeys)) for k in group_key], dtype=np.int64)
    gcount = np.zeros((len(gkeys), m), dtype=np.int64)
    np.add.at(gcount, gid, matched.astype(np.int64))
    step = _first_step_where(gcount > 1)
    if step is not None:
        errors.append((step, 1, text))
    if errors:
        raise LogyardError(min(errors)[2])

    left, right = (one, many) if swap else (many, one)
    lrow, rrow = (pr, pi) if swap else (pi, pr)
    a, b = left.values[lrow], right.values[rrow]
    if op in COMPARISON_OPS and not return_bool:
        with np.errstate(invalid="ignore"):
            hit = _compare(op, a, b)
        present = matched & hit
        values = np.where(present, a, np.nan)
    else:
        present = matched
        values = np.where(present, apply_op(op, a, b), np.nan)
    return StepMatrix(tuple(labels), lhs.steps, values, present).merge_duplicates()


def label_replace(sm: StepMatrix, dst: str, replacement: str, src: str, regex: str) -> StepMatrix:
    """`label_replace`: where the anchored RE2 `regex` matches the `src` value (missing = ""),
    set `dst` to the expanded `replacement`, or delete `dst` when that expands to ""."""
    pattern = compile_anchored(regex)
    out = []
    for lbs in sm.labels:  # per series
        value = lbs.get(src)
        match = pattern.search(value)
        if match is None:
            out.append(lbs)
            continue
        res = expand(replacement, value, match, pattern.groupindex, pattern.groups)
        d = lbs.to_dict()
        d.pop(dst, None)
        if res:
            d[dst] = res
        out.append(LabelSet.from_dict(d))
    return StepMatrix(tuple(out), sm.steps, sm.values, sm.present).merge_duplicates()


def _name_char(ch: str) -> bool:
    return ch.isalpha() or ch.isdigit() or ch == "_"


def expand(template: str, src: str, match, groupindex: dict[str, int], ngroups: int) -> str:
    """Go's `regexp.Expand`: `$1`, `${1}`, `$name`, `${name}`, `$$`; an unknown group expands to ""
    and a `$` not followed by a valid name is copied as is. `$1x` names the group "1x"."""
    out: list[str] = []
    i = 0
    n = len(template)
    while i < n:
        j = template.find("$", i)
        if j < 0:
            break
        out.append(template[i:j])
        i = j + 1
        if i < n and template[i] == "$":
            out.append("$")
            i += 1
            continue
        brace = i < n and template[i] == "{"
        k = i + 1 if brace else i
        e = k
        while e < n and _name_char(template[e]):
            e += 1
        name = template[k:e]
        if not name or (brace and (e >= n or template[e] != "}")):
            out.append("$")  # malformed: the `$` is literal text
            continue
        i = e + 1 if brace else e
        if name.isascii() and name.isdigit() and not (name[0] == "0" and len(name) > 1) and len(name) <= 8:
            group = int(name)
        else:
            group = groupindex.get(name, -1)
        if 0 <= group <= ngroups:
            start, end = match.span(group)
            if start >= 0:
                out.append(src[start:end])
    out.append(template[i:])
    return "".join(out)


"""How Loki really evaluates filter regexes: its "simplifier" runs before any regex.

For line filters the rewrite only matters for alternations with an empty leg (see
`line_regex_without_empty_legs`). For label filters it changes more:

Loki rewrites common regex shapes of `| label =~ "…"` into literal tests, and those tests are not
all anchored. Copied quirks for labels:
* `foo` → equals foo; `(?i)foo` → equals foo ignoring case (same as the anchored regex);
* `foo.*`, `.*foo`, `.*foo.*` → CONTAINS foo — so `path=~"/api.*"` also keeps "/v2/api/x";
* `lit(a|bc).*` → contains "lita" or contains "litbc";
* `a|bc` alternations of such legs → any leg.
Shapes Go's regexp parser would factor differently (legs sharing a first character, one-character
legs, more than three pieces) are left to the anchored regex, which is what Loki then uses too
for most of them.
"""

from __future__ import annotations

import re
import re._parser as sre_parse  # type: ignore[import-not-found]
from re._constants import ANY, BRANCH, IN, LITERAL, MAX_REPEAT, MAXREPEAT, MIN_REPEAT, SUBPATTERN  # type: ignore[import-not-found]

from logyard.gocompat.text import re2_escape

# (kind, literal) alternatives: kind "eq" or "contains"; one of them must hold.
Alternatives = list[tuple[str, str]]

_IGNORECASE = re.IGNORECASE.value
_UNICODE = re.UNICODE.value


def _is_star(item) -> bool:
    op, av = item
    return op in (MAX_REPEAT, MIN_REPEAT) and av[0] == 0 and av[1] == MAXREPEAT and list(av[2]) == [(ANY, None)]


def _literal(items) -> str | None:
    if not all(op == LITERAL for op, _ in items):
        return None
    return "".join(chr(c) for _, c in items)


def _unwrap(items: list) -> list:
    while len(items) == 1 and items[0][0] == SUBPATTERN and not items[0][1][1] and not items[0][1][2]:
        items = list(items[0][1][3])
    return items


def _pieces(items: list) -> list | None:
    """Merge literal runs into ("lit", text); keep stars and groups; None on anything else."""
    out: list = []
    for item in items:
        op, av = item
        if op == LITERAL:
            if out and out[-1][0] == "lit":
                out[-1] = ("lit", out[-1][1] + chr(av))
            else:
                out.append(("lit", chr(av)))
        elif _is_star(item):
            out.append(("star", None))
        elif op == SUBPATTERN and not av[1] and not av[2]:
            out.append(("group", list(av[3])))
        else:
            return None
    return out


def _legs(items: list) -> list[list] | None:
    items = _unwrap(items)
    if len(items) == 1 and items[0][0] == BRANCH:
        return [list(leg) for leg in items[0][1][1]]
    if len(items) == 1 and items[0][0] == IN:
        return None  # one-character alternatives: Go makes a class, kept as regex
    return None


def _concat(items: list, is_label: bool) -> Alternatives | None:
    pieces = _pieces(_unwrap(items))
    if pieces is None or not pieces or len(pieces) > 3:
        return None
    lits = [p for p in pieces if p[0] == "lit"]
    groups = [p for p in pieces if p[0] == "group"]
    stars = [p for p in pieces if p[0] == "star"]
    if len(lits) > 1 or len(groups) > 1:
        return None
    if not groups:
        if not lits:
            return None
        if not stars:
            return [("eq" if is_label else "contains", lits[0][1])]
        return [("contains", lits[0][1])]
    # literal, then an alternation, then stars: only that order is simplified
    order = [p[0] for p in pieces]
    if order[:2] != ["lit", "group"] or any(k != "star" for k in order[2:]):
        return None
    legs = _legs(groups[0][1])
    if legs is None:
        return None
    texts = [_literal(leg) for leg in legs]
    if any(t is None or len(t) == 1 for t in texts):
        return None
    if len({t[0] for t in texts if t}) < len([t for t in texts if t]):
        return None  # Go would factor a shared first character
    base = lits[0][1]
    return [("contains", base + t) for t in texts]  # type: ignore[operator]


def _parse_simple(pattern: str) -> tuple[list, bool] | None:
    """The top-level items of a regex Loki's simplifier may rewrite, and whether it ignores case;
    None when it does not parse or carries a flag other than (?i)."""
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, OverflowError, RecursionError):
        return None
    flags = parsed.state.flags & ~_UNICODE
    if flags & ~_IGNORECASE:
        return None
    return _unwrap(list(parsed)), bool(flags & _IGNORECASE)


def simplify_label_regex(pattern: str) -> tuple[Alternatives, bool] | None:
    """Loki's literal rewrite of a label-filter regex: (alternatives, ignore_case), or None when
    Loki would run the anchored regex."""
    parsed = _parse_simple(pattern)
    if parsed is None:
        return None
    items, ignore_case = parsed
    legs = _legs(items)
    if legs is None:
        simple = _concat(items, True)
        return None if simple is None else (simple, ignore_case)
    out: Alternatives = []
    firsts: set[str] = set()
    if not any(legs):
        return [("contains", "")], ignore_case  # every leg empty: always true
    for leg in legs:
        if not leg:
            continue  # an empty leg vanishes (Loki's newOrFilter drops always-true legs)
        lit = _literal(leg)
        if lit is not None and len(lit) <= 1:
            return None
        alt = _concat(leg, True)
        if alt is None:
            return None
        pieces = _pieces(leg) or []
        if pieces and pieces[0][0] == "lit":
            if pieces[0][1][0] in firsts:
                return None  # Go factors a shared first character
            firsts.add(pieces[0][1][0])
        out.extend(alt)
    return out, ignore_case


def matches(alternatives: Alternatives, ignore_case: bool, value: str) -> bool:
    if ignore_case:
        value = value.lower()
    for kind, lit in alternatives:
        if ignore_case:
            lit = lit.lower()
        if (value == lit) if kind == "eq" else (lit in value):
            return True
    return False


def line_regex_without_empty_legs(pattern: str) -> str | bool | None:
    """Loki quirk for line filter regexes (grafana/loki#19523): in an alternation that its
    simplifier rewrites, an empty leg vanishes instead of matching everything, so
    `|~ "(notfound|)"` keeps only lines containing "notfound". Returns the regex without the
    empty legs, True when every leg is empty (always true), None when the quirk does not apply."""
    parsed = _parse_simple(pattern)
    if parsed is None:
        return None
    items, ignore_case = parsed
    legs = _legs(items)
    if legs is None or all(leg for leg in legs):
        return None
    kept = [leg for leg in legs if leg]
    if not kept:
        return True
    literals: list[str] = []
    for leg in kept:
        if len(leg) == 1 and _is_star(leg[0]):
            continue  # `.*` is always true as well: it vanishes too
        alt = _concat(leg, False)
        if alt is None:
            return None
        literals.extend(lit for _, lit in alt)
    if not literals:
        return True
    if sum(1 for lit in literals if len(lit) == 1) > 1 or len({lit[0] for lit in literals}) < len(literals):
        return None  # Go would factor these legs differently
    body = "|".join(re2_escape(lit) for lit in literals)
    return ("(?i)" if ignore_case else "") + body

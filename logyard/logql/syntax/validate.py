"""Loki's checks on a parsed query, and the checks of stage arguments, with Loki's wording.

Order matters, because Loki reports only the first failure:
1. while parsing (in `parser`): bad matcher regexes, regexp/pattern parser arguments;
2. after parsing (`validate`), walking the tree as Loki does: errors stored in nodes (`ast.Invalid`),
   then every stream selector needs a matcher that does not match the empty string;
3. then the stages Loki only builds when it runs the query (`stage '| line_format …' : …`): line
   filter regexes and patterns, templates, label_format names.
"""

from __future__ import annotations

import re

import re2

from logyard.errors import BadRequestError, ParseError
from logyard.logql.stages.ip import IPMatcher
from logyard.logql.stages.json import JSONExpressionParser
from logyard.logql.stages.logfmt import LogfmtExpressionParser
from logyard.logql.syntax import ast
from logyard.logql.template.execute import parse_template

EMPTY_COMPATIBLE = ("queries require at least one regexp or equality matcher that does not have an "
                    "empty-compatible value. For instance, app=~\".*\" does not meet this requirement, "
                    "but app=~\".+\" will")

ERROR_LABEL = "__error__"


def validate(expr: ast.Expr) -> None:
    """Raise Loki's ParseError for the first problem of a freshly parsed expression."""
    _check_tree(expr)
    for query in ast.log_queries(expr):
        for stage_text, err in stage_errors(query.pipeline):
            raise ParseError(f"stage '{stage_text}' : {err}")


def stage_errors(pipeline):
    """(stage text, error) for each stage Loki would fail to build. Consecutive line filters are one
    stage to Loki (its grammar chains them), so they are checked and named together."""
    run: list[ast.LineFilter] = []
    for stage in (*pipeline, None):
        if isinstance(stage, ast.LineFilter):
            run.append(stage)
            continue
        if run:
            for f in run:
                err = line_filter_error(f)
                if err:
                    yield " ".join(map(str, run)), err
            run = []
        if stage is not None:
            err = stage_error(stage)
            if err:
                yield str(stage), err


def line_filter_error(f: ast.LineFilter) -> str | None:
    """The error Loki gives when it compiles a line filter: a bad regex, pattern or ip()."""
    for value, is_ip in f.terms():
        if is_ip:
            if f.op not in ("|=", "!="):
                return "ip: invalid operation"
            try:
                IPMatcher(value)
            except BadRequestError as e:
                return e.message
            continue
        if f.op in ("|~", "!~"):
            err = go_regexp_error(value)
            if err:
                return err
        elif f.op in ("|>", "!>"):
            err = pattern_filter_error(value)
            if err:
                return err
    return None


def _check_tree(expr) -> None:
    # Loki's order: a node's own error, then its children left to right (an explicit stack, so
    # that long `a + b + c + …` chains need no recursion).
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Invalid):
            raise ParseError(node.message)
        if isinstance(node, ast.BinaryOp):
            stack.extend((node.rhs, node.lhs))
        elif isinstance(node, (ast.VectorAggregation, ast.LabelReplace)):
            stack.append(node.expr)
        elif isinstance(node, ast.RangeAggregation):
            check_selector(node.log.selector)
        elif isinstance(node, ast.LogQuery):
            check_selector(node.selector)


def check_selector(selector: ast.StreamSelector) -> None:
    """Loki refuses selectors that could match every stream: at least one matcher must not match ""."""
    if not any(not m.matches_empty() for m in selector.matchers):
        raise ParseError(EMPTY_COMPATIBLE)


def stage_error(stage) -> str | None:
    """The error Loki gives when it builds this stage, or None."""
    if isinstance(stage, (ast.JSONParser, ast.LogfmtParser)) and stage.params:
        # the parameter expressions are checked by the stages that run them
        expressions = {p.name: p.expression for p in stage.params}
        try:
            if isinstance(stage, ast.JSONParser):
                JSONExpressionParser(expressions)
            else:
                LogfmtExpressionParser(expressions, stage.strict)
        except BadRequestError as e:
            return e.message
    if isinstance(stage, ast.LineFormat):
        err = template_error(stage.template, "line")
        return f"invalid line template: {err}" if err else None
    if isinstance(stage, ast.LabelFormat):
        seen = set()
        for op in stage.ops:
            if op.dst == ERROR_LABEL:
                return f"{op.dst} cannot be formatted"
            if op.dst in seen:
                return f"multiple label name '{op.dst}' not allowed in a single format operation"
            seen.add(op.dst)
        for op in stage.ops:
            if op.is_template:
                err = template_error(op.value, "label")
                if err:
                    return f"invalid template for label '{op.dst}': {err}"
    return None


def template_error(text: str, name: str) -> str | None:
    """Go text/template's parse error for `text` (named `name`, as Loki names them), or None."""
    try:
        parse_template(text, name=name)
    except BadRequestError as e:
        return e.message
    return None


# -- regular expressions with Go's error wording --------------------------------------------------------

# RE2 (C++) error code text -> Go regexp/syntax error code text.
_RE2_TO_GO = {
    "missing )": "missing closing )",
    "missing ]": "missing closing ]",
    "unexpected )": "unexpected )",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid escape sequence": "invalid escape sequence",
    "invalid repetition size": "invalid repeat count",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid character class range": "invalid character class range",
    "invalid character class": "invalid character class",
    "invalid named capture group": "invalid named capture",
    "duplicate capture group name": "duplicate capture group name",
    "invalid UTF-8": "invalid UTF-8",
    "pattern too large - compile failed": "expression too large",
    "pattern too large - reverse compile failed": "expression too large",
    "bad named capture group": "invalid named capture",
}


def _re2_options():
    options = re2.Options()
    options.log_errors = False
    return options


def go_regexp_error(pattern: str) -> str | None:
    """None if `pattern` compiles, else Go's `error parsing regexp: <code>: `<fragment>`` text."""
    try:
        re2.compile(pattern, _re2_options())
    except re2.error as e:
        raw = e.args[0] if e.args else str(e)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        if text.startswith("trailing \\"):
            return "error parsing regexp: trailing backslash at end of expression: ``"
        code, _, arg = text.partition(": ")
        go_code = _RE2_TO_GO.get(code, code)
        return f"error parsing regexp: {go_code}: `{arg}`"
    return None


_NAMED_GROUP = re.compile(r"\(\?P?<([^>]*)>")


def regexp_parser_error(pattern: str) -> str | None:
    """Loki's checks on `| regexp "…"`: it compiles, and names at least one, unique, capture."""
    err = go_regexp_error(pattern)
    if err and "duplicate capture group name" not in err:  # Go allows duplicate names; Loki does not
        return err
    names = _NAMED_GROUP.findall(pattern)
    seen = set()
    for n in names:
        if n in seen:
            return f"duplicate extracted label name '{n}'"
        seen.add(n)
    if not names:
        return "at least one named capture must be supplied"
    return None


_PATTERN_CAPTURE = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")


def _pattern_nodes(pattern: str) -> list[tuple[bool, str]]:
    nodes: list[tuple[bool, str]] = []  # (is_capture, name or literal text)
    pos = 0
    for m in _PATTERN_CAPTURE.finditer(pattern):
        if m.start() > pos:
            nodes.append((False, pattern[pos:m.start()]))
        nodes.append((True, m.group(1)))
        pos = m.end()
    if pos < len(pattern):
        nodes.append((False, pattern[pos:]))
    return nodes


def _consecutive_captures(nodes) -> str | None:
    for (a_cap, a), (b_cap, b) in zip(nodes, nodes[1:]):
        if a_cap and b_cap:
            return f"found consecutive capture '<{a}><{b}>': invalid expression"
    return None


def pattern_filter_error(pattern: str) -> str | None:
    """Loki's checks on a `|> "…"` line filter pattern: only `<_>` captures, never two in a row."""
    nodes = _pattern_nodes(pattern)
    err = _consecutive_captures(nodes)
    if err:
        return err
    for is_cap, name in nodes:
        if is_cap and name != "_":
            return f"named captures are not allowed: found '<{name}>'"
    return None


def pattern_parser_error(pattern: str) -> str | None:
    """Loki's checks on `| pattern "…"`: a named capture, no two captures in a row, unique names."""
    nodes = _pattern_nodes(pattern)
    named = [text for is_cap, text in nodes if is_cap and text != "_"]
    if not named:
        return "at least one capture is required"
    err = _consecutive_captures(nodes)
    if err:
        return err
    seen = set()
    for n in named:
        if n in seen:
            return f"duplicate capture name ({n}): invalid expression"
        seen.add(n)
    return None

"""The LogQL parser: a hand-written recursive descent over `lexer` tokens, building `ast` nodes.

Loki's parser is a yacc (LALR) grammar, and users see its messages, so this parser mirrors its
behaviour rather than its code:
- a syntax error names the token in hand and, when the grammar state allows at most four tokens,
  lists them in Loki's token order (`syntax error: unexpected $end, expecting } or ,`); the expected
  sets at each decision point below are the ones Loki's grammar state has there;
- errors Loki raises while building a node (a bad regex in a matcher, a regexp/pattern parser that
  does not compile, a numeric filter literal that is no float) stop parsing at once;
- errors Loki stores in a node and reports only after a successful parse (`grouping not allowed for
  …`, bad `topk` parameters, a log query as a binary operand) become `ast.Invalid` nodes, which
  `validate` reports in Loki's tree order;
- precedence is yacc's: binary operators as in Prometheus (`^` right-associative), and in label
  filters `or` < `and`, while `,` and juxtaposition take everything to their right.
"""

from __future__ import annotations

import difflib

from logyard.errors import BadRequestError, ParseError
from logyard.labels import Matcher, quote
from logyard.logql.functions import (
    CONVERSION,
    EMPTY,
    FORBIDDEN,
    FUNCTION_BY_NAME,
    FUNCTION_BY_TOKEN,
    FUNCTIONS,
    K,
    LABEL,
    NEVER,
    PHI,
    RANGE,
    REQUIRED,
    VECTOR_AGG,
)
from logyard.logql.syntax import ast, validate
from logyard.logql.syntax.lexer import EOF, Lexer, Token

MAX_INPUT_SIZE = 131072  # Loki refuses queries of this many bytes or more

# Loki's internal token order (its grammar's %token list): expected tokens are listed in this order.
# Of the function tokens only the unwrap conversions are ever expected; a new range or vector
# function need not be added here.
TOKEN_ORDER = {name: i for i, name in enumerate([
    "BYTES", "IDENTIFIER", "STRING", "NUMBER", "FUNCTION_FLAG", "DURATION", "RANGE", "MATCHERS", "LABELS",
    "=", "=~", "!~", "!>", "{", "}", "[", "]", ",", ".", "|~", "|=", "|>", "(", ")", "by", "without",
    "COUNT_OVER_TIME", "RATE", "RATE_COUNTER", "SUM", "SORT", "SORT_DESC", "AVG", "MAX", "MIN", "COUNT",
    "STDDEV", "STDVAR", "BOTTOMK", "TOPK", "APPROX_TOPK", "BYTES_OVER_TIME", "BYTES_RATE", "bool", "json",
    "regexp", "logfmt", "|", "line_format", "label_format", "unwrap", "AVG_OVER_TIME", "SUM_OVER_TIME",
    "MIN_OVER_TIME", "MAX_OVER_TIME", "STDVAR_OVER_TIME", "STDDEV_OVER_TIME", "QUANTILE_OVER_TIME",
    "BYTES_CONV", "DURATION_CONV", "DURATION_SECONDS_CONV", "FIRST_OVER_TIME", "LAST_OVER_TIME",
    "ABSENT_OVER_TIME", "VECTOR", "label_replace", "unpack", "offset", "pattern", "ip", "on", "ignoring",
    "group_left", "group_right", "decolorize", "drop", "keep", "or", "and", "unless", "==", "!=", "<",
    "<=", ">", ">=", "+", "-", "*", "/", "%", "^",
])}

# Token -> unwrap conversion name (`| unwrap bytes(x)`).
CONVERSIONS = {f.token_name: f.name for f in FUNCTIONS if f.kind == CONVERSION}
LINE_FILTER_OPS = frozenset({"|=", "!=", "|~", "!~", "|>", "!>"})
MATCH_OPS = ("=", "!=", "=~", "!~")
# token -> (precedence, right-associative)
BINARY_OPS = {"or": (1, False), "and": (2, False), "unless": (2, False),
              "==": (3, False), "!=": (3, False), ">": (3, False), ">=": (3, False), "<": (3, False),
              "<=": (3, False), "+": (4, False), "-": (4, False), "*": (5, False), "/": (5, False),
              "%": (5, False), "^": (6, True)}
# label filter connectives: precedence of `or` and `and`; `,` and juxtaposition have none in Loki's grammar
_LABEL_PREC = {"or": 1, "and": 2}
# Functions an expression may start with (not the unwrap conversions, nor the label filter's ip()).
CALLABLE = sorted(f.name for f in FUNCTIONS if f.kind in (RANGE, VECTOR_AGG, LABEL))
_ALL_EXPECTED = None  # more than four possibilities: Loki names none


def syntax_message(kind: str, expected) -> str:
    text = f"syntax error: unexpected {kind}"
    if expected:
        names = sorted(set(expected), key=TOKEN_ORDER.__getitem__)
        if len(names) <= 4:
            text += ", expecting " + " or ".join(names)
    return text


class _Parser:
    def __init__(self, text: str) -> None:
        self.lexer = Lexer(text)
        self._tok: Token | None = None

    # -- token plumbing (one token of look-ahead, read only when needed, as yacc does) ----------

    @property
    def tok(self) -> Token:
        if self._tok is None:
            self._tok = self.lexer.next_token()
        return self._tok

    def take(self) -> Token:
        tok = self.tok
        self._tok = None
        return tok

    def expect(self, kind: str, *also: str) -> Token:
        if self.tok.kind != kind:
            self.fail(kind, *also)
        return self.take()

    def fail(self, *expected: str):
        tok = self.tok
        raise ParseError(syntax_message(tok.kind, expected), tok.line, tok.col)

    # -- expressions ----------------------------------------------------------------------------

    def parse_root(self) -> ast.Expr:
        expr = self.parse_expr()
        if self.tok.kind != EOF:
            self.fail()
        return expr

    def parse_expr(self) -> ast.Expr:
        return self._binary(self.parse_operand(), 0)

    def _binary(self, lhs, min_prec: int):
        while self.tok.kind in BINARY_OPS and BINARY_OPS[self.tok.kind][0] >= min_prec:
            op = self.take().kind
            prec, right_assoc = BINARY_OPS[op]
            bool_mod, matching = self._modifiers()
            rhs = self._binary(self.parse_operand(), prec if right_assoc else prec + 1)
            lhs = make_binary(op, lhs, rhs, bool_mod, matching)
        return lhs

    def _modifiers(self):
        bool_mod = self.tok.kind == "bool"
        if bool_mod:
            self.take()
        if self.tok.kind not in ("on", "ignoring"):
            return bool_mod, None
        on = self.take().kind == "on"
        self.expect("(")
        labels = self._label_list()
        side, include = None, ()
        if self.tok.kind in ("group_left", "group_right"):
            side = self.take().kind[len("group_"):]
            if self.tok.kind == "(":
                self.take()
                include = self._label_list()
        return bool_mod, ast.VectorMatching(on, labels, side, include)

    def _label_list(self) -> tuple[str, ...]:
        """`a, b)` after an opening parenthesis (grouping, on/ignoring, group_left/right)."""
        if self.tok.kind == ")":
            self.take()
            return ()
        names = [self.expect("IDENTIFIER", ")").value]
        while True:
            if self.tok.kind == ")":
                self.take()
                return tuple(names)
            if self.tok.kind != ",":
                self.fail(",", ")")
            self.take()
            names.append(self.expect("IDENTIFIER").value)

    def parse_operand(self):
        kind = self.tok.kind
        if kind == "{":
            return self.parse_log_query()
        if kind == "(":
            self.take()
            inner = self.parse_expr()
            if self.tok.kind != ")":
                self.fail()
            self.take()
            return inner
        if kind in ("NUMBER", "+", "-"):
            return self.parse_literal()
        function = FUNCTION_BY_TOKEN.get(kind)
        if function is not None and function.kind == RANGE:
            return self.parse_range_aggregation()
        if function is not None and function.kind == VECTOR_AGG:
            return self.parse_vector_aggregation()
        if kind == "VECTOR":
            self.take()
            self.expect("(")
            number = self.expect("NUMBER")
            self.expect(")")
            value, err = go_parse_float(number.value)
            if err:
                return ast.Invalid(f"unable to parse vectorExpr as a float: {err}")
            return ast.VectorExpr(value)
        if kind == "label_replace":
            return self.parse_label_replace()
        self.fail_unknown_function()
        self.fail()

    def fail_unknown_function(self) -> None:
        """Where an expression starts, a name called like a function is one LogQL does not have.

        Loki says only "unexpected IDENTIFIER" there; its text and position stay, and the name is added."""
        tok = self.tok
        if tok.kind != "IDENTIFIER" or not self.lexer.src[tok.end:].lstrip(" \t\r\n").startswith("("):
            return
        text = f"{syntax_message(tok.kind, ())}: LogQL has no function {quote(tok.value)}"
        near = difflib.get_close_matches(tok.value, CALLABLE, n=1, cutoff=0.8)
        if near:
            text += f" (did you mean {quote(near[0])}?)"
        raise ParseError(text, tok.line, tok.col)

    def parse_literal(self):
        negative = False
        if self.tok.kind in ("+", "-"):
            negative = self.take().kind == "-"
            number = self.expect("NUMBER")
        else:
            number = self.take()
        return literal(number.value, negative)

    def parse_metric(self):
        """A metric expression where Loki's grammar wants one (aggregation and label_replace
        arguments): a bare log query there is a syntax error at the token after it."""
        expr = self.parse_expr()
        if isinstance(expr, ast.LogQuery):
            self.fail()
        return expr

    def parse_vector_aggregation(self):
        op = FUNCTION_BY_TOKEN[self.take().kind].name
        grouping = self._grouping() if self.tok.kind in ("by", "without") else None
        self.expect("(")
        param = None
        if self.tok.kind == "NUMBER":
            number = self.take()
            if self.tok.kind == ",":
                self.take()
                param = number.value
                expr = self.parse_metric()
            else:
                expr = self._binary(literal(number.value, False), 0)
        else:
            expr = self.parse_metric()
        if self.tok.kind != ")":
            self.fail()
        self.take()
        if grouping is None and self.tok.kind in ("by", "without"):
            grouping = self._grouping()
        return make_vector_aggregation(op, expr, grouping, param)

    def _grouping(self) -> ast.Grouping:
        without = self.take().kind == "without"
        self.expect("(")
        return ast.Grouping(without, self._label_list())

    def parse_label_replace(self):
        self.take()
        self.expect("(")
        expr = self.parse_metric()
        if self.tok.kind != ",":
            self.fail()
        self.take()
        args = []
        for i in range(4):
            args.append(self.expect("STRING").value)
            self.expect("," if i < 3 else ")")
        dst, replacement, src, regex = args
        err = go_regexp_error(f"^(?:{regex})$")
        if err:
            return ast.Invalid(f"invalid regex in label_replace: {err}")
        return ast.LabelReplace(expr, dst, replacement, src, regex)

    # -- range aggregations ---------------------------------------------------------------------

    def parse_range_aggregation(self):
        op = FUNCTION_BY_TOKEN[self.take().kind].name
        self.expect("(")
        param = None
        if self.tok.kind == "NUMBER":
            param = self.take().value
            self.expect(",")
            if self.tok.kind not in ("{", "("):
                self.fail("{", "(")
        elif self.tok.kind not in ("{", "("):
            self.fail("NUMBER", "{", "(")
        log, range_ns, offset_ns, unwrap = self.parse_log_range()
        self.expect(")")  # Loki's grammar has reduced the range by now, so it names only `)`
        grouping = self._grouping() if self.tok.kind in ("by", "without") else None
        return make_range_aggregation(op, log, range_ns, offset_ns, unwrap, param, grouping)

    def parse_log_range(self):
        """Every spelling of a log range, as (log query, range, offset, unwrap):
        `{s} | p | unwrap u [r] offset o`, `{s}[r] offset o | p | unwrap u`,
        `({s} | p | unwrap u)[r] offset o`, `({s})[r] offset o | unwrap u` and `(<any of these>)`."""
        if self.tok.kind != "(":
            selector = self.parse_selector()
            if self.tok.kind == "RANGE":
                return self._after_range(selector)
            stages, unwrap = self.parse_pipeline(allow_unwrap=True)
            if self.tok.kind != "RANGE":
                self.fail(*(("RANGE", "|") if unwrap else ()))
            range_ns = self.take().value
            return ast.LogQuery(selector, stages), range_ns, self._offset(), unwrap
        self.take()
        if self.tok.kind == "(":
            parts = self.parse_log_range()
            self.expect(")")
            return parts
        if self.tok.kind != "{":
            self.fail("{", "(")
        selector = self.parse_selector()
        if self.tok.kind == "RANGE":  # `({s}[r] …)`
            parts = self._after_range(selector)
            self.expect(")")
            return parts
        stages, unwrap = self.parse_pipeline(allow_unwrap=True)
        if self.tok.kind == "RANGE" and (stages or unwrap):  # `({s} | p [r] …)`
            range_ns = self.take().value
            offset_ns = self._offset()
            self.expect(")")
            return ast.LogQuery(selector, stages), range_ns, offset_ns, unwrap
        if self.tok.kind != ")":
            self.fail(*(("RANGE", "|") if unwrap else ()))
        self.take()  # `({s} | p)[r] offset o`; only a bare selector may take an unwrap after that
        range_ns = self.expect("RANGE").value
        offset_ns = self._offset()
        if not stages and unwrap is None and self.tok.kind == "|":
            self.take()
            self.expect("unwrap")
            unwrap = self._unwrap()
        return ast.LogQuery(selector, stages), range_ns, offset_ns, unwrap

    def _after_range(self, selector):
        """`{s}[r] offset o | p | unwrap u`: the range straight after the selector."""
        range_ns = self.take().value
        offset_ns = self._offset()
        stages, unwrap = self.parse_pipeline(allow_unwrap=True)
        return ast.LogQuery(selector, stages), range_ns, offset_ns, unwrap

    def _offset(self) -> int:
        if self.tok.kind != "offset":
            return 0
        self.take()
        return self.expect("DURATION").value

    def _unwrap(self) -> ast.Unwrap:
        """After `| unwrap`: `label` or `conv(label)`, then `| label filter`s."""
        kind = self.tok.kind
        if kind == "IDENTIFIER":
            label, conv = self.take().value, ""
        elif kind in CONVERSIONS:
            conv = CONVERSIONS[self.take().kind]
            self.expect("(")
            label = self.expect("IDENTIFIER").value
            self.expect(")")
        else:
            self.fail("IDENTIFIER", *CONVERSIONS)
        filters = []
        while self.tok.kind == "|":
            self.take()
            if self.tok.kind not in ("IDENTIFIER", "("):
                self.fail("IDENTIFIER", "(")
            filters.append(self.parse_label_filter(None))
        return ast.Unwrap(label, conv, tuple(filters))

    # -- log queries ----------------------------------------------------------------------------

    def parse_log_query(self) -> ast.LogQuery:
        selector = self.parse_selector()
        stages, _ = self.parse_pipeline(allow_unwrap=False)
        return ast.LogQuery(selector, stages)

    def parse_selector(self) -> ast.StreamSelector:
        self.expect("{")
        if self.tok.kind == "}":
            self.take()
            return ast.StreamSelector(())
        matchers = [self.parse_matcher("}")]
        while True:
            if self.tok.kind == "}":
                self.take()
                return ast.StreamSelector(tuple(matchers))
            if self.tok.kind != ",":
                self.fail("}", ",")
            self.take()
            matchers.append(self.parse_matcher())

    def parse_matcher(self, *also: str) -> Matcher:
        name = self.expect("IDENTIFIER", *also).value
        if self.tok.kind not in MATCH_OPS:
            self.fail(*MATCH_OPS)
        op = self.take().kind
        value = self.expect("STRING").value
        return new_matcher(name, op, value)

    def parse_pipeline(self, allow_unwrap: bool):
        stages: list = []
        while True:
            kind = self.tok.kind
            if kind in LINE_FILTER_OPS:
                stages.extend(self.parse_line_filter())
                continue
            if kind != "|":
                return tuple(stages), None
            self.take()
            kind = self.tok.kind
            if kind == "unwrap" and allow_unwrap:
                self.take()
                return tuple(stages), self._unwrap()
            stages.append(self.parse_stage(kind))

    def parse_stage(self, kind: str):
        if kind in ("IDENTIFIER", "("):
            return ast.LabelFilter(self.parse_label_filter(None))
        if kind == "json":
            self.take()
            return ast.JSONParser(self._extractions())
        if kind == "logfmt":
            self.take()
            flags = set()
            while self.tok.kind == "FUNCTION_FLAG":
                flags.add(self.take().value)
            return ast.LogfmtParser("--strict" in flags, "--keep-empty" in flags, self._extractions())
        if kind == "regexp":
            self.take()
            pattern = self.expect("STRING").value
            check_regexp_parser(pattern)
            return ast.RegexpParser(pattern)
        if kind == "pattern":
            self.take()
            pattern = self.expect("STRING").value
            check_pattern_parser(pattern)
            return ast.PatternParser(pattern)
        if kind == "unpack":
            self.take()
            return ast.Unpack()
        if kind == "decolorize":
            self.take()
            return ast.Decolorize()
        if kind == "line_format":
            self.take()
            return ast.LineFormat(self.expect("STRING").value)
        if kind == "label_format":
            self.take()
            return ast.LabelFormat(self._label_formats())
        if kind in ("drop", "keep"):
            self.take()
            items = self._named_matchers()
            return ast.Drop(items) if kind == "drop" else ast.Keep(items)
        self.fail()

    def _extractions(self) -> tuple[ast.LabelExtraction, ...]:
        if self.tok.kind != "IDENTIFIER":
            return ()
        out = []
        while True:
            name = self.expect("IDENTIFIER").value
            expression = name
            if self.tok.kind == "=":
                self.take()
                expression = self.expect("STRING").value
            out.append(ast.LabelExtraction(name, expression))
            if self.tok.kind != ",":
                return tuple(out)
            self.take()

    def _label_formats(self) -> tuple[ast.LabelFormatOp, ...]:
        out = []
        while True:
            dst = self.expect("IDENTIFIER").value
            self.expect("=")
            if self.tok.kind == "IDENTIFIER":
                out.append(ast.LabelFormatOp(dst, self.take().value, False))
            elif self.tok.kind == "STRING":
                out.append(ast.LabelFormatOp(dst, self.take().value, True))
            else:
                self.fail("IDENTIFIER", "STRING")
            if self.tok.kind != ",":
                return tuple(out)
            self.take()

    def _named_matchers(self) -> tuple[ast.NamedMatcher, ...]:
        out = []
        while True:
            name = self.expect("IDENTIFIER").value
            if self.tok.kind in MATCH_OPS:
                op = self.take().kind
                value = self.expect("STRING").value
                out.append(ast.NamedMatcher(name, new_matcher(name, op, value)))
            else:
                out.append(ast.NamedMatcher(name))
            if self.tok.kind != ",":
                return tuple(out)
            self.take()

    def parse_line_filter(self) -> list[ast.LineFilter]:
        op = self.take().kind
        terms = [self._line_filter_value()]
        while self.tok.kind == "or":
            self.take()
            terms.append(self._line_filter_value())
        if op in ("|=", "|~", "|>"):
            (value, is_ip), rest = terms[0], terms[1:]
            return [ast.LineFilter(op, value, tuple(v for v, _ in rest), is_ip, tuple(ip for _, ip in rest))]
        # Loki quirk: `!= "a" or "b"` means `!= "a" != "b"`.
        return [ast.LineFilter(op, value, (), is_ip) for value, is_ip in terms]

    def _line_filter_value(self) -> tuple[str, bool]:
        if self.tok.kind == "STRING":
            return self.take().value, False
        if self.tok.kind != "ip":
            self.fail("STRING", "ip")
        self.take()
        self.expect("(")
        value = self.expect("STRING").value
        self.expect(")")
        return value, True

    # -- label filters ----------------------------------------------------------------------------

    def parse_label_filter(self, rule: str | None) -> ast.LabelNode:
        """A label filter expression. `rule` is the connective whose right operand this is: yacc
        reduces (returns) only when both it and the next connective have a precedence and the next
        one's is not higher. `,` and juxtaposition have none, so their right operand is everything
        that follows: they are folded here without recursion (long `a=1, b=2, …` lists stay flat)."""
        pending: list[ast.LabelNode] = []  # left operands of `,` / juxtaposition, awaiting the rest
        left = self._label_atom()
        while True:
            kind = self.tok.kind
            if kind not in ("or", "and", ",", "IDENTIFIER", "("):
                break
            next_prec = _LABEL_PREC.get(kind)
            rule_prec = _LABEL_PREC.get(rule) if rule else None
            if rule_prec is not None and next_prec is not None and next_prec <= rule_prec:
                break
            if kind in ("or", "and", ","):
                self.take()
                if self.tok.kind not in ("IDENTIFIER", "("):
                    self.fail("IDENTIFIER", "(")
            if next_prec is None:
                pending.append(left)
                left = self._label_atom()
                rule = ","
                continue
            right = self.parse_label_filter(kind)
            left = ast.LabelOr(left, right) if kind == "or" else ast.LabelAnd(left, right)
        for earlier in reversed(pending):
            left = ast.LabelAnd(earlier, left)
        return left

    def _label_atom(self) -> ast.LabelNode:
        if self.tok.kind == "(":
            self.take()
            inner = self.parse_label_filter(None)
            if self.tok.kind != ")":
                self.fail()
            self.take()
            return inner
        name = self.expect("IDENTIFIER", "(").value
        op = self.tok.kind
        if op in ("=~", "!~"):
            self.take()
            value = self.expect("STRING").value
            new_matcher(name, op, value)
            return ast.LabelCompare(name, op, "string", value)
        if op in ("=", "!="):
            self.take()
            if self.tok.kind == "STRING":
                value = self.take().value
                new_matcher(name, op, value)
                return ast.LabelCompare(name, op, "string", value)
            if self.tok.kind == "ip":
                self.take()
                self.expect("(")
                value = self.expect("STRING").value
                self.expect(")")
                return ast.LabelCompare(name, op, "ip", value)
            return self._label_value(name, "==" if op == "=" else op)
        if op in (">", ">=", "<", "<=", "=="):
            self.take()
            return self._label_value(name, op)
        self.fail()

    def _label_value(self, name: str, op: str) -> ast.LabelCompare:
        kind = self.tok.kind
        if kind == "DURATION":
            return ast.LabelCompare(name, op, "duration", self.take().value)
        if kind == "BYTES":
            return ast.LabelCompare(name, op, "bytes", self.take().value)
        if kind in ("NUMBER", "+", "-"):
            lit = self.parse_literal()
            if isinstance(lit, ast.Invalid):
                raise ParseError(lit.message)  # Loki panics here rather than storing the error
            return ast.LabelCompare(name, op, "number", lit.value)
        self.fail()


# -- node construction with Loki's checks ------------------------------------------------------------


def literal(text: str, negative: bool):
    value, err = go_parse_float(text)
    if err:
        return ast.Invalid(f"unable to parse literal as a float: {err}", literal=True)
    return ast.NumberLiteral(-value if negative else value)


def make_binary(op: str, lhs, rhs, bool_mod: bool, matching):
    for side, leg in (("left", lhs), ("right", rhs)):
        if isinstance(leg, ast.LogQuery):
            go_type = "*syntax.PipelineExpr" if leg.pipeline else "*syntax.MatchersExpr"
            return ast.Invalid(f"unexpected type for {side} leg of binary operation ({op}): {go_type}")
    for leg in (lhs, rhs):
        if isinstance(leg, ast.Invalid) and leg.literal:
            return ast.Invalid(leg.message)
    left_lit = isinstance(lhs, ast.NumberLiteral)
    right_lit = isinstance(rhs, ast.NumberLiteral)
    if op in ast.SET_OPS:
        if left_lit:
            return ast.Invalid(f"unexpected literal for left leg of logical/set binary operation ({op}): "
                               f"{go_fixed(lhs.value)}")
        if right_lit:
            return ast.Invalid(f"unexpected literal for right leg of logical/set binary operation ({op}): "
                               f"{go_fixed(rhs.value)}")
    if left_lit and right_lit:
        # Loki folds literal arithmetic while parsing (`2 ^ 3` is the literal 8).
        return ast.NumberLiteral(ast.fold_literals(op, lhs.value, rhs.value))
    return ast.BinaryOp(op, lhs, rhs, bool_mod, matching)


def make_range_aggregation(op, log, range_ns, offset_ns, unwrap, param_text, grouping):
    """The node, or Loki's error for the function's parameter, grouping and unwrap rules (checked
    in Loki's order)."""
    function = FUNCTION_BY_NAME[op]
    param = None
    if param_text is not None:
        if function.param != PHI:
            return ast.Invalid(f"parameter {param_text} not supported for operation {op}")
        param, err = go_parse_float(param_text)
        if err:
            return ast.Invalid(f"invalid parameter for operation {op}: {err}")
    elif function.param == PHI:
        return ast.Invalid(f"parameter required for operation {op}")
    if grouping is not None and function.grouping == NEVER:
        return ast.Invalid(f"grouping not allowed for {op} aggregation")
    if unwrap is not None and function.unwrap == FORBIDDEN:
        return ast.Invalid(f"invalid aggregation {op} with unwrap")
    if unwrap is None and function.unwrap == REQUIRED:
        return ast.Invalid(f"invalid aggregation {op} without unwrap")
    return ast.RangeAggregation(op, log, range_ns, offset_ns, unwrap, param, grouping)


def make_vector_aggregation(op, expr, grouping, param_text):
    """The node, or Loki's error for the function's parameter and grouping rules."""
    function = FUNCTION_BY_NAME[op]
    param = None
    if function.param == K:
        if param_text is None:
            return ast.Invalid(f"parameter required for operation {op}")
        if not (param_text.isascii() and param_text.isdigit()) or int(param_text) >= 1 << 63:
            return ast.Invalid(f"invalid parameter {op}({param_text},")
        param = int(param_text)
        if param <= 0:
            return ast.Invalid(f"invalid parameter (must be greater than 0) {op}({param_text}")
    elif param_text is not None:
        return ast.Invalid(f"unsupported parameter for operation {op}({param_text},")
    if function.grouping == NEVER and grouping is not None:
        return ast.Invalid(f"grouping not allowed for {op} aggregation")
    if function.grouping == EMPTY and grouping is not None and grouping.labels:
        # Loki's text for sort and sort_desc, trailing space included
        return ast.Invalid("sort and sort_desc doesn't allow grouping by ")
    return ast.VectorAggregation(op, expr, grouping, param)


def new_matcher(name: str, op: str, value: str) -> Matcher:
    if op in ("=~", "!~"):
        err = go_regexp_error(value)
        if err:
            raise ParseError(err)
    return Matcher(name, op, value)


def check_regexp_parser(pattern: str) -> None:
    err = validate.regexp_parser_error(pattern)
    if err:
        raise ParseError(f"invalid regexp parser: {err}")


def check_pattern_parser(pattern: str) -> None:
    err = validate.pattern_parser_error(pattern)
    if err:
        raise ParseError(f"invalid pattern parser: {err}")


def go_regexp_error(pattern: str) -> str | None:
    return validate.go_regexp_error(pattern)


def go_parse_float(text: str) -> tuple[float, str | None]:
    """strconv.ParseFloat for a NUMBER token's text: (value, None) or (0, Go's error text)."""
    invalid = f'strconv.ParseFloat: parsing "{text}": invalid syntax'
    lower = text.lower()
    if lower.startswith(("0x", "0o", "0b")) or "_" in text:
        if lower.startswith("0x") and "p" in lower and "_" not in text:
            try:
                return float.fromhex(text), None
            except (ValueError, OverflowError):
                return 0.0, invalid
        return 0.0, invalid
    try:
        value = float(text)
    except ValueError:
        return 0.0, invalid
    if value in (float("inf"), float("-inf")):
        return 0.0, f'strconv.ParseFloat: parsing "{text}": value out of range'
    return value, None


def go_fixed(value: float) -> str:
    """Go's %f."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:f}"


# -- entry points --------------------------------------------------------------------------------------


def parse_unvalidated(query: str) -> ast.Expr:
    """Parse without Loki's post-parse validation (may hold `ast.Invalid` nodes)."""
    size = len(query.encode("utf-8", "surrogateescape"))
    if size >= MAX_INPUT_SIZE:
        raise ParseError(f"input size too long ({size} > {MAX_INPUT_SIZE})")
    try:
        return _Parser(query).parse_root()
    except RecursionError:
        # Loki's parser has no depth limit; ours is Python's stack (hundreds of nested parentheses)
        raise ParseError("expression nests too deeply") from None


def parse(query: str) -> ast.Expr:
    """Parse and validate a LogQL query; raises ParseError with Loki's exact text."""
    expr = parse_unvalidated(query)
    validate.validate(expr)
    return expr


def parse_matchers(text: str, *, validate_query: bool = True) -> list[Matcher]:
    """The matchers of a bare selector (`/labels?query=`), validated like a query unless told not
    to (`/series?match[]=`: Loki's series takes `{a=""}` and `{}`)."""
    expr = parse(text) if validate_query else parse_unvalidated(text)
    if not isinstance(expr, ast.LogQuery) or expr.pipeline:
        # Loki's ErrParseMatchers is a plain error, not a parse error
        raise BadRequestError("only label matchers are supported")
    return list(expr.selector.matchers)

"""The LogQL parser: the trees it builds, canonical printing, and Loki's exact error texts."""

import json
import math

import pytest

from logyard.errors import BadRequestError, ParseError
from logyard.labels import Matcher
from logyard.logql.syntax import ast
from logyard.logql.syntax.parser import parse, parse_matchers
from tests.conformance.test_conformance import KNOWN_DIFFERENCES
from tests.support.paths import CONFORMANCE

CASES = CONFORMANCE / "cases"


def roundtrip(query: str) -> ast.Expr:
    expr = parse(query)
    printed = str(expr)
    assert parse(printed) == expr, printed
    assert str(parse(printed)) == printed
    return expr


def conformance_queries() -> list[tuple[str, dict]]:
    out = []
    for path in sorted(CASES.glob("*.json")):
        case = json.loads(path.read_text())
        params = case["request"]["params"]
        for key in ("query", "match[]"):
            value = params.get(key)
            for q in value if isinstance(value, list) else [value] if value is not None else []:
                out.append((q, case))
    return out


def test_every_conformance_query_parses_or_fails_like_loki():
    checked = 0
    for query, case in conformance_queries():
        body = case["response"]["body"]
        if case["id"].startswith("e-") and isinstance(body, str) and body.startswith("parse error"):
            with pytest.raises(ParseError) as exc:
                parse(query)
            if case["id"] not in KNOWN_DIFFERENCES:  # a deliberate difference, listed with its reason
                assert str(exc.value) == body, case["id"]
        else:
            roundtrip(query)
        checked += 1
    assert checked > 100


@pytest.mark.parametrize(
    "query, printed",
    [
        ('{a="b", c!="d", e=~"f.*", g!~"h"}', '{a="b", c!="d", e=~"f.*", g!~"h"}'),
        ('{a = `x\\y`}', '{a="x\\\\y"}'),
        ('{a="b"} |= "x" != "y" |~ "z" !~ "w" |> "<_> a" !> "b"',
         '{a="b"} |= "x" != "y" |~ "z" !~ "w" |> "<_> a" !> "b"'),
        ('{a="b"} |= "a" or "b" or ip("10.0.0.0/8")', '{a="b"} |= "a" or "b" or ip("10.0.0.0/8")'),
        ('{a="b"} != "a" or "b"', '{a="b"} != "a" != "b"'),  # Loki evaluates it as two filters
        ('{a="b"} | json | logfmt --strict --keep-empty | unpack | decolorize',
         '{a="b"} | json | logfmt --strict --keep-empty | unpack | decolorize'),
        ('{a="b"} | json a="x.y[0]", b', '{a="b"} | json a="x.y[0]",b="b"'),
        ('{a="b"} | logfmt --keep-empty lvl="level", d', '{a="b"} | logfmt --keep-empty lvl="level",d="d"'),
        ('{a="b"} | regexp `(?P<x>\\d+)` | pattern "<ip> -"', '{a="b"} | regexp "(?P<x>\\\\d+)" | pattern "<ip> -"'),
        ('{a="b"} | x > 5, y <= 1.5 | z == -2 | w = 3', '{a="b"} | x>5 and y<=1.5 | z==-2 | w==3'),
        ('{a="b"} | d > 50ms | d < 1h30m | s >= 150KB | s != 1KiB',
         '{a="b"} | d>50ms | d<1h30m0s | s>=150000B | s!=1024B'),
        ('{a="b"} | addr = ip("10.0.0.0/8") | addr != ip("::1")', '{a="b"} | addr=ip("10.0.0.0/8") | addr!=ip("::1")'),
        ('{a="b"} | (x="1" or x="2") and y="3"', '{a="b"} | (x="1" or x="2") and y="3"'),
        ('{a="b"} | line_format "{{.a}}" | label_format a=b, c="{{.d}}"',
         '{a="b"} | line_format "{{.a}}" | label_format a=b,c="{{.d}}"'),
        ('{a="b"} | drop a, b="v" | keep c, d=~"e"', '{a="b"} | drop a,b="v" | keep c,d=~"e"'),
        ('count_over_time({a="b"}[5m])', 'count_over_time({a="b"} [5m])'),
        ('count_over_time({a="b"}[5m] | json)', 'count_over_time({a="b"} | json [5m])'),
        ('rate(({a="b"} | json)[1h30m] offset 10m)', 'rate({a="b"} | json [1h30m] offset 10m0s)'),
        ('sum_over_time({a="b"} | unwrap bytes(x) | __error__="" [5m])',
         'sum_over_time({a="b"} | unwrap bytes(x) | __error__="" [5m])'),
        ('quantile_over_time(0.99, {a="b"} | unwrap duration_seconds(d) [1m]) by (a)',
         'quantile_over_time(0.99, {a="b"} | unwrap duration_seconds(d) [1m]) by (a)'),
        ("sum by (a, b) (rate({a=\"b\"}[5m]))", 'sum by (a, b) (rate({a="b"} [5m]))'),
        ("sum(rate({a=\"b\"}[5m])) without (a)", 'sum without (a) (rate({a="b"} [5m]))'),
        ("topk by (a) (1, rate({a=\"b\"}[5m]))", 'topk by (a) (1, rate({a="b"} [5m]))'),
        ("sort_desc(rate({a=\"b\"}[5m]))", 'sort_desc(rate({a="b"} [5m]))'),
        ("2 ^ 3", "8"),  # Loki folds literal arithmetic while parsing
        ("2 ^ 3 ^ 2", "512"),  # right-associative
        ("-1 ^ 2", "1"),  # Loki quirk: -1 is one literal, so this is (-1)^2
        ("1 + 2 * 3", "7"),
        ("1 > bool 2", "0"),
        ("vector(42)", "vector(42)"),
        ("rate({a=\"b\"}[1m]) > bool on (a) group_left (b) vector(1)",
         'rate({a="b"} [1m]) > bool on (a) group_left (b) vector(1)'),
        ("rate({a=\"b\"}[1m]) / ignoring (a) group_right rate({a=\"b\"}[1m])",
         'rate({a="b"} [1m]) / ignoring (a) group_right () rate({a="b"} [1m])'),
        ('label_replace(rate({a="b"}[1m]), "d", "$1", "s", "(.*)")',
         'label_replace(rate({a="b"} [1m]), "d", "$1", "s", "(.*)")'),
        ('({a="b"})', '{a="b"}'),
        ('{a="b"} # a comment\n | json', '{a="b"} | json'),
    ],
)
def test_queries_print_canonically_and_round_trip(query, printed):
    assert str(roundtrip(query)) == printed


def test_binary_operators_follow_prometheus_precedence():
    expr = parse('rate({a="b"}[1m]) + rate({a="b"}[1m]) * rate({a="b"}[1m]) or vector(1)')
    assert expr.op == "or"
    assert expr.lhs.op == "+" and expr.lhs.rhs.op == "*"


@pytest.mark.parametrize(
    "filters, expected",
    [
        # `or` binds looser than `and` ...
        ('a="1" or b="2" and c="3"', "or(a, and(b, c))"),
        ('a="1" and b="2" or c="3"', "or(and(a, b), c)"),
        # ... but `,` and juxtaposition have no precedence in Loki's grammar: they take all to their right
        ('a="1", b="2" or c="3"', "and(a, or(b, c))"),
        ('a="1" or b="2", c="3"', "or(a, and(b, c))"),
        ('a="1" or b="2" c="3"', "or(a, and(b, c))"),
        ('(a="1" or b="2"), c="3"', "and(or(a, b), c)"),
    ],
)
def test_label_filter_precedence_is_lokis(filters, expected):
    def shape(node):
        if isinstance(node, ast.LabelCompare):
            return node.name
        name = "and" if isinstance(node, ast.LabelAnd) else "or"
        return f"{name}({shape(node.left)}, {shape(node.right)})"

    (stage,) = roundtrip('{x="y"} | ' + filters).pipeline
    assert shape(stage.filter) == expected


def test_range_spellings_are_one_tree():
    a = parse('count_over_time({a="b"}[5m] | json)')
    b = parse('count_over_time({a="b"} | json [5m])')
    c = parse('count_over_time(({a="b"} | json)[5m])')
    assert a == b == c
    assert a.log == ast.LogQuery(ast.StreamSelector((Matcher("a", "=", "b"),)), (ast.JSONParser(),))
    assert a.range_ns == 300_000_000_000


def test_nodes_carry_typed_values():
    q = parse('{a="b"} |= "x" or ip("1.2.3.4") | d > 1.5s | n <= -2.5 | s > 1MB | logfmt --strict a, b="c"')
    line, dur, num, size, logfmt = q.pipeline
    assert line == ast.LineFilter("|=", "x", ("1.2.3.4",), False, (True,))
    assert dur.filter == ast.LabelCompare("d", ">", "duration", 1_500_000_000)
    assert num.filter == ast.LabelCompare("n", "<=", "number", -2.5)
    assert size.filter == ast.LabelCompare("s", ">", "bytes", 1_000_000)
    assert logfmt == ast.LogfmtParser(True, False, (ast.LabelExtraction("a", "a"), ast.LabelExtraction("b", "c")))
    m = parse('max_over_time({a="b"} | unwrap duration(d) | d > 1s [5m] offset 1m) by (x)')
    assert m.unwrap == ast.Unwrap("d", "duration", (ast.LabelCompare("d", ">", "duration", 1_000_000_000),))
    assert (m.offset_ns, m.grouping) == (60_000_000_000, ast.Grouping(False, ("x",)))


def test_literal_folding_gives_nan_for_division_by_zero():
    assert math.isnan(parse("1 / 0").value)


@pytest.mark.parametrize(
    "query, log",
    [('{a="b"} |= "x"', True), ('count_over_time({a="b"}[1m])', False), ("vector(1)", False)],
)
def test_is_log_query(query, log):
    assert ast.is_log_query(parse(query)) is log


def test_selectors_walks_every_leg():
    expr = parse('sum(rate({a="1"}[1m])) / on() label_replace(rate({b="2"}[1m]), "x", "y", "z", "w")')
    assert [str(s) for s in ast.selectors(expr)] == ['{a="1"}', '{b="2"}']


@pytest.mark.parametrize(
    "query, message",
    [
        ('{compose_service="ollama"', "parse error at line 1, col 26: syntax error: unexpected $end, expecting } or ,"),
        ("", "parse error : syntax error: unexpected $end"),
        ("{", "parse error at line 1, col 2: syntax error: unexpected $end, expecting IDENTIFIER or }"),
        ("{a", "parse error at line 1, col 3: syntax error: unexpected $end, expecting = or =~ or !~ or !="),
        ('{a="b",', "parse error at line 1, col 8: syntax error: unexpected $end, expecting IDENTIFIER"),
        ('rate({compose_service="ollama"})', "parse error at line 1, col 32: syntax error: unexpected )"),
        ('foo_over_time({a="b"}[5m])', "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER: "
                                       'LogQL has no function "foo_over_time"'),
        ("foo", "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER"),  # not called: not a function
        ('{foo="bar"} |~', "parse error at line 1, col 15: syntax error: unexpected $end, expecting STRING or ip"),
        ('{a="b"} | x > 5 and', "parse error at line 1, col 20: syntax error: unexpected $end, expecting IDENTIFIER or ("),
        ('{a="b"} | unwrap x', "parse error at line 1, col 11: syntax error: unexpected unwrap"),
        ('{a="b"}[5m]', "parse error at line 0, col 8: syntax error: unexpected RANGE"),
        ('min({ foo = "bar" }[5m])', "parse error at line 0, col 20: syntax error: unexpected RANGE"),
        ('rate({a="b"} | unwrap x', "parse error at line 1, col 24: syntax error: unexpected $end, expecting RANGE or |"),
        ('rate({a="b"} | unwrap', "parse error at line 1, col 22: syntax error: unexpected $end, expecting "
                                  "IDENTIFIER or BYTES_CONV or DURATION_CONV or DURATION_SECONDS_CONV"),
        ('rate({a="b"}[5m] | json', "parse error at line 1, col 24: syntax error: unexpected $end, expecting )"),
        ("rate(", "parse error at line 1, col 6: syntax error: unexpected $end, expecting NUMBER or { or ("),
        ('quantile_over_time(foo,{a="b"} | unwrap x [5m])',
         "parse error at line 1, col 20: syntax error: unexpected IDENTIFIER, expecting NUMBER or { or ("),
        ("vector(abc)", "parse error at line 1, col 8: syntax error: unexpected IDENTIFIER, expecting NUMBER"),
        ('count without (rate({a="b"}[15s]))',
         "parse error at line 1, col 16: syntax error: unexpected RATE, expecting IDENTIFIER or )"),
        ('label_replace(rate({ foo = "bar" }[5m]),"")', "parse error at line 1, col 43: syntax error: unexpected ), expecting ,"),
        ('{ foo = "bar" }|logfmt|addr>=ip("1.2.3.4")', "parse error at line 1, col 30: syntax error: unexpected ip"),
        ("bool 1 > 1 > bool 1", "parse error at line 1, col 1: syntax error: unexpected bool"),
        ('stddev({ foo = "bar" })', "parse error at line 1, col 23: syntax error: unexpected )"),
        ('{a="b"}\n| json x=', "parse error at line 2, col 10: syntax error: unexpected $end, expecting STRING"),
        # errors Loki stores in nodes and reports after parsing
        ("{}", "parse error : queries require at least one regexp or equality matcher that does not have an "
               "empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will"),
        ('count_over_time({foo!="bar"}[5m])', "parse error : queries require at least one regexp or equality "
         "matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this "
         "requirement, but app=~\".+\" will"),
        ('{a=~"("}', "parse error : error parsing regexp: missing closing ): `(`"),
        ('sum_over_time({a="b"} | unwrap x [5m]) by (u)', "parse error : grouping not allowed for sum_over_time aggregation"),
        ('absent_over_time({ foo = "bar" }[5h]) by (foo)', "parse error : grouping not allowed for absent_over_time aggregation"),
        ('quantile_over_time(0.9, {a="b"}[5m])', "parse error : invalid aggregation quantile_over_time without unwrap"),
        ('count_over_time({a="b"} | unwrap foo [5m])', "parse error : invalid aggregation count_over_time with unwrap"),
        ('sum_over_time(50,{a="b"} | unwrap x [5m])', "parse error : parameter 50 not supported for operation sum_over_time"),
        ('quantile_over_time({a="b"} | unwrap x [5m])', "parse error : parameter required for operation quantile_over_time"),
        ('sum(3 ,count_over_time({ foo = "bar" }[5h]))', "parse error : unsupported parameter for operation sum(3,"),
        ('topk(count_over_time({ foo = "bar" }[5h]))', "parse error : parameter required for operation topk"),
        ('bottomk(1.2,count_over_time({ foo = "bar" }[5h]))', "parse error : invalid parameter bottomk(1.2,"),
        ('topk(0, rate({a="b"}[5m]))', "parse error : invalid parameter (must be greater than 0) topk(0"),
        ('sort by (a) (rate({a="b"}[5m]))', "parse error : sort and sort_desc doesn't allow grouping by "),
        ('{foo="bar"} + {foo="bar"}',
         "parse error : unexpected type for left leg of binary operation (+): *syntax.MatchersExpr"),
        ('count_over_time({a="b"}[1m]) > {a="b"} | json',
         "parse error : unexpected type for right leg of binary operation (>): *syntax.PipelineExpr"),
        ('sum(count_over_time({foo="bar"}[5m])) by (foo) or 1',
         "parse error : unexpected literal for right leg of logical/set binary operation (or): 1.000000"),
        ('1 unless sum(count_over_time({foo="bar"}[5m])) by (foo)',
         "parse error : unexpected literal for left leg of logical/set binary operation (unless): 1.000000"),
        ('{app="foo"} | logfmt | status_code > 0x10',
         'parse error : unable to parse literal as a float: strconv.ParseFloat: parsing "0x10": invalid syntax'),
        ('label_replace(rate({ foo = "bar" }[5m]),"foo","$1","bar","^^^^x43\\\\q")',
         "parse error : invalid regex in label_replace: error parsing regexp: invalid escape sequence: `\\q`"),
        ('{a="b"} | regexp "(abc)"', "parse error : invalid regexp parser: at least one named capture must be supplied"),
        ('{a="b"} | pattern "<_> foo"', "parse error : invalid pattern parser: at least one capture is required"),
        ('{a="b"} | pattern "<a><b>"',
         "parse error : invalid pattern parser: found consecutive capture '<a><b>': invalid expression"),
        # stage errors, reported when Loki builds the pipeline
        ('{compose_service="ollama"} | json | line_format "{{.foo"',
         "parse error : stage '| line_format \"{{.foo\"' : invalid line template: template: line:1: unclosed action"),
        ('{a="b"} | label_format a="{{.b"',
         "parse error : stage '| label_format a=\"{{.b\"' : invalid template for label 'a': template: label:1: unclosed action"),
        ('{a="b"} | label_format a=b, a=c',
         "parse error : stage '| label_format a=b,a=c' : multiple label name 'a' not allowed in a single format operation"),
        ('{a="b"} |= "x" |~ "(" | json', "parse error : stage '|= \"x\" |~ \"(\"' : error parsing regexp: missing closing ): `(`"),
        ('{a="b"} |~ ip("1.1.1.1")', "parse error : stage '|~ ip(\"1.1.1.1\")' : ip: invalid operation"),
        ('{a="b"} |= ip("nope")', "parse error : stage '|= ip(\"nope\")' : ip: invalid pattern: \"nope\""),
        ('{a="b"} |> "<a> x"', "parse error : stage '|> \"<a> x\"' : named captures are not allowed: found '<a>'"),
    ],
)
def test_invalid_queries_fail_with_lokis_text(query, message):
    with pytest.raises(ParseError) as exc:
        parse(query)
    assert str(exc.value) == message
    assert exc.value.status == 400


@pytest.mark.parametrize("query, message", [
    ('sum(foo_over_time({a="b"}[5m]))', 'parse error at line 1, col 5: syntax error: unexpected IDENTIFIER: '
                                        'LogQL has no function "foo_over_time"'),
    ('rate({a="b"}[1m]) / cont_over_time ({a="b"}[1m])',
     'parse error at line 1, col 21: syntax error: unexpected IDENTIFIER: LogQL has no function "cont_over_time" '
     '(did you mean "count_over_time"?)'),
    ('sum by (x) (\n  rates({a="b"}[1m]))', 'parse error at line 2, col 3: syntax error: unexpected IDENTIFIER: '
                                          'LogQL has no function "rates" (did you mean "rate"?)'),
])
def test_an_unknown_function_is_named(query, message):
    # Loki answers only "unexpected IDENTIFIER"; its prefix and position are kept, the name is added.
    with pytest.raises(ParseError) as err:
        parse(query)
    assert str(err.value) == message


def test_a_tree_error_comes_before_a_later_selector_error():
    # Loki validates a binary operation's own error before its legs
    with pytest.raises(ParseError, match="logical/set binary operation"):
        parse('count_over_time({a!="b"}[5m]) or 1')


def test_overlong_queries_are_refused():
    with pytest.raises(ParseError, match=r"^parse error : input size too long \(131072 > 131072\)$"):
        parse('{a="' + "x" * (131072 - 6) + '"}')


def test_parse_matchers_returns_the_selector():
    assert parse_matchers('{a="b", c=~"d.+"}') == [Matcher("a", "=", "b"), Matcher("c", "=~", "d.+")]


@pytest.mark.parametrize(
    "text, message",
    [('{a="b"} |= "x"', "only label matchers are supported"),
     ('{a=""}', "parse error : queries require at least one regexp or equality matcher that does not have an "
                "empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will"),
     ('{a="b"', "parse error at line 1, col 7: syntax error: unexpected $end, expecting } or ,")],
)
def test_parse_matchers_errors(text, message):
    with pytest.raises(BadRequestError) as exc:
        parse_matchers(text)
    assert str(exc.value) == message


@pytest.mark.parametrize(("text", "matchers"), [("{}", []), ("{ }", []), ('{a=""}', [Matcher("a", "=", "")])])
def test_parse_matchers_without_query_validation_takes_selectors_of_any_stream(text, matchers):
    assert parse_matchers(text, validate_query=False) == matchers


def test_long_chains_parse_without_recursion():
    sums = parse("sum(" + " + ".join(['rate({a="b"}[5m])'] * 1500) + ")")
    assert len(ast.selectors(sums)) == 1500
    (stage,) = parse('{a="b"} | ' + ", ".join(f'x{i}="1"' for i in range(1500))).pipeline
    assert isinstance(stage.filter, ast.LabelAnd)


@pytest.mark.parametrize("query", ["(" * 3000 + "1" + ")" * 3000, "{a=\"b\"} | " + "(" * 3000 + 'x="1"' + ")" * 3000])
def test_absurd_nesting_is_a_parse_error_not_a_crash(query):
    with pytest.raises(ParseError, match="^parse error : expression nests too deeply$"):
        parse(query)


@pytest.mark.parametrize("query, printed", [("2 ^ 2000", "+Inf"), ("-2 ^ 1025", "-Inf"), ("0 / 0", "NaN")])
def test_folded_specials_print_as_go_does(query, printed):
    assert str(parse(query)) == printed

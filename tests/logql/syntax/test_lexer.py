"""The LogQL lexer: Loki's token kinds, string escapes and error positions."""

import pytest

from logyard.errors import ParseError
from logyard.logql.syntax.lexer import tokenize


def kinds(query: str) -> list[str]:
    return [t.kind for t in tokenize(query)][:-1]


@pytest.mark.parametrize(
    "query, expected",
    [
        ('{a="b"}', ["{", "IDENTIFIER", "=", "STRING", "}"]),
        ("rate(", ["RATE", "("]),
        ("rate", ["IDENTIFIER"]),  # a function name is a keyword only when a `(` follows
        ("sum by (a) (", ["SUM", "by", "(", "IDENTIFIER", ")", "("]),
        ("sum bytes(", ["IDENTIFIER", "BYTES_CONV", "("]),
        ("JSON Or BY", ["json", "or", "by"]),  # keywords are case-insensitive
        ("5m 1h30m -5m 1.5h", ["DURATION"] * 4),
        ("150KB 1KiB 10B", ["BYTES"] * 3),
        ("5 1.5 .5 1e3", ["NUMBER"] * 4),
        ("- 5", ["-", "NUMBER"]),
        ("-5", ["-", "NUMBER"]),
        ("--strict --keep-empty", ["FUNCTION_FLAG", "FUNCTION_FLAG"]),
        ("|= != |~ !~ |> !>", ["|=", "!=", "|~", "!~", "|>", "!>"]),
        ("== >= <= > < =", ["==", ">=", "<=", ">", "<", "="]),
        ("[5m]", ["RANGE"]),
        ("ip(", ["ip", "("]),
        ("ip", ["IDENTIFIER"]),
        ("! @", ["IDENTIFIER", "IDENTIFIER"]),  # unknown characters are identifiers to Loki
        ("a # comment\nb", ["IDENTIFIER", "IDENTIFIER"]),
        ("a /* c */ b // d", ["IDENTIFIER", "IDENTIFIER"]),
    ],
)
def test_token_kinds_are_lokis(query, expected):
    assert kinds(query) == expected


@pytest.mark.parametrize(
    "literal, value",
    [
        (r'"\x1b[31mERROR"', "\x1b[31mERROR"),
        (r'"\u00e9\U0001F600"', "é\U0001F600"),
        (r'"\101\t\n\\\""', 'A\t\n\\"'),
        (r'"\xe6\xa8\xa1"', "模"),  # \x escapes are bytes that join into UTF-8, as in Go
        (r'`\"raw\"`', r"\"raw\""),
        ('"模型加载完成"', "模型加载完成"),
    ],
)
def test_strings_unquote_like_go(literal, value):
    (tok, _end) = tokenize(literal)
    assert (tok.kind, tok.value) == ("STRING", value)


@pytest.mark.parametrize(
    "query, value",
    [("[5m]", 300_000_000_000), ("[1h30m]", 5_400_000_000_000), ("5m", 300_000_000_000),
     ("-5m", -300_000_000_000), ("1.5s", 1_500_000_000), ("150KB", 150_000), ("1.5MiB", 1_572_864)],
)
def test_durations_and_bytes_carry_their_value(query, value):
    assert tokenize(query)[0].value == value


@pytest.mark.parametrize(
    "query, line, col",
    [
        ('{a="b"}', 1, 1),
        ('  {a="b"}', 1, 3),
        ('x\n  {a="b"}', 2, 3),
        ("x |= ", 0, 3),  # Loki's scanner invalidates the line of two-character tokens
        ("x [5m]", 0, 3),
        ("x 5m", 0, 3),
        ("x 5", 1, 3),
    ],
)
def test_token_positions_follow_lokis_scanner(query, line, col):
    tok = tokenize(query)[1 if query.startswith("x") else 0]
    assert (tok.line, tok.col) == (line, col)


def test_end_of_input_is_one_past_the_last_character():
    end = tokenize('{a="b"')[-1]
    assert (end.kind, end.line, end.col) == ("$end", 1, 7)


@pytest.mark.parametrize(
    "query, message",
    [
        ('{foo="bar}', "parse error at line 1, col 6: literal not terminated"),
        ('{foo="b\nar"}', "parse error at line 1, col 6: literal not terminated"),
        ('{foo="\\q"}', "parse error at line 1, col 6: invalid char escape"),
        ("{foo=`bar}", "parse error at line 1, col 6: literal not terminated"),
        ('rate({ foo = "bar" }[5)', "parse error at line 0, col 21: missing closing ']' in duration"),
        ('rate({ foo = "bar" }[5minutes])',
         'parse error at line 0, col 21: unknown unit "minutes" in duration "5minutes"'),
        ('rate({ foo = "bar" }[1.5m])', 'parse error at line 0, col 21: unknown unit "." in duration "1.5m"'),
        ('rate({ foo = "bar" }[5m1h])', 'parse error at line 0, col 21: not a valid duration string: "5m1h"'),
    ],
)
def test_lexical_errors_have_lokis_text_and_position(query, message):
    with pytest.raises(ParseError) as exc:
        tokenize(query)
    assert str(exc.value) == message


@pytest.mark.parametrize("number", ["0b01", "0x1A", "0x1p3", "0755", "0.9", ".5", "5.", "1e6", "1_000"])
def test_numbers_scan_like_lokis_scanner(number):
    assert [(t.kind, t.text) for t in tokenize(number)][:-1] == [("NUMBER", number)]


@pytest.mark.parametrize(
    "query, message",
    [
        # Loki's scanner only takes `0b` as a prefix before a binary digit: `0B` is a digitless decimal
        ('{a="b"} | size < 0B', "parse error at line 1, col 18: decimal literal has no digits"),
        ("09", "parse error at line 1, col 1: invalid digit '9' in octal literal"),
        ("0x", "parse error at line 1, col 1: hexadecimal literal has no digits"),
        ("1e", "parse error at line 1, col 1: exponent has no digits"),
        ("0x1.8", "parse error at line 1, col 1: hexadecimal mantissa requires a 'p' exponent"),
        ("1__0", "parse error at line 1, col 1: '_' must separate successive digits"),
    ],
)
def test_malformed_numbers_fail_like_lokis_scanner(query, message):
    with pytest.raises(ParseError) as exc:
        tokenize(query)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    "query, message",
    [('"\\x', "parse error at line 1, col 1: invalid char escape"),  # Go reports the escape first
     ("'ab'", "parse error at line 1, col 1: invalid char literal")],
)
def test_escape_and_char_errors_are_gos(query, message):
    with pytest.raises(ParseError) as exc:
        tokenize(query)
    assert str(exc.value) == message

"""Stage-argument checks with Loki's (and Go's) wording: regexes, regexp/pattern parsers, patterns."""

import pytest

from logyard.logql.syntax.validate import (
    go_regexp_error,
    pattern_filter_error,
    pattern_parser_error,
    regexp_parser_error,
)


@pytest.mark.parametrize(
    "pattern, message",
    [
        ("(", "error parsing regexp: missing closing ): `(`"),
        ("a)", "error parsing regexp: unexpected ): `a)`"),
        ("[a", "error parsing regexp: missing closing ]: `[a`"),
        ("a**", "error parsing regexp: invalid nested repetition operator: `**`"),
        ("\\q", "error parsing regexp: invalid escape sequence: `\\q`"),
        ("x{2,1}", "error parsing regexp: invalid repeat count: `{2,1}`"),
        ("*", "error parsing regexp: missing argument to repetition operator: `*`"),
        ("\\", "error parsing regexp: trailing backslash at end of expression: ``"),
        ("(?z)", "error parsing regexp: invalid or unsupported Perl syntax: `(?z`"),
        ("[z-a]", "error parsing regexp: invalid character class range: `z-a`"),
        ("a.*b", None),
    ],
)
def test_regex_errors_are_worded_like_go(pattern, message):
    assert go_regexp_error(pattern) == message


@pytest.mark.parametrize(
    "pattern, message",
    [
        ("(?P<a>x)", None),
        ("(x)", "at least one named capture must be supplied"),
        ("(?P<a>x)(?P<a>y)", "duplicate extracted label name 'a'"),
    ],
)
def test_regexp_parser_needs_unique_named_captures(pattern, message):
    assert regexp_parser_error(pattern) == message


@pytest.mark.parametrize(
    "pattern, message",
    [
        ("<ip> - <_>", None),
        ("<_> x", "at least one capture is required"),
        ("<a><_>", "found consecutive capture '<a><_>': invalid expression"),
        ("<a> <a>", "duplicate capture name (a): invalid expression"),
    ],
)
def test_pattern_parser_checks(pattern, message):
    assert pattern_parser_error(pattern) == message


@pytest.mark.parametrize(
    "pattern, message",
    [
        ("<_> 200 <_>", None),
        ("", None),
        ("<_><_>", "found consecutive capture '<_><_>': invalid expression"),
        ("<a> x", "named captures are not allowed: found '<a>'"),
    ],
)
def test_line_filter_patterns_allow_only_unnamed_captures(pattern, message):
    assert pattern_filter_error(pattern) == message

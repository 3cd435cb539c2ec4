"""format_query's layout: Loki's Prettify over logyard's canonical LogQL."""

from __future__ import annotations

import pytest

from logyard.logql.pretty import prettify
from logyard.logql.syntax.parser import parse

LONG = ('sum by (container) (count_over_time({compose_service="nginx"} |= "GET" != "health" | logfmt '
        '| status >= 500 | line_format "{{.path}} {{.status}}" [5m]))')


def test_a_short_query_stays_on_one_line():
    assert prettify(parse('{a="b"} |= "x" | logfmt')) == '{a="b"} |= "x" | logfmt'


def test_a_long_query_puts_arguments_and_stages_on_lines_of_their_own():
    assert prettify(parse(LONG)) == "\n".join([
        "sum by (container)(",
        "  count_over_time(",
        '    {compose_service="nginx"}',
        '      |= "GET" != "health"',
        "      | logfmt",
        "      | status>=500",
        '      | line_format "{{.path}} {{.status}}" [5m]',
        "  )",
        ")",
    ])


@pytest.mark.parametrize("query", [LONG, f"{LONG} / {LONG}", f'label_replace({LONG}, "a", "$1", "b", "(.*)")'])
def test_a_prettified_query_parses_back_to_the_same_query(query):
    assert parse(prettify(parse(query))) == parse(query)

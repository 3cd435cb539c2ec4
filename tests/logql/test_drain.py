"""Drain clustering: Loki's tokenizers and tree, and the merge of clusters of one shape."""

from __future__ import annotations

import re

import pytest

from logyard.logql.drain import (
    Drain,
    dedup_params,
    detect_format,
    json_message,
    logfmt_tokens,
    merge_clusters,
    punctuation_tokens,
)


@pytest.mark.parametrize(("line", "fmt"), [
    ('{"level":"info","msg":"x"}', "json"),
    ("level=info msg=hello ts=1", "logfmt"),
    ('level=info msg="hello world"', "logfmt"),
    ("GET /index.html 200", "unknown"),
    ("x", "unknown"),
])
def test_format_is_guessed_from_a_line_as_loki_does(line, fmt):
    assert detect_format(line) == fmt


def test_punctuation_tokens_split_at_spaces_and_punctuation_keeping_url_characters():
    tokens, spaces = punctuation_tokens('10.0.0.1 - [01/Jan/2026:00:00:01 +0000] "GET /a HTTP/1.1" 200')
    assert tokens == ["10.0.0.1", "-", "[", "01/Jan/2026:00:00:01", "+0000", "]", '"', "GET", "/a", "HTTP/1.1",
                      '"', "200"]
    assert spaces == [0, 1, 3, 5, 7, 8, 10]


def test_a_quoted_text_of_many_words_is_one_token():
    tokens, _ = punctuation_tokens('a "Mozilla/5.0 (X11; Linux x86_64) Chrome/120" b')
    assert tokens == ["a", '"', "Mozilla/5.0 (X11; Linux x86_64) Chrome/120", '"', "b"]


def test_logfmt_tokens_make_time_values_variable():
    assert logfmt_tokens('ts=2026-01-01 level=info msg="a b" t=5') == [
        "ts", "<_>", "level", "info", "msg", "a b", "t", "<_>"]


def test_json_lines_are_clustered_on_their_message():
    assert json_message('{"level":"info","msg":"user logged in now"}') == "user logged in now"
    assert json_message('{"level":"info"}') is None


def test_runs_of_placeholders_become_one():
    assert dedup_params("a <_><_><_> b <_>") == "a <_> b <_>"


def test_lines_differing_in_variable_tokens_share_a_cluster():
    d = Drain()
    a = d.train("user 17 logged in from 10.0.0.1")
    b = d.train("user 42 logged in from 10.0.0.9")
    assert a is b and a.size == 2
    assert a.pattern == "user <_> logged in from <_>"


def test_lines_of_too_few_tokens_join_no_cluster():
    assert Drain().train("a b c") is None


def test_a_cluster_expression_matches_its_lines():
    d = Drain()
    lines = ["user 17 logged in from 10.0.0.1", "user 42 logged in from 10.0.0.9"]
    c = [d.train(line) for line in lines][0]
    assert all(re.fullmatch(c.regex().removeprefix("(?s)"), line) for line in lines)


def test_logfmt_clusters_print_as_logfmt():
    d = Drain("logfmt")
    d.train('ts=1 level=info msg="request done" status=200 path=/a')
    c = d.train('ts=2 level=info msg="request done" status=500 path=/a')
    assert c.pattern == 'ts=<_> level=info msg="request done" status=<_> path=/a'


def test_clusters_of_one_shape_merge_but_logfmt_messages_stay_apart():
    d = Drain()
    for method in ("GET", "POST", "PUT"):
        d.train(f'1.2.3.4 - - [t] "{method} /x HTTP/1.1" 200 5 "-" "curl" rt=0.1')
    merged = merge_clusters(list(d.clusters.values()))
    assert len({id(c) for c in merged.values()}) == 1
    lf = Drain("logfmt")
    lf.train('level=info msg="started" component=a duration=1s')
    lf.train('level=info msg="stopped" component=a duration=1s')
    assert len({id(c) for c in merge_clusters(list(lf.clusters.values())).values()}) == 2

"""Line filters against Loki's answers (lf-* cases) and against Loki's documented quirks."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from logyard.errors import BadRequestError
from logyard.logql.stages.line_filter import LineFilter, filters_mask

from . import corpus

END = 1767232800000000000

# case id -> (selector equality matchers, [(op, values, ips)])
CASES = {
    "lf-anchored": ({"compose_service": "ollama"}, [("|~", [r"^\[GIN\] .* \| 500 \|"], None)]),
    "lf-ansi-escape": ({"compose_service": "open-webui"}, [("|=", ["\x1b[31mERROR"], None)]),
    "lf-backtick-escape": ({"compose_service": "loki"}, [("|=", ['\\"entry too far behind\\"'], None)]),
    "lf-chain": ({"compose_project": "aixcl"},
                 [("|=", ["error"], None), ("!=", ["timeout"], None), ("|~", ["(?i)ollama"], None)]),
    "lf-contains": ({"compose_service": "postgres"}, [("|=", ["ERROR"], None)]),
    "lf-ip": ({"compose_service": "nginx", "stream": "stdout"}, [("|=", ["10.0.0.0/8"], [True])]),
    "lf-not-contains": ({"compose_service": "postgres", "stream": "stdout"}, [("!=", ["duration"], None)]),
    "lf-not-pattern": ({"compose_service": "pgadmin"}, [("!>", ["<_> 200 <_>"], None)]),
    "lf-not-regex": ({"job": "varlogs"}, [("!~", ["sshd|CRON|kernel"], None)]),
    "lf-or": ({"compose_service": "grafana"}, [("|=", ["status=500", "status=401"], None)]),
    "lf-pattern": ({"compose_service": "nginx", "stream": "stderr"},
                   [("|>", ["<_> [error] <_> upstream timed out <_>"], None)]),
    "lf-regex-status": ({"compose_service": "nginx", "stream": "stdout"}, [("|~", [r'" 5\d\d '], None)]),
    "lf-unicode": ({"job": "varlogs"}, [("|=", ["模型加载完成"], None)]),
}


def _kept(matchers, filters, start):
    rows = corpus.select(matchers, start, END)
    lines = pa.array([r[2] for r in rows], pa.large_string())
    mask = filters_mask(lines, [LineFilter(op, values, ips) for op, values, ips in filters])
    return Counter((r[1], r[2]) for r, keep in zip(rows, mask) if keep)


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_line_filter_keeps_what_loki_keeps(case_id):
    matchers, filters = CASES[case_id]
    ans = corpus.answer(case_id)
    assert ans, "case has no answer entries"
    oldest = min(ts for _, ts, _ in ans)
    expected = Counter((ts, line) for _, ts, line in ans if ts > oldest)
    got = _kept(matchers, filters, oldest + 1)
    assert got == expected


@pytest.mark.parametrize(
    "op, values, lines, expected",
    [
        ("|=", [""], ["", "a", "b\nc"], [True, True, True]),  # Loki: |= "" keeps everything
        ("!=", [""], ["", "a"], [False, False]),  # and != "" keeps nothing
        ("|~", [""], ["x"], [True]),
        ("|~", [".+"], ["", "x"], [False, True]),
        ("|=", ["", "foo"], ["foo", "bar"], [True, False]),  # always-true alternative vanishes
        ("|~", ["(notfound|)"], ["notfound here", "bar"], [True, False]),  # grafana/loki#19523
        ("|~", ["(|)"], ["x"], [True]),
        ("!~", ["foo|"], ["foo", "bar"], [False, True]),
        ("|~", ["a|b|"], ["a", "c"], [True, True]),  # Go makes a class of a|b: plain regex
        ("!=", ["a", "b"], ["a", "b", "c"], [False, False, True]),  # != "a" or "b": neither
        ("|~", ["(?i)error"], ["ERROR x", "Error", "err"], [True, True, False]),
        ("|~", ["a.b"], ["a\nb", "axb"], [False, True]),  # dot does not match newline
        ("|=", ["é"], ["café", "cafe"], [True, False]),
        ("|>", [""], ["", "x"], [True, False]),  # an empty pattern matches only empty lines
        ("|>", ["<_> bar"], ["foo bar baz", "foo bar"], [False, True]),
        ("|>", ["<_> bar <_>"], [" bar ", "x bar y"], [False, True]),  # no empty captures
        ("|>", ["foo <_>"], ["foo bar", "xx foo bar"], [True, True]),  # leading literal is searched
        ("!>", ["<_> 200 <_>"], ["GET 200 ok", "GET 404 no"], [False, True]),
    ],
)
def test_line_filter_quirks(op, values, lines, expected):
    f = LineFilter(op, values)
    assert f.mask(pa.array(lines)).tolist() == expected
    assert [f.test(x) for x in lines] == expected


@pytest.mark.parametrize(
    "pattern, line, expected",
    [
        ("10.0.0.0/8", "client 10.1.2.3 ok", True),
        ("10.0.0.0/8", "client 11.1.2.3 ok", False),
        ("192.168.0.1-192.168.0.9", "from 192.168.0.5:80", True),
        ("192.168.0.1-192.168.0.9", "from 192.168.0.10", False),
        ("2001:db8::/32", "ip=2001:db8::1 x", True),
        ("::1", "addr ::1", True),
        ("10.0.0.1", "v 10.0.0.1", True),
        ("10.0.0.0/8", "version 10.0 only", False),
        ("2001:db8::/32", "v 2001:0db8:0000:0000:0000:0000:0000:0001 x", True),
        ("10.0.0.0/8", "mapped ::ffff:10.0.0.1", False),  # netip: IPv4-in-IPv6 is not in an IPv4 prefix
        ("10.0.0.0/8", "abcd:10.1.2.3", False),  # Loki quirk: the IPv6 candidate swallows the IPv4
        ("10.0.0.0/8", "at 00:00:59 from 10.9.9.9", True),
    ],
)
def test_ip_line_filter(pattern, line, expected):
    f = LineFilter("|=", [pattern], [True])
    assert f.mask(pa.array([line])).tolist() == [expected]
    assert LineFilter("!=", [pattern], [True]).mask(pa.array([line])).tolist() == [not expected]


@pytest.mark.parametrize(
    "op, value, ip, message",
    [
        ("|~", "(", False, "error parsing regexp: missing closing ): `(`"),
        ("|~", "10.0.0.0/8", True, "ip: invalid operation"),
        ("|=", "nope", True, 'ip: invalid pattern: "nope"'),
        ("|>", "<a> x", False, "named captures are not allowed: found '<a>'"),
        ("|>", "<_><_>", False, "found consecutive capture '<_><_>': invalid expression"),
    ],
)
def test_line_filter_errors_are_worded_as_loki(op, value, ip, message):
    with pytest.raises(BadRequestError) as exc:
        LineFilter(op, [value], [ip])
    assert str(exc.value) == message


def test_filters_mask_accepts_chunked_string_view_and_empty_input():
    view = pa.array(["a error", "b"], pa.string_view())
    assert filters_mask(view, [LineFilter("|~", ["err.r"]), LineFilter("|>", ["<_> error"])]).tolist() == [True, False]
    chunked = pa.chunked_array([pa.array(["a error", "b"]), pa.array(["error c"])])
    assert filters_mask(chunked, [LineFilter("|=", ["error"])]).tolist() == [True, False, True]
    assert filters_mask(pa.array([], pa.string()), [LineFilter("|=", ["x"])]).dtype == np.bool_

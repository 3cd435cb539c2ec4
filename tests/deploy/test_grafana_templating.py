"""The model of Grafana's variable filling that the dashboard's query tests rely on, pinned on cases
worked out by hand from Grafana's rules (see grafana_templating.py)."""

from __future__ import annotations

import pytest

from tests.deploy.grafana_templating import TimeRange, format_interval, interpolate, loki_regex_escape

MULTI = {"name": "service", "multi": True, "includeAll": True, "allValue": ".+"}
TEXT = {"name": "search", "type": "textbox"}
TWO_HOURS = TimeRange(0, 7_200_000, max_data_points=1000)


@pytest.mark.parametrize(("ms", "text"), [(5000, "5s"), (90_000, "1m"), (7_200_000, "2h"), (1, "1ms"),
                                          (86_400_000 * 3, "3d")])
def test_intervals_print_in_their_largest_unit(ms, text):
    assert format_interval(ms) == text


def test_a_two_hour_range_on_a_1000_pixel_panel_steps_5s():
    assert (TWO_HOURS.interval_ms, TWO_HOURS.step_ms) == (5000, 5000)
    assert TimeRange(0, 30 * 86_400_000, 1000).step_ms == 1_800_000  # 43.2 min rounds to 30m


def test_the_auto_step_never_exceeds_11000_points():
    tiny = TimeRange(0, 86_400_000, max_data_points=100_000)
    assert tiny.step_ms == 7855  # ceil(86400000 / 11000); the rounded interval would be 1s


@pytest.mark.parametrize(("selected", "text"), [
    (["$__all"], ".+"), (["ollama"], "ollama"), (["a.b", "c|d"], r"a\\.b|c\\|d"),
])
def test_multi_values_are_regex_escaped_and_joined(selected, text):
    assert interpolate("$service", [MULTI], {"service": selected}, TWO_HOURS, "range") == text


def test_a_backslash_is_doubled_twice():
    assert loki_regex_escape("a\\b") == "a\\\\\\\\b"


@pytest.mark.parametrize(("query_type", "expr", "sent"), [
    ("range", "rate({a=\"$search\"}[$__auto])", 'rate({a="x.y"}[5s])'),
    ("instant", "sum(bytes_over_time({a=\"1\"}[$__auto]))", 'sum(bytes_over_time({a="1"}[7200s]))'),
    ("range", "count_over_time({a=\"1\"}[$__range]) / $__interval_ms", 'count_over_time({a="1"}[7200s]) / 5000'),
    ("range", "rate({a=\"1\"}[${__interval}])", 'rate({a="1"}[5s])'),
])
def test_builtins_are_filled_as_the_backend_fills_them(query_type, expr, sent):
    assert interpolate(expr, [TEXT], {"search": "x.y"}, TWO_HOURS, query_type) == sent


def test_rate_interval_is_not_a_loki_variable():
    with pytest.raises(AssertionError, match="__rate_interval"):
        interpolate("rate({a=\"1\"}[$__rate_interval])", [], {}, TWO_HOURS, "range")

"""Durations and byte sizes in Loki's three dialects (Prometheus, Go, go-humanize)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logyard.gocompat.durations import format_duration, format_prom_duration
from logyard.gocompat.humanize import parse_bytes
from logyard.logql.syntax.ast import format_bytes
from logyard.logql.syntax.lexer import parse_duration
from logyard.units import parse_go_duration, parse_prom_duration, parse_seconds_or_duration

S = 1_000_000_000


@pytest.mark.parametrize(
    "text, ns",
    [("5m", 300 * S), ("1h30m", 5400 * S), ("500ms", S // 2), ("1d", 86400 * S), ("1w", 7 * 86400 * S),
     ("1y", 365 * 86400 * S), ("0", 0), ("1y2w3d4h5m6s7ms", ((((365 + 14 + 3) * 24 + 4) * 60 + 5) * 60 + 6) * S + 7_000_000)],
)
def test_prometheus_durations(text, ns):
    assert parse_prom_duration(text) == ns


@pytest.mark.parametrize(
    "text, message",
    [("", "empty duration string"), ("5minutes", 'unknown unit "minutes" in duration "5minutes"'),
     ("1m1h", 'not a valid duration string: "1m1h"'), ("m", 'not a valid duration string: "m"'),
     ("5", 'not a valid duration string: "5"'), ("-5m", 'not a valid duration string: "-5m"')],
)
def test_prometheus_duration_errors(text, message):
    with pytest.raises(ValueError) as exc:
        parse_prom_duration(text)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    "text, ns",
    [("1.5h", 5400 * S), ("-5m", -300 * S), ("300us", 300_000), ("1µs", 1000), ("2h45m30.5s", 9930 * S + S // 2),
     ("+1s", S), ("0", 0), ("1.000000001s", S + 1)],
)
def test_go_durations(text, ns):
    assert parse_go_duration(text) == ns


@pytest.mark.parametrize(
    "text, message",
    [("1", 'time: missing unit in duration "1"'), ("1d", 'time: unknown unit "d" in duration "1d"'),
     ("", 'time: invalid duration ""'), (".s", 'time: invalid duration ".s"')],
)
def test_go_duration_errors(text, message):
    with pytest.raises(ValueError) as exc:
        parse_go_duration(text)
    assert str(exc.value) == message


def test_loki_durations_try_prometheus_then_go():
    assert parse_duration("1d") == 86400 * S  # Prometheus only
    assert parse_duration("1.5s") == 3 * S // 2  # Go only


@pytest.mark.parametrize(
    "ns, text", [(0, "0s"), (50_000_000, "50ms"), (1500, "1.5µs"), (5400 * S, "1h30m0s"), (-S // 2, "-500ms"),
                 (90 * S, "1m30s"), (S + 1, "1.000000001s")],
)
def test_format_duration_is_gos(ns, text):
    assert format_duration(ns) == text


@given(st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1))
def test_go_durations_print_and_parse_back(ns):
    assert parse_go_duration(format_duration(ns)) == ns


@given(st.integers(min_value=0, max_value=10**12).map(lambda ms: ms * 1_000_000))
def test_prometheus_durations_print_and_parse_back(ns):
    assert parse_prom_duration(format_prom_duration(ns)) == ns


@pytest.mark.parametrize("ns, text", [
    (721 * 3600 * S, "30d1h"), (90 * 86400 * S, "90d"), (14 * 86400 * S, "2w"), (365 * 86400 * S, "1y"),
    (366 * 86400 * S, "366d"), (5400 * S, "1h30m"), (S // 2, "500ms"), (0, "0s"),
])
def test_format_prom_duration_is_prometheus_model_duration(ns, text):
    # Years and weeks only when they divide what is left (Prometheus' "90d, not 12w6d").
    assert format_prom_duration(ns) == text


@pytest.mark.parametrize(
    "text, n",
    [("150KB", 150_000), ("1KiB", 1024), ("1.5MiB", 1_572_864), ("10B", 10), ("1kb", 1000), ("2G", 2 * 10**9),
     ("1,000B", 1000), ("5", 5), ("1 MB", 10**6)],
)
def test_bytes_follow_go_humanize(text, n):
    assert parse_bytes(text) == n


@pytest.mark.parametrize("text", ["1ZB", "KB", "1.2.3B"])
def test_bad_bytes_are_refused(text):
    with pytest.raises(ValueError):
        parse_bytes(text)


@given(st.integers(min_value=0, max_value=2**53))
def test_bytes_print_and_parse_back(n):
    assert parse_bytes(format_bytes(n)) == n


@pytest.mark.parametrize("text, ns", [("15", 15 * S), ("0.5", S // 2), ("1m", 60 * S), ("1h30m", 5400 * S)])
def test_step_is_seconds_or_a_duration(text, ns):
    assert parse_seconds_or_duration(text) == ns


@pytest.mark.parametrize("text", ["abc", "NaN", "1.5m"])
def test_bad_steps_are_refused_with_lokis_text(text):
    with pytest.raises(ValueError, match=f'^cannot parse "{text}" to a valid duration$'):
        parse_seconds_or_duration(text)


@pytest.mark.parametrize("text", ["Inf", "-Inf", "1e300", "-1e300", "1e10", "9223372036.854775808"])
def test_steps_beyond_int64_nanoseconds_are_refused_with_lokis_text(text):
    # Loki's parseSecondsOrDuration: ParseFloat takes "Inf", then the int64 check refuses it.
    with pytest.raises(ValueError, match=f'^cannot parse "{text}" to a valid duration. It overflows int64$'):
        parse_seconds_or_duration(text)

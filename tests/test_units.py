"""logyard.units: the config duration and size grammar, with Loki's quirks pinned by name.

The Prometheus and Go dialects it also holds are pinned in tests/gocompat/test_durations.py."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logyard.units import (
    DAY,
    HOUR,
    MINUTE,
    MS,
    SECOND,
    US,
    WEEK,
    YEAR,
    parse_duration_ns,
    parse_go_duration,
    parse_prom_duration,
    parse_size,
)

KiB = 1024


@pytest.mark.parametrize("text, ns", [
    ("168h", 168 * HOUR), ("5m", 5 * MINUTE), ("1h30m", 90 * MINUTE), ("500ms", 500 * MS), ("30s", 30 * SECOND),
    ("1d", DAY), ("1w", WEEK), ("1y", YEAR), ("2w3d", 17 * DAY),  # Prometheus' units
    ("1.5h", 90 * MINUTE), ("300us", 300 * US), ("300µs", 300 * US), ("1m1h", 61 * MINUTE),  # Go's syntax
    ("1.5d", 36 * HOUR), ("0.5w", 84 * HOUR),  # both at once
    ("0", 0), (0, 0), ("0s", 0), (" 10m ", 10 * MINUTE),
])
def test_config_durations(text, ns):
    assert parse_duration_ns(text) == ns


@pytest.mark.parametrize("value, message", [
    # Loki reads "90" and 90 alike as the text 90: model.Duration says `not a valid duration string`,
    # a time.Duration under yaml.v3 refuses the int; Promtail on yaml.v2 took 90 as 90 ns.
    ("90", 'invalid duration "90": missing unit'),
    (90, 'invalid duration "90": missing unit'),
    (1.5, 'invalid duration "1.5": missing unit'),
    ("forever", 'invalid duration "forever": not a duration'),
    ("5x", 'invalid duration "5x": unknown unit "x"'),
    ("5m3", 'invalid duration "5m3": missing unit'),
    ("-5m", 'invalid duration "-5m": a config duration has no sign'),
    ("", 'invalid duration "": not a duration'),
    ("9999999999999h", 'invalid duration "9999999999999h": out of range'),
    (True, "invalid duration True"),
    (None, "invalid duration None"),
])
def test_config_duration_mistakes(value, message):
    with pytest.raises(ValueError) as err:
        parse_duration_ns(value)
    assert str(err.value).startswith(message)


def _or_error(parse, text):
    try:
        return parse(text)
    except ValueError:
        return "error"


@given(st.integers(0, 10_000), st.sampled_from(["y", "w", "d", "h", "m", "s", "ms"]))
def test_every_prometheus_duration_means_the_same_in_configs(n, unit):
    text = f"{n}{unit}"  # 293y and more are out of range in both
    assert _or_error(parse_duration_ns, text) == _or_error(parse_prom_duration, text)


@given(st.integers(0, 10**6), st.integers(0, 999), st.sampled_from(["ns", "us", "ms", "s", "m", "h"]))
def test_every_unsigned_go_duration_means_the_same_in_configs(whole, frac, unit):
    text = f"{whole}.{frac:03d}{unit}"
    assert parse_duration_ns(text) == parse_go_duration(text)


@pytest.mark.parametrize("text, size", [
    (262144, 262144), ("262144", 262144), ("0", 0), ("17B", 17),
    ("256KB", 256 * KiB),  # Loki's flagext.ByteSize quirk: KB is 1024 bytes, as KiB
    ("256KiB", 256 * KiB), ("256K", 256 * KiB), ("256kb", 256 * KiB), ("256 KB", 256 * KiB),
    ("1MB", KiB**2), ("1MiB", KiB**2), ("1Mb", KiB**2),  # Loki uppercases before parsing: Mb is MB
    ("2GB", 2 * KiB**3), ("1TiB", KiB**4), ("1PB", KiB**5), ("1EiB", KiB**6),
    ("1.5MiB", 3 * KiB**2 // 2),  # a fraction: logyard's, Loki refuses it
    ("0.3KB", 307),  # a fraction of a byte is cut
    ("10 kilobytes", 10 * KiB), ("1byte", 1),  # datasize's words
])
def test_config_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("value", ["huge", "-1", -1, "1e3", "1.5.2MB", "MB", "1 MB B", "1ZB", True, None, ""])
def test_config_size_mistakes(value):
    with pytest.raises(ValueError, match="invalid size"):
        parse_size(value)


@given(st.integers(0, 2**40), st.sampled_from(["", "B", "K", "KB", "KiB", "M", "MB", "MiB", "G", "GB", "GiB"]))
def test_sizes_scale_by_1024_per_prefix(n, unit):
    power = "BKMG".index(unit[0]) if unit else 0
    assert parse_size(f"{n}{unit}") == n * KiB**power

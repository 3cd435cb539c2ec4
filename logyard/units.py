"""Durations and byte sizes: the one parser for both configs, the HTTP API's durations and LogQL's
duration literals. Values come back as integer nanoseconds and integer bytes.

Loki spells durations in three dialects and this module has one function per dialect:

- `parse_prom_duration`: Prometheus' `model.Duration` (`5m`, `1h30m`, `1d`, `1w`, `1y`): whole numbers,
  units y w d h m s ms, biggest first, each once; `0` alone needs no unit. Loki's limits
  (`retention_period`, `reject_old_samples_max_age`, `creation_grace_period`), LogQL ranges `[5m]`.
- `parse_go_duration`: Go's `time.ParseDuration` (`1.5h`, `-5m`, `300us`): signed, fractional, units
  ns us µs ms s m h in any order. Loki's other config durations, LogQL's `offset` and label filters.
- `parse_seconds_or_duration`: the HTTP `step`/`interval`/`since`: float seconds or Prometheus.

`parse_duration_ns` is the config grammar, one for the server and the agent: Go's syntax plus
Prometheus' d, w and y, no sign. Every value that either of Loki's YAML duration types takes is
taken (`168h`, `1w`, `1h30m`, `1.5h`, `500ms`, `0`). A bare number other than 0 is refused, as Loki
refuses it, whatever the quirk that gets it there:
- a `model.Duration` reads the YAML scalar as a string, so `90` and `"90"` both fail with
  `not a valid duration string: "90"`; only `0` is special-cased;
- a Go `time.Duration` field read by yaml.v3 (Loki's loader) refuses integers ("this used to work in
  v2, but it's very unfriendly"): `90` is an error and `"90"` fails `time.ParseDuration` (missing unit);
- Promtail, when it loaded YAML with yaml.v2, read `batchwait: 90` as 90 *nanoseconds*: silently
  useless, which is the reason logyard names the unit it wants instead of guessing seconds.

`parse_size` is the config size grammar, Loki's `flagext.ByteSize` (c2h5oh/datasize) widened:
- KB, MB, GB, TB, PB, EB are powers of 1024, the same as KiB..EiB and K..E (Loki's quirk: `256KB`
  is 262144 bytes, not 256000; datasize reads every unit as binary). Case does not matter;
- a number alone is bytes (YAML `262144` and `"262144"` alike);
- logyard also takes a fraction (`1.5MiB` = 1572864), which Loki refuses; a fraction of a byte is cut.
LogQL's byte literals (`| size > 150KB`) are go-humanize's, where KB is 1000: that grammar stays in
`logyard.gocompat.humanize.parse_bytes`.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

NS = 1
US = 1_000
MS = 1_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY
YEAR = 365 * DAY  # Prometheus: a year is always 365 days, a day always 24 h

MAX_NS = (1 << 63) - 1  # Go's time.Duration is an int64 of nanoseconds

# Prometheus units with their order: each unit must be smaller than the one before it.
_PROM_UNITS = {"y": (1, YEAR), "w": (2, WEEK), "d": (3, DAY), "h": (4, HOUR), "m": (5, MINUTE),
               "s": (6, SECOND), "ms": (7, MS)}
_GO_UNITS = {"ns": NS, "us": US, "µs": US, "μs": US, "ms": MS, "s": SECOND, "m": MINUTE, "h": HOUR}
_CONFIG_UNITS = {**_GO_UNITS, "d": DAY, "w": WEEK, "y": YEAR}

_KIB = 1024
# datasize's table (Loki's flagext.ByteSize uppercases first): every prefix is binary.
_SIZE_UNITS = {
    "": 1, "b": 1, "byte": 1, "bytes": 1,
    **{spelling: _KIB ** power
       for power, (letter, word) in enumerate((("k", "kilo"), ("m", "mega"), ("g", "giga"), ("t", "tera"),
                                                ("p", "peta"), ("e", "exa")), start=1)
       for spelling in (letter, letter + "b", letter + "ib", word, word + "byte", word + "bytes")},
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*")


def parse_prom_duration(text: str) -> int:
    """Parse a Prometheus duration into ns; ValueError carries Prometheus' own wording."""
    if text == "0":  # Prometheus allows a bare 0
        return 0
    if text == "":
        raise ValueError("empty duration string")
    s = text
    total = 0
    last_pos = 0
    while s:
        if not ("0" <= s[0] <= "9"):
            raise ValueError(f"not a valid duration string: {_go_quote(text)}")
        i = 0
        while i < len(s) and "0" <= s[i] <= "9":
            i += 1
        value = int(s[:i])
        if value > 0xFFFF_FFFF_FFFF_FFFF:
            raise ValueError(f"not a valid duration string: {_go_quote(text)}")
        s = s[i:]
        i = 0
        while i < len(s) and not ("0" <= s[i] <= "9"):
            i += 1
        if i == 0:
            raise ValueError(f"not a valid duration string: {_go_quote(text)}")
        unit, s = s[:i], s[i:]
        if unit not in _PROM_UNITS:
            raise ValueError(f"unknown unit {_go_quote(unit)} in duration {_go_quote(text)}")
        pos, mult = _PROM_UNITS[unit]
        if pos <= last_pos:
            raise ValueError(f"not a valid duration string: {_go_quote(text)}")
        last_pos = pos
        if value > (1 << 63) // mult:
            raise ValueError("duration out of range")
        total += value * mult
        if total > MAX_NS:
            raise ValueError("duration out of range")
    return total


def parse_go_duration(text: str) -> int:
    """Parse a Go `time.ParseDuration` string (signed, fractional, ns..h) into ns, with Go's errors."""
    return _parse_go_syntax(text, _GO_UNITS)


def _parse_go_syntax(text: str, units: dict[str, int]) -> int:
    orig = text
    s = text
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if s == "":
        raise ValueError(f"time: invalid duration {_go_quote(orig)}")
    exact = 0
    while s:
        m = re.match(r"([0-9]*)(\.([0-9]*))?", s)
        assert m is not None
        int_part, frac_part = m.group(1), m.group(3)
        if not int_part and not frac_part:
            raise ValueError(f"time: invalid duration {_go_quote(orig)}")
        s = s[m.end():]
        j = 0
        while j < len(s) and s[j] != "." and not ("0" <= s[j] <= "9"):
            j += 1
        if j == 0:
            raise ValueError(f"time: missing unit in duration {_go_quote(orig)}")
        unit, s = s[:j], s[j:]
        if unit not in units:
            raise ValueError(f"time: unknown unit {_go_quote(unit)} in duration {_go_quote(orig)}")
        mult = units[unit]
        exact += int(int_part or "0") * mult
        if frac_part:
            # Go scales the fraction exactly and truncates toward zero.
            exact += int(frac_part) * mult // (10 ** len(frac_part))
        if exact > MAX_NS + (1 if neg else 0):
            raise ValueError(f"time: invalid duration {_go_quote(orig)}")
    return -exact if neg else exact


def parse_seconds_or_duration(text: str) -> int:
    """The HTTP `step`/`interval` parameter: float seconds (`15`, `0.5`) or a Prometheus duration (`1m`)."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isnan(seconds):
            raise ValueError(f'cannot parse "{text}" to a valid duration')
        ns = seconds * SECOND
        if not -MAX_NS - 1 <= ns <= MAX_NS:  # Loki's own check and text (loghttp.parseSecondsOrDuration)
            raise ValueError(f'cannot parse "{text}" to a valid duration. It overflows int64')
        return round(ns)
    try:
        return parse_prom_duration(text)
    except ValueError:
        raise ValueError(f'cannot parse "{text}" to a valid duration') from None


def parse_duration_ns(value: str | int | float) -> int:
    """A config duration in ns: Go's syntax with Prometheus' d, w, y (`168h`, `1w`, `1h30m`, `1.5h`,
    `500ms`) or `0`. A YAML number is read as its text, as Loki reads it: `0` passes, `90` asks for a unit."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"invalid duration {value!r}; {_DURATION_HINT}")
    text = value.strip() if isinstance(value, str) else str(value)
    quoted = _go_quote(text)
    if text.startswith(("-", "+")):
        raise ValueError(f"invalid duration {quoted}: a config duration has no sign")
    if text not in ("", "0") and _BARE_NUMBER.fullmatch(text):
        raise ValueError(f"invalid duration {quoted}: missing unit (as in Loki, only 0 goes without one: "
                         f"{text} seconds is {text}s)")
    try:
        return _parse_go_syntax(text, _CONFIG_UNITS)
    except ValueError as exc:
        reason = str(exc).removeprefix("time: ").split(" in duration")[0]
        if reason.startswith("invalid duration"):  # Go says only that, for overflow too
            reason = "out of range" if _WELL_FORMED.fullmatch(text) else "not a duration"
        raise ValueError(f"invalid duration {quoted}: {reason}; {_DURATION_HINT}") from None


_DURATION_HINT = "use a number with a unit (ns, us, ms, s, m, h, d, w, y), e.g. 168h, 1w, 1h30m, 500ms"
_BARE_NUMBER = re.compile(r"[0-9]*\.?[0-9]*")
_WELL_FORMED = re.compile(r"(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h|d|w|y))+")


def parse_size(value: str | int | float) -> int:
    """A config size in bytes: `262144`, `256KB` (= 256KiB, Loki's quirk), `1.5MiB`, `2G`."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"invalid size {value!r}; use e.g. 256KB, 1MiB or a number of bytes")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"invalid size {value}: a size cannot be negative")
        return value
    text = value if isinstance(value, str) else repr(value)
    m = _SIZE.fullmatch(text)
    if m is None or m.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"invalid size {_go_quote(text)}; use e.g. 256KB, 1MiB or a number of bytes "
                         f"(KB = KiB = 1024 bytes, as in Loki)")
    return math.floor(Fraction(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])


def _go_quote(s: str) -> str:
    from logyard.labels import quote

    return quote(s)

"""Byte sizes as go-humanize's `ParseBytes` reads them (`150KB` = 150000, `1KiB` = 1024), which
Loki uses for label filters `> 150KB`, `| unwrap bytes(...)` and the templates' `bytes`; and as its
`Bytes` prints them (`1.2 kB`), which logcli uses for statistics."""

from __future__ import annotations

import math

from logyard.gocompat.text import go_quote

# go-humanize's suffix table (case-insensitive); the empty suffix means bytes.
_BYTES_TABLE = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "ki": 1024, "kib": 1024,
    "m": 1000**2, "mb": 1000**2, "mi": 1024**2, "mib": 1024**2,
    "g": 1000**3, "gb": 1000**3, "gi": 1024**3, "gib": 1024**3,
    "t": 1000**4, "tb": 1000**4, "ti": 1024**4, "tib": 1024**4,
    "p": 1000**5, "pb": 1000**5, "pi": 1024**5, "pib": 1024**5,
    "e": 1000**6, "eb": 1000**6, "ei": 1024**6, "eib": 1024**6,
}


def parse_bytes(text: str) -> int:
    """Parse a byte size like go-humanize's ParseBytes: `150KB` = 150000, `1.5MiB` = 1572864."""
    n = 0
    for ch in text:
        if not (ch.isdigit() or ch in ".,"):
            break
        n += 1
    number = text[:n].replace(",", "")
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f'strconv.ParseFloat: parsing {go_quote(number)}: invalid syntax') from None
    suffix = text[n:].strip().lower()
    if suffix not in _BYTES_TABLE:
        raise ValueError(f"unhandled size name: {suffix}")
    value *= _BYTES_TABLE[suffix]
    if value >= 2.0**64:
        raise ValueError(f"too large: {text}")
    return int(value)


_SI_SIZES = ("B", "kB", "MB", "GB", "TB", "PB", "EB")


def format_bytes(n: int) -> str:
    """go-humanize's `Bytes` (SI, one decimal under 10): `82 B`, `1.2 kB`, `15 MB`, as logcli prints
    the byte counts of query statistics."""
    if n < 10:
        return f"{n} B"
    exp = 0
    while exp + 1 < len(_SI_SIZES) and n >= 1000 ** (exp + 1):
        exp += 1
    value = math.floor(n / 1000**exp * 10 + 0.5) / 10
    return f"{value:.1f} {_SI_SIZES[exp]}" if value < 10 else f"{value:.0f} {_SI_SIZES[exp]}"

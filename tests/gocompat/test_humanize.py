"""go-humanize's byte sizes, both ways: `ParseBytes` as Loki reads sizes, `Bytes` as logcli prints them."""

from __future__ import annotations

import pytest

from logyard.gocompat.humanize import format_bytes, parse_bytes


@pytest.mark.parametrize(("n", "text"), [
    (0, "0 B"), (9, "9 B"), (10, "10 B"), (999, "999 B"), (1000, "1.0 kB"), (1234, "1.2 kB"),
    (9949, "9.9 kB"), (9999, "10 kB"), (999_999, "1000 kB"), (12_345_678, "12 MB"), (5 * 10**18, "5.0 EB"),
])
def test_format_bytes_is_go_humanize_bytes(n, text):
    assert format_bytes(n) == text


@pytest.mark.parametrize("text", ["150KB", "1.5MiB", "42"])
def test_parse_bytes_reads_what_it_is_given(text):
    assert parse_bytes(text) == {"150KB": 150_000, "1.5MiB": 1_572_864, "42": 42}[text]

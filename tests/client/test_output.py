"""The printing of entries without a server: timestamps as Go prints them, label colours that stay
put, colour only on a terminal and never with NO_COLOR, the statistics summary."""

from __future__ import annotations

import io
from datetime import timezone
from zoneinfo import ZoneInfo

import pytest

from logyard.client.batching import Entry
from logyard.client.output import (
    PALETTE, EntryPrinter, OutputOptions, common_labels, format_query_stats, format_timestamp, palette_colour,
    use_colour,
)
from logyard.labels import LabelSet

NS = 1_767_261_600_123_456_000  # 2026-01-01T10:00:00.123456Z


@pytest.mark.parametrize(("tz", "nano", "text"), [
    (timezone.utc, False, "2026-01-01T10:00:00Z"),
    (timezone.utc, True, "2026-01-01T10:00:00.123456Z"),
    (ZoneInfo("Asia/Kolkata"), False, "2026-01-01T15:30:00+05:30"),
    (ZoneInfo("America/St_Johns"), True, "2026-01-01T06:30:00.123456-03:30"),
])
def test_format_timestamp_is_gos_rfc3339(tz, nano, text):
    assert format_timestamp(NS, tz, nano) == text


def test_rfc3339nano_drops_trailing_zeros_and_a_zero_fraction():
    assert format_timestamp(1_767_261_600_000_000_001, timezone.utc, nano=True) == "2026-01-01T10:00:00.000000001Z"
    assert format_timestamp(1_767_261_600_000_000_000, timezone.utc, nano=True) == "2026-01-01T10:00:00Z"


def test_palette_colour_is_fnv1_32_of_the_text():
    assert palette_colour("") == PALETTE[0x811C9DC5 % len(PALETTE)]  # FNV-1's offset basis
    assert palette_colour('{svc="api"}') == palette_colour('{svc="api"}')
    assert len({palette_colour(f'{{svc="s{i}"}}') for i in range(50)}) > 3


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("stream", "env", "colour"), [
    (Terminal(), {}, True),
    (Terminal(), {"NO_COLOR": "1"}, False),
    (io.StringIO(), {}, False),
])
def test_colour_only_on_a_terminal_without_no_color(stream, env, colour):
    assert use_colour(stream, env) is colour


def entries() -> list[Entry]:
    api, db = LabelSet.from_dict({"app": "a", "svc": "api"}), LabelSet.from_dict({"app": "a", "svc": "db"})
    return [Entry(api, NS, "one\n"), Entry(db, NS, "two")]


def test_coloured_lines_colour_timestamp_and_labels():
    out, err = io.StringIO(), io.StringIO()
    EntryPrinter(OutputOptions(colour=True), out, err).print_batch(entries())
    first = out.getvalue().splitlines()[0]
    assert first.startswith("\x1b[34m2026-01-01T10:00:00Z\x1b[0m ")
    assert first.endswith(" one") and "\x1b[" in first.split(" ", 1)[1]
    assert "\x1b[31m" in err.getvalue()  # the common labels, red as logcli's


def test_plain_lines_have_no_escape_codes():
    out, err = io.StringIO(), io.StringIO()
    EntryPrinter(OutputOptions(), out, err).print_batch(entries())
    assert out.getvalue() == '2026-01-01T10:00:00Z {svc="api"} one\n2026-01-01T10:00:00Z {svc="db"}  two\n'
    assert err.getvalue() == 'Common labels: {app="a"}\n'


def test_the_header_is_said_again_only_when_the_common_labels_change():
    out, err = io.StringIO(), io.StringIO()
    printer = EntryPrinter(OutputOptions(), out, err)
    printer.print_batch(entries())
    printer.print_batch(entries())
    printer.print_batch(entries()[:1])
    assert err.getvalue().count("Common labels") == 2


def test_common_labels_are_the_shared_pairs():
    sets = [LabelSet.from_dict({"a": "1", "b": "2"}), LabelSet.from_dict({"a": "1", "b": "3"})]
    assert common_labels(sets) == LabelSet.from_dict({"a": "1"})
    assert common_labels([]) == LabelSet()


def test_query_stats_summary_in_logcli_words():
    text = format_query_stats({"summary": {"bytesProcessedPerSecond": 1_234_567, "totalLinesProcessed": 42,
                                           "execTime": 0.0125, "queueTime": 0}})
    rows = dict(line.split(None, 1) for line in text.splitlines())
    assert rows["Summary.BytesProcessedPerSecond"] == "1.2 MB"
    assert rows["Summary.TotalLinesProcessed"] == "42"
    assert rows["Summary.ExecTime"] == "12.5ms"
    assert rows["Summary.QueueTime"] == "0s"

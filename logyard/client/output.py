"""How answers are printed: log entries in logcli's three modes, metric results, statistics.

- `default`: `<timestamp> <labels> <line>`, the labels every stream of a batch shares said once on
  stderr ("Common labels: ...") and left out of the lines, the rest padded to one width;
- `raw`: the line alone (one trailing newline dropped), for pipes;
- `jsonl`: `{"labels": {...}, "line": "...", "timestamp": "<RFC 3339 nano>"}` a line. Unlike logcli,
  the labels are the stream's full set (less `--exclude-label`, or only `--include-label`): a
  program reading the lines never sees the stderr header.

Colour (timestamps blue, each label set its own colour, picked by a hash of its text as logcli picks
it) only when the caller says the output is a terminal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Iterable, TextIO

import click
import orjson

from logyard.client.batching import Entry
from logyard.gocompat.durations import format_duration
from logyard.gocompat.humanize import format_bytes
from logyard.labels import LabelSet
from logyard.units import SECOND

MODES = ("default", "raw", "jsonl")
TIMESTAMP_FORMATS = ("rfc3339", "rfc3339nano")
# logcli's palette for label sets (fatih/color: FgHiCyan, FgCyan, FgHiGreen, ...)
PALETTE = ("bright_cyan", "cyan", "bright_green", "green", "bright_magenta", "magenta",
           "bright_yellow", "yellow", "bright_red", "red")


def use_colour(stream: TextIO, env: dict) -> bool:
    """Colour on a terminal only, and never with NO_COLOR set (https://no-color.org)."""
    return not env.get("NO_COLOR") and bool(getattr(stream, "isatty", lambda: False)())


def palette_colour(text: str) -> str:
    """The colour of a label set: FNV-1 (32-bit) of its text over the palette, so a stream keeps
    its colour from batch to batch and run to run."""
    h = 0x811C9DC5
    for b in text.encode():
        h = (h * 0x01000193) & 0xFFFFFFFF
        h ^= b
    return PALETTE[h % len(PALETTE)]


def format_timestamp(ns: int, tz: tzinfo | None, nano: bool = False) -> str:
    """Go's RFC 3339 (`Z` for a zero offset); `nano` adds the fraction without trailing zeros, as Go's
    RFC3339Nano does. `tz` None is the local zone."""
    sec, frac = divmod(ns, SECOND)
    dt = datetime.fromtimestamp(sec, tz) if tz is not None else datetime.fromtimestamp(sec).astimezone()
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if nano and frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + _zone(dt.utcoffset() or timedelta(0))


def _zone(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    if minutes == 0:
        return "Z"
    sign = "+" if minutes > 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def common_labels(sets: Iterable[LabelSet]) -> LabelSet:
    """The pairs every set has (logcli's "Common labels")."""
    sets = list(sets)
    if not sets:
        return LabelSet()
    shared = set(sets[0])
    for s in sets[1:]:
        shared &= set(s)
    return LabelSet(shared)


@dataclass(frozen=True)
class OutputOptions:
    mode: str = "default"
    tz: tzinfo | None = timezone.utc
    no_labels: bool = False
    colour: bool = False
    nano: bool = False  # --output-timestamp-format rfc3339nano
    include: tuple[str, ...] = ()  # --include-label: only these names are printed
    exclude: tuple[str, ...] = ()  # --exclude-label: these names are not
    include_common: bool = False  # --include-common-labels: no header, every line its full set
    quiet: bool = False


class EntryPrinter:
    """Prints entries, batch after batch, to `out`; the common-labels header to `err`."""

    def __init__(self, opts: OutputOptions, out: TextIO, err: TextIO) -> None:
        self.opts = opts
        self.out = out
        self.err = err
        self._header: LabelSet | None = None

    def filtered(self, labels: LabelSet) -> LabelSet:
        if self.opts.include:
            labels = labels.keep(self.opts.include)
        if self.opts.exclude:
            labels = labels.without(self.opts.exclude)
        return labels

    def print_batch(self, entries: list[Entry], tail: bool = False) -> None:
        """One batch of a query. A tail's frames have no header and no padding (as logcli's tail)."""
        opts = self.opts
        if opts.mode == "raw":
            self.out.writelines(_raw(e.line) + "\n" for e in entries)
            return
        if opts.mode == "jsonl":
            self.out.writelines(self.jsonl(e) + "\n" for e in entries)
            return
        common = LabelSet()
        if not (tail or opts.include_common or opts.no_labels):
            common = common_labels({e.labels for e in entries})
            if opts.include:  # the names asked for are printed on each line, not in the header
                common = common.without(opts.include)
            if common and common != self._header and not opts.quiet:
                self.err.write(f"Common labels: {self._style(str(common), 'red')}\n")
                self._header = common
        shown = {ls: str(self.filtered(ls.without(n for n, _ in common))) for ls in {e.labels for e in entries}}
        width = 0 if tail else max(map(len, shown.values()), default=0)
        self.out.writelines(self.line(e, shown[e.labels].ljust(width)) + "\n" for e in entries)

    def line(self, e: Entry, labels: str) -> str:
        ts = self._style(format_timestamp(e.ts, self.opts.tz, self.opts.nano), "blue")
        text = e.line.strip()
        if self.opts.no_labels:
            return f"{ts} {text}"
        colour = palette_colour(labels.rstrip()) if self.opts.colour else "red"
        return f"{ts} {self._style(labels, colour)} {text}"

    def jsonl(self, e: Entry) -> str:
        obj: dict = {}
        if not self.opts.no_labels:
            obj["labels"] = self.filtered(e.labels).to_dict()
        obj["line"] = e.line
        obj["timestamp"] = format_timestamp(e.ts, self.opts.tz, nano=True)
        return orjson.dumps(obj).decode()

    def _style(self, text: str, colour: str) -> str:
        return click.style(text, fg=colour) if self.opts.colour else text


def _raw(line: str) -> str:
    return line[:-1] if line.endswith("\n") else line


def format_result(result_type: str, result, mode: str) -> str:
    """A metric answer (`matrix`, `vector`, `scalar`) or a volume: logcli prints Loki's JSON indented;
    `jsonl` and `raw` print one series (or the scalar) a line, compact, for programs."""
    if mode == "default":
        return json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    rows = result if result_type in ("matrix", "vector", "streams") else [result]
    return "".join(orjson.dumps(r).decode() + "\n" for r in rows)


# Loki's data.stats.summary, in logcli's order: (key, how it prints)
_SUMMARY = (
    ("bytesProcessedPerSecond", "BytesProcessedPerSecond", "bytes"),
    ("linesProcessedPerSecond", "LinesProcessedPerSecond", "int"),
    ("totalBytesProcessed", "TotalBytesProcessed", "bytes"),
    ("totalLinesProcessed", "TotalLinesProcessed", "int"),
    ("totalPostFilterLines", "PostFilterLines", "int"),
    ("execTime", "ExecTime", "seconds"),
    ("queueTime", "QueueTime", "seconds"),
)


def format_query_stats(stats: dict | None, colour: bool = False) -> str:
    """The summary of a query's `data.stats`, one `Summary.Name  value` a line (logcli's `--stats`)."""
    summary = (stats or {}).get("summary") or {}
    rows = []
    for key, name, kind in _SUMMARY:
        value = summary.get(key, 0) or 0
        if kind == "bytes":
            text = format_bytes(int(value))
        elif kind == "seconds":
            text = format_duration(round(float(value) * SECOND))
        else:
            text = str(int(value))
        label = f"Summary.{name}"
        rows.append((click.style(label, fg="blue") if colour else label, len(label), text))
    width = max(n for _, n, _ in rows) + 2
    return "".join(f"{label}{' ' * (width - n)}{text}\n" for label, n, text in rows)


def format_index_stats(stats: dict, colour: bool = False) -> str:
    """`/index/stats` as logcli prints it: bytes humanized, then chunks, streams, entries."""
    key = (lambda k: click.style(k, fg="blue")) if colour else (lambda k: k)
    lines = [f"  {key('bytes')}: {format_bytes(int(stats.get('bytes', 0))).replace(' ', '', 1)}"]
    lines += [f"  {key(k)}: {int(stats.get(k, 0))}" for k in ("chunks", "streams", "entries")]
    return "{\n" + "\n".join(lines) + "\n}\n"


def format_series(series: list[dict]) -> str:
    return "".join(str(LabelSet.from_dict(s)) + "\n" for s in series)


def analyze_series(series: list[dict]) -> str:
    """logcli's `series --analyze-labels`: per label name, its distinct values and the streams it is in."""
    values: dict[str, set[str]] = {}
    streams: dict[str, int] = {}
    for s in series:
        for name, value in s.items():
            values.setdefault(name, set()).add(value)
            streams[name] = streams.get(name, 0) + 1
    names = sorted(values, key=lambda n: (-len(values[n]), n))
    rows = [("Label Name", "Unique Values", "Found In Streams")]
    rows += [(n, str(len(values[n])), str(streams[n])) for n in names]
    w0 = max(len(r[0]) for r in rows) + 2
    w1 = max(len(r[1]) for r in rows) + 2
    table = "".join(f"{a.ljust(w0)}{b.ljust(w1)}{c}\n" for a, b, c in rows)
    return f"Total Streams:  {len(series)}\nUnique Labels:  {len(values)}\n\n{table}"

"""What every pipeline stage is: the `Entry` it works on, the `Stage` contract, option helpers.

Each stage takes the entries of one read (a list) and returns the entries that go on; it may change
an entry's line, timestamp, labels, extracted map or structured metadata, drop entries, or (multiline)
hold some back and emit them later. Stages run per entry in Python: unlike the server's query
stages these see each line once, and a file read without stages never enters them at all.
"""

from __future__ import annotations

from typing import Any

import orjson

from logyard.errors import ConfigError


class Entry:
    """One line on its way through the pipeline. `ts` None means "stamp it when read"."""

    __slots__ = ("line", "ts", "labels", "extracted", "metadata", "pos")

    def __init__(self, line: str, ts: int | None, labels: dict[str, str], pos: str | None = None) -> None:
        self.line = line
        self.ts = ts
        self.labels = labels
        self.extracted: dict[str, Any] = {}
        self.metadata: dict[str, str] = {}
        self.pos = pos  # where to resume to read this line again (only kept when a stage holds lines)


class Stage:
    """Base: `process` maps a list of entries to the entries that continue."""

    holds = False  # True for stages that keep entries across reads (multiline)

    def process(self, entries: list[Entry]) -> list[Entry]:
        raise NotImplementedError

    def flush(self, now_ns: int, force: bool = False) -> list[Entry]:
        """Entries held longer than the stage allows (or all, when forced)."""
        return []

    def held_pos(self) -> str | None:
        """Resume position of the oldest held entry, if any."""
        return None

    def bind_metrics(self, metrics: Any) -> None:
        """Called once with the agent's metrics, for stages that count or export (drop, metrics)."""


def options(opts: Any, allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:
    """Check a stage's options like the config model checks keys: unknown or missing ones are errors."""
    if not isinstance(opts, dict):
        raise ConfigError(f"expected a mapping of options, got {type(opts).__name__}")
    unknown = set(opts) - allowed
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(sorted(unknown))}")
    missing = required - set(opts)
    if missing:
        raise ConfigError(f"missing option(s) {', '.join(sorted(missing))}")
    return opts


def source_value(entry: Entry, source: str | None) -> str | None:
    """The text a stage works on: the line, or an extracted value named by `source`."""
    if source is None:
        return entry.line
    v = entry.extracted.get(source)
    if v is None:
        return None
    return v if isinstance(v, str) else stringify(v)


def stringify(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if isinstance(v, float) else str(v)
    return orjson.dumps(v).decode()

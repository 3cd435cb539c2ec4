"""Pipeline stages with Promtail's semantics, and the registry that builds them from YAML.

Each stage takes the entries of one read (a list) and returns the entries that go on; it may change
an entry's line, timestamp, labels, extracted map or structured metadata, drop entries, or (multiline)
hold some back and emit them later. Stages run per entry in Python: unlike the server's query
stages these see each line once, and a file read without stages never enters this module at all.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

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


class Pipeline:
    """The stages of one scrape config. Shared by that config's readers (one thread per container),
    so a run through it holds a lock: stages keep state (multiline blocks, rate buckets, metrics)."""

    def __init__(self, stages: list[Stage]) -> None:
        self.stages = stages
        self.holds = any(s.holds for s in stages)
        self._lock = threading.Lock()

    def process(self, entries: list[Entry]) -> list[Entry]:
        with self._lock:
            for stage in self.stages:
                if not entries:
                    break
                entries = stage.process(entries)
            return entries

    def flush(self, now_ns: int, force: bool = False) -> list[Entry]:
        out: list[Entry] = []
        with self._lock:
            for i, stage in enumerate(self.stages):
                if stage.holds:
                    out += self._run_from(i, stage.flush(now_ns, force))
        return out

    def _run_from(self, i: int, entries: list[Entry]) -> list[Entry]:
        for stage in self.stages[i + 1 :]:
            if not entries:
                break
            entries = stage.process(entries)
        return entries

    def held_pos(self) -> str | None:
        for stage in self.stages:
            pos = stage.held_pos()
            if pos is not None:
                return pos
        return None


STAGES: dict[str, Callable[[Any], Stage]] = {}


def stage(name: str):
    def register(cls):
        STAGES[name] = cls
        return cls

    return register


def build_pipeline(specs: list[dict[str, Any]], metrics: Any = None) -> Pipeline:
    """Build stages from Promtail's list of one-key mappings (`- json: {expressions: ...}`)."""
    from logyard.agent.stages import control, extract, metrics as _m, transform  # noqa: F401 - registers

    stages = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict) or len(spec) != 1:
            raise ConfigError(f"pipeline_stages[{i}]: each stage is a mapping with exactly one key")
        ((name, options),) = spec.items()
        if name not in STAGES:
            raise ConfigError(f"pipeline_stages[{i}]: unknown stage {name!r} (known: {', '.join(sorted(STAGES))})")
        try:
            st = STAGES[name](options if options is not None else {})
        except ConfigError as exc:
            raise ConfigError(f"pipeline_stages[{i}].{name}: {exc.message}") from exc
        except (TypeError, ValueError, KeyError) as exc:
            raise ConfigError(f"pipeline_stages[{i}].{name}: {exc}") from exc
        if metrics is not None and hasattr(st, "bind_metrics"):
            st.bind_metrics(metrics)
        stages.append(st)
    return Pipeline(stages)


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
    import orjson

    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if isinstance(v, float) else str(v)
    return orjson.dumps(v).decode()

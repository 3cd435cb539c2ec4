"""Stages that decide which entries go on and when: match, drop, limit, multiline."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from logyard.agent.stages.extract import compile_re2
from logyard.agent.stages.selector import parse_selector
from logyard.agent.stages.stage import Entry, Stage, options, source_value
from logyard.errors import ConfigError
from logyard.units import parse_duration_ns, parse_size


class _Counted(Stage):
    """Stages that drop lines count them under their `drop_counter_reason`."""

    reason = "stage"
    _metrics: Any = None

    def bind_metrics(self, metrics: Any) -> None:
        self._metrics = metrics

    def count_dropped(self, n: int) -> None:
        if n and self._metrics is not None:
            self._metrics.pipeline_dropped.labels(self.reason).inc(n)


class MatchStage(_Counted):
    """Runs its own stages on the entries its selector matches (or drops them). `build` is
    `pipeline.build_pipeline`, passed in by the stage table."""

    def __init__(self, opts, build: Callable[[list[dict[str, Any]]], Any]) -> None:
        o = options(opts, {"selector", "stages", "action", "pipeline_name", "drop_counter_reason"}, {"selector"})
        self.matchers, self.filters = parse_selector(o["selector"])
        self.action = o.get("action", "keep")
        if self.action not in ("keep", "drop"):
            raise ConfigError("action must be keep or drop")
        if self.action == "keep" and not o.get("stages"):
            raise ConfigError("match with action keep needs stages")
        self.reason = o.get("drop_counter_reason", "match_stage")
        self.inner = build(o.get("stages") or [])
        self.holds = self.inner.holds

    def bind_metrics(self, metrics: Any) -> None:
        super().bind_metrics(metrics)
        for s in self.inner.stages:
            s.bind_metrics(metrics)

    def _matches(self, e: Entry) -> bool:
        return all(m.matches(e.labels.get(m.name, "")) for m in self.matchers) and all(f(e.line) for f in self.filters)

    def process(self, entries: list[Entry]) -> list[Entry]:
        hit = [e for e in entries if self._matches(e)]
        if not hit:
            return entries
        hit_ids = {id(e) for e in hit}
        rest = [e for e in entries if id(e) not in hit_ids]
        if self.action == "drop":
            self.count_dropped(len(hit))
            return rest
        return rest + self.inner.process(hit)

    def flush(self, now_ns: int, force: bool = False) -> list[Entry]:
        return self.inner.flush(now_ns, force)

    def held_pos(self) -> str | None:
        return self.inner.held_pos()


class DropStage(_Counted):
    def __init__(self, opts, clock=time.time_ns) -> None:
        o = options(
            opts,
            {"source", "separator", "expression", "value", "older_than", "longer_than", "drop_counter_reason"},
        )
        src = o.get("source")
        self.sources = [src] if isinstance(src, str) else (list(src) if src else None)
        self.separator = o.get("separator", ";")
        self.rx = compile_re2(o["expression"]) if o.get("expression") else None
        self.value = o.get("value")
        if self.value is not None and self.rx is not None:
            raise ConfigError("drop: value and expression are mutually exclusive")
        if self.value is not None and not self.sources:
            raise ConfigError("drop: value needs source")
        self.older_ns = parse_duration_ns(o["older_than"]) if o.get("older_than") else None
        self.longer = parse_size(o["longer_than"]) if o.get("longer_than") else None
        if not (self.sources or self.rx or self.older_ns or self.longer):
            raise ConfigError("drop needs at least one of source, expression, older_than, longer_than")
        self.reason = o.get("drop_counter_reason", "drop_stage")
        self.clock = clock

    def _drop(self, e: Entry, now: int) -> bool:
        if self.older_ns is not None and (e.ts is None or e.ts >= now - self.older_ns):
            return False
        if self.longer is not None and len(e.line.encode()) <= self.longer:
            return False
        if self.sources:
            vals = [source_value(e, s) for s in self.sources]
            if any(v is None for v in vals):
                return False
            joined = self.separator.join(vals)
            if self.value is not None:
                return joined == self.value
            if self.rx is not None:
                return self.rx.search(joined) is not None
            return True
        if self.rx is not None:
            return self.rx.search(e.line) is not None
        return True

    def process(self, entries: list[Entry]) -> list[Entry]:
        now = self.clock()
        out = [e for e in entries if not self._drop(e, now)]
        self.count_dropped(len(entries) - len(out))
        return out


class LimitStage(_Counted):
    """A token bucket: `rate` lines per second, `burst` at once; waits, or drops when `drop: true`."""

    def __init__(self, opts, clock=time.monotonic, sleep=time.sleep) -> None:
        o = options(opts, {"rate", "burst", "drop", "by_label_name", "max_distinct_labels"}, {"rate", "burst"})
        self.rate = float(o["rate"])
        self.burst = float(o["burst"])
        if self.rate <= 0 or self.burst < 1:
            raise ConfigError("limit needs rate > 0 and burst >= 1")
        self.drop = bool(o.get("drop", False))
        self.by = o.get("by_label_name")
        self.max_distinct = int(o.get("max_distinct_labels", 10000))
        self.reason = "ratelimit"
        self.clock, self.sleep = clock, sleep
        self._buckets: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _take(self, key: str) -> float:
        """0 when a token was taken, else seconds until one is there."""
        now = self.clock()
        with self._lock:
            b = self._buckets.get(key)
            if b is None:
                if len(self._buckets) >= self.max_distinct:
                    self._buckets.clear()
                b = self._buckets[key] = [self.burst, now]
            b[0] = min(self.burst, b[0] + (now - b[1]) * self.rate)
            b[1] = now
            if b[0] >= 1:
                b[0] -= 1
                return 0.0
            return (1 - b[0]) / self.rate

    def process(self, entries: list[Entry]) -> list[Entry]:
        out = []
        for e in entries:
            key = e.labels.get(self.by, "") if self.by else ""
            if self.by and self.by not in e.labels:
                out.append(e)
                continue
            while True:
                wait = self._take(key)
                if wait == 0:
                    out.append(e)
                    break
                if self.drop:
                    self.count_dropped(1)
                    break
                self.sleep(wait)
        return out


class MultilineStage(Stage):
    """Joins a first line and its continuation lines (stack traces) into one entry, per stream."""

    holds = True

    def __init__(self, opts) -> None:
        o = options(opts, {"firstline", "max_wait_time", "max_lines"}, {"firstline"})
        self.firstline = compile_re2(o["firstline"])
        self.max_wait_ns = parse_duration_ns(o.get("max_wait_time", "3s"))
        self.max_lines = int(o.get("max_lines", 128))
        self._blocks: dict[tuple, tuple[Entry, list[str], int]] = {}  # key → (first, lines, started)

    def process(self, entries: list[Entry]) -> list[Entry]:
        out = []
        now = time.time_ns()
        for e in entries:
            key = tuple(sorted(e.labels.items()))
            block = self._blocks.get(key)
            if self.firstline.search(e.line) is not None or block is None:
                if block is not None:
                    out.append(self._emit(key))
                self._blocks[key] = (e, [e.line], now)
                continue
            block[1].append(e.line)
            if len(block[1]) >= self.max_lines:
                out.append(self._emit(key))
        return out

    def _emit(self, key: tuple) -> Entry:
        first, lines, _ = self._blocks.pop(key)
        first.line = "\n".join(lines)
        return first

    def flush(self, now_ns: int, force: bool = False) -> list[Entry]:
        due = [k for k, (_, _, started) in self._blocks.items() if force or now_ns - started >= self.max_wait_ns]
        return [self._emit(k) for k in due]

    def held_pos(self) -> str | None:
        return next((first.pos for first, _, _ in self._blocks.values() if first.pos is not None), None)

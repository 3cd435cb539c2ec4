"""Stages that parse a line into the extracted map: docker, cri, json, logfmt, regex."""

from __future__ import annotations

import re
import warnings

import orjson
import re2

from logyard.agent.stages.jmes import compile_path, search
from logyard.agent.stages.stage import Entry, Stage, options, source_value
from logyard.errors import ConfigError
from logyard.gocompat.timelayout import parse_rfc3339


_NESTED_QUANTIFIER = re.compile(r"\([^()]*[+*}][^()]*\)\s*[+*{]")
_NOT_PYTHON = ("[[:", "\\z", "\\C", "(?U", "\\Q", "\\p", "\\P")


def compile_re2(pattern: str):
    """A regex with Go's (RE2's) syntax and meaning, validated by RE2.

    google-re2's Python binding costs ~20 µs a call, Python's `re` ~1 µs, and stages call it once
    per line. So a pattern that means the same in both and cannot backtrack badly (no nested
    quantifier) runs on `re`; anything else (POSIX classes, `\\z`, `(?U)`, `(a+)+`) stays on RE2.
    """
    opts = re2.Options()
    opts.log_errors = False
    try:
        compiled = re2.compile(pattern, opts)
    except re2.error as exc:
        raise ConfigError(f"invalid regular expression {pattern!r}: {exc}") from exc
    if any(tok in pattern for tok in _NOT_PYTHON) or _NESTED_QUANTIFIER.search(pattern):
        return compiled
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return re.compile(pattern, re.ASCII)  # Go: \d, \w, \s, \b are ASCII-only
    except (re.error, FutureWarning, DeprecationWarning):
        return compiled


class JSONStage(Stage):
    def __init__(self, opts) -> None:
        o = options(opts, {"expressions", "source", "drop_malformed"}, {"expressions"})
        self.source = o.get("source")
        self.drop_malformed = bool(o.get("drop_malformed", False))
        self.paths = {name: compile_path(expr or name) for name, expr in (o["expressions"] or {}).items()}

    def process(self, entries: list[Entry]) -> list[Entry]:
        out = []
        for e in entries:
            text = source_value(e, self.source)
            try:
                doc = orjson.loads(text) if text is not None else None
            except orjson.JSONDecodeError:
                doc = None
            if not isinstance(doc, dict):
                if self.drop_malformed:
                    continue
                out.append(e)
                continue
            for name, path in self.paths.items():
                value = search(path, doc)
                if value is not None:
                    e.extracted[name] = value
            out.append(e)
        return out


class LogfmtStage(Stage):
    def __init__(self, opts) -> None:
        o = options(opts, {"mapping", "source"}, {"mapping"})
        self.source = o.get("source")
        self.mapping = {name: key or name for name, key in (o["mapping"] or {}).items()}

    def process(self, entries: list[Entry]) -> list[Entry]:
        for e in entries:
            text = source_value(e, self.source)
            if text is None:
                continue
            pairs = parse_logfmt(text)
            for name, key in self.mapping.items():
                if key in pairs:
                    e.extracted[name] = pairs[key]
        return entries


_LOGFMT = re.compile(r'([^\s=]+)(?:=("(?:[^"\\]|\\.)*"?|\S*))?')


def parse_logfmt(text: str) -> dict[str, str]:
    """key=value pairs; values may be double-quoted with backslash escapes; bare keys get ""."""
    out = {}
    for m in _LOGFMT.finditer(text):
        value = m.group(2) or ""
        if value.startswith('"'):
            value = value[1:-1] if len(value) > 1 and value.endswith('"') else value[1:]
            if "\\" in value:
                value = re.sub(r"\\(.)", lambda e: {"n": "\n", "t": "\t"}.get(e.group(1), e.group(1)), value)
        out[m.group(1)] = value
    return out


class RegexStage(Stage):
    def __init__(self, opts) -> None:
        o = options(opts, {"expression", "source"}, {"expression"})
        self.source = o.get("source")
        self.rx = compile_re2(o["expression"])
        if not self.rx.groupindex:
            raise ConfigError("regex stage needs at least one named capture group")

    def process(self, entries: list[Entry]) -> list[Entry]:
        for e in entries:
            text = source_value(e, self.source)
            m = self.rx.search(text) if text is not None else None
            if m is None:
                continue
            for name, value in m.groupdict().items():
                if value is not None:
                    e.extracted[name] = value
        return entries


class DockerStage(Stage):
    """Docker's json-file lines: {"log": ..., "stream": ..., "time": ...} → line, `stream`, timestamp."""

    def __init__(self, opts) -> None:
        options(opts, set())

    def process(self, entries: list[Entry]) -> list[Entry]:
        out = []
        for e in entries:
            try:
                doc = orjson.loads(e.line)
                line, stream, ts = doc["log"], doc["stream"], parse_rfc3339(doc["time"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # Promtail drops lines its docker stage cannot parse
            e.line = line[:-1] if line.endswith("\n") else line
            e.labels["stream"] = stream
            e.ts = ts
            e.extracted.update(doc)
            out.append(e)
        return out


_CRI = re2.compile(r"^(\S+) (stdout|stderr) (\S+) (.*)$")


class CRIStage(Stage):
    """CRI-O/containerd lines `<time> <stream> <P|F> <text>`; partial (P) lines are joined."""

    holds = True

    def __init__(self, opts) -> None:
        o = options(opts, {"max_partial_lines", "max_partial_line_size", "max_partial_line_size_truncate"})
        self.max_lines = int(o.get("max_partial_lines", 100))
        self.max_size = int(o.get("max_partial_line_size", 0) or 0)
        self.truncate = bool(o.get("max_partial_line_size_truncate", False))
        self._partial: dict[str, Entry] = {}
        self._parts: dict[str, int] = {}

    def process(self, entries: list[Entry]) -> list[Entry]:
        out = []
        for e in entries:
            m = _CRI.match(e.line)
            if m is None:
                continue
            try:
                ts = parse_rfc3339(m.group(1))
            except ValueError:
                continue
            stream, flags, text = m.group(2), m.group(3), m.group(4)
            if self.truncate and self.max_size and len(text) > self.max_size:
                text = text[: self.max_size]
            held = self._partial.get(stream)
            if held is not None:
                held.line += text
                self._parts[stream] += 1
                e = held
            else:
                e.line, e.ts = text, ts
                e.labels["stream"] = stream
                e.extracted.update(time=m.group(1), stream=stream, flags=flags, content=text)
            if flags.startswith("P") and self._parts.get(stream, 1) < self.max_lines:
                self._partial[stream] = e
                self._parts.setdefault(stream, 1)
                continue
            self._partial.pop(stream, None)
            self._parts.pop(stream, None)
            out.append(e)
        return out

    def flush(self, now_ns: int, force: bool = False) -> list[Entry]:
        if not force:
            return []
        out = list(self._partial.values())
        self._partial.clear()
        self._parts.clear()
        return out

    def held_pos(self) -> str | None:
        # the oldest held line is the first one inserted (dicts keep insertion order)
        return next((e.pos for e in self._partial.values() if e.pos is not None), None)

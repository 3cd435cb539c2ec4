"""Stages that turn extracted data into the entry: labels, structured_metadata, static_labels,
labeldrop, labelallow, output, template, timestamp."""

from __future__ import annotations

import hashlib
import re
from typing import Any, Callable

from logyard.agent.stages.extract import compile_re2
from logyard.agent.stages.stage import Entry, Stage, options, source_value, stringify
from logyard.errors import ConfigError
from logyard.gocompat.timelayout import make_parser
from logyard.labels import is_valid_label_name


def _mapping(opts: Any, what: str) -> dict[str, str]:
    if not isinstance(opts, dict) or not opts:
        raise ConfigError(f"{what} needs a non-empty mapping")
    for name in opts:
        if not is_valid_label_name(str(name)):
            raise ConfigError(f"invalid label name {name!r}")
    return {str(k): (str(v) if v else str(k)) for k, v in opts.items()}


class LabelsStage(Stage):
    def __init__(self, opts) -> None:
        self.mapping = _mapping(opts, "labels")

    def process(self, entries: list[Entry]) -> list[Entry]:
        for e in entries:
            for name, src in self.mapping.items():
                v = e.extracted.get(src)
                if v is not None:
                    e.labels[name] = v if isinstance(v, str) else stringify(v)
        return entries


class StructuredMetadataStage(Stage):
    def __init__(self, opts) -> None:
        self.mapping = _mapping(opts, "structured_metadata")

    def process(self, entries: list[Entry]) -> list[Entry]:
        for e in entries:
            for name, src in self.mapping.items():
                v = e.extracted.get(src)
                if v is not None:
                    e.metadata[name] = v if isinstance(v, str) else stringify(v)
        return entries


class StaticLabelsStage(Stage):
    def __init__(self, opts) -> None:
        self.labels = _mapping(opts, "static_labels")

    def process(self, entries: list[Entry]) -> list[Entry]:
        for e in entries:
            e.labels.update(self.labels)
        return entries


class LabelDropStage(Stage):
    def __init__(self, opts) -> None:
        if not isinstance(opts, list):
            raise ConfigError("labeldrop needs a list of label names")
        self.names = [str(n) for n in opts]

    def process(self, entries: list[Entry]) -> list[Entry]:
        for e in entries:
            for n in self.names:
                e.labels.pop(n, None)
        return entries


class LabelAllowStage(Stage):
    def __init__(self, opts) -> None:
        if not isinstance(opts, list):
            raise ConfigError("labelallow needs a list of label names")
        self.names = {str(n) for n in opts}

    def process(self, entries: list[Entry]) -> list[Entry]:
        for e in entries:
            e.labels = {k: v for k, v in e.labels.items() if k in self.names}
        return entries


class OutputStage(Stage):
    def __init__(self, opts) -> None:
        self.source = options(opts, {"source"}, {"source"})["source"]

    def process(self, entries: list[Entry]) -> list[Entry]:
        for e in entries:
            v = source_value(e, self.source)
            if v is not None:
                e.line = v
        return entries


class TimestampStage(Stage):
    def __init__(self, opts) -> None:
        o = options(
            opts, {"source", "format", "fallback_formats", "location", "action_on_failure"}, {"source", "format"}
        )
        self.source = o["source"]
        loc = o.get("location")
        self.parsers = [make_parser(f, loc) for f in [o["format"], *(o.get("fallback_formats") or [])]]
        self.skip = o.get("action_on_failure", "fudge") == "skip"
        if o.get("action_on_failure", "fudge") not in ("fudge", "skip"):
            raise ConfigError("action_on_failure must be fudge or skip")

    def process(self, entries: list[Entry]) -> list[Entry]:
        for e in entries:
            text = source_value(e, self.source)
            if text is None:
                continue
            for parse in self.parsers:
                try:
                    e.ts = parse(text)
                    break
                except (ValueError, OverflowError):
                    continue
            # on failure both actions keep the entry's time; "fudge" times are already unique per stream
        return entries


# -- template: the subset of Go's text/template that Promtail configs use -----------------------

_FUNCS: dict[str, Callable[..., str]] = {
    "ToLower": lambda s: s.lower(),
    "ToUpper": lambda s: s.upper(),
    "Title": lambda s: s.title(),
    "TrimSpace": lambda s: s.strip(),
    "Trim": lambda s, cut: s.strip(cut),
    "TrimLeft": lambda s, cut: s.lstrip(cut),
    "TrimRight": lambda s, cut: s.rstrip(cut),
    "TrimPrefix": lambda s, p: s[len(p) :] if s.startswith(p) else s,
    "TrimSuffix": lambda s, p: s[: -len(p)] if p and s.endswith(p) else s,
    "Replace": lambda s, old, new, n: s.replace(old, new, n if n >= 0 else -1),
    "Sha2Hash": lambda s, salt: hashlib.sha256((salt + s).encode()).hexdigest(),
    "Hash": lambda s, salt: hashlib.sha256((salt + s).encode()).hexdigest(),
    "regexReplaceAll": lambda rx, s, repl: compile_re2(rx).sub(re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", repl), s),
    "regexReplaceAllLiteral": lambda rx, s, repl: compile_re2(rx).sub(repl.replace("\\", "\\\\"), s),
}
_ARG = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`|(-?\d+)|(\.[A-Za-z_][\w.]*|\.)|([A-Za-z_]\w*))')


def compile_template(text: str) -> Callable[[dict[str, Any]], str]:
    parts: list[Any] = []
    pos = 0
    for m in re.finditer(r"\{\{-?(.*?)-?\}\}", text, re.S):
        parts.append(text[pos : m.start()])
        parts.append(_compile_pipeline(m.group(1).strip(), text))
        pos = m.end()
    parts.append(text[pos:])

    def render(data: dict[str, Any]) -> str:
        return "".join(p if isinstance(p, str) else p(data) for p in parts)

    return render


def _compile_pipeline(expr: str, whole: str):
    commands = []
    for cmd in expr.split("|"):
        args, pos = [], 0
        cmd = cmd.strip()
        while pos < len(cmd):
            m = _ARG.match(cmd, pos)
            if m is None:
                raise ConfigError(f"unsupported template {whole!r} near {cmd[pos:]!r}")
            dq, bq, num, field, ident = m.groups()
            if dq is not None:
                args.append(("lit", bytes(dq, "utf-8").decode("unicode_escape")))
            elif bq is not None:
                args.append(("lit", bq))
            elif num is not None:
                args.append(("lit", int(num)))
            elif field is not None:
                args.append(("field", field[1:].split(".") if field != "." else []))
            else:
                if ident not in _FUNCS:
                    raise ConfigError(f"unsupported template function {ident!r} in {whole!r}")
                args.append(("func", ident))
            pos = m.end()
        if not args:
            raise ConfigError(f"empty template action in {whole!r}")
        commands.append(args)

    def lookup(path: list[str], data: dict[str, Any]) -> Any:
        v: Any = data
        for p in path:
            v = v.get(p) if isinstance(v, dict) else None
        return "" if v is None else v

    def run(data: dict[str, Any]) -> str:
        value: Any = None
        for i, args in enumerate(commands):
            vals = [lookup(a[1], data) if a[0] == "field" else a[1] for a in args if a[0] != "func"]
            vals = [v if isinstance(v, (str, int)) else stringify(v) for v in vals]
            if i > 0:
                vals.append(value)
            if args[0][0] == "func":
                value = _FUNCS[args[0][1]](*vals)
            else:
                value = vals[0]
        return value if isinstance(value, str) else stringify(value)

    return run


class TemplateStage(Stage):
    def __init__(self, opts) -> None:
        o = options(opts, {"source", "template"}, {"source", "template"})
        self.source = o["source"]
        self.render = compile_template(o["template"])

    def process(self, entries: list[Entry]) -> list[Entry]:
        for e in entries:
            data = dict(e.extracted)
            v = e.extracted.get(self.source)
            data["Value"] = "" if v is None else (v if isinstance(v, str) else stringify(v))
            data["Entry"] = e.line
            try:
                e.extracted[self.source] = self.render(data)
            except (TypeError, ValueError):
                continue  # a template error leaves the value as it was, as Promtail does
        return entries

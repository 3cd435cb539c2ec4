"""The LogQL that Promtail's `match` stage accepts: a stream selector and optional line filters.

`{app="web", level=~"warn|error"} |= "timeout" != "health"` → matchers and filters; parsed here so
the agent does not depend on the server's query engine.
"""

from __future__ import annotations

import re
from typing import Callable

from logyard.agent.stages.extract import compile_re2
from logyard.errors import ConfigError
from logyard.labels import Matcher

_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|\})')
_FILTER = re.compile(r'\s*(\|=|!=|\|~|!~)\s*(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`)')


def _unquote(s: str) -> str:
    return bytes(s, "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")


def parse_selector(text: str) -> tuple[list[Matcher], list[Callable[[str], bool]]]:
    t = text.strip()
    if not t.startswith("{"):
        raise ConfigError(f"selector {text!r} must start with '{{'")
    pos, matchers = 1, []
    if t[1:].lstrip().startswith("}"):
        pos = t.index("}") + 1
    else:
        while True:
            m = _MATCHER.match(t, pos)
            if m is None:
                raise ConfigError(f"invalid selector {text!r} near {t[pos:]!r}")
            try:
                matchers.append(Matcher(m.group(1), m.group(2), _unquote(m.group(3))))
            except Exception as exc:
                raise ConfigError(f"invalid matcher in {text!r}: {exc}") from exc
            pos = m.end()
            if m.group(4) == "}":
                break
    filters = []
    while pos < len(t):
        m = _FILTER.match(t, pos)
        if m is None:
            if t[pos:].strip():
                raise ConfigError(f"unsupported expression after the selector in {text!r}: {t[pos:]!r}")
            break
        op, value = m.group(1), _unquote(m.group(2)) if m.group(2) is not None else m.group(3)
        if op == "|=":
            filters.append(lambda line, v=value: v in line)
        elif op == "!=":
            filters.append(lambda line, v=value: v not in line)
        else:
            rx = compile_re2(value)
            if op == "|~":
                filters.append(lambda line, rx=rx: rx.search(line) is not None)
            else:
                filters.append(lambda line, rx=rx: rx.search(line) is None)
        pos = m.end()
    return matchers, filters

"""The part of JMESPath that Promtail configs use in `json` stages: keys, quoted keys, indexes.

`a.b`, `a."dotted.key"`, `items[0].name`, `[1]`, `a[-1]`. Anything richer (filters, projections,
functions) is a config error that names the expression, not a silent miss.
"""

from __future__ import annotations

import re
from typing import Any

from logyard.errors import ConfigError

_TOKEN = re.compile(
    r'\s*(?:(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|"(?P<quoted>(?:[^"\\]|\\.)*)"|\[(?P<index>-?\d+)\]|(?P<dot>\.))'
)


def compile_path(expr: str) -> list[str | int]:
    steps: list[str | int] = []
    pos, expect_key = 0, True
    text = expr.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ConfigError(f"unsupported JMESPath expression {expr!r} at {text[pos:]!r}")
        if m.group("dot"):
            if expect_key:
                raise ConfigError(f"unsupported JMESPath expression {expr!r}: unexpected '.'")
            expect_key = True
        elif m.group("index") is not None:
            steps.append(int(m.group("index")))
            expect_key = False
        else:
            if not expect_key:
                raise ConfigError(f"unsupported JMESPath expression {expr!r}: missing '.'")
            key = m.group("ident") if m.group("ident") is not None else re.sub(r"\\(.)", r"\1", m.group("quoted"))
            steps.append(key)
            expect_key = False
        pos = m.end()
    if not steps or expect_key and len(text) and text.endswith("."):
        raise ConfigError(f"unsupported JMESPath expression {expr!r}")
    return steps


def search(steps: list[str | int], doc: Any) -> Any:
    for step in steps:
        if isinstance(step, int):
            if not isinstance(doc, list) or not -len(doc) <= step < len(doc):
                return None
            doc = doc[step]
        else:
            if not isinstance(doc, dict):
                return None
            doc = doc.get(step)
        if doc is None:
            return None
    return doc

"""Prometheus relabeling over a target's labels (`__meta_docker_*`, `__path__`, ...).

Regexes are fully anchored RE2, replacements use `$1`/`${name}`, and a `replace` that yields an
empty value removes the target label, all as in Prometheus. Returns None when the target is dropped.
"""

from __future__ import annotations

import hashlib
import re
from typing import Sequence

from logyard.config.agent import RelabelConfig
from logyard.labels import compile_anchored, is_valid_label_name

_DOLLAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def _expand(match, template: str) -> str:
    def one(m) -> str:
        name = m.group(1) or m.group(2)
        try:
            value = match.group(int(name)) if name.isdigit() else match.group(name)
        except (IndexError, KeyError, re.error):
            return ""
        return value or ""

    return _DOLLAR.sub(one, template)


class Relabeler:
    def __init__(self, rules: Sequence[RelabelConfig]) -> None:
        self.rules = [(r, compile_anchored(r.regex)) for r in rules]

    def apply(self, labels: dict[str, str]) -> dict[str, str] | None:
        labels = dict(labels)
        for rule, rx in self.rules:
            value = rule.separator.join(labels.get(n, "") for n in rule.source_labels)
            action = rule.action
            if action == "keep":
                if rx.match(value) is None:
                    return None
            elif action == "drop":
                if rx.match(value) is not None:
                    return None
            elif action == "replace":
                m = rx.match(value)
                if m is None:
                    continue
                target = _expand(m, rule.target_label or "")
                result = _expand(m, rule.replacement)
                if not is_valid_label_name(target):
                    continue
                if result:
                    labels[target] = result
                else:
                    labels.pop(target, None)
            elif action == "labelmap":
                for name, v in list(labels.items()):
                    m = rx.match(name)
                    if m is not None:
                        labels[_expand(m, rule.replacement)] = v
            elif action == "labeldrop":
                labels = {k: v for k, v in labels.items() if rx.match(k) is None}
            elif action == "labelkeep":
                labels = {k: v for k, v in labels.items() if rx.match(k) is not None}
            elif action == "hashmod":
                h = int.from_bytes(hashlib.md5(value.encode()).digest()[8:], "big")
                labels[rule.target_label] = str(h % rule.modulus)
            elif action == "lowercase":
                labels[rule.target_label] = value.lower()
            elif action == "uppercase":
                labels[rule.target_label] = value.upper()
        return labels


def public(labels: dict[str, str]) -> dict[str, str]:
    """The labels a stream keeps: everything not starting with `__`."""
    return {k: v for k, v in labels.items() if not k.startswith("__") and v != ""}

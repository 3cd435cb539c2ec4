"""Render docs/configuration.md from the config models, so the reference never drifts from the code.

    python -m logyard.config.docs > docs/configuration.md
"""

from __future__ import annotations

import types
from typing import Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

UNITS = """\
Durations, in both files: a number with a unit, Go's syntax with Prometheus' days, weeks and years:
`ns`, `us`, `ms`, `s`, `m`, `h`, `d`, `w`, `y`, combined and fractional (`168h`, `1w`, `1h30m`,
`1.5h`, `500ms`). As in Loki only `0` goes without a unit: `90` is an error, not 90 seconds (Loki
refuses it too; Promtail once read it as 90 nanoseconds).
Sizes: bytes (`262144`) or a number with a unit, `KB`, `MB`, `GB`, `TB` (or `K`, `KiB`, ...), case
ignored; as in Loki every prefix counts 1024, so `256KB` is 262144 bytes. `1.5MiB` is allowed."""


def _model(annotation) -> tuple[str, type[BaseModel]] | None:
    """('', M) for a section M, ('[]', M) for a list of M, ('?', M) for an optional M; else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "", annotation
    args = get_args(annotation)
    if get_origin(annotation) is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return "[]", args[0]
    if get_origin(annotation) in (Union, types.UnionType):
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if len(models) == 1 and type(None) in args:
            return "?", models[0]
    return None


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "(required)"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return ""
    if value == "":
        return '`""`'
    return f"`{value}`"


def _row(path: str, field: FieldInfo) -> str:
    return f"| `{path}` | {_default(field)} | {field.description or ''} |"


def _rows(model: type[BaseModel], prefix: str = "") -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        nested = _model(field.annotation)
        if nested is None:
            rows.append(_row(path, field))
        elif nested[0] == "":
            rows.extend(_rows(nested[1], path + "."))
        elif nested[0] == "[]":
            rows.append(_row(path, field))
            rows.extend(_rows(nested[1], path + "[]."))
        else:
            rows.append(_row(path, field))
            rows.extend(_rows(nested[1], path + "."))
    return rows


def render() -> str:
    from logyard.config.agent import AgentConfig
    from logyard.config.server import ServerConfig

    out = ["# Configuration reference", "",
           "Generated from the config models by `python -m logyard.config.docs`; do not edit by hand.",
           "Every file is YAML; unknown keys and bad values are errors that name the file, line and key.", "",
           UNITS, ""]
    for title, model in (("`logyard serve` (`--config`)", ServerConfig), ("`logyard agent` (`--config`)", AgentConfig)):
        out += [f"## {title}", "", "| key | default | meaning |", "|---|---|---|", *_rows(model), ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(render())

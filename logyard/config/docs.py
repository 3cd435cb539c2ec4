"""Render docs/configuration.md from the config models, so the reference never drifts from the code.

    python -m logyard.config.docs > docs/configuration.md
"""

from __future__ import annotations

from typing import get_args

from pydantic import BaseModel


def _rows(model: type[BaseModel], prefix: str = "") -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        ann = field.annotation
        nested = [a for a in (ann, *get_args(ann)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if nested and not get_args(ann):
            rows.extend(_rows(nested[0], path + "."))
            continue
        default = field.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            default = "(section)"
        shown = "" if default is None else f"`{default}`"
        rows.append(f"| `{path}` | {shown} | {field.description or ''} |")
    return rows


def render() -> str:
    from logyard.config.agent import AgentConfig
    from logyard.config.server import ServerConfig

    out = ["# Configuration reference", "",
           "Generated from the config models by `python -m logyard.config.docs`; do not edit by hand.",
           "Every file is YAML; unknown keys and bad values are errors that name the file, line and key.", ""]
    for title, model in (("`logyard serve` (`--config`)", ServerConfig), ("`logyard agent` (`--config`)", AgentConfig)):
        out += [f"## {title}", "", "| key | default | meaning |", "|---|---|---|", *_rows(model), ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(render())

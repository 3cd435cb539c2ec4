"""YAML → pydantic model with errors that name the key path and the line of the offending value."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from logyard.errors import ConfigError

M = TypeVar("M", bound=pydantic.BaseModel)

# Validation context of a model read from a file: the models' validators can tell a YAML number, which
# Loki reads as text, from a number that Python code passes in the model's own unit.
_FROM_FILE = {"from_config_file": True}


def from_config_file(info: pydantic.ValidationInfo) -> bool:
    """True while a validator runs on values read by `parse_model`."""
    return bool(info.context and info.context.get("from_config_file"))


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader that remembers the line of every mapping key and sequence item."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = _LineDict()
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise ConfigError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.lines[key] = key_node.start_mark.line + 1
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> list:
    seq = _LineList(loader.construct_object(child, deep=True) for child in node.value)
    seq.lines = [child.start_mark.line + 1 for child in node.value]
    return seq


class _LineDict(dict):
    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Any, int] = {}


class _LineList(list):
    lines: list[int]


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _line_of(doc: Any, loc: tuple) -> int | None:
    """Walk the pydantic error location through the loaded document to the deepest known line."""
    line = None
    node = doc
    for part in loc:
        if isinstance(node, _LineDict) and part in node:
            line = node.lines.get(part, line)
            node = node[part]
        elif isinstance(node, _LineList) and isinstance(part, int) and part < len(node):
            line = node.lines[part]
            node = node[part]
        else:
            break
    return line


def parse_model(text: str, model: type[M], source: str = "<config>") -> M:
    """Validate YAML text into `model`; every error names file, line and dotted key path."""
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc.message}") from exc
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys, not {type(doc).__name__}")
    try:
        return model.model_validate(doc, context=_FROM_FILE)
    except pydantic.ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            path = ".".join(str(p) for p in loc) or "(top level)"
            line = _line_of(doc, loc)
            where = f"{source}:{line}" if line else source
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{where}: {path}: {msg}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from exc


def load_model(path: str | Path, model: type[M]) -> M:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror}") from exc
    return parse_model(text, model, str(p))

"""Running a chain of row stages over one entry, as Loki's streamPipeline.Process does.

Every stage has `process(ts_ns, line, lbs) -> (line, keep)`; a stage never mutates its input line
(strings are immutable) and records labels only through the `LabelsBuilder`. Line filters also
have a column form (`LineFilter.mask`) that the evaluator runs before any per-row stage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from .builder import NO_HINTS, LabelsBuilder, ParserHints


class Stage(Protocol):
    def process(self, ts: int, line: str, lbs: LabelsBuilder) -> tuple[str, bool]: ...


def required_label_names(stages: Sequence[object]) -> list[str]:
    """The labels the stages read (label filters, templates, renames): Loki's RequiredLabelNames,
    the input of `ParserHints.for_metric`."""
    names: list[str] = []
    for stage in stages:
        fn = getattr(stage, "required_label_names", None)
        if fn is not None:
            names.extend(fn())
    return list(dict.fromkeys(names))


def run_stages(
    stages: Sequence[Stage],
    ts: int,
    line: str,
    stream: Mapping[str, str],
    metadata: Mapping[str, str] | None = None,
    hints: ParserHints = NO_HINTS,
) -> tuple[str, dict[str, str]] | None:
    """The entry's final (line, labels), or None when a stage dropped it."""
    lbs = LabelsBuilder(stream, metadata, hints)
    for stage in stages:
        line, keep = stage.process(ts, line, lbs)
        if not keep:
            return None
    return line, lbs.labels()

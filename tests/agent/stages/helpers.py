"""Running lines through a pipeline built from Promtail's YAML stage list."""

from __future__ import annotations

from logyard.agent.stages.pipeline import build_pipeline
from logyard.agent.stages.stage import Entry


def run(stages, lines, labels=None, ts=None):
    p = build_pipeline(stages)
    return p.process([Entry(line, ts, dict(labels or {"job": "a"})) for line in lines])

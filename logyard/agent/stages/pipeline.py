"""The stages of one scrape config, and the table that builds them from Promtail's YAML.

`STAGES` maps each `pipeline_stages` key to the class that takes its options: adding a stage is its
module (a `Stage` subclass, see `stage.py`) plus one entry here. The config model checks stage names
and options with `build_pipeline`, so a new stage is known to `logyard agent --config` at once.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any, Callable

from logyard.agent.stages import control, extract, metrics, transform
from logyard.agent.stages.stage import Entry, Stage
from logyard.errors import ConfigError


class Pipeline:
    """The stages of one scrape config. Shared by that config's readers (one thread per container),
    so a run through it holds a lock: stages keep state (multiline blocks, rate buckets, metrics)."""

    def __init__(self, stages: list[Stage]) -> None:
        self.stages = stages
        self.holds = any(s.holds for s in stages)
        self._lock = threading.Lock()

    def process(self, entries: list[Entry]) -> list[Entry]:
        with self._lock:
            for stage in self.stages:
                if not entries:
                    break
                entries = stage.process(entries)
            return entries

    def flush(self, now_ns: int, force: bool = False) -> list[Entry]:
        out: list[Entry] = []
        with self._lock:
            for i, stage in enumerate(self.stages):
                if stage.holds:
                    out += self._run_from(i, stage.flush(now_ns, force))
        return out

    def _run_from(self, i: int, entries: list[Entry]) -> list[Entry]:
        for stage in self.stages[i + 1 :]:
            if not entries:
                break
            entries = stage.process(entries)
        return entries

    def held_pos(self) -> str | None:
        for stage in self.stages:
            pos = stage.held_pos()
            if pos is not None:
                return pos
        return None


def build_pipeline(specs: list[dict[str, Any]], agent_metrics: Any = None) -> Pipeline:
    """Build stages from Promtail's list of one-key mappings (`- json: {expressions: ...}`)."""
    stages = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict) or len(spec) != 1:
            raise ConfigError(f"pipeline_stages[{i}]: each stage is a mapping with exactly one key")
        ((name, options),) = spec.items()
        if name not in STAGES:
            raise ConfigError(f"pipeline_stages[{i}]: unknown stage {name!r} (known: {', '.join(sorted(STAGES))})")
        try:
            st = STAGES[name](options if options is not None else {})
        except ConfigError as exc:
            raise ConfigError(f"pipeline_stages[{i}].{name}: {exc.message}") from exc
        except (TypeError, ValueError, KeyError) as exc:
            raise ConfigError(f"pipeline_stages[{i}].{name}: {exc}") from exc
        if agent_metrics is not None:
            st.bind_metrics(agent_metrics)
        stages.append(st)
    return Pipeline(stages)


# Promtail's stage names, in the order docs/agent.md lists them. `match` builds its own stages,
# so it is handed `build_pipeline` rather than importing it (which would be an import cycle).
STAGES: dict[str, Callable[[Any], Stage]] = {
    # parsing
    "docker": extract.DockerStage,
    "cri": extract.CRIStage,
    "json": extract.JSONStage,
    "logfmt": extract.LogfmtStage,
    "regex": extract.RegexStage,
    # transforms
    "labels": transform.LabelsStage,
    "structured_metadata": transform.StructuredMetadataStage,
    "static_labels": transform.StaticLabelsStage,
    "labeldrop": transform.LabelDropStage,
    "labelallow": transform.LabelAllowStage,
    "timestamp": transform.TimestampStage,
    "output": transform.OutputStage,
    "template": transform.TemplateStage,
    # filtering and holding
    "multiline": control.MultilineStage,
    "drop": control.DropStage,
    "match": partial(control.MatchStage, build=build_pipeline),
    "limit": control.LimitStage,
    # metrics
    "metrics": metrics.MetricsStage,
}

"""What the agent reads, for `/targets` and `promtail_targets_active_total`: labels, state, last error."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class TargetInfo:
    key: str  # the positions key: a path or docker/<id>
    job: str
    kind: str  # "file" or "docker"
    discovered: dict[str, str]  # labels before relabeling (with __meta_* and __path__)
    labels: dict[str, str]  # the stream labels lines get
    state: str = "starting"  # starting, running, stopped, dropped, error
    last_error: str = ""
    position: str = ""
    updated: float = field(default_factory=time.time)

    def as_json(self) -> dict:
        return {
            "key": self.key, "job": self.job, "type": self.kind, "state": self.state,
            "ready": self.state == "running", "labels": self.labels, "discovered_labels": self.discovered,
            "last_error": self.last_error, "position": self.position,
        }


class TargetRegistry:
    def __init__(self, on_change=None) -> None:
        self._targets: dict[str, TargetInfo] = {}
        self._lock = threading.Lock()
        self._on_change = on_change

    def put(self, info: TargetInfo) -> TargetInfo:
        with self._lock:
            self._targets[info.key] = info
        self._changed()
        return info

    def update(self, key: str, **fields) -> None:
        with self._lock:
            t = self._targets.get(key)
            if t is None:
                return
            for k, v in fields.items():
                setattr(t, k, v)
            t.updated = time.time()
        if "state" in fields:
            self._changed()

    def remove(self, key: str) -> None:
        with self._lock:
            self._targets.pop(key, None)
        self._changed()

    def snapshot(self) -> list[TargetInfo]:
        with self._lock:
            return sorted(self._targets.values(), key=lambda t: (t.job, t.key))

    def active(self) -> int:
        with self._lock:
            return sum(1 for t in self._targets.values() if t.state == "running")

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self.active())

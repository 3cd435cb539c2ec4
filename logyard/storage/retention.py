"""Retention rules: how long a stream's rows are kept, from the global period and the per-stream
rules (Loki's `retention_period` and `retention_stream`).

The rule for one stream is Loki's (pkg/compactor/retention/expiration.go): of the rules whose
matchers all match the stream's labels, the highest priority wins; between rules of equal priority
the shortest period wins; with no matching rule the global period applies. A period of 0 keeps the
stream forever. Expiry is judged per stream within a block, as Loki judges it per chunk: a stream's
rows in a block go when its newest row there is older than the period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from logyard.labels import LabelSet, Matcher, matches_all


@dataclass(frozen=True)
class StreamRetention:
    matchers: tuple[Matcher, ...]
    priority: int
    period_ns: int  # 0: keep forever


@dataclass(frozen=True)
class RetentionRules:
    period_ns: int  # the global period; 0 keeps data forever
    streams: tuple[StreamRetention, ...] = ()

    def period_for(self, labels: LabelSet) -> int:
        """The retention period of a stream with `labels` (0: forever)."""
        best: StreamRetention | None = None
        for rule in self.streams:  # one step per rule: a handful
            if not matches_all(labels, rule.matchers):
                continue
            if best is not None and (best.priority > rule.priority or
                                     (best.priority == rule.priority and best.period_ns <= rule.period_ns)):
                continue
            best = rule
        return best.period_ns if best is not None else self.period_ns

    @staticmethod
    def expired(periods: np.ndarray, max_ts: np.ndarray, now_ns: int) -> np.ndarray:
        """Which streams of a block are expired, given each one's period and newest row: a mask."""
        return (periods > 0) & (max_ts < now_ns - periods)

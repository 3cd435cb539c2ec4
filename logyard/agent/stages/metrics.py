"""The `metrics` stage: counters, gauges and histograms from log lines, on the agent's `/metrics`.

As in Promtail the series carry the entry's labels and are named `<prefix><name>` with the prefix
`promtail_custom_` by default. prometheus_client wants label names fixed up front, while here every
stream brings its own, so the stage keeps its own series and exposes them through a collector.
"""

from __future__ import annotations

import bisect
import threading
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from logyard.agent.stages.extract import compile_re2
from logyard.agent.stages.stage import Entry, Stage, options, source_value
from logyard.errors import ConfigError

_DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]


class _Metric:
    def __init__(self, name: str, spec: dict[str, Any]) -> None:
        o = options(spec, {"type", "description", "source", "prefix", "max_idle_duration", "config"}, {"type"})
        self.kind = str(o["type"]).lower()
        if self.kind not in ("counter", "gauge", "histogram"):
            raise ConfigError(f"metric {name!r}: type must be Counter, Gauge or Histogram")
        self.name = o.get("prefix", "promtail_custom_") + name
        self.help = o.get("description", f"{name} from the metrics stage")
        self.source = o.get("source", name)
        c = options(o.get("config") or {}, {"value", "match_all", "count_entry_bytes", "action", "buckets"})
        self.value_rx = compile_re2("^(?:" + c["value"] + ")$") if c.get("value") else None
        self.match_all = bool(c.get("match_all", False))
        self.count_bytes = bool(c.get("count_entry_bytes", False))
        self.action = c.get("action", "inc" if self.kind == "counter" else "")
        allowed = {"counter": ("inc", "add"), "gauge": ("inc", "dec", "add", "sub", "set"), "histogram": ("",)}
        if self.kind != "histogram" and self.action not in allowed[self.kind]:
            raise ConfigError(f"metric {name!r}: action {self.action!r} not valid for a {self.kind}")
        self.buckets = sorted(float(b) for b in c.get("buckets", _DEFAULT_BUCKETS))
        self.series: dict[tuple, Any] = {}

    def observe(self, e: Entry) -> None:
        key = tuple(sorted(e.labels.items()))
        if self.match_all:
            amount = float(len(e.line.encode())) if self.count_bytes else 1.0
        else:
            text = source_value(e, self.source)
            if text is None or (self.value_rx is not None and self.value_rx.search(text) is None):
                return
            if self.action in ("inc", "dec"):
                amount = 1.0
            else:
                try:
                    amount = float(text)
                except ValueError:
                    return
        if self.kind == "histogram":
            counts, total = self.series.get(key, ([0] * (len(self.buckets) + 1), [0.0, 0]))
            counts[bisect.bisect_left(self.buckets, amount)] += 1
            total[0] += amount
            total[1] += 1
            self.series[key] = (counts, total)
        elif self.action == "set":
            self.series[key] = amount
        else:
            sign = -1 if self.action in ("dec", "sub") else 1
            self.series[key] = self.series.get(key, 0.0) + sign * amount

    def collect(self):
        names = sorted({k for key in self.series for k, _ in key})
        if self.kind == "counter":
            fam = CounterMetricFamily(self.name, self.help, labels=names)
        elif self.kind == "gauge":
            fam = GaugeMetricFamily(self.name, self.help, labels=names)
        else:
            fam = HistogramMetricFamily(self.name, self.help, labels=names)
        for key, value in list(self.series.items()):
            d = dict(key)
            lv = [d.get(n, "") for n in names]
            if self.kind == "histogram":
                counts, (total, _) = value
                cum, acc = [], 0
                for b, c in zip([*map(str, self.buckets), "+Inf"], counts):
                    acc += c
                    cum.append((b, acc))
                fam.add_metric(lv, cum, total)
            else:
                fam.add_metric(lv, value)
        return fam


class MetricsStage(Stage):
    def __init__(self, opts) -> None:
        if not isinstance(opts, dict) or not opts:
            raise ConfigError("metrics needs a mapping of metric name to its definition")
        self.metrics = [_Metric(name, spec) for name, spec in opts.items()]
        self._lock = threading.Lock()

    def bind_metrics(self, agent_metrics: Any) -> None:
        try:
            agent_metrics.registry.register(self)
        except ValueError as exc:  # the same metric name defined twice
            raise ConfigError(f"metrics stage: {exc}") from exc

    def collect(self):
        with self._lock:
            return [m.collect() for m in self.metrics]

    def process(self, entries: list[Entry]) -> list[Entry]:
        with self._lock:
            for e in entries:
                for m in self.metrics:
                    m.observe(e)
        return entries

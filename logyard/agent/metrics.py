"""The agent's metrics, under Promtail's exact names so existing dashboards keep working.

One registry per agent (not the process-global one), so several agents can live in one test process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class AgentMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.sent_entries = Counter("promtail_sent_entries_total", "Entries sent to the server.", ["host"], registry=r)
        self.sent_bytes = Counter("promtail_sent_bytes_total", "Line bytes sent to the server.", ["host"], registry=r)
        self.encoded_bytes = Counter(
            "promtail_encoded_bytes_total", "Compressed push bytes sent.", ["host"], registry=r
        )
        # Promtail's labels and reasons: `rate_limited` for a 429, `ingester_error` for anything else.
        self.dropped_entries = Counter(
            "promtail_dropped_entries_total", "Entries dropped (rejected or retries exhausted).",
            ["host", "tenant", "reason"], registry=r,
        )
        self.dropped_bytes = Counter(
            "promtail_dropped_bytes_total", "Line bytes dropped (rejected or retries exhausted).",
            ["host", "tenant", "reason"], registry=r,
        )
        self.batch_retries = Counter("promtail_batch_retries_total", "Push retries.", ["host", "tenant"], registry=r)
        self.request_duration = Histogram(
            "promtail_request_duration_seconds", "Push request duration.", ["host", "status_code"], registry=r
        )
        self.read_bytes = Counter("promtail_read_bytes_total", "Bytes read from files.", ["path"], registry=r)
        self.read_lines = Counter("promtail_read_lines_total", "Lines read from files.", ["path"], registry=r)
        self.file_bytes = Gauge("promtail_file_bytes_total", "Size of each tailed file.", ["path"], registry=r)
        self.files_active = Gauge("promtail_files_active_total", "Files being tailed.", registry=r)
        self.targets_active = Gauge("promtail_targets_active_total", "Active targets.", registry=r)
        self.docker_entries = Counter(
            "promtail_docker_target_entries_total", "Lines read from containers.", registry=r
        )
        self.pipeline_dropped = Counter(
            "logyard_agent_pipeline_dropped_lines_total", "Lines dropped by pipeline stages.", ["reason"], registry=r
        )
        self.unacked_bytes = Gauge(
            "logyard_agent_unacked_bytes", "Encoded bytes journaled but not yet acknowledged.", registry=r
        )
        self.backpressure_waits = Counter(
            "logyard_agent_backpressure_waits_total", "Times a reader paused on the unacked bound.", registry=r
        )

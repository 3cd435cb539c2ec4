"""The server's Prometheus metrics, under Loki's metric names where Loki has one."""

from __future__ import annotations

import importlib.metadata
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, UnknownMetricFamily


class ServerMetrics:
    def __init__(self, sizes: Callable[[], dict[str, int]],
                 recovery: Callable[[], dict[str, int]] | None = None,
                 streams: Callable[[], tuple[dict[str, int], dict[str, int]]] | None = None,
                 compactor: Callable[[], dict[str, dict[str, int]]] | None = None) -> None:
        """`streams()` is (streams created, streams in memory), each per tenant; `compactor()` the
        counters of retention and delete requests, metric name -> tenant -> count."""
        self.registry = CollectorRegistry()
        self.lines_received = Counter(
            "loki_distributor_lines_received_total", "Log lines received, per tenant.",
            ["tenant"], registry=self.registry)
        self.bytes_received = Counter(
            "loki_distributor_bytes_received_total", "Line bytes received, per tenant.",
            ["tenant"], registry=self.registry)
        self.discarded = Counter(
            "loki_discarded_samples_total", "Lines discarded at ingest, per reason and tenant.",
            ["reason", "tenant"], registry=self.registry)
        self.discarded_bytes = Counter(
            "loki_discarded_bytes_total", "Line bytes discarded at ingest, per reason and tenant.",
            ["reason", "tenant"], registry=self.registry)
        self.mutated = Counter(
            "loki_mutated_samples_total", "Lines changed at ingest (cut to max_line_size), per reason and tenant.",
            ["reason", "tenant"], registry=self.registry)
        self.mutated_bytes = Counter(
            "loki_mutated_bytes_total", "Line bytes removed at ingest, per reason and tenant.",
            ["reason", "tenant"], registry=self.registry)
        self.request_duration = Histogram(
            "loki_request_duration_seconds", "Time spent serving HTTP requests.",
            ["method", "route", "status_code"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100))
        # A writer's answers to the readers (api/internal.py): rows of its head sent for their queries
        # (a query sends its scope: only the rows it can read), and the readers' tails following it.
        self.head_rows_sent = Counter(
            "logyard_head_rows_sent", "Head rows a writer sent readers for their queries (/internal/head).",
            registry=self.registry)
        self.writer_tails = Gauge(
            "logyard_writer_tails", "Readers' live tails following this writer's appends (/internal/tail).",
            registry=self.registry)
        self.registry.register(_StorageCollector(sizes))
        if recovery is not None:
            self.registry.register(_RecoveryCollector(recovery))
        if streams is not None:
            self.registry.register(_StreamsCollector(streams))
        if compactor is not None:
            self.registry.register(_CompactorCollector(compactor))
        info = Gauge("loki_build_info", "logyard's version, under Loki's name (dashboards show it).",
                     ["version", "branch", "revision", "goversion"], registry=self.registry)
        info.labels(_version(), "", "", "").set(1)


def _version() -> str:
    try:
        return importlib.metadata.version("logyard")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class _StreamsCollector:
    """Loki's ingester stream figures, read from the store at scrape time."""

    def __init__(self, streams: Callable[[], tuple[dict[str, int], dict[str, int]]]) -> None:
        self._streams = streams

    def collect(self):
        created, memory = self._streams()
        c = CounterMetricFamily("loki_ingester_streams_created", "Streams opened in the in-memory head, per tenant.",
                                labels=["tenant"])
        for tenant, n in sorted(created.items()):
            c.add_metric([tenant], float(n))
        yield c
        g = GaugeMetricFamily("loki_ingester_memory_streams", "Streams with lines in memory (the head), per tenant.",
                              labels=["tenant"])
        for tenant, n in sorted(memory.items()):
            g.add_metric([tenant], float(n))
        yield g


class _StorageCollector:
    """Reads the store's sizes at scrape time, so the numbers are never stale."""

    def __init__(self, sizes: Callable[[], dict[str, int]],
                 recovery: Callable[[], dict[str, int]] | None = None,
                 streams: Callable[[], tuple[dict[str, int], dict[str, int]]] | None = None) -> None:
        """`streams()` is (streams created, streams in memory), each per tenant."""
        self._sizes = sizes

    def collect(self):
        try:
            sizes = self._sizes()
        except Exception:  # store not open yet (WAL replay running): report nothing
            sizes = {}
        for key, value in sorted(sizes.items()):
            g = GaugeMetricFamily(f"logyard_storage_{key}", f"Storage figure {key!r} from the store.")
            g.add_metric([], float(value))
            yield g


# Loki's own names where Loki counts the same thing (its ingester's WAL metrics); a difference:
# Loki accepts a push whose WAL write failed for space, logyard refuses it (507), as its 2xx promises
# durability.
_RECOVERY_NAMES = {
    "wal_corruptions": "loki_ingester_wal_corruptions",
    "wal_disk_full_failures": "loki_ingester_wal_disk_full_failures",
}
_RECOVERY_HELP = {
    "wal_corruptions": "WAL segments whose replay stopped at a damaged record.",
    "wal_disk_full_failures": "Pushes refused (507) because the WAL's disk was full.",
    "wal_skipped_records": "Damaged WAL records the replay skipped (the log names segment and offset).",
    "wal_skipped_bytes": "Bytes of damaged WAL records the replay skipped.",
    "blocks_quarantined": "Blocks that did not decode, moved to quarantine/ and dropped from the index.",
    "index_rebuilds": "Times the index was rebuilt from the blocks (it was missing or unreadable, or did not "
                      "name the object store's blocks).",
    "flush_failures": "Flushes that failed (the object store unreachable, a full disk); each is retried, the WAL "
                      "keeps its rows meanwhile.",
    "refresh_failures": "Re-listings of the object store that failed (target read or backend); the blocks known "
                        "stay readable, the next period tries again.",
    "writer_head_failures": "Writers a reader asked for their unflushed rows that did not answer (target read): "
                            "those answers came from the object store alone.",
    "writer_tail_failures": "Connections of a reader's live tails to a writer that failed or were lost (target "
                            "read): the tail goes on with the other writers and connects again.",
}


class _RecoveryCollector:
    """The store's recovery counters (storage/recovery.py) as logyard_<name>_total, or Loki's name."""

    def __init__(self, recovery: Callable[[], dict[str, int]]) -> None:
        self._recovery = recovery

    def collect(self):
        for key, value in sorted(self._recovery().items()):
            c = CounterMetricFamily(_RECOVERY_NAMES.get(key, f"logyard_{key}"), _RECOVERY_HELP.get(key, key))
            c.add_metric([], float(value))
            yield c


_COMPACTOR_HELP = {
    "loki_compactor_delete_requests_received_total": "Delete requests received, per user.",
    "loki_compactor_delete_requests_processed_total": "Delete requests processed (their lines removed from disk), per user.",
    "loki_compactor_deleted_lines": "Lines removed from disk by delete requests, per user.",
    "logyard_retention_deleted_lines_total": "Lines removed from disk by retention, per user.",
}


class _CompactorCollector:
    """Retention and delete-request counters, read from the store at scrape time, under Loki's names
    and its `user` label."""

    def __init__(self, counts: Callable[[], dict[str, dict[str, int]]]) -> None:
        self._counts = counts

    def collect(self):
        for name, per_user in self._counts().items():
            if name.endswith("_total"):
                m = CounterMetricFamily(name[: -len("_total")], _COMPACTOR_HELP[name], labels=["user"])
            else:
                # Loki's counter is named without `_total`, which a Python counter would add: untyped
                # keeps the exact name dashboards query.
                m = UnknownMetricFamily(name, _COMPACTOR_HELP[name], labels=["user"])
            for user, n in sorted(per_user.items()):
                m.add_metric([user], float(n))
            yield m

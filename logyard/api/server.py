"""What the route families share: the config, the store, the query engine, the decode pool, the
metrics and readiness. The store opens off the event loop (`open`, from the app's lifespan); until
it is open every route that reads or writes data answers Loki's 503."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time

from starlette.requests import Request

from logyard.api.ingest_pool import DecodePool
from logyard.api.memory import release_freed_memory
from logyard.api.metrics import ServerMetrics
from logyard.api.ingest_limits import IngestLimits
from logyard.api.params import Params, request_params
from logyard.api.runtime import RuntimeConfigWatcher
from logyard.api.tail_hub import TailHub
from logyard.api.tenant import tenant_of
from logyard.api.writer_heads import WriterHeads
from logyard.api.writer_tails import WriterTails
from logyard.config.runtime import Overrides
from logyard.config.server import LimitsSection, ServerConfig, default_node_id, parse_duration_ns, parse_size
from logyard.errors import ConfigError, LogyardError, StorageError
from logyard.logql.delete_query import compile_delete_query
from logyard.logql.engine import Engine, Limits
from logyard.logql.syntax.parser import parse_matchers
from logyard.storage.lease import Lease
from logyard.storage.s3_signed import S3Target, SignedBucket
from logyard.storage.objects import ObjectStore, s3_store
from logyard.storage.retention import RetentionRules, StreamRetention
from logyard.storage.store import Store

log = logging.getLogger("logyard.api")

NOT_READY = "Ingester not ready: waiting for the WAL replay to finish"
# From SIGTERM on: Loki's /ready answer once a shutdown is requested, and its ingester's refusal of
# pushes while it shuts down (ErrReadOnly; 503 here, so clients retry against the restarted server).
STOPPING = "Application is stopping"
SHUTTING_DOWN = "Ingester is shutting down"


def query_limits(lim: LimitsSection) -> Limits:
    return Limits(
        max_entries=lim.max_entries_limit_per_query,
        max_series=lim.max_query_series,
        max_points=lim.max_query_points,
        max_query_length_ns=parse_duration_ns(lim.max_query_length),
        max_query_range_ns=parse_duration_ns(lim.max_query_range),
        max_query_parallelism=lim.max_query_parallelism,
    )


def s3_target(cfg: ServerConfig) -> S3Target | None:
    """Where to send the signed requests of the bucket's shared small objects (storage/s3_signed.py:
    the lease, delete requests), or None: no S3 object store, or no access key to sign with."""
    s3 = cfg.storage.object_store.s3
    if cfg.storage.object_store.type != "s3" or s3 is None or not s3.access_key_id:
        return None
    scheme = "http" if s3.insecure else "https"
    host = s3.endpoint
    for prefix in ("http://", "https://"):
        if host.startswith(prefix):
            scheme, host = prefix[:-3], host[len(prefix):]
    host = host.rstrip("/") or f"s3.{s3.region or 'us-east-1'}.amazonaws.com"
    path_style = bool(s3.endpoint) and s3.s3forcepathstyle
    base = f"{scheme}://{host}" if path_style else f"{scheme}://{s3.bucketnames}.{host}"
    return S3Target(base, f"/{s3.bucketnames}" if path_style else "", s3.region or "us-east-1",
                    s3.access_key_id, s3.secret_access_key)


def backend_lease(cfg: ServerConfig, node_id: str) -> Lease | None:
    """The backend's lease on the bucket (storage/lease.py), or None: not a backend, `backend_lease`
    0s, or no access key to sign its requests with (then one backend must be run by rule)."""
    ttl_s = parse_duration_ns(cfg.compactor.backend_lease) / 1e9
    s3 = cfg.storage.object_store.s3
    if cfg.target != "backend" or not ttl_s or s3 is None:
        return None
    target = s3_target(cfg)
    if target is None:
        log.warning("compactor.backend_lease needs s3.access_key_id to sign its requests: no lease, so run "
                    "exactly one backend")
        return None
    return Lease(target, s3.prefix, node_id, ttl_s=ttl_s)


def deletes_bucket(cfg: ServerConfig) -> SignedBucket | None:
    """Where delete requests live when the bucket holds them (storage/delete_bucket.py), or None: in
    the data directory's deletes.sqlite. The bucket holds them whenever there is an S3 object store
    and a key to sign with, for every target that serves the delete API or reads (docs/scaling.md);
    a writer needs none."""
    s3 = cfg.storage.object_store.s3
    if cfg.target == "write" or s3 is None:
        return None
    target = s3_target(cfg)
    if target is None:
        if cfg.storage.object_store.type == "s3" and cfg.target != "all":
            log.warning("delete requests in the bucket need s3.access_key_id to sign their requests: they stay "
                        "in this node's deletes.sqlite, so send them to the one backend; readers do not apply "
                        "them before its deletion pass")
        return None
    return SignedBucket(target, s3.prefix)


def object_store(cfg: ServerConfig) -> ObjectStore | None:
    """The object store of `storage.object_store`, None for the data directory alone."""
    section = cfg.storage.object_store
    if section.type != "s3" or section.s3 is None:
        return None
    s3 = section.s3
    return s3_store(bucket=s3.bucketnames, prefix=s3.prefix, endpoint=s3.endpoint, region=s3.region,
                    access_key_id=s3.access_key_id, secret_access_key=s3.secret_access_key,
                    force_path_style=s3.s3forcepathstyle, insecure=s3.insecure)


class Server:
    """Holds the store, the engine and the metrics for the routes; opens the store off the event loop."""

    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        lim, comp = cfg.limits, cfg.compactor
        objects = object_store(cfg)
        target = cfg.target
        node_id = cfg.node_id or (default_node_id() if objects is not None else "")
        self.lease = backend_lease(cfg, node_id)
        self.writer_heads: WriterHeads | None = None
        self.writer_tails: WriterTails | None = None  # a reader's live tails follow the writers' appends
        if target == "read" and cfg.querier.writers:
            writer_timeout_s = parse_duration_ns(cfg.querier.writer_timeout) / 1e9
            self.writer_heads = WriterHeads(cfg.querier.writers, timeout_s=writer_timeout_s,
                                            on_failure=self._writer_head_failed)
            self.writer_tails = WriterTails(cfg.querier.writers, timeout_s=writer_timeout_s,
                                            on_failure=self._writer_tail_failed)
        self._retention: dict[tuple[str, int], RetentionRules] = {}
        self.store = Store(
            cfg.storage.data_dir,
            retention_for=self.retention_for,
            retention_enabled=comp.retention_enabled,
            compaction_interval_s=parse_duration_ns(comp.compaction_interval) / 1e9,
            retention_delete_delay_s=parse_duration_ns(comp.retention_delete_delay) / 1e9,
            delete_cancel_period_s=parse_duration_ns(comp.delete_request_cancel_period) / 1e9,
            compile_delete=compile_delete_query,
            block_window_ns=parse_duration_ns(cfg.storage.block_window),
            head_max_bytes=parse_size(cfg.storage.head_max_bytes),
            head_max_age_s=parse_duration_ns(cfg.storage.head_max_age) / 1e9,
            wal_fsync=cfg.storage.wal_fsync,
            objects=objects,
            cache_max_bytes=parse_size(cfg.storage.object_store.cache_size),
            max_unflushed_bytes=parse_size(cfg.storage.object_store.max_unflushed_bytes),
            node_id=node_id,
            # the targets (docs/scaling.md): what of the store this process runs
            writes=target in ("all", "write"),
            maintain=target in ("all", "backend"),
            refresh_period_s=parse_duration_ns(cfg.storage.object_store.refresh_period) / 1e9
            if target in ("read", "backend") else 0.0,
            remote_heads=self.writer_heads,
            retain_flushed_s=parse_duration_ns(cfg.storage.object_store.retain_flushed) / 1e9
            if target == "write" else 0.0,
            may_maintain=self.lease.hold if self.lease is not None else None,
            decoded_cache_bytes=parse_size(cfg.storage.decoded_cache_size),
            after_compaction=release_freed_memory,
            deletes_bucket=deletes_bucket(cfg),
        )
        # Every limit lookup goes through limits_for(tenant): `limits:` overridden per tenant by the
        # runtime file, which is read here first (a broken one stops the start, as in Loki).
        self.overrides = Overrides(lim)
        self.runtime: RuntimeConfigWatcher | None = None
        if cfg.runtime_config.file is not None:
            self.runtime = RuntimeConfigWatcher(cfg.runtime_config.file,
                                                parse_duration_ns(cfg.runtime_config.period) / 1e9, self.overrides)
            self.runtime.load()
        self.ingest_limits = IngestLimits()
        self.stopping = threading.Event()  # set on SIGTERM: /ready and pushes answer 503
        self.metrics = ServerMetrics(self._sizes, self.store.recovery.as_dict, self._streams, self._compactor)
        idle_ns = parse_duration_ns(cfg.server.decode_idle_timeout)
        self.decode_pool = DecodePool(cfg.server.decode_workers, nice=cfg.server.decode_nice,
                                      idle_s=idle_ns / 1e9 if idle_ns > 0 else None)
        self.tails = TailHub(lambda tenant: self.limits_for(tenant).max_concurrent_tail_requests)  # the open live tails (api/tail.py)
        self.metrics.registry.register(self.tails)
        self.ready = threading.Event()
        self.open_error: BaseException | None = None
        self.engine = Engine(self.store, query_limits(lim), self.query_limits_for)
        self._query_limits: dict[str, tuple[int, Limits]] = {}

    def _writer_head_failed(self) -> None:
        self.store.recovery.writer_head_failures += 1

    def _writer_tail_failed(self) -> None:
        self.store.recovery.writer_tail_failures += 1

    def retention_for(self, tenant: str) -> RetentionRules:
        """A tenant's retention_period and retention_stream, overrides included (Loki's per-tenant
        retention); rebuilt only when the runtime file changed."""
        lim = self.overrides.limits_for(tenant)
        key = (tenant, self.overrides.generation)
        rules = self._retention.get(key)
        if rules is None:
            rules = RetentionRules(parse_duration_ns(lim.retention_period), tuple(
                StreamRetention(tuple(parse_matchers(r.selector, validate_query=False)), r.priority,
                                parse_duration_ns(r.period)) for r in lim.retention_stream))
            self._retention = {k: v for k, v in self._retention.items() if k[1] == key[1]}
            self._retention[key] = rules
        return rules

    def _sizes(self) -> dict[str, int]:
        return self.store.sizes() if self.ready.is_set() else {}

    def _streams(self) -> tuple[dict[str, int], dict[str, int]]:
        if not self.ready.is_set():
            return {}, {}
        return dict(self.store.streams_created), self.store.memory_streams()

    def _compactor(self) -> dict[str, dict[str, int]]:
        """The compactor's counters per tenant, by metric name (api/metrics.py)."""
        d, m = self.store.deletes, self.store.maintenance
        return {"loki_compactor_delete_requests_received_total": dict(d.received),
                "loki_compactor_delete_requests_processed_total": dict(d.processed),
                "loki_compactor_deleted_lines": dict(d.deleted_lines),
                "logyard_retention_deleted_lines_total": dict(m.retention_lines)}

    def open(self) -> None:
        """Replay the WAL; ready once done (the decode workers start at the first push)."""
        t0 = time.monotonic()
        try:
            self.store.open()
            self.store.start_background()
        except (ConfigError, StorageError, OSError, sqlite3.OperationalError) as exc:
            if isinstance(exc, StorageError) and self.store.objects is None:
                self.open_error = exc  # as any other failure below: reported by /ready
                log.exception("opening the data directory failed")
                return
            # a locked, unwritable or incompatible data dir, or an object store that cannot be listed:
            # nothing to serve, say so in one line and stop (a supervisor restarts it)
            reason = exc.message if isinstance(exc, LogyardError) else str(exc)
            what = "the object store" if isinstance(exc, StorageError) else f"the data directory {self.cfg.storage.data_dir}"
            log.error("cannot use %s: %s", what, reason)
            # Workers would hold our stderr, so whoever reads it to the end would wait on them.
            self.decode_pool.shutdown()
            logging.shutdown()
            os._exit(2)
        except BaseException as exc:  # reported by /ready and logged; the process keeps serving errors
            self.open_error = exc
            log.exception("opening the data directory failed")
            return
        where = f", blocks in {self.store.objects.description}" if self.store.objects is not None else ""
        log.info("storage ready in %.2fs (WAL replayed%s)", time.monotonic() - t0, where)
        if self.runtime is not None:
            self.runtime.start()
        self.ready.set()

    def close(self) -> None:
        if self.runtime is not None:
            self.runtime.stop()
        if self.writer_heads is not None:
            self.writer_heads.close()

        self.decode_pool.shutdown()
        if self.ready.is_set():
            self.store.close()
        if self.lease is not None:
            self.lease.close()  # after the store: its maintenance thread asks the lease

    def limits_for(self, tenant: str) -> LimitsSection:
        return self.overrides.limits_for(tenant)

    def query_timeout_ns(self, tenant: str) -> int | None:
        """The tenant's `query_timeout` for a Deadline; None (no timeout) for 0s."""
        return parse_duration_ns(self.limits_for(tenant).query_timeout) or None

    def query_limits_for(self, tenant: str) -> Limits:
        """The engine's limits for `tenant`, remembered until the overrides change."""
        lim = self.limits_for(tenant)
        if lim is self.overrides.base:
            return self.engine.limits
        cached = self._query_limits.get(tenant)
        if cached is None or cached[0] != self.overrides.generation:
            cached = self._query_limits[tenant] = (self.overrides.generation, query_limits(lim))
        return cached[1]

    def tenant(self, request: Request) -> str:
        return tenant_of(request.headers, self.cfg.auth_enabled)

    def require_accepting(self) -> None:
        """Pushes: refused from the start of a shutdown, so that the flush takes all acknowledged data."""
        if self.stopping.is_set():
            raise LogyardError(SHUTTING_DOWN, status=503)
        self.require_ready()

    def require_ready(self) -> None:
        if not self.ready.is_set():
            raise LogyardError(NOT_READY, status=503)

    async def read_request(self, request: Request) -> tuple[Params, str]:
        """A read route's parameters and tenant, once the store is ready: a bad tenant is a 401
        before the 503 of a store still opening, and both come before any parameter's 400."""
        params = await request_params(request)
        tenant = self.tenant(request)
        self.require_ready()
        return params, tenant

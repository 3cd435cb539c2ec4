"""`logyard serve` configuration. Defaults are Loki's wherever Loki has one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import re
import socket
from typing import Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, field_serializer, model_validator

from logyard.config.otlp import OtlpConfig

# Re-exported: the server's code (logyard.api) parses the config's texts with these, logyard.units' grammar.
from logyard.errors import LogyardError
from logyard.units import parse_duration_ns, parse_size

__all__ = ["ServerConfig", "parse_duration_ns", "parse_size"]


def _text(value):
    # Loki reads a YAML scalar given to a duration or size as its text: `0` is "0", `90` is "90".
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _checked(parse):
    def check(value):
        parse(value)
        return value

    return check


# The config keeps the text as written (shown back by /config); the server parses it where it is used.
Duration = Annotated[str, BeforeValidator(_text), AfterValidator(_checked(parse_duration_ns))]
Size = Annotated[str | int, AfterValidator(_checked(parse_size))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ServerSection(_Strict):
    http_listen_address: str = Field("127.0.0.1", description="Address the HTTP server binds to.")
    http_listen_port: int = Field(3100, ge=0, le=65535, description="HTTP port (Loki's default 3100).")
    log_level: str = Field("info", pattern="^(debug|info|warn|error)$", description="debug, info, warn or error.")
    decode_workers: int | None = Field(
        None, ge=0, description="Processes that decode pushes (default: one per core but one, at least one: the "
        "server process keeps a core busy itself; 0 decodes in the server process). They start at the first push; "
        "until they have started, pushes are decoded in the server process.")
    decode_nice: int = Field(
        10, ge=0, le=19, description="Niceness added to the decode processes: the server process (WAL, head, block "
        "flushes) goes first when cores are short, so flushes keep up with decoding.")
    decode_idle_timeout: Duration = Field(
        "30s", description="Decode processes that have had no push to decode for this long exit, so that their "
        "memory (~70 MiB each) is freed while nothing is pushed; the next push starts them again (~0.5 CPU-s "
        "each; meanwhile pushes are decoded in the server process). 0s: they stay.")


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _bucket(name: str) -> str:
    if "," in name:
        raise ValueError("logyard stores blocks in one bucket: name one (Loki's list of several is not read)")
    if not _BUCKET.match(name):
        raise ValueError(f"{name!r} is not an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)")
    return name


class S3Section(_Strict):
    """Loki's `storage_config.aws` keys, for an S3-compatible store."""

    bucketnames: Annotated[str, AfterValidator(_bucket)] = Field(
        description="The bucket that holds the blocks (one; it must exist).")
    endpoint: str = Field(
        "", description="host:port of an S3-compatible server (MinIO, SeaweedFS, Ceph RGW, "
        "storage.googleapis.com); empty: AWS S3 in `region`.")
    region: str = Field("", description="The bucket's region; empty: the AWS SDK's default (us-east-1).")
    access_key_id: str = Field(
        "", description="Access key; empty with an empty secret: the AWS default credential chain (environment, "
        "profile, instance role).")
    secret_access_key: str = Field("", description="Secret key of `access_key_id`.")
    s3forcepathstyle: bool = Field(
        False, description="Address the bucket as endpoint/bucket instead of bucket.endpoint (MinIO and SeaweedFS "
        "want true; Loki's default false).")
    insecure: bool = Field(False, description="Plain HTTP to `endpoint` instead of HTTPS.")
    prefix: str = Field(
        "", description="Key prefix of every object in the bucket, so several logyard installations can share one.")

    @field_serializer("secret_access_key", when_used="json")
    def _masked(self, value: str) -> str:
        return "<secret>" if value else ""  # /config shows it as Loki does


class ObjectStoreSection(_Strict):
    """Where flushed blocks live: the data directory alone, or an S3-compatible object store."""

    type: Literal["filesystem", "s3"] = Field(
        "filesystem", description="filesystem: blocks stay in `data_dir` (the embedded default). s3: the bucket of "
        "`s3` holds the blocks and is the source of truth for everything flushed (the index in `data_dir` is "
        "rebuilt from it when it differs); `data_dir` keeps the WAL, the index and a cache of blocks.")
    s3: S3Section | None = Field(None, description="The S3-compatible store, with `type: s3`.")
    cache_size: Size = Field(
        "1GiB", description="With `type: s3`: block files kept in `data_dir` (those this server wrote, least "
        "recently read deleted first); a block not cached is read from the store, only the row groups and "
        "columns a query needs. 0: none kept.")
    refresh_period: Duration = Field(
        "15s", description="With `target: read` or `backend`: how often the bucket is listed again, to read the "
        "blocks writers flushed since and forget those the backend compacted or expired (only the new blocks' "
        "footers are fetched), and the delete requests other nodes took, processed or cancelled. A block is answered "
        "by readers at most this long after its flush; until then readers get its rows from the writer's head "
        "(`querier.writers`).")
    retain_flushed: Duration = Field(
        "1m", description="With `target: write`: a flushed head is still given to readers this long (Loki's "
        "chunk_retain_period), so its rows stay in answers until every reader re-listed the bucket and reads "
        "its blocks; keep it above `refresh_period` plus a listing's time. Costs memory: the heads flushed in "
        "this period.")
    max_unflushed_bytes: Size = Field(
        "512MiB", description="With `type: s3`: while flushes fail (the store unreachable) pushes are still "
        "acknowledged, held in the WAL and memory and flushed when the store answers again, until this much "
        "line text waits; then pushes are refused with 503 until a flush succeeds. 0: no bound.")

    @model_validator(mode="after")
    def _s3_given(self) -> "ObjectStoreSection":
        if self.type == "s3" and self.s3 is None:
            raise ValueError("type s3 needs the s3 section (at least s3.bucketnames)")
        return self


class StorageSection(_Strict):
    data_dir: Path = Field(Path("./data"), description="Directory for the WAL, blocks and the index.")
    wal_fsync: bool = Field(False, description="fsync the WAL before acknowledging a push (power-loss safety).")
    head_max_bytes: Size = Field("32MiB", description="Cut blocks when the head holds this much line text.")
    head_max_age: Duration = Field(
        "5m", description="Cut blocks when the oldest head data is this old. Also the settle time of compaction: a "
        "block window that ended this long ago is rewritten once, compressed high (zstd).")
    block_window: Duration = Field("1h", description="Time span of one block.")
    decoded_cache_size: Size = Field(
        "64MiB", description="Decoded line and metadata columns of the row groups that log queries with a "
        "limit read last, kept in memory so that a refreshing logs panel decodes only what is new. Least "
        "recently used out first; a row group larger than a quarter of it is not kept. 0: no cache.")
    object_store: ObjectStoreSection = Field(
        default_factory=ObjectStoreSection, description="Where flushed blocks live (see docs/storage-format.md, "
        "Object storage).")


class DistributorSection(_Strict):
    max_recv_msg_size: Size = Field(
        "100MiB", description="Largest push body received, as sent (compressed); a larger one is refused with "
        "413 while it is read. 0: no limit (Loki: 100MiB).")
    max_decompressed_size: Size = Field(
        "100MiB", description="Largest push body once gzip, deflate or snappy is undone; inflating stops and "
        "answers 413 there. 0: no limit (Loki's default is 50x max_recv_msg_size; logyard keeps a decode "
        "worker's memory bounded instead).")


def _selector(text: str) -> str:
    from logyard.logql.syntax.parser import parse_matchers  # the LogQL parser is heavy: only when a rule is given

    try:
        parse_matchers(text, validate_query=False)
    except LogyardError as e:
        raise ValueError(f"invalid stream selector {text!r}: {e.message}") from None
    return text


class StreamRetentionRule(_Strict):
    """One `limits.retention_stream` rule (Loki's StreamRetention)."""

    selector: Annotated[str, AfterValidator(_selector)] = Field(description="Stream selector of the streams the rule applies to, e.g. `{app=\"nginx\"}`.")
    priority: int = Field(0, description="Of the rules matching a stream the highest priority wins; between equal "
                          "priorities the shortest period.")
    period: Duration = Field(description="Retention period of the matching streams; 0s keeps them forever.")


class LimitsSection(_Strict):
    retention_period: Duration = Field("168h", description="Delete data older than this (7 days); 0s keeps data forever.")
    retention_stream: list[StreamRetentionRule] = Field(
        default_factory=list, description="Per-stream retention periods overriding `retention_period` (Loki's rules).")
    reject_old_samples: bool = Field(True, description="Refuse entries older than reject_old_samples_max_age.")
    reject_old_samples_max_age: Duration = Field("168h", description="Oldest accepted entry age (Loki: 1w).")
    creation_grace_period: Duration = Field("10m", description="How far in the future an entry may be (Loki: 10m).")
    max_line_size: Size = Field("256KB", description="Longest accepted line (Loki: 256KB).")
    max_entries_limit_per_query: int = Field(5000, ge=1, description="Largest `limit` of a log query.")
    max_query_series: int = Field(500, ge=1, description="Most series a metric query may return.")
    max_query_points: int = Field(11000, ge=1, description="Points per series in a range query.")
    query_timeout: Duration = Field(
        "1m", description="A query still running after this is cancelled and answers Loki's 504 (Loki: 1m); 0s "
        "never times out. A query whose client disconnects is cancelled too.")
    max_query_length: Duration = Field(
        "721h", description="Longest time range (end - start) of a range query, else 400 (Loki: 721h); 0s "
        "disables the limit.")
    max_concurrent_tail_requests: int = Field(
        10, ge=1, description="Live tails (`/loki/api/v1/tail`) open at once per tenant; one more is closed "
        "with Loki's message (Loki: 10).")
    discover_service_name: list[str] = Field(
        default_factory=lambda: ["service", "app", "application", "app_name", "name",
                                 "app_kubernetes_io_name", "container", "container_name",
                                 "k8s_container_name", "component", "workload", "job", "k8s_job_name"],
        description="Labels whose value becomes `service_name`, first present wins (Loki's list).")
    discover_log_levels: bool = Field(True, description="Add `detected_level` structured metadata at ingest.")
    volume_max_series: int = Field(
        1000, ge=1, description="Most series an index/volume or index/volume_range answer holds (Loki: 1000).")
    # -- ingestion and query limits under Loki's names; each may be overridden per tenant in the
    # runtime file (runtime_config, config/runtime.py); 0 means no limit unless said otherwise.
    ingestion_rate_mb: float = Field(
        0, ge=0, description="Per-tenant ingestion rate in MiB of line text per second, a token bucket refilled at "
        "this rate; a push over it is refused whole with Loki's 429. 0: no limit (Loki: 4, sized for a cluster).")
    ingestion_burst_size_mb: float = Field(
        0, ge=0, description="The tenant's bucket size in MiB: the largest push taken at once (Loki: 6). 0 with a "
        "rate set: the rate's one second.")
    per_stream_rate_limit: Size = Field(
        0, description="Bytes per second one stream may take; entries over it are dropped with Loki's 429, the "
        "stream's other entries and the other streams are kept. 0: no limit (Loki: 3MB).")
    per_stream_rate_limit_burst: Size = Field(
        0, description="A stream's bucket size (Loki: 15MB). 0 with a rate set: the rate's one second.")
    max_global_streams_per_user: int = Field(
        0, ge=0, description="Active streams a tenant may have (pushed to within the last 30m, Loki's "
        "chunk_idle_period); pushes to new streams past it get Loki's 429. 0: no limit (Loki: 5000).")
    max_label_names_per_series: int = Field(15, ge=0, description="Most label names a stream may have (Loki: 15).")
    max_label_name_length: int = Field(1024, ge=0, description="Longest label name in bytes (Loki: 1024).")
    max_label_value_length: int = Field(2048, ge=0, description="Longest label value in bytes (Loki: 2048).")
    max_line_size_truncate: bool = Field(
        False, description="Cut lines over max_line_size down to it instead of refusing them (counted in "
        "loki_mutated_samples_total).")
    max_structured_metadata_size: Size = Field(
        "64KB", description="Most structured metadata bytes (names and values) of one entry (Loki: 64KB).")
    max_structured_metadata_entries_count: int = Field(
        128, ge=0, description="Most structured metadata pairs of one entry (Loki: 128).")
    max_query_parallelism: int = Field(
        2, ge=1, description="Time windows (block windows, an hour by default) one query reads and filters at "
        "once, each in a thread; 1 reads them one after another (Loki's sub-queries scheduled at once per "
        "query, default 32 for a cluster).")
    max_query_range: Duration = Field(
        "0s", description="Longest range of a range vector selector (`[5m]`), else 400; 0s: no limit (Loki's).")
    otlp_config: OtlpConfig = Field(
        default_factory=OtlpConfig, description="How `/otlp/v1/logs` maps OTLP attributes to stream labels, "
        "structured metadata or nothing (Loki's layout; see docs/logging.md).")


class QuerierSection(_Strict):
    writers: list[str] = Field(
        default_factory=list, description="With `target: read`: the writers whose unflushed rows (their heads) "
        "every query asks for, as `host:port`; a name resolving to several addresses (a Kubernetes headless "
        "service, a compose service scaled out) is asked at each of them, resolved again for every query. A "
        "writer that does not answer leaves its head out: the answer says so in a warning (docs/scaling.md).")
    writer_timeout: Duration = Field(
        "5s", description="How long a reader waits for one writer's head before answering without it.")
    tail_max_duration: Duration = Field(
        "1h", description="A live tail is closed with Loki's \"reached tail max duration limit\" after this "
        "long (Loki: 1h).")


class RuntimeConfigSection(_Strict):
    file: Path | None = Field(
        None, description="YAML file of per-tenant limits, Loki's layout `overrides: {<tenant>: {<limits keys>}}`; "
        "re-read while the server runs, a broken edit is logged and the overrides in force stay.")
    period: Duration = Field("10s", description="How often the runtime file is checked for changes (Loki: 10s).")


class CompactorSection(_Strict):
    """Loki's compactor: retention and delete requests, run in the background by the server."""

    retention_enabled: bool = Field(
        True, description="Apply retention (`limits.retention_period`, `limits.retention_stream`) and delete "
        "requests; off, the delete API answers Loki's 400 \"Retention is not enabled\". Loki's default is false; "
        "logyard keeps its 7-day retention on by default.")
    compaction_interval: Duration = Field(
        "10m", description="How often retention runs, and the pass that removes from disk the lines of delete requests "
        "past their cancel period (Loki: 10m). Compaction (merging a window's blocks) runs when ingest pauses, and "
        "under steady ingest at least this often, or every 5m if that is sooner.")
    retention_delete_delay: Duration = Field(
        "2h", description="Block files removed by retention stay on disk this long before they are deleted "
        "(Loki: 2h); they are no longer read meanwhile.")
    delete_request_cancel_period: Duration = Field(
        "24h", description="A delete request can be cancelled for this long after it was made; only then are its "
        "lines removed from disk (Loki: 24h). Queries stop showing them at once.")
    backend_lease: Duration = Field(
        "1m", description="With `target: backend`: the length of the lease object in the bucket "
        "(`leases/backend.json`, taken and renewed with conditional PUTs) that lets one backend at a time run "
        "compaction, retention and deletion passes; another takes over once it expired. Needs "
        "`s3.access_key_id` (the lease's requests are signed with it) and a store honouring If-None-Match and "
        "If-Match (AWS S3, MinIO, GCS, SeaweedFS). 0s: no lease (then run exactly one backend).")
    delete_max_interval: Duration = Field(
        "24h", description="Largest `max_interval` a delete request may ask for (Loki: 24h); 0s: no limit.")


_NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def _node_id(value: str) -> str:
    if value and not _NODE_ID.match(value):
        raise ValueError(f"{value!r} is not a node id (1-63 letters, digits, '_', '.', '-'; a letter or digit first)")
    return value


def default_node_id() -> str:
    """The host name, cut to what a node id may hold (`node_id` when none is configured)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname()).lstrip("_.-")[:63]
    return name or "node"


class ServerConfig(_Strict):
    """The whole `logyard serve` configuration file."""

    target: Literal["all", "write", "read", "backend"] = Field(
        "all", description="What this process does (Loki's simple scalable targets; docs/scaling.md). all: "
        "everything, one process. write: the push API, WAL and head, flushing blocks to the object store; no "
        "compaction or retention. read: the query API, from the object store's blocks and the writers' heads "
        "(`querier.writers`); no WAL. backend: compaction, retention and delete requests, exactly one at a time. "
        "write, read and backend need `storage.object_store.type: s3`.")
    node_id: Annotated[str, AfterValidator(_node_id)] = Field(
        "", description="This process's name among those sharing a bucket, written into the names of the blocks "
        "it flushes so that writers never pick one name; empty: the host name. Give every writer its own.")
    auth_enabled: bool = Field(False, description="Require X-Scope-OrgID; off means tenant `fake`, as Loki.")
    shutdown_delay: Duration = Field(
        "0s", description="Time between SIGTERM and the shutdown, /ready answering 503 \"Application is stopping\" "
        "meanwhile so a load balancer turns away (Loki's). Pushes are refused with 503 from SIGTERM on.")
    server: ServerSection = ServerSection()
    storage: StorageSection = StorageSection()
    distributor: DistributorSection = DistributorSection()
    # Loki's name for the section is limits_config: both are read.
    limits: LimitsSection = Field(LimitsSection(), validation_alias=AliasChoices("limits", "limits_config"))
    runtime_config: RuntimeConfigSection = RuntimeConfigSection()
    querier: QuerierSection = QuerierSection()
    compactor: CompactorSection = CompactorSection()

    @model_validator(mode="after")
    def _target_needs_s3(self) -> "ServerConfig":
        if self.target != "all" and self.storage.object_store.type != "s3":
            raise ValueError(f"target {self.target} needs storage.object_store.type s3: the processes of a "
                             "scaled-out installation share blocks through the object store")
        return self

    @property
    def listen(self) -> str:
        return f"{self.server.http_listen_address}:{self.server.http_listen_port}"

"""`logyard serve` configuration. Defaults are Loki's wherever Loki has one."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

_DURATION_RE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d|w|y))+$")
_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
          "h": 3600 * 10**9, "d": 86400 * 10**9, "w": 7 * 86400 * 10**9, "y": 365 * 86400 * 10**9}
_SIZE_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2,
               "gib": 1024**3, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_duration_ns(text: str) -> int:
    """Prometheus-style durations as used in Loki's YAML (`168h`, `5m`, `1h30m`, `500ms`)."""
    text = str(text).strip()
    if not _DURATION_RE.match(text):
        raise ValueError(f"invalid duration {text!r}; use a number with a unit, e.g. 168h, 5m, 30s")
    total = 0.0
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y)", text):
        total += float(num) * _UNITS[unit]
    return int(total)


def parse_size(text: str | int) -> int:
    """Byte sizes as in Loki's YAML: `256KB`, `1MiB`, `262144`."""
    if isinstance(text, int):
        return text
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$", str(text))
    if not m or m.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"invalid size {text!r}; use e.g. 256KB, 1MiB or a number of bytes")
    # Loki's flagext.ByteSize treats KB as 1024 (it parses with units of 1024): keep that quirk.
    unit = m.group(2).lower().replace("ib", "b")
    factor = {"": 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "k": 1024, "m": 1024**2,
              "g": 1024**3}[unit]
    return int(float(m.group(1)) * factor)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ServerSection(_Strict):
    http_listen_address: str = Field("127.0.0.1", description="Address the HTTP server binds to.")
    http_listen_port: int = Field(3100, ge=0, le=65535, description="HTTP port (Loki's default 3100).")
    log_level: str = Field("info", pattern="^(debug|info|warn|error)$", description="debug, info, warn or error.")
    decode_workers: int | None = Field(
        None, ge=0, description="Processes that decode pushes (default: one per core; 0 decodes in the server process).")
    decode_nice: int = Field(
        10, ge=0, le=19, description="Niceness added to the decode processes: the server process (WAL, head, block "
        "flushes) goes first when cores are short, so flushes keep up with decoding.")


class StorageSection(_Strict):
    data_dir: Path = Field(Path("./data"), description="Directory for the WAL, blocks and the index.")
    wal_fsync: bool = Field(False, description="fsync the WAL before acknowledging a push (power-loss safety).")
    head_max_bytes: str | int = Field("32MiB", description="Cut blocks when the head holds this much line text.")
    head_max_age: str = Field("5m", description="Cut blocks when the oldest head data is this old.")
    block_window: str = Field("1h", description="Time span of one block.")

    @field_validator("head_max_bytes")
    @classmethod
    def _size(cls, v):
        parse_size(v)
        return v

    @field_validator("head_max_age", "block_window")
    @classmethod
    def _dur(cls, v):
        parse_duration_ns(v)
        return v


class DistributorSection(_Strict):
    max_recv_msg_size: str | int = Field(
        "100MiB", description="Largest push body received, as sent (compressed); a larger one is refused with "
        "413 while it is read. 0: no limit (Loki: 100MiB).")
    max_decompressed_size: str | int = Field(
        "100MiB", description="Largest push body once gzip, deflate or snappy is undone; inflating stops and "
        "answers 413 there. 0: no limit (Loki's default is 50x max_recv_msg_size; logyard keeps a decode "
        "worker's memory bounded instead).")

    @field_validator("max_recv_msg_size", "max_decompressed_size")
    @classmethod
    def _size(cls, v):
        parse_size(v)
        return v


class LimitsSection(_Strict):
    retention_period: str = Field("168h", description="Delete data older than this (7 days); 0s keeps data forever.")
    reject_old_samples: bool = Field(True, description="Refuse entries older than reject_old_samples_max_age.")
    reject_old_samples_max_age: str = Field("168h", description="Oldest accepted entry age (Loki: 1w).")
    creation_grace_period: str = Field("10m", description="How far in the future an entry may be (Loki: 10m).")
    max_line_size: str | int = Field("256KB", description="Longest accepted line (Loki: 256KB).")
    max_entries_limit_per_query: int = Field(5000, ge=1, description="Largest `limit` of a log query.")
    max_query_series: int = Field(500, ge=1, description="Most series a metric query may return.")
    max_query_points: int = Field(11000, ge=1, description="Points per series in a range query.")
    discover_service_name: list[str] = Field(
        default_factory=lambda: ["service", "app", "application", "app_name", "name",
                                 "app_kubernetes_io_name", "container", "container_name",
                                 "k8s_container_name", "component", "workload", "job", "k8s_job_name"],
        description="Labels whose value becomes `service_name`, first present wins (Loki's list).")
    discover_log_levels: bool = Field(True, description="Add `detected_level` structured metadata at ingest.")

    @field_validator("retention_period", "reject_old_samples_max_age", "creation_grace_period")
    @classmethod
    def _dur(cls, v):
        parse_duration_ns(v)
        return v

    @field_validator("max_line_size")
    @classmethod
    def _size(cls, v):
        parse_size(v)
        return v


class ServerConfig(_Strict):
    """The whole `logyard serve` configuration file."""

    auth_enabled: bool = Field(False, description="Require X-Scope-OrgID; off means tenant `fake`, as Loki.")
    server: ServerSection = ServerSection()
    storage: StorageSection = StorageSection()
    distributor: DistributorSection = DistributorSection()
    limits: LimitsSection = LimitsSection()

    @property
    def listen(self) -> str:
        return f"{self.server.http_listen_address}:{self.server.http_listen_port}"

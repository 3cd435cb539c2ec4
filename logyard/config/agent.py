"""The agent's configuration: Promtail's YAML shape, validated, with its defaults.

Names follow Promtail (`clients`, `positions`, `scrape_configs`, `docker_sd_configs`, `relabel_configs`,
`pipeline_stages`) so that a Promtail config loads with at most renames; `docs/agent.md` lists the
differences. Durations accept Go's syntax (`500ms`, `1m30s`) or plain seconds.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> float:
    """Seconds from a Go duration string (`1m30s`) or a number of seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a duration: {value!r}")
    text = value.strip()
    pos, total = 0, 0.0
    while pos < len(text):
        m = _DURATION_PART.match(text, pos)
        if m is None:
            raise ValueError(f"not a duration: {value!r} (use e.g. 500ms, 5s, 1m30s)")
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    return total


def parse_size(value: Any) -> int:
    """Bytes from an int or a size string such as `1MiB`, `512KB`."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]i?B?|B)?\s*", str(value), re.IGNORECASE)
    if m is None:
        raise ValueError(f"not a size: {value!r} (use e.g. 1048576 or 1MiB)")
    unit = (m.group(2) or "B").upper().rstrip("B").rstrip("I")
    return int(m.group(1)) * {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[unit]


def _check_label_names(labels: dict[str, str]) -> dict[str, str]:
    # an invalid name would make the server reject every batch holding it
    bad = [k for k in labels if not _LABEL_NAME.fullmatch(k)]
    if bad:
        raise ValueError(f"invalid label name(s) {', '.join(map(repr, bad))}: use [a-zA-Z_][a-zA-Z0-9_]*")
    return labels


Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerConfig(_Model):
    """The agent's own HTTP endpoint (`/ready`, `/metrics`, `/targets`); the CLI flag overrides it."""

    http_listen_address: str = "127.0.0.1"
    http_listen_port: int = 9080
    log_level: str = "info"
    log_format: str = "logfmt"
    # accepted so Promtail configs load; logyard has no gRPC server
    grpc_listen_address: str = ""
    grpc_listen_port: int = 0
    register_instrumentation: bool = True


class BackoffConfig(_Model):
    min_period: Duration = 0.5
    max_period: Duration = 300.0
    max_retries: int = 10  # 0 means retry forever: the journal keeps the lines meanwhile


class BasicAuth(_Model):
    username: str
    password: str = ""
    password_file: str | None = None


class ClientConfig(_Model):
    """One Loki-compatible push endpoint."""

    url: str
    tenant_id: str | None = None
    batchwait: Duration = 1.0
    batchsize: Size = 1024 * 1024
    backoff_config: BackoffConfig = Field(default_factory=BackoffConfig)
    timeout: Duration = 10.0
    basic_auth: BasicAuth | None = None
    bearer_token: str | None = None
    bearer_token_file: str | None = None
    external_labels: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("external_labels")
    @classmethod
    def _names_are_valid(cls, labels: dict[str, str]) -> dict[str, str]:
        return _check_label_names(labels)


class PositionsConfig(_Model):
    filename: str = "/tmp/positions.yaml"
    sync_period: Duration = 10.0
    ignore_invalid_yaml: bool = False
    # logyard: the spool of timestamped, not yet acknowledged lines lives beside the positions file;
    # readers pause when it holds this much (bounded memory, back-pressure).
    max_unacked_bytes: Size = 16 * 1024 * 1024


class DockerFilter(_Model):
    name: str
    values: list[str]


class DockerSDConfig(_Model):
    host: str | None = None  # default: DOCKER_HOST, else unix:///var/run/docker.sock
    port: int = 80
    refresh_interval: Duration = 5.0
    filters: list[DockerFilter] = Field(default_factory=list)
    host_networking_host: str = "localhost"


class StaticConfig(_Model):
    targets: list[str] = Field(default_factory=lambda: ["localhost"])
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("labels")
    @classmethod
    def _names_are_valid(cls, labels: dict[str, str]) -> dict[str, str]:
        return _check_label_names(labels)


class RelabelConfig(_Model):
    action: Literal[
        "replace", "keep", "drop", "labelmap", "labeldrop", "labelkeep", "hashmod", "lowercase", "uppercase"
    ] = "replace"
    source_labels: list[str] = Field(default_factory=list)
    separator: str = ";"
    regex: str = "(.*)"
    target_label: str | None = None
    replacement: str = "$1"
    modulus: int | None = None

    @field_validator("action", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.lower() if isinstance(v, str) else v

    @model_validator(mode="after")
    def _needs_target(self) -> "RelabelConfig":
        if self.action in ("replace", "hashmod", "lowercase", "uppercase") and not self.target_label:
            raise ValueError(f"relabel action {self.action!r} needs target_label")
        if self.action == "hashmod" and not self.modulus:
            raise ValueError("relabel action 'hashmod' needs modulus")
        return self


class FileSDConfig(_Model):
    """Accepted for compatibility; logyard reads static_configs only (see docs/agent.md)."""

    files: list[str] = Field(default_factory=list)
    refresh_interval: Duration = 300.0


class ScrapeConfig(_Model):
    job_name: str
    pipeline_stages: list[dict[str, Any]] = Field(default_factory=list)
    docker_sd_configs: list[DockerSDConfig] = Field(default_factory=list)
    static_configs: list[StaticConfig] = Field(default_factory=list)
    relabel_configs: list[RelabelConfig] = Field(default_factory=list)

    @field_validator("pipeline_stages")
    @classmethod
    def _stages_are_known(cls, stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Imported late: the stage registry lives with the stages, the model only checks names and
        # options early so that a typo is a config error at start, not a crash later.
        from logyard.agent.stages import build_pipeline
        from logyard.errors import ConfigError

        try:
            build_pipeline(stages)
        except ConfigError as exc:
            raise ValueError(exc.message) from exc
        return stages


class TargetConfig(_Model):
    sync_period: Duration = 1.0  # how often file globs are re-expanded
    # logyard: where `__path__` globs are resolved, e.g. /host when the host's / is mounted there;
    # `filename` labels and positions keep the configured paths
    fs_root: str = "/"


class AgentConfig(_Model):
    """The whole agent: where to listen, where to push, what to read and how to shape it."""

    server: ServerConfig = Field(default_factory=ServerConfig)
    clients: list[ClientConfig] = Field(min_length=1)
    positions: PositionsConfig = Field(default_factory=PositionsConfig)
    scrape_configs: list[ScrapeConfig] = Field(default_factory=list)
    target_config: TargetConfig = Field(default_factory=TargetConfig)

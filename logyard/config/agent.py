"""The agent's configuration: Promtail's YAML shape, validated, with its defaults.

Names follow Promtail (`clients`, `positions`, `scrape_configs`, `docker_sd_configs`, `relabel_configs`,
`pipeline_stages`) so that a Promtail config loads with at most renames; `docs/agent.md` lists the
differences. Durations and sizes are read with logyard.units, the grammar of the server's config too.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from logyard.config.loader import from_config_file
from logyard.units import SECOND, parse_duration_ns, parse_size

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _seconds(value: Any, info: ValidationInfo) -> float:
    """Seconds, the unit the agent's code works in. Text, and any number read from a config file (Loki
    reads YAML `90` as the text "90", which lacks a unit), go through logyard.units; a number given by
    Python code is already seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not from_config_file(info):
        if value < 0:
            raise ValueError(f"invalid duration {value!r}: a duration cannot be negative")
        return float(value)
    return parse_duration_ns(value) / SECOND


def _check_label_names(labels: dict[str, str]) -> dict[str, str]:
    # an invalid name would make the server reject every batch holding it
    bad = [k for k in labels if not _LABEL_NAME.fullmatch(k)]
    if bad:
        raise ValueError(f"invalid label name(s) {', '.join(map(repr, bad))}: use [a-zA-Z_][a-zA-Z0-9_]*")
    return labels


# Defaults are written as the YAML would spell them (the configuration reference shows them) and
# validated like it (validate_default), so the models hold float seconds and int bytes.
Duration = Annotated[float, BeforeValidator(_seconds)]
Size = Annotated[int, BeforeValidator(parse_size)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class ServerConfig(_Model):
    """The agent's own HTTP endpoint (`/ready`, `/metrics`, `/targets`); the CLI flag overrides it."""

    http_listen_address: str = Field("127.0.0.1", description="Address of `/ready`, `/metrics`, `/targets`; "
                                     "`--listen` overrides it.")
    http_listen_port: int = Field(9080, description="Their port (Promtail's 9080).")
    log_level: str = Field("info", pattern="^(debug|info|warn|error)$", description="debug, info, warn or error.")
    # accepted so Promtail configs load unchanged
    log_format: str = Field("logfmt", description="Accepted for Promtail configs; the agent logs logfmt.")
    grpc_listen_address: str = Field("", description="Accepted for Promtail configs; the agent has no gRPC server.")
    grpc_listen_port: int = Field(0, description="Accepted for Promtail configs; the agent has no gRPC server.")
    register_instrumentation: bool = Field(True, description="Accepted for Promtail configs; `/metrics` is always on.")


class BackoffConfig(_Model):
    min_period: Duration = Field("500ms", description="First wait before a retry; doubles on each retry.")
    max_period: Duration = Field("5m", description="Longest wait between retries.")
    max_retries: int = Field(10, description="Retries before a batch is dropped; 0 retries forever (the "
                             "journal keeps the lines and readers wait).")


class BasicAuth(_Model):
    username: str = Field(description="Basic auth user name.")
    password: str = Field("", description="Basic auth password.")
    password_file: str | None = Field(None, description="File holding the password (read at start).")


class ClientConfig(_Model):
    """One Loki-compatible push endpoint."""

    url: str = Field(description="Push endpoint, e.g. `http://logyard:3100/loki/api/v1/push`.")
    tenant_id: str | None = Field(None, description="Sent as `X-Scope-OrgID`.")
    batchwait: Duration = Field("1s", description="A batch goes when its oldest line is this old...")
    batchsize: Size = Field("1MiB", description="...or when it holds this many bytes of lines.")
    backoff_config: BackoffConfig = Field(default_factory=BackoffConfig, description="Retries on 429, 5xx and "
                                          "network errors.")
    timeout: Duration = Field("10s", description="Per push request.")
    basic_auth: BasicAuth | None = Field(None, description="Basic auth credentials.")
    bearer_token: str | None = Field(None, description="Sent as `Authorization: Bearer`.")
    bearer_token_file: str | None = Field(None, description="File holding the bearer token (read at start).")
    external_labels: dict[str, str] = Field(default_factory=dict, description="Labels added to every stream this "
                                            "client sends.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers of every push.")

    @field_validator("external_labels")
    @classmethod
    def _names_are_valid(cls, labels: dict[str, str]) -> dict[str, str]:
        return _check_label_names(labels)


class PositionsConfig(_Model):
    filename: str = Field("/tmp/positions.yaml", description="Acknowledged read positions; the journal of lines "
                          "not yet acknowledged is `<filename>.journal/` beside it.")
    sync_period: Duration = Field("10s", description="How often acknowledged positions are written.")
    ignore_invalid_yaml: bool = Field(False, description="Start from scratch instead of failing on a corrupt "
                                      "positions file.")
    # logyard: the spool of timestamped, not yet acknowledged lines lives beside the positions file;
    # readers pause when it holds this much (bounded memory, back-pressure).
    max_unacked_bytes: Size = Field("16MiB", description="logyard: the memory bound; readers wait while the "
                                    "journal holds this much that the server has not acknowledged.")


class DockerFilter(_Model):
    name: str = Field(description="A `docker ps --filter` name, e.g. `label`, `name`, `status`.")
    values: list[str] = Field(description="Its values, e.g. `com.docker.compose.project=aixcl`.")


class DockerSDConfig(_Model):
    host: str | None = Field(None, description="Docker Engine address; default `DOCKER_HOST`, else "
                             "`unix:///var/run/docker.sock`.")
    port: int = Field(80, description="Accepted for Promtail configs; unused (the Engine is reached at `host`).")
    refresh_interval: Duration = Field("5s", description="How often containers are listed again.")
    filters: list[DockerFilter] = Field(default_factory=list, description="Which containers, as "
                                        "`docker ps --filter`.")
    host_networking_host: str = Field("localhost", description="Accepted for Promtail configs; unused.")


class StaticConfig(_Model):
    targets: list[str] = Field(default_factory=lambda: ["localhost"], description="Accepted for Promtail "
                               "configs; ignored.")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels of the files; `__path__` is the "
                                   "glob (`**` allowed), `__path_exclude__` an optional glob to leave out.")

    @field_validator("labels")
    @classmethod
    def _names_are_valid(cls, labels: dict[str, str]) -> dict[str, str]:
        return _check_label_names(labels)


class RelabelConfig(_Model):
    action: Literal[
        "replace", "keep", "drop", "labelmap", "labeldrop", "labelkeep", "hashmod", "lowercase", "uppercase"
    ] = Field("replace", description="replace, keep, drop, labelmap, labeldrop, labelkeep, hashmod, lowercase "
              "or uppercase.")
    source_labels: list[str] = Field(default_factory=list, description="Labels whose values are joined and "
                                     "matched.")
    separator: str = Field(";", description="Joins the source label values.")
    regex: str = Field("(.*)", description="RE2, anchored at both ends.")
    target_label: str | None = Field(None, description="Label written by replace, hashmod, lowercase, uppercase.")
    replacement: str = Field("$1", description="Value written by replace; `$1`, `${name}` refer to groups.")
    modulus: int | None = Field(None, description="Modulus of hashmod.")

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


class ScrapeConfig(_Model):
    job_name: str = Field(description="Name of the scrape config (the `job` of its targets on `/targets`).")
    pipeline_stages: list[dict[str, Any]] = Field(default_factory=list, description="Promtail's stages; see "
                                                  "docs/agent.md, *Stages*.")
    docker_sd_configs: list[DockerSDConfig] = Field(default_factory=list, description="Containers to read.")
    static_configs: list[StaticConfig] = Field(default_factory=list, description="Files to tail.")
    relabel_configs: list[RelabelConfig] = Field(default_factory=list, description="Rules applied to each "
                                                 "target's labels (`__meta_docker_*` included) before reading.")

    @field_validator("pipeline_stages")
    @classmethod
    def _stages_are_known(cls, stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Imported late: the stage registry lives with the stages, the model only checks names and
        # options early so that a typo is a config error at start, not a crash later.
        from logyard.agent.stages.pipeline import build_pipeline
        from logyard.errors import ConfigError

        try:
            build_pipeline(stages)
        except ConfigError as exc:
            raise ValueError(exc.message) from exc
        return stages


class TargetConfig(_Model):
    sync_period: Duration = Field("1s", description="How often file globs are expanded again.")
    # logyard: where `__path__` globs are resolved, e.g. /host when the host's / is mounted there;
    # `filename` labels and positions keep the configured paths
    fs_root: str = Field("/", description="logyard: globs are resolved under it (e.g. `/host` with the host's "
                         "`/` mounted there); `filename` labels and positions keep the configured paths.")


class AgentConfig(_Model):
    """The whole agent: where to listen, where to push, what to read and how to shape it."""

    server: ServerConfig = Field(default_factory=ServerConfig)
    clients: list[ClientConfig] = Field(min_length=1, description="Where to push; at least one.")
    positions: PositionsConfig = Field(default_factory=PositionsConfig)
    scrape_configs: list[ScrapeConfig] = Field(default_factory=list, description="What to read.")
    target_config: TargetConfig = Field(default_factory=TargetConfig)

"""What `logyard up` reads on this machine, what it skipped and why, and the agent config that reads it.

The config is the agent's own model (logyard.config.agent.AgentConfig), built as the YAML a user would
write and validated like a file, so `up` writes it into the data directory where it can be read, and
reused with `logyard agent --config`.
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import httpx
import yaml

from logyard.agent.docker_reader import engine_client
from logyard.config.agent import AgentConfig
from logyard.config.loader import parse_model

DEFAULT_DOCKER = "unix:///var/run/docker.sock"
VARLOG = "/var/log/*.log"
PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Source:
    """One line of the start-up report: a source read (`skipped` empty) or not read, and why."""

    kind: str  # docker, files
    what: str  # the Engine's address or the glob
    detail: str = ""  # what was found there
    skipped: str = ""  # why it is not read

    def __str__(self) -> str:
        state = f"skipped: {self.skipped}" if self.skipped else self.detail
        return f"{self.kind:<7} {self.what}  {state}"


def docker(environ: dict[str, str], compose_project: str | None,
           client: Callable[[str], httpx.Client] = engine_client) -> tuple[Source, dict | None]:
    """The Engine at DOCKER_HOST (else the local socket) when it answers `/_ping`: a scrape config of
    its containers, of one compose project with `compose_project`."""
    host = environ.get("DOCKER_HOST") or DEFAULT_DOCKER
    if host.startswith("unix://"):
        sock = host[len("unix://"):]
        if not os.path.exists(sock):
            hint = "start Docker, or set DOCKER_HOST" if host == DEFAULT_DOCKER else "check DOCKER_HOST"
            return Source("docker", host, skipped=f"{sock} does not exist ({hint})"), None
        if not os.access(sock, os.R_OK | os.W_OK):
            return Source("docker", host, skipped=f"permission denied on {sock} (add your user to the "
                          "`docker` group, or run as root)"), None
    filters = {"label": [f"com.docker.compose.project={compose_project}"]} if compose_project else {}
    try:
        with client(host) as c:
            c.get("/_ping", timeout=PROBE_TIMEOUT_S).raise_for_status()
            listed = c.get("/containers/json", params={"filters": json.dumps(filters)}, timeout=PROBE_TIMEOUT_S)
            listed.raise_for_status()
            running = len(listed.json())
    except (httpx.HTTPError, ValueError) as exc:
        return Source("docker", host, skipped=f"no answer ({exc or type(exc).__name__})"), None
    scope = f"of compose project {compose_project!r}" if compose_project else "(all; --compose-project keeps one)"
    sd: dict[str, Any] = {"host": host, "refresh_interval": "2s"}
    if compose_project:
        sd["filters"] = [{"name": "label", "values": [f"com.docker.compose.project={compose_project}"]}]
    return (Source("docker", host, f"containers {scope}: {running} running now"),
            {"job_name": "containers", "docker_sd_configs": [sd]})


def files(pattern: str, job_name: str, job: str, required: bool,
          readable: Callable[[str], bool] = lambda p: os.access(p, os.R_OK)) -> tuple[Source, dict | None]:
    """A glob's files. All readable: the glob itself, so that new files are read too. Some unreadable:
    only the readable ones, by name (the agent would otherwise fail on the others at every poll).
    `required` (a `--path`): watched even while nothing matches. `readable` is injected by tests, which
    run as root (who reads every file)."""
    matched = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
    unreadable = [p for p in matched if not readable(p)]
    readable_ = [p for p in matched if p not in unreadable]
    if not readable_ and not required:
        why = (f"{len(unreadable)} files, none readable (permission denied: run as root, or add your user to "
               "the `adm` group)" if unreadable else "no file matches")
        return Source("files", pattern, skipped=why), None
    detail = f"{len(readable_)} files" if matched else "no file matches yet; watched"
    if unreadable:
        shown = ", ".join(os.path.basename(p) for p in unreadable[:5]) + (", ..." if len(unreadable) > 5 else "")
        detail += f"; {len(unreadable)} skipped, not readable: {shown}"
    paths = [pattern] if not unreadable else readable_
    statics = [{"targets": ["localhost"], "labels": {"job": job, "__path__": p}} for p in paths]
    return Source("files", pattern, detail), {"job_name": job_name, "static_configs": statics}


def found(environ: dict[str, str], compose_project: str | None, paths: list[str],
          varlog: str = VARLOG) -> tuple[list[Source], list[dict]]:
    """Every source `up` looks for: the report and the scrape configs of those it reads."""
    report, scrape = [], []
    checks = [docker(environ, compose_project), files(varlog, "varlogs", "varlogs", required=False)]
    checks += [files(str(Path(p).expanduser().absolute()), f"path-{i + 1}", "files", required=True)
               for i, p in enumerate(paths)]
    for source, config in checks:
        report.append(source)
        if config is not None:
            scrape.append(config)
    return report, scrape


def agent_document(push_url: str, listen: tuple[str, int], positions: Path, scrape_configs: list[dict]) -> dict:
    """The agent config as YAML would hold it: push to the server next door, keep positions under the
    data directory, retry forever (the journal holds what the server has not acknowledged)."""
    return {
        "server": {"http_listen_address": listen[0], "http_listen_port": listen[1]},
        "clients": [{"url": push_url, "batchwait": "500ms",
                     "backoff_config": {"min_period": "200ms", "max_period": "10s", "max_retries": 0}}],
        "positions": {"filename": str(positions), "sync_period": "2s"},
        "scrape_configs": scrape_configs,
    }


def agent_config(document: dict, source: str) -> tuple[AgentConfig, str]:
    """The document validated as the agent will read it from `source`, and its YAML text."""
    text = ("# Written by `logyard up` at every start; `logyard agent --config <this file>` runs the same agent.\n"
            + yaml.safe_dump(document, sort_keys=False))
    return parse_model(text, AgentConfig, source), text

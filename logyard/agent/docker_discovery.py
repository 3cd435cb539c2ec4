"""Docker discovery: which containers to read, and the labels of their streams.

Discovery lists containers (running and stopped, through the configured filters, e.g. a compose
project's `label` filter) every `refresh_interval` with docker-py's public `APIClient.containers`.
A running container gets a following reader (`docker_reader`); a stopped one not read since it
stopped gets one pass without following, so a container that lived between two polls is not missed.
A removed container's reader stops and its position is forgotten.

Each container has two streams, stdout and stderr, each with its own labels: Promtail's
`__meta_docker_*` labels, the default `container`, `compose_service`, `compose_project`, `stream`,
then the scrape config's relabel rules (which may drop one stream only).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from typing import Callable

from logyard.agent.assemble import Stamper, chunks_from_entries
from logyard.agent.docker_reader import ContainerReader, ReaderContext, engine_client
from logyard.agent.metrics import AgentMetrics
from logyard.agent.relabel import Relabeler, public
from logyard.agent.shipper import Shipper
from logyard.agent.stages.pipeline import Pipeline
from logyard.agent.targets import TargetInfo, TargetRegistry

log = logging.getLogger("logyard.agent.docker")

_NOT_LABEL = re.compile(r"[^a-zA-Z0-9_]")


def meta_labels(container: dict) -> dict[str, str]:
    """Promtail's `__meta_docker_*` labels of a container from `/containers/json`."""
    names = container.get("Names") or [""]
    out = {
        "__meta_docker_container_id": container["Id"],
        "__meta_docker_container_name": names[0],
        "__meta_docker_container_network_mode": (container.get("HostConfig") or {}).get("NetworkMode", ""),
    }
    for k, v in (container.get("Labels") or {}).items():
        out["__meta_docker_container_label_" + _NOT_LABEL.sub("_", k)] = v
    return out


def default_labels(container: dict, stream: str) -> dict[str, str]:
    """logyard's labels of a container's stream, set without relabel rules."""
    lab = container.get("Labels") or {}
    out = {"container": ((container.get("Names") or [""])[0]).lstrip("/"), "stream": stream}
    if lab.get("com.docker.compose.service"):
        out["compose_service"] = lab["com.docker.compose.service"]
    if lab.get("com.docker.compose.project"):
        out["compose_project"] = lab["com.docker.compose.project"]
    return out


def stream_labels(container: dict, relabel: Relabeler) -> dict[str, dict[str, str] | None]:
    """The labels of the container's stdout and stderr after relabeling; None for a dropped stream."""
    meta = meta_labels(container)
    out: dict[str, dict[str, str] | None] = {}
    for stream in ("stdout", "stderr"):
        lab = {**default_labels(container, stream), **meta, "__meta_docker_container_log_stream": stream}
        rel = relabel.apply(lab)
        out[stream] = public(rel) if rel is not None else None
    return out


def engine_host(sd) -> str:
    """The Engine's address: the config's `host`, else DOCKER_HOST, else the local socket."""
    return sd.host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


class DockerTargets:
    """One `docker_sd_configs` entry of one scrape config.

    `client_factory` makes docker-py's `APIClient` (injected by tests and containers; the default
    connects to `engine_host`); the readers' log streams go over an `engine_client` to the same host.
    """

    def __init__(
        self, scrape, sd, pipeline: Pipeline | None, shipper: Shipper, stamper: Stamper, metrics: AgentMetrics,
        registry: TargetRegistry, client_factory: Callable[[], object] | None = None,
    ) -> None:
        self.job = scrape.job_name
        self.sd = sd
        self.relabel = Relabeler(scrape.relabel_configs)
        # the multiline stage keeps lines across reads, which the per-read docker batches do not resume
        self.pipeline = pipeline if pipeline is not None and pipeline.stages else None
        self.shipper, self.stamper, self.metrics, self.registry = shipper, stamper, metrics, registry
        self.client_factory = client_factory or self._default_client
        self.api = None
        self.http = None  # httpx client for the readers' log streams, made on the first poll
        self.readers: dict[str, ContainerReader] = {}
        self.done: set[str] = set()  # stopped containers already read to their end
        self._stop = threading.Event()
        # held while a refresh starts a reader and while `stop` sets `_stop`: no reader starts after
        # `stop` has shut the others down (it would follow its container, unstopped, for the joins)
        self._starting = threading.Lock()
        self._thread: threading.Thread | None = None
        self.ctx = ReaderContext(shipper, registry, metrics, stamper, self.pipeline, self._stop.is_set)

    def _default_client(self):
        import docker  # only agents that read containers pay for docker-py (and requests)

        return docker.APIClient(base_url=engine_host(self.sd), version="auto", timeout=60)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"docker-sd-{self.job}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._starting:
            self._stop.set()
        for r in list(self.readers.values()):
            r.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for r in list(self.readers.values()):
            r.thread.join(timeout=5)
        self.flush_held(force=True)
        if self.http is not None:
            self.http.close()

    def _loop(self) -> None:
        # the discovery itself is a row on /targets, so an unreachable engine shows its error there
        key = f"docker_sd/{self.job}/{self.sd.host or os.environ.get('DOCKER_HOST', 'default')}"
        self.registry.put(TargetInfo(key, self.job, "docker_sd", {"host": self.sd.host or ""}, {}, "starting"))
        while not self._stop.is_set():
            try:
                if self.http is None:
                    self.http = engine_client(engine_host(self.sd))
                if self.api is None:
                    self.api = self.client_factory()
                self.refresh()
                self.flush_held()
                self.registry.update(key, state="running", last_error="")
            except Exception as exc:  # the engine may be down for a while: show it, try again
                log.warning("docker discovery (%s): %s", self.job, exc)
                self.registry.update(key, state="error", last_error=str(exc))
                self.api = None
            self._stop.wait(self.sd.refresh_interval)

    def flush_held(self, force: bool = False) -> None:
        """Multiline blocks that waited long enough. Docker positions do not track held lines, so
        a block still held at a crash is read again only if it is newer than the last position."""
        if self.pipeline is None or not self.pipeline.holds:
            return
        entries = self.pipeline.flush(time.time_ns(), force)
        if entries:
            chunks, _ = chunks_from_entries(entries, self.stamper)
            self.shipper.submit({}, chunks)

    def refresh(self) -> None:
        filters: dict[str, list[str]] = {}
        for f in self.sd.filters:
            filters.setdefault(f.name, []).extend(f.values)
        containers = self.api.containers(all=True, filters=filters)
        present = set()
        for c in containers:
            cid = c["Id"]
            present.add(cid)
            running = c.get("State") == "running"
            reader = self.readers.get(cid)
            if reader is not None and reader.thread.is_alive():
                continue
            if not running and (cid in self.done or reader is not None and not reader.follow):
                continue
            labels = stream_labels(c, self.relabel)
            if not any(v is not None for v in labels.values()):
                self.registry.put(TargetInfo(f"docker/{cid}", self.job, "docker", meta_labels(c), {}, "dropped"))
                continue
            with self._starting:
                if self._stop.is_set():
                    return
                self._start_reader(c, labels, running)
        for cid in list(self.readers):
            if cid not in present:  # removed (a container's labels never change)
                reader = self.readers.pop(cid)
                reader.stop()
                reader.thread.join(timeout=5)
                self.done.discard(cid)
                self.registry.remove(reader.key)
                self.shipper.submit({reader.key: None}, [])  # its position is of no use any more

    def _start_reader(self, c: dict, labels: dict[str, dict[str, str] | None], running: bool) -> None:
        cid = c["Id"]
        new = ContainerReader(cid, labels, running, self.api, self.http, self.api.api_version, self.ctx)
        if not running:
            self.done.add(cid)
        else:
            self.done.discard(cid)
        self.readers[cid] = new
        # As Promtail logs an added target: the first thing to read when a container's lines are missing.
        log.info("docker target %s (%s): %s", (c.get("Names") or ["?"])[0].lstrip("/"), cid[:12],
                 "following its logs" if running else "reading its logs once (stopped)")
        self.registry.put(
            TargetInfo(new.key, self.job, "docker", meta_labels(c), labels.get("stdout") or {}, "starting")
        )
        new.start()

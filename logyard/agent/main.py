"""Wiring: config → shipper, file and Docker targets, HTTP endpoints; runs until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from logyard.agent.assemble import Stamper
from logyard.agent.docker_discovery import DockerTargets
from logyard.agent.file_target import FileTargets
from logyard.agent.http import serve
from logyard.agent.metrics import AgentMetrics
from logyard.agent.shipper import Shipper
from logyard.agent.stages.pipeline import build_pipeline
from logyard.agent.targets import TargetRegistry
from logyard.config.agent import AgentConfig
from logyard.startup import StartupError, writable_dir

log = logging.getLogger("logyard.agent")

SHUTDOWN_DRAIN_S = 5.0


class Agent:
    """The running agent. Injected for tests or containers: the Docker client factory (default: from
    the config or DOCKER_HOST) and the filesystem root file paths are resolved under."""

    def __init__(self, config: AgentConfig, docker_client_factory=None, fs_root: str | None = None) -> None:
        self.config = config
        self.metrics = AgentMetrics()
        self.registry = TargetRegistry(on_change=self.metrics.targets_active.set)
        self.stamper = Stamper()
        pos = config.positions
        self.shipper = Shipper(
            Path(pos.filename), config.clients, self.metrics, pos.max_unacked_bytes, pos.sync_period,
            pos.ignore_invalid_yaml,
        )
        pipelines = {sc.job_name: build_pipeline(sc.pipeline_stages, self.metrics) for sc in config.scrape_configs}
        self.files = FileTargets(
            config.scrape_configs, self.shipper, self.stamper, self.metrics, self.registry, pipelines,
            config.target_config.sync_period, fs_root or config.target_config.fs_root,
        )
        self.docker = [
            DockerTargets(sc, sd, pipelines[sc.job_name], self.shipper, self.stamper, self.metrics, self.registry,
                          docker_client_factory)
            for sc in config.scrape_configs
            for sd in sc.docker_sd_configs
        ]
        self._ready = threading.Event()
        self.http = None

    def start(self, listen: str | None = None) -> None:
        """Check the positions and journal directories and bind `listen` (HOST:PORT) before anything is
        read: an agent that cannot work raises StartupError instead of half-starting."""
        self.check_dirs()
        if listen is not None:
            host, _, port = listen.rpartition(":")
            self.http = serve(host or "127.0.0.1", int(port), self.metrics, self.registry, self._ready.is_set)
        try:
            self.shipper.open()
        except BaseException as exc:
            self._close_http()
            if isinstance(exc, OSError):
                raise StartupError(f"cannot open the journal {self.shipper.journal.dir}: {exc}") from None
            raise
        self.shipper.start()
        self.files.start()
        for d in self.docker:
            d.start()
        self._ready.set()

    def check_dirs(self) -> None:
        """The positions file is replaced through a temporary file beside it, and every line read goes
        to the journal first: both directories must take new files."""
        positions = self.shipper.positions.path
        writable_dir(positions.parent, "positions directory")
        if positions.exists() and not positions.is_file():
            kind = "is a directory" if positions.is_dir() else "is not a regular file"
            raise StartupError(f"cannot use the positions file {positions}: {kind}")
        writable_dir(self.shipper.journal.dir, "journal directory")

    def stop(self) -> None:
        self._ready.clear()
        self.shipper.close_readers()
        for d in self.docker:
            d.stop()
        self.files.stop()
        self.shipper.stop(drain_seconds=SHUTDOWN_DRAIN_S)
        self._close_http()

    def _close_http(self) -> None:
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
            self.http = None


def run(config: AgentConfig, listen: str | None = None) -> None:
    """Run until SIGTERM/SIGINT, then stop readers, try to deliver what is pending, save positions.
    `listen` (HOST:PORT, from the command line) wins over the config's server section. Raises
    StartupError when the port or the positions/journal directories cannot be used."""
    if listen is None:
        listen = f"{config.server.http_listen_address}:{config.server.http_listen_port}"
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per push would drown the agent's own log
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    agent = Agent(config)
    agent.start(listen)
    log.info("agent listening on %s", listen)
    while not stop.wait(1.0):
        pass
    log.info("shutting down")
    agent.stop()

"""Wiring: config → shipper, file and Docker targets, HTTP endpoints; runs until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from logyard.agent.assemble import Stamper
from logyard.agent.file_target import FileTargets
from logyard.agent.http import serve
from logyard.agent.metrics import AgentMetrics
from logyard.agent.shipper import Shipper
from logyard.agent.stages import build_pipeline
from logyard.agent.targets import TargetRegistry
from logyard.config.agent import AgentConfig

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
        from logyard.agent.docker_target import DockerTargets

        self.docker = [
            DockerTargets(sc, sd, pipelines[sc.job_name], self.shipper, self.stamper, self.metrics, self.registry,
                          docker_client_factory)
            for sc in config.scrape_configs
            for sd in sc.docker_sd_configs
        ]
        self._ready = threading.Event()
        self.http = None

    def start(self, listen: str | None = None) -> None:
        self.shipper.open()
        self.shipper.start()
        self.files.start()
        for d in self.docker:
            d.start()
        if listen is not None:
            host, _, port = listen.rpartition(":")
            self.http = serve(host or "127.0.0.1", int(port), self.metrics, self.registry, self._ready.is_set)
        self._ready.set()

    def stop(self) -> None:
        self._ready.clear()
        self.shipper.close_readers()
        for d in self.docker:
            d.stop()
        self.files.stop()
        self.shipper.stop(drain_seconds=SHUTDOWN_DRAIN_S)
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()


def run(config: AgentConfig, listen: str | None = None) -> None:
    """Run until SIGTERM/SIGINT, then stop readers, try to deliver what is pending, save positions."""
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

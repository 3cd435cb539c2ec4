"""`logyard up` against a real Docker Engine: a compose container's lines arrive with the brief's labels,
and a `kill -9` of the agent leaves the server serving while `up` brings the agent back, with every
line once. Ground truth is the engine's own log of each container."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from tests.agent.helpers import wait_until
from tests.up.helpers import UpProcess, alive

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WRITE = "for i in $(seq {n}); do echo \"{name} out $i\"; echo \"{name} err $i\" >&2; done; sleep 1000"


def run(client, image: str, name: str, n: int, project: str = "aixcl", service: str = "web"):
    return client.containers.run(
        image, ["sh", "-c", WRITE.format(n=n, name=name)], name=name, detach=True, network_mode="none",
        labels={"com.docker.compose.project": project, "com.docker.compose.service": service},
    )


def truth(container, stream: str) -> list[str]:
    raw = container.logs(stdout=stream == "stdout", stderr=stream == "stderr")
    return sorted(raw.decode().splitlines())


def arrived(up: UpProcess, name: str, stream: str) -> list[str]:
    """Every line stored for the container's stream, duplicates included."""
    return sorted(line for _, values in up.query(f'{{container="{name}", stream="{stream}"}}')
                  for _, line in values)


def complete(up: UpProcess, container, n: int) -> bool:
    return all(len(truth(container, s)) == n and len(arrived(up, container.name, s)) >= n
               for s in ("stdout", "stderr"))


def test_container_lines_arrive_labelled_and_survive_an_agent_kill(tmp_path, docker_engine, docker_client):
    up = UpProcess(tmp_path, ["--compose-project", "aixcl"], env={"DOCKER_HOST": docker_engine["host"]})
    image = docker_engine["image"]
    try:
        up.start()
        assert "containers of compose project 'aixcl'" in up.out_path.read_text()
        web = run(docker_client, image, "aixcl-web-1", 200)
        other = run(docker_client, image, "other-web-1", 50, project="other")
        wait_until(lambda: complete(up, web, 200), 60, "the first container's lines")
        streams = [labels for labels, _ in up.query('{compose_project="aixcl"}')]
        assert {(s["container"], s["compose_service"], s["compose_project"], s["stream"]) for s in streams} == {
            ("aixcl-web-1", "web", "aixcl", "stdout"), ("aixcl-web-1", "web", "aixcl", "stderr")}

        agent = up.child("agent")
        burst = run(docker_client, image, "aixcl-burst-1", 3000, service="burst")
        os.kill(agent, signal.SIGKILL)
        # the server serves on, and takes pushes, while the agent is down
        assert httpx.get(up.url + "/ready", timeout=5).status_code == 200
        late = run(docker_client, image, "aixcl-late-1", 100, service="late")
        wait_until(lambda: not alive(agent) and up.children("agent") not in ([], [agent]), 60, "the agent restarted by up")
        wait_until(lambda: up.answers(up.agent_url), 30, "the restarted agent's /ready")
        wait_until(lambda: complete(up, burst, 3000) and complete(up, late, 100), 120, "lines across the kill")

        for c, n in ((web, 200), (burst, 3000), (late, 100)):
            for s in ("stdout", "stderr"):
                assert arrived(up, c.name, s) == truth(c, s), (c.name, s)  # each line once, none missing
        assert up.query('{compose_project="other"}') == []
        assert other.status in ("created", "running")
        assert up.interrupt() == 0
    finally:
        up.kill()

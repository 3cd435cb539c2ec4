"""Docker discovery against a real Docker Engine: containers of two compose projects start, stop and
restart under a running agent that is killed with -9; only the filtered project's lines arrive, with
`container`, `compose_service`, `compose_project` and `stream` labels, stdout apart from stderr, each
line once and with Docker's own timestamp.

Ground truth is the engine itself: its logs endpoint (with timestamps) lists every line a container
wrote. Run against a real `logyard serve` (fails while the lead's CLI is missing) and against the
stand-in receiver (which also shows that the kill caused resends).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from logyard.gocompat.timelayout import parse_rfc3339
from tests.agent.helpers import AgentProcess, LogyardServer, wait_until
from tests.agent.receiver import Receiver

pytestmark = [pytest.mark.docker, pytest.mark.slow]

CONFIG = """
clients:
  - url: {url}
    batchwait: 50ms
    backoff_config: {{min_period: 50ms, max_period: 500ms, max_retries: 0}}
positions:
  filename: {dir}/positions.yaml
  sync_period: 1h
scrape_configs:
  - job_name: compose
    docker_sd_configs:
      - host: {host}
        refresh_interval: 300ms
        filters:
          - name: label
            values: [com.docker.compose.project=aixcl]
"""

BURST = "for i in $(seq {n}); do echo \"{name} out $i\"; echo \"{name} err $i\" >&2; done; sleep 1000"


def run(client, image: str, name: str, project: str, service: str, n: int, tty: bool = False, wait: bool = False):
    cmd = BURST.format(n=n, name=name) if not wait else f"echo {name} short-lived; echo {name} bye >&2"
    return client.containers.run(
        image, ["sh", "-c", cmd], name=name, detach=True, network_mode="none", tty=tty,
        labels={"com.docker.compose.project": project, "com.docker.compose.service": service},
    )


def truth(container, stream: str) -> set[tuple[int, str]]:
    raw = container.logs(stdout=stream == "stdout", stderr=stream == "stderr", timestamps=True)
    out = set()
    for line in raw.decode().splitlines():
        ts, _, text = line.partition(" ")
        out.add((parse_rfc3339(ts), text.rstrip("\r")))
    return out


def received(sink, name: str, stream: str) -> set[tuple[int, str]]:
    if isinstance(sink, Receiver):
        with sink.lock:
            return {(ts, line) for labels, ts, line in sink.order
                    if f'container="{name}"' in labels and f'stream="{stream}"' in labels}
    return {(ts, line) for _, values in sink.streams(container=name, stream=stream) for ts, line in values}


def labels_seen(sink) -> list[dict]:
    if isinstance(sink, Receiver):
        return [dict(re.findall(r'(\w+)="([^"]*)"', s)) for s in sink.streams()]
    return [labels for labels, _ in sink.streams(compose_project="aixcl")] + [
        labels for labels, _ in sink.streams(compose_project="other")
    ]


def scenario(tmp_path: Path, sink, engine, client) -> None:
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(CONFIG.format(url=sink.url, dir=tmp_path, host=engine["host"]))
    agent = AgentProcess(cfg, tmp_path / "agent.log").start()
    image = engine["image"]
    web = run(client, image, "aixcl-web-1", "aixcl", "web", 300)
    worker = run(client, image, "aixcl-worker-1", "aixcl", "worker", 200, tty=True)
    other = run(client, image, "other-web-1", "other", "web", 100)

    def complete(c, streams=("stdout", "stderr")) -> bool:
        c.reload()
        return all(truth(c, s) and truth(c, s) <= received(sink, c.name, s) for s in streams)

    def missing() -> str:
        """Per container and stream, the lines the engine has that the sink has not, and the agent's log."""
        out = []
        for c in (web, worker, *extra):
            c.reload()
            for s in ("stdout", "stderr"):
                gone = sorted(truth(c, s) - received(sink, c.name, s))
                if gone:
                    first = [(ts, line[:120]) for ts, line in gone[:3]]
                    out.append(f"{c.name} {s} ({c.status}): {len(gone)} missing, first {first}")
        log = (tmp_path / "agent.log").read_text()[-4000:]
        return "\n".join(out or ["nothing missing"]) + "\n--- agent.log (end)\n" + log

    extra: list = []
    wait_until(lambda: complete(web) and complete(worker, ("stdout",)), 60, "first container lines", missing)

    # a line over Docker's 16 KiB message size arrives as parts, and is joined again
    long = client.containers.run(
        image, ["sh", "-c", "s=x; for i in $(seq 16); do s=$s$s; done; echo $s; echo done; sleep 1000"],
        name="aixcl-long-1", detach=True, network_mode="none",
        labels={"com.docker.compose.project": "aixcl", "com.docker.compose.service": "long"},
    )
    extra.append(long)
    wait_until(lambda: len(received(sink, long.name, "stdout")) == 2, 60, "the long line", missing)
    assert sorted(line for _, line in received(sink, long.name, "stdout")) == ["done", "x" * 65536]

    # stop and restart under the running agent: the restarted command writes its lines again, anew
    web.kill()
    web.start()
    wait_until(lambda: len(truth(web, "stdout")) == 600 and complete(web), 60, "lines after a restart", missing)

    # a kill -9 of the agent while a container is writing a burst, and a container that lives and
    # dies while the agent is down
    burst = run(client, image, "aixcl-burst-1", "aixcl", "burst", 3000)
    agent.kill9()
    short = run(client, image, "aixcl-short-1", "aixcl", "short", 0, wait=True)
    short.wait()
    extra += [burst, short]
    agent.start()
    wait_until(lambda: complete(burst) and complete(short), 90, "lines across the kill", missing)
    web.kill()
    web.start()
    wait_until(lambda: len(truth(web, "stdout")) == 900 and complete(web), 60, "lines after a second restart",
               missing)
    assert agent.stop() == 0

    long.remove(force=True)
    for c, streams in ((web, ("stdout", "stderr")), (worker, ("stdout",)), (burst, ("stdout", "stderr")),
                       (short, ("stdout", "stderr"))):
        for s in streams:
            assert received(sink, c.name, s) == truth(c, s), (c.name, s)
    # a TTY container has one stream: stderr comes through stdout
    assert received(sink, worker.name, "stderr") == set()
    assert received(sink, other.name, "stdout") == set() and received(sink, other.name, "stderr") == set()
    for labels in labels_seen(sink):
        assert labels["compose_project"] == "aixcl"
        assert labels["container"].startswith("aixcl-")
        assert labels["compose_service"] == labels["container"].split("-")[1]
        assert labels["stream"] in ("stdout", "stderr")


def test_compose_containers_started_stopped_restarted_arrive_once_at_logyard_serve(
    tmp_path, docker_engine, docker_client
):
    server = LogyardServer(tmp_path / "data", tmp_path / "server.log")
    try:
        scenario(tmp_path, server, docker_engine, docker_client)
    finally:
        server.stop()


def test_compose_containers_started_stopped_restarted_arrive_once_at_a_stand_in_receiver(
    tmp_path, docker_engine, docker_client
):
    sink = Receiver()
    try:
        scenario(tmp_path, sink, docker_engine, docker_client)
        assert any(n > 1 for n in sink.entries.values()), "the kill should have caused resends"
    finally:
        sink.stop()

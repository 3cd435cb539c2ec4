"""Docker discovery: Promtail's meta labels of a container, logyard's defaults, relabel rules per
stream; which containers get a reader (following or not) and which are forgotten, against a
stand-in docker-py client and Engine."""

from __future__ import annotations

import httpx

from logyard.agent.assemble import Stamper
from logyard.agent.docker_discovery import DockerTargets, default_labels, meta_labels, stream_labels
from logyard.agent.docker_reader import engine_client
from logyard.agent.metrics import AgentMetrics
from logyard.agent.relabel import Relabeler
from logyard.agent.targets import TargetRegistry
from logyard.config.agent import DockerFilter, DockerSDConfig, RelabelConfig, ScrapeConfig

COMPOSE = {"Id": "abc", "Names": ["/aixcl-web-1"], "HostConfig": {"NetworkMode": "none"},
           "Labels": {"com.docker.compose.project": "aixcl", "com.docker.compose.service": "web"}}


def test_meta_and_default_labels_of_a_compose_container():
    c = COMPOSE
    assert meta_labels(c) == {
        "__meta_docker_container_id": "abc",
        "__meta_docker_container_name": "/aixcl-web-1",
        "__meta_docker_container_network_mode": "none",
        "__meta_docker_container_label_com_docker_compose_project": "aixcl",
        "__meta_docker_container_label_com_docker_compose_service": "web",
    }
    assert default_labels(c, "stderr") == {"container": "aixcl-web-1", "stream": "stderr",
                                           "compose_service": "web", "compose_project": "aixcl"}


def test_a_relabel_rule_on_the_log_stream_drops_that_stream_only():
    rules = [RelabelConfig(source_labels=["__meta_docker_container_log_stream"], regex="stderr", action="drop"),
             RelabelConfig(source_labels=["__meta_docker_container_label_com_docker_compose_service"],
                           target_label="service")]
    assert stream_labels(COMPOSE, Relabeler(rules)) == {
        "stdout": {"container": "aixcl-web-1", "stream": "stdout", "compose_service": "web",
                   "compose_project": "aixcl", "service": "web"},
        "stderr": None,
    }


class FakeAPI:
    """docker-py's APIClient as discovery and readers use it; `listed` is what the Engine has."""

    api_version = "1.41"

    def __init__(self) -> None:
        self.listed: list[dict] = []
        self.filters: list[dict] = []

    def containers(self, all: bool, filters: dict) -> list[dict]:
        assert all
        self.filters.append(filters)
        return list(self.listed)

    def inspect_container(self, cid: str) -> dict:
        return {"Config": {"Tty": False}}


class FakeShipper:
    def __init__(self) -> None:
        self.submitted: list[dict] = []

    def resume(self, key: str) -> None:
        return None

    def submit(self, positions: dict, chunks: list) -> bool:
        self.submitted.append(positions)
        return True


def container(cid: str, project: str, state: str = "running") -> dict:
    return {"Id": cid, "Names": [f"/{project}-{cid}"], "State": state,
            "Labels": {"com.docker.compose.project": project}}


def discovery(tmp_path, rules=()):
    scrape = ScrapeConfig(job_name="compose", relabel_configs=list(rules))
    sd = DockerSDConfig(host="unix:///nowhere.sock",
                        filters=[DockerFilter(name="label", values=["com.docker.compose.project=aixcl"])])
    requests: list[httpx.Request] = []

    def engine(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, content=iter([]))  # no lines: each reader ends at once

    d = DockerTargets(scrape, sd, None, FakeShipper(), Stamper(), AgentMetrics(), TargetRegistry())
    d.api, d.http = FakeAPI(), engine_client(sd.host, transport=httpx.MockTransport(engine))
    return d, requests


def settle(d: DockerTargets) -> None:
    for r in d.readers.values():
        r.thread.join(5)


def test_running_containers_are_followed_stopped_ones_read_once_and_removed_ones_forgotten(tmp_path):
    d, requests = discovery(tmp_path)
    d.api.listed = [container("a1", "aixcl"), container("s1", "aixcl", state="exited")]
    d.refresh()
    settle(d)
    assert d.api.filters == [{"label": ["com.docker.compose.project=aixcl"]}]
    assert sorted((r.url.path.split("/")[3], r.url.params["follow"]) for r in requests) == [("a1", "1"), ("s1", "0")]
    rows = {t.key: t for t in d.registry.snapshot()}
    assert rows["docker/a1"].labels == {"container": "aixcl-a1", "stream": "stdout", "compose_project": "aixcl"}
    assert rows["docker/s1"].state == "stopped"

    d.refresh()  # a1's stream ended (the container stopped writing): followed again; s1 is done
    settle(d)
    assert [r.url.path.split("/")[3] for r in requests[2:]] == ["a1"]

    d.api.listed = [container("s1", "aixcl", state="exited")]
    d.refresh()
    assert "docker/a1" not in {t.key for t in d.registry.snapshot()}
    assert d.shipper.submitted[-1] == {"docker/a1": None}


def test_a_container_whose_streams_are_all_dropped_is_listed_as_dropped_and_not_read(tmp_path):
    d, requests = discovery(tmp_path, [RelabelConfig(source_labels=["container"], regex="aixcl-x.*",
                                                     action="drop")])
    d.api.listed = [container("x1", "aixcl")]
    d.refresh()
    assert d.readers == {} and requests == []
    (row,) = d.registry.snapshot()
    assert (row.key, row.state, row.labels) == ("docker/x1", "dropped", {})


def test_a_refresh_that_runs_into_stop_starts_no_reader(tmp_path):
    """`stop` shuts the readers' streams down; a refresh still under way saw their threads end and
    would have followed the containers again, unstopped, holding the agent's exit up for the joins."""
    d, requests = discovery(tmp_path)
    d.api.listed = [container("a1", "aixcl")]
    d.stop()
    d.refresh()
    assert d.readers == {} and requests == []

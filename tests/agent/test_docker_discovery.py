"""Docker discovery's labels: Promtail's meta labels of a container, logyard's defaults, relabel
rules per stream."""

from __future__ import annotations

from logyard.agent.docker_discovery import default_labels, meta_labels, stream_labels
from logyard.agent.relabel import Relabeler
from logyard.config.agent import RelabelConfig

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

"""deploy/docker-compose.yml and the compose.logging.yml add-on, as Compose itself reads them
(`config` validates, interpolates and merges), and the agent configs they mount."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

from logyard.config.agent import AgentConfig
from logyard.config.loader import load_model, parse_model
from tests.support.paths import REPO

DEPLOY = REPO / "deploy"
PROVISIONING = "/etc/grafana/provisioning"


def compose_config(compose: list[str], *files: str, project: str, env: dict[str, str] | None = None) -> dict:
    args = [*compose, "-p", project]
    for f in files:
        args += ["-f", str(DEPLOY / f)]
    out = subprocess.run(args + ["config"], cwd=DEPLOY, capture_output=True, text=True, timeout=120,
                         env={**os.environ, **(env or {})})
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)


def mounts(service: dict) -> dict[str, tuple[str, bool]]:
    """target -> (source, read_only), from Compose v1's short strings or v2's long form."""
    found = {}
    for v in service.get("volumes", []):
        if isinstance(v, str):
            source, target, *mode = v.split(":")
            found[target] = (source, bool(mode) and "ro" in mode[0].split(","))
        else:
            found[v["target"]] = (v.get("source", ""), bool(v.get("read_only")))
    return found


def published(service: dict) -> set[int]:
    ports = set()
    for p in service.get("ports", []):
        ports.add(int(p.split(":")[-2]) if isinstance(p, str) else int(p["published"]))
    return ports


def healthy_dependency(service: dict, on: str) -> bool:
    return service["depends_on"][on]["condition"] == "service_healthy"


def test_the_stack_validates_with_its_four_services(compose):
    cfg = compose_config(compose, "docker-compose.yml", project="logyard")
    services = cfg["services"]
    assert set(services) == {"logyard", "logyard-agent", "grafana", "prometheus"}

    server = services["logyard"]
    assert published(server) == {3100}
    assert mounts(server)["/data"][0] == "logyard-data" and "logyard-data" in cfg["volumes"]
    assert "/ready" in " ".join(server["healthcheck"]["test"])
    assert Path(server["build"]["context"]) == REPO and server["build"]["dockerfile"] == "deploy/Dockerfile"
    assert server["image"] == "logyard:latest"

    agent = services["logyard-agent"]
    agent_mounts = mounts(agent)
    assert published(agent) == {9080}
    assert agent_mounts["/var/run/docker.sock"] == ("/var/run/docker.sock", True)
    assert agent_mounts["/var/log"] == ("/var/log", True)
    assert agent_mounts["/var/lib/logyard-agent"][0] == "logyard-agent-positions"
    assert Path(agent_mounts["/etc/logyard/agent.yaml"][0]) == DEPLOY / "agent.compose.yaml"
    assert agent["command"] == ["agent", "--config", "/etc/logyard/agent.yaml"]
    assert healthy_dependency(agent, "logyard")

    grafana = services["grafana"]
    assert Path(mounts(grafana)[PROVISIONING][0]) == DEPLOY / "grafana" / "provisioning"
    assert healthy_dependency(grafana, "logyard")

    prometheus = services["prometheus"]
    assert Path(mounts(prometheus)["/etc/prometheus"][0]) == DEPLOY / "prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]


def test_the_stack_agent_config_pushes_to_the_logyard_service_and_keeps_positions_on_its_volume():
    cfg = load_model(DEPLOY / "agent.compose.yaml", AgentConfig)
    assert [c.url for c in cfg.clients] == ["http://logyard:3100/loki/api/v1/push"]
    assert cfg.positions.filename.startswith("/var/lib/logyard-agent/")
    assert cfg.server.http_listen_port == 9080 and cfg.server.http_listen_address == "0.0.0.0"
    docker = [sd for job in cfg.scrape_configs for sd in job.docker_sd_configs]
    assert [sd.host for sd in docker] == ["unix:///var/run/docker.sock"]


def test_the_addon_joins_a_sample_stack_and_its_agent_keeps_only_that_project(compose):
    sample = yaml.safe_load((DEPLOY / "examples" / "ai-stack.yml").read_text())
    cfg = compose_config(compose, "examples/ai-stack.yml", "compose.logging.yml", project="aitest",
                         env={"LOGYARD_DEPLOY_DIR": str(DEPLOY), "COMPOSE_PROJECT_NAME": "aitest"})
    services = cfg["services"]
    assert set(services) == set(sample["services"]) | {"logyard", "logyard-agent"}
    assert {"ollama", "postgres", "open-webui", "grafana", "prometheus"} <= set(services)

    grafana = mounts(services["grafana"])
    assert grafana["/var/lib/grafana"][0] == "grafana"  # the stack's own volume is kept
    for target in (f"{PROVISIONING}/datasources/logyard.yml", f"{PROVISIONING}/dashboards/logyard.yml",
                   f"{PROVISIONING}/dashboards/logyard"):
        source, read_only = grafana[target]
        assert read_only and Path(source) == DEPLOY / "grafana" / "provisioning" / target.split("provisioning/")[1]
        assert Path(source).exists()
    assert healthy_dependency(services["grafana"], "logyard")

    agent = services["logyard-agent"]
    assert healthy_dependency(agent, "logyard")
    agent_mounts = mounts(agent)
    assert agent_mounts["/var/run/docker.sock"] == ("/var/run/docker.sock", True)
    assert agent_mounts["/var/log"] == ("/var/log", True)
    # The command puts the project name into the mounted config; do what it does, then read the result.
    script = " ".join(agent["entrypoint"] + agent["command"])
    project = re.search(r"s/@COMPOSE_PROJECT@/([^/]+)/", script).group(1)
    assert project == "aitest"
    template = Path(agent_mounts["/etc/logyard/agent.logging.yaml"][0]).read_text()
    agent_cfg = parse_model(template.replace("@COMPOSE_PROJECT@", project), AgentConfig)
    filters = [f for job in agent_cfg.scrape_configs for sd in job.docker_sd_configs for f in sd.filters]
    assert [(f.name, f.values) for f in filters] == [("label", ["com.docker.compose.project=aitest"])]
    assert [c.url for c in agent_cfg.clients] == ["http://logyard:3100/loki/api/v1/push"]

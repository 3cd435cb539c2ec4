"""deploy/prometheus/: the files as shipped pass promtool, and a real Prometheus running the shipped
jobs (only their targets pointed at loopback) scrapes a real logyard and agent: both `up == 1`, a
logyard metric is queryable with the job's service label, and every metric the rules name is one
that logyard or its agent exposes."""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import httpx
import pytest
import yaml

from tests.agent.helpers import AgentProcess, free_port, wait_until
from tests.support.paths import REPO
from tests.support.server import ServerProcess

PROM_DIR = REPO / "deploy" / "prometheus"
CONFIG = PROM_DIR / "prometheus.yml"
RULES = PROM_DIR / "rules.yml"

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None,
                                    reason="promtool missing (Debian's prometheus package; .ci/run installs it)")


@needs_promtool
def test_promtool_accepts_the_config_as_shipped():
    out = subprocess.run(["promtool", "check", "config", str(CONFIG)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 rule files found" in out.stdout  # rules.yml is referenced and found


@needs_promtool
def test_promtool_accepts_the_rules():
    out = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_jobs_scrape_logyard_and_its_agent_with_service_labels():
    jobs = {j["job_name"]: j for j in yaml.safe_load(CONFIG.read_text())["scrape_configs"]}
    assert {name: [(sc["targets"], sc["labels"]["service"]) for sc in j["static_configs"]] for name, j in jobs.items()} == {
        "logyard": [(["logyard:3100"], "logyard")],
        "logyard-agent": [(["logyard-agent:9080"], "logyard-agent")],
    }


def metric_names(text: str) -> set[str]:
    """Every family a /metrics page declares, with the series names Prometheus stores for it."""
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        names.add(name)
        if kind == "counter":
            names.add(name if name.endswith("_total") else name + "_total")
        if kind == "histogram":
            names |= {name + "_count", name + "_sum", name + "_bucket"}
    return names


def rule_metric_names() -> set[str]:
    exprs = [r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    unquoted = [re.sub(r'"[^"]*"', '""', e) for e in exprs]  # label values are not metric names
    return {n for e in unquoted for n in re.findall(r"\b((?:loki|promtail|logyard)_[a-z0-9_]+)", e)}


@pytest.fixture()
def stack(tmp_path):
    """A logyard server and an agent tailing a file into it, on loopback."""
    with ServerProcess(tmp_path / "data") as server:
        (tmp_path / "logs").mkdir()
        (tmp_path / "logs" / "app.log").write_text("hello prometheus\n")
        config = tmp_path / "agent.yaml"
        config.write_text(f"""
clients: [{{url: "{server.url}/loki/api/v1/push", batchwait: 100ms}}]
positions: {{filename: "{tmp_path}/positions.yaml"}}
scrape_configs:
  - job_name: files
    static_configs: [{{labels: {{job: app, __path__: "{tmp_path}/logs/*.log"}}}}]
""")
        agent = AgentProcess(config, tmp_path / "agent.log").start()
        try:
            yield server, agent
        finally:
            agent.stop()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("prometheus") is None,
                    reason="prometheus missing (Debian's prometheus package; .ci/run installs it)")
def test_a_real_prometheus_scrapes_both_and_the_rules_name_real_metrics(stack, tmp_path):
    server, agent = stack
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["global"]["scrape_interval"] = "1s"  # only to keep the test short
    cfg["rule_files"] = [str(RULES)]
    targets = {"logyard": f"127.0.0.1:{server.port}", "logyard-agent": f"127.0.0.1:{agent.port}"}
    for job in cfg["scrape_configs"]:
        for sc in job["static_configs"]:
            sc["targets"] = [targets[job["job_name"]]]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(cfg))
    port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")
    prom = subprocess.Popen(["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}/api/v1"

    def query(q: str) -> list[dict]:
        try:
            r = httpx.get(f"{api}/query", params={"query": q}, timeout=5)
        except httpx.TransportError:
            return []
        return r.json()["data"]["result"] if r.status_code == 200 else []

    try:
        wait_until(lambda: agent.get("/metrics").text.count('promtail_sent_entries_total{host="127.0.0.1"} 1.0'),
                   30, "the agent to send its line")
        wait_until(lambda: len(query("up == 1")) == 2, 60, "both targets up")
        assert {(s["metric"]["job"], s["metric"]["service"]) for s in query("up")} == {
            ("logyard", "logyard"), ("logyard-agent", "logyard-agent")}
        wait_until(lambda: query('loki_distributor_lines_received_total{tenant="fake"}'), 30, "a logyard metric")
        [sample] = query('loki_distributor_lines_received_total{tenant="fake"}')
        assert sample["metric"]["service"] == "logyard" and float(sample["value"][1]) == 1
        rules = httpx.get(f"{api}/rules").json()["data"]["groups"]
        assert {g["name"] for g in rules} == {"logyard", "logyard-agent"}
        assert all(r["health"] != "err" for g in rules for r in g["rules"])
    finally:
        prom.terminate()
        prom.wait(timeout=30)
        log.close()

    exposed = metric_names(httpx.get(server.url + "/metrics").text) | metric_names(agent.get("/metrics").text)
    assert rule_metric_names() - exposed == set()
    assert rule_metric_names()  # the rules do name metrics

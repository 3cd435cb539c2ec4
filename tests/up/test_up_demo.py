"""`logyard up --demo` as a user runs it: both parts answer, the demo stream is queryable, the agent
serves /targets and /metrics, and SIGINT ends every process `up` started."""

from __future__ import annotations

import httpx
import pytest

from tests.agent.helpers import wait_until
from tests.up.helpers import UpProcess, alive, descendants

pytestmark = pytest.mark.slow


@pytest.fixture()
def up_demo(tmp_path):
    # no Docker Engine at that address, whatever this machine has: the report must say why it skipped it
    up = UpProcess(tmp_path, ["--demo"], env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"})
    try:
        yield up.start()
    finally:
        up.kill()


def test_demo_lines_are_queryable_and_sigint_stops_every_process(up_demo):
    up = up_demo
    server, agent = up.child("serve"), up.child("agent")
    started = descendants(up.proc.pid)
    assert {server, agent} <= started

    def demo_streams() -> list:
        return up.query('{compose_project="demo"}')

    wait_until(lambda: len({s["compose_service"] for s, _ in demo_streams()}) == 5, 5, "the demo's five services")
    streams = demo_streams()
    assert {s["compose_service"] for s, _ in streams} == {"ollama", "postgres", "open-webui", "grafana", "prometheus"}
    assert all(s["container"] == f"demo-{s['compose_service']}-1" and s["stream"] in ("stdout", "stderr")
               for s, _ in streams)
    # the brief's kinds of lines are there to query: JSON, errors, trace ids
    assert up.query('{compose_service="open-webui"} | json | trace_id != ""')
    assert httpx.get(up.agent_url + "/targets", timeout=5).status_code == 200
    assert "promtail_sent_entries_total" in httpx.get(up.agent_url + "/metrics", timeout=5).text
    explorer = httpx.get(up.url + "/", timeout=5)  # `up` serves the explorer as `serve` does
    assert explorer.status_code == 200 and '<script type="module" src="/ui/js/main.js">' in explorer.text

    out = up.out_path.read_text()
    assert f"{up.url}/ " in out and f"{up.agent_url}/targets" in out
    assert "no-docker.sock does not exist" in out  # a skipped source says why

    assert up.interrupt() == 0
    assert [pid for pid in started if alive(pid)] == []


def test_restart_resumes_the_agent_from_its_saved_positions(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("".join(f"first {i}\n" for i in range(100)))
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    query = f'{{filename="{log}"}}'

    def lines(up) -> list[str]:
        return sorted(line for _, values in up.query(query) for _, line in values)

    up = UpProcess(tmp_path, ["--path", str(log)], env=env)
    try:
        up.start()
        wait_until(lambda: len(lines(up)) == 100, 30, "the file's first lines")
        assert up.interrupt() == 0
        with log.open("a") as f:
            f.write("".join(f"second {i}\n" for i in range(50)))
        up = UpProcess(tmp_path, ["--path", str(log)], env=env)
        up.start()
        wait_until(lambda: len(lines(up)) >= 150, 30, "the lines written while up was down")
        assert lines(up) == sorted([f"first {i}" for i in range(100)] + [f"second {i}" for i in range(50)])
        assert up.interrupt() == 0
    finally:
        up.kill()

"""Starting the agent from the command line: a bad config is a clear error, not a traceback;
SIGTERM is a clean stop that saves positions."""

from __future__ import annotations

import subprocess
import sys

from tests.agent.helpers import ROOT, AgentProcess, wait_until
from tests.agent.receiver import Receiver


def test_a_bad_config_exits_2_naming_line_and_key(tmp_path):
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("clients:\n  - url: http://127.0.0.1:1/x\n    batchwiat: 1s\n")
    out = subprocess.run([sys.executable, "-m", "logyard.agent", "--config", str(cfg)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert f"{cfg}:3: clients.0.batchwiat: unknown key" in out.stderr
    assert "Traceback" not in out.stderr


def test_sigterm_stops_cleanly_and_saves_positions(tmp_path):
    sink = Receiver()
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.log").write_text("one\ntwo\n")
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(
        f"clients: [{{url: '{sink.url}', batchwait: 10ms}}]\n"
        f"positions: {{filename: '{tmp_path}/positions.yaml', sync_period: 1h}}\n"
        "scrape_configs: [{job_name: j, static_configs: [{labels: {job: j, __path__: '"
        f"{tmp_path}/logs/*.log'}}}}]}}]\n"
    )
    agent = AgentProcess(cfg, tmp_path / "agent.log").start()
    try:
        wait_until(lambda: sink.lines(job="j") == ["one", "two"])
        assert agent.stop() == 0
        assert f"{tmp_path}/logs/a.log: 8:" in (tmp_path / "positions.yaml").read_text()
    finally:
        sink.stop()

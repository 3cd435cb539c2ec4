"""Starting the agent from the command line: a bad config, a taken port or an unusable positions or
journal directory is one clear line and a non-zero exit, not a traceback; the config file says where
to listen and how much to log, `--listen` wins over it; SIGTERM is a clean stop that saves positions."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agent.helpers import ROOT, AgentProcess, agent_command, free_port, wait_until
from tests.agent.receiver import Receiver
from tests.support.mounts import not_writable_dir, read_only_dir

EXIT_WITHIN_S = 60  # bounds a hanging agent; the assertion is the exit, not its speed


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


def agent_config(tmp_path: Path, positions: Path, server: str = "") -> Path:
    """A config that reads nothing and pushes nowhere: what is under test is only the start."""
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(f"{server}clients: [{{url: 'http://127.0.0.1:1/loki/api/v1/push'}}]\n"
                   f"positions: {{filename: '{positions}'}}\n")
    return cfg


def start_agent(cfg: Path, *flags: str) -> subprocess.CompletedProcess:
    """The agent run to its exit, which a start that cannot work must reach by itself."""
    return subprocess.run([*agent_command(), "--config", str(cfg), *flags], cwd=ROOT, capture_output=True,
                          text=True, timeout=EXIT_WITHIN_S)


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    return lines[0]


def test_agent_listens_and_logs_as_its_config_file_says(tmp_path):
    port = free_port()
    cfg = agent_config(tmp_path, tmp_path / "positions.yaml",
                       f"server: {{http_listen_address: 127.0.0.1, http_listen_port: {port}, log_level: warn}}\n")
    agent = AgentProcess(cfg, tmp_path / "agent.log", port=port, listen_flag=False).start()
    assert agent.stop() == 0
    log = (tmp_path / "agent.log").read_text()
    assert "level=INFO" not in log, log


def test_listen_flag_wins_over_the_config_file(tmp_path):
    with socket.socket() as held:  # where the config points: binding there would fail the start
        held.bind(("127.0.0.1", 0))
        held.listen()
        cfg = agent_config(tmp_path, tmp_path / "positions.yaml",
                           f"server: {{http_listen_port: {held.getsockname()[1]}}}\n")
        agent = AgentProcess(cfg, tmp_path / "agent.log").start()
        assert agent.get("/ready").status_code == 200
        assert agent.stop() == 0


@pytest.mark.parametrize("from_flag", [True, False], ids=["flag", "config"])
def test_a_taken_port_exits_non_zero_with_one_line_naming_the_address(tmp_path, from_flag):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        server = "" if from_flag else f"server: {{http_listen_port: {port}}}\n"
        cfg = agent_config(tmp_path, tmp_path / "positions.yaml", server)
        r = start_agent(cfg, *(["--listen", f"127.0.0.1:{port}"] if from_flag else []))
    assert r.returncode != 0
    line = one_line(r.stderr)  # no traceback
    assert f"127.0.0.1:{port}" in line
    assert "address already in use" in line


def test_a_positions_dir_that_is_a_regular_file_exits_naming_it(tmp_path):
    (tmp_path / "state").write_text("not a directory\n")
    r = start_agent(agent_config(tmp_path, tmp_path / "state" / "positions.yaml"), "--listen", f"127.0.0.1:{free_port()}")
    assert r.returncode != 0
    line = one_line(r.stderr)
    assert f"cannot use the positions directory {tmp_path / 'state'}" in line
    assert "not a directory" in line


def test_a_positions_file_that_is_a_directory_exits_naming_it(tmp_path):
    (tmp_path / "positions.yaml").mkdir()
    r = start_agent(agent_config(tmp_path, tmp_path / "positions.yaml"), "--listen", f"127.0.0.1:{free_port()}")
    assert r.returncode != 0
    line = one_line(r.stderr)
    assert f"cannot use the positions file {tmp_path / 'positions.yaml'}: is a directory" in line


def test_a_positions_dir_its_user_cannot_write_exits_naming_it(tmp_path):
    with not_writable_dir(tmp_path / "state") as state:
        r = start_agent(agent_config(tmp_path, state / "positions.yaml"), "--listen", f"127.0.0.1:{free_port()}")
    assert r.returncode != 0
    line = one_line(r.stderr)
    assert f"cannot use the positions directory {state}" in line
    assert "permission denied" in line or "operation not permitted" in line  # chmod 0555 / chattr +i


def test_a_read_only_journal_dir_exits_naming_it(tmp_path):
    # The positions file's directory is fine; the journal beside it is not: the agent would start,
    # read lines and fail to journal each batch.
    with read_only_dir(tmp_path / "positions.yaml.journal") as journal:
        r = start_agent(agent_config(tmp_path, tmp_path / "positions.yaml"), "--listen", f"127.0.0.1:{free_port()}")
    assert r.returncode != 0
    line = one_line(r.stderr)
    assert f"cannot use the journal directory {journal}" in line
    assert "read-only file system" in line

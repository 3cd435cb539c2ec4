"""What `logyard up` reads: files that are there and readable, an Engine that answers; the rest is
reported with the reason. The agent config built from them validates as the agent's own model."""

from __future__ import annotations

from pathlib import Path

import pytest

from logyard.config.agent import AgentConfig
from logyard.up import sources


def test_a_glob_of_readable_files_is_read_as_the_glob(tmp_path):
    for name in ("a.log", "b.log"):
        (tmp_path / name).write_text("x\n")
    source, scrape = sources.files(str(tmp_path / "*.log"), "varlogs", "varlogs", required=False)
    assert not source.skipped and source.detail == "2 files"
    assert scrape["static_configs"][0]["labels"] == {"job": "varlogs", "__path__": str(tmp_path / "*.log")}


def test_unreadable_files_are_left_out_by_name(tmp_path):
    (tmp_path / "a.log").write_text("x\n")
    (tmp_path / "secret.log").write_text("x\n")
    # the tests run as root, who reads every file: what cannot be read is told, not made
    source, scrape = sources.files(str(tmp_path / "*.log"), "varlogs", "varlogs", required=False,
                                   readable=lambda p: not p.endswith("secret.log"))
    assert "1 skipped, not readable: secret.log" in source.detail
    assert [s["labels"]["__path__"] for s in scrape["static_configs"]] == [str(tmp_path / "a.log")]


def test_none_readable_is_skipped_with_what_to_do(tmp_path):
    (tmp_path / "syslog.log").write_text("x\n")
    source, scrape = sources.files(str(tmp_path / "*.log"), "varlogs", "varlogs", required=False,
                                   readable=lambda p: False)
    assert scrape is None and "none readable" in source.skipped and "adm" in source.skipped


def test_no_match_skips_the_default_glob_but_watches_a_path_flag(tmp_path):
    pattern = str(tmp_path / "*.log")
    source, scrape = sources.files(pattern, "varlogs", "varlogs", required=False)
    assert source.skipped == "no file matches" and scrape is None
    source, scrape = sources.files(pattern, "path-1", "files", required=True)
    assert "watched" in source.detail and scrape["job_name"] == "path-1"


def test_a_missing_docker_socket_is_skipped_with_what_to_do(tmp_path):
    source, scrape = sources.docker({"DOCKER_HOST": f"unix://{tmp_path}/docker.sock"}, None)
    assert scrape is None and source.skipped == f"{tmp_path}/docker.sock does not exist (check DOCKER_HOST)"


def test_an_engine_that_does_not_answer_is_skipped(tmp_path):
    Path(tmp_path / "docker.sock").write_text("")  # a file, no Engine behind it
    source, scrape = sources.docker({"DOCKER_HOST": f"unix://{tmp_path}/docker.sock"}, "aixcl")
    assert scrape is None and source.skipped.startswith("no answer")


@pytest.mark.docker
def test_an_answering_engine_is_read_with_the_compose_project_filter(docker_engine):
    source, scrape = sources.docker({"DOCKER_HOST": docker_engine["host"]}, "aixcl")
    assert not source.skipped and "compose project 'aixcl'" in source.detail
    assert scrape["docker_sd_configs"][0]["filters"] == [
        {"name": "label", "values": ["com.docker.compose.project=aixcl"]}]


def test_the_agent_document_validates_as_the_agent_config_file(tmp_path):
    (tmp_path / "a.log").write_text("x\n")
    _, scrape = sources.files(str(tmp_path / "*.log"), "path-1", "files", required=True)
    doc = sources.agent_document("http://127.0.0.1:3100/loki/api/v1/push", ("127.0.0.1", 9080),
                                 tmp_path / "positions.yaml", [scrape])
    cfg, text = sources.agent_config(doc, "agent.yaml")
    assert isinstance(cfg, AgentConfig)
    assert cfg.clients[0].backoff_config.max_retries == 0 and cfg.positions.sync_period == 2.0
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    from logyard.config import load_model

    assert load_model(path, AgentConfig) == cfg  # what the agent child reads is what was checked

"""The server's and the agent's YAML read durations and sizes with the one grammar of logyard.units."""

from __future__ import annotations

import pytest

from logyard.config import parse_model
from logyard.config.agent import AgentConfig, ClientConfig
from logyard.config.server import ServerConfig, parse_duration_ns, parse_size
from logyard.errors import ConfigError
from logyard.units import SECOND


def server_duration(text: str) -> int:
    cfg = parse_model(f"limits:\n  retention_period: {text}\n", ServerConfig)
    return parse_duration_ns(cfg.limits.retention_period)


def agent_duration(text: str) -> int:
    cfg = parse_model(f"clients:\n  - url: http://x\n    batchwait: {text}\n", AgentConfig)
    return round(cfg.clients[0].batchwait * SECOND)


def server_size(text: str) -> int:
    return parse_size(parse_model(f"limits:\n  max_line_size: {text}\n", ServerConfig).limits.max_line_size)


def agent_size(text: str) -> int:
    return parse_model(f"clients:\n  - url: http://x\n    batchsize: {text}\n", AgentConfig).clients[0].batchsize


def outcome(read, text):
    try:
        return read(text)
    except ConfigError as exc:
        return exc.message.split(": ", 3)[-1]  # the reason, without file, line and key path


@pytest.mark.parametrize("text", ["1w", "168h", "1h30m", "1.5h", "500ms", "2d", "0", "0s", '"0"', "90", '"90"',
                                  "-5m", "soon"])
def test_both_configs_read_a_duration_alike(text):
    assert outcome(server_duration, text) == outcome(agent_duration, text)


@pytest.mark.parametrize("text, ns", [("1w", 7 * 86400 * SECOND), ("1.5h", 5400 * SECOND), ("0", 0)])
def test_both_configs_take_go_and_prometheus_units(text, ns):
    assert server_duration(text) == agent_duration(text) == ns


@pytest.mark.parametrize("text", ["90", '"90"'])
def test_a_bare_number_is_not_a_duration_in_either_config(text):
    for read in (server_duration, agent_duration):
        with pytest.raises(ConfigError, match=r'invalid duration "90": missing unit'):
            read(text)


@pytest.mark.parametrize("text", ["1.5MiB", "256KB", "262144", '"262144"', "2G", "huge", "-1"])
def test_both_configs_read_a_size_alike(text):
    assert outcome(server_size, text) == outcome(agent_size, text)


def test_size_kb_is_1024_bytes_in_both_configs():
    assert server_size("256KB") == agent_size("256KB") == 262144


def test_agent_models_built_in_python_take_seconds():
    # Code (and the tests) build the agent's models with numbers in the unit they hold: seconds.
    assert ClientConfig(url="http://x", batchwait=0.01).batchwait == 0.01
    assert ClientConfig(url="http://x", batchwait="250ms").batchwait == 0.25
    assert ClientConfig(url="http://x").batchwait == 1.0

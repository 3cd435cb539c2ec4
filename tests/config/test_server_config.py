"""`logyard serve` config: Loki's defaults, strict keys, errors naming file, line and key path."""

from __future__ import annotations

import subprocess
import sys

import pytest

from logyard.config import parse_model
from logyard.config.server import ServerConfig, parse_duration_ns, parse_size
from logyard.errors import ConfigError


def test_defaults_are_lokis():
    cfg = ServerConfig()
    assert cfg.server.http_listen_port == 3100
    assert parse_duration_ns(cfg.limits.retention_period) == 168 * 3600 * 10**9
    assert parse_size(cfg.limits.max_line_size) == 262144
    assert cfg.limits.max_entries_limit_per_query == 5000
    assert cfg.limits.max_query_series == 500
    assert cfg.auth_enabled is False


@pytest.mark.parametrize("text, expected", [
    ("server:\n  http_listen_port: 3100\n  bogus: 1\n", "c.yaml:3: server.bogus: unknown key"),
    ("limits:\n  retention_period: forever\n", "c.yaml:2: limits.retention_period: Value error, invalid duration"),
    ("limits:\n  max_line_size: huge\n", "c.yaml:2: limits.max_line_size: Value error, invalid size"),
    ("server:\n  http_listen_port: 99999\n", "c.yaml:2: server.http_listen_port: Input should be less than or equal to 65535"),
    ("auth_enabled: maybe\n", "c.yaml:1: auth_enabled: Input should be a valid boolean"),
    ("- a\n- b\n", "c.yaml: the top level must be a mapping"),
    ("server: [\n", "c.yaml:2: invalid YAML"),
])
def test_bad_config_names_file_line_and_key(text, expected):
    with pytest.raises(ConfigError) as err:
        parse_model(text, ServerConfig, "c.yaml")
    assert expected in err.value.message


def test_yaml_overrides_defaults():
    cfg = parse_model("limits:\n  max_query_series: 10\nstorage:\n  data_dir: /tmp/x\n", ServerConfig)
    assert cfg.limits.max_query_series == 10
    assert str(cfg.storage.data_dir) == "/tmp/x"


def test_serve_rejects_a_bad_config_file_before_starting(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("server:\n  nope: 1\n")
    r = subprocess.run([sys.executable, "-m", "logyard", "serve", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert f"{cfg}:2: server.nope: unknown key" in r.stderr


def test_help_explains_every_option():
    r = subprocess.run([sys.executable, "-m", "logyard", "serve", "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for opt in ("--config", "--listen", "--data-dir"):
        assert opt in r.stdout


def test_configuration_reference_is_generated_from_the_models():
    from pathlib import Path

    from logyard.config.docs import render

    doc = Path(__file__).parents[2] / "docs" / "configuration.md"
    assert doc.read_text().strip() == render().strip(), "run: python -m logyard.config.docs > docs/configuration.md"


def test_configuration_reference_describes_every_key():
    from logyard.config.docs import render

    text = render()
    assert "PydanticUndefined" not in text
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) > 60
    cells = [[c.strip() for c in row.strip("| ").split(" | ")] for row in rows]
    assert all(len(c) == 3 for c in cells)
    assert [key for key, _, meaning in cells if not meaning] == []
    assert "| `clients[].url` | (required) |" in text

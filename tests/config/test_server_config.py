"""`logyard serve` config: Loki's defaults, strict keys, errors naming file, line and key path."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from logyard.cli import load_server_config
from logyard.config import parse_model
from logyard.config.server import ServerConfig, parse_duration_ns, parse_size
from logyard.errors import ConfigError
from tests.support.server import REPO, ServerProcess, free_port


def test_defaults_are_lokis():
    cfg = ServerConfig()
    assert cfg.server.http_listen_port == 3100
    assert parse_duration_ns(cfg.limits.retention_period) == 168 * 3600 * 10**9
    assert parse_size(cfg.limits.max_line_size) == 262144
    assert cfg.limits.max_entries_limit_per_query == 5000
    assert cfg.limits.max_query_series == 500
    assert cfg.auth_enabled is False
    assert (cfg.compactor.compaction_interval, cfg.compactor.retention_delete_delay,
            cfg.compactor.delete_request_cancel_period, cfg.compactor.delete_max_interval) == ("10m", "2h", "24h", "24h")


@pytest.mark.parametrize("text, expected", [
    ("server:\n  http_listen_port: 3100\n  bogus: 1\n", "c.yaml:3: server.bogus: unknown key"),
    ("limits:\n  retention_period: forever\n", "c.yaml:2: limits.retention_period: Value error, invalid duration"),
    ("limits:\n  max_line_size: huge\n", "c.yaml:2: limits.max_line_size: Value error, invalid size"),
    ("server:\n  http_listen_port: 99999\n", "c.yaml:2: server.http_listen_port: Input should be less than or equal to 65535"),
    ("auth_enabled: maybe\n", "c.yaml:1: auth_enabled: Input should be a valid boolean"),
    ("- a\n- b\n", "c.yaml: the top level must be a mapping"),
    ("server: [\n", "c.yaml:2: invalid YAML"),
    ("limits:\n  retention_stream:\n    - selector: '{app=}'\n      period: 1h\n",
     "c.yaml:3: limits.retention_stream.0.selector: Value error, invalid stream selector '{app=}'"),
    ("limits:\n  retention_stream:\n    - selector: '{app=\"a\"}'\n", "limits.retention_stream.0.period: Field required"),
    ("compactor:\n  compaction_interval: often\n", "c.yaml:2: compactor.compaction_interval: Value error, invalid duration"),
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


def test_listen_flag_wins_over_the_config_file_which_wins_over_the_default(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("server:\n  http_listen_address: 0.0.0.0\n  http_listen_port: 4100\n")
    assert load_server_config(None, None, None).listen == "127.0.0.1:3100"
    assert load_server_config(str(cfg), None, None).listen == "0.0.0.0:4100"
    assert load_server_config(str(cfg), "127.0.0.1:5100", None).listen == "127.0.0.1:5100"


def _serve(tmp_path, port: int, config_text: str, *flags: str) -> ServerProcess:
    """A `logyard serve` whose arguments are only `--config` and `flags` (ServerProcess always adds
    `--listen`, which would hide what the config file says)."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config_text)
    log = tmp_path / "serve.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "logyard", "serve", "--config", str(cfg), *flags], cwd=REPO,
                                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    server = ServerProcess(tmp_path / "data", port=port, config_text=None)
    server.proc, server.log_path = proc, log
    return server


def test_serve_listens_and_logs_as_its_config_file_says(tmp_path):
    port = free_port()
    server = _serve(tmp_path, port, f"server:\n  http_listen_port: {port}\n  log_level: warn\n"
                              f"storage:\n  data_dir: {tmp_path / 'data'}\n")
    try:
        server.wait_ready()
    finally:
        assert server.stop() == 0
    assert "level=INFO" not in server.log_tail(), server.log_tail()


def test_serve_logs_info_lines_by_default(tmp_path):
    port = free_port()
    server = _serve(tmp_path, port, f"storage:\n  data_dir: {tmp_path / 'data'}\n", "--listen", f"127.0.0.1:{port}")
    try:
        server.wait_ready()
    finally:
        assert server.stop() == 0
    assert "level=INFO component=logyard msg=logyard " in server.log_tail()
    assert f"listening on http://127.0.0.1:{port}" in server.log_tail()


def test_listen_flag_takes_an_ipv6_address_in_brackets():
    cfg = load_server_config(None, "[::1]:5100", None)
    assert (cfg.server.http_listen_address, cfg.server.http_listen_port) == ("::1", 5100)


@pytest.mark.parametrize("text, expected", [
    ("storage:\n  object_store:\n    type: s3\n", "c.yaml:2: storage.object_store: Value error, type s3 needs the s3 section"),
    ("storage:\n  object_store:\n    type: gcs\n", "c.yaml:3: storage.object_store.type: Input should be 'filesystem' or 's3'"),
    ("storage:\n  object_store:\n    type: s3\n    s3:\n      endpoint: minio:9000\n",
     "c.yaml:4: storage.object_store.s3.bucketnames: Field required"),
    ("storage:\n  object_store:\n    s3:\n      bucketnames: a,b\n",
     "c.yaml:4: storage.object_store.s3.bucketnames: Value error, logyard stores blocks in one bucket"),
    ("storage:\n  object_store:\n    s3:\n      bucketnames: Logs_Bucket\n",
     "c.yaml:4: storage.object_store.s3.bucketnames: Value error, 'Logs_Bucket' is not an S3 bucket name"),
    ("storage:\n  object_store:\n    cache_size: lots\n", "c.yaml:3: storage.object_store.cache_size: Value error, invalid size"),
])
def test_bad_object_store_config_names_line_and_key(text, expected):
    with pytest.raises(ConfigError) as err:
        parse_model(text, ServerConfig, "c.yaml")
    assert expected in err.value.message


def test_the_object_store_secret_is_masked_in_the_config_shown():
    cfg = parse_model("storage:\n  object_store:\n    type: s3\n    s3:\n      bucketnames: logs\n"
                      "      access_key_id: id\n      secret_access_key: hush\n", ServerConfig)
    assert cfg.storage.object_store.s3.secret_access_key == "hush"
    shown = cfg.model_dump(mode="json")["storage"]["object_store"]["s3"]
    assert (shown["access_key_id"], shown["secret_access_key"]) == ("id", "<secret>")


@pytest.mark.parametrize("text, expected", [
    ("target: read\n", "target read needs storage.object_store.type s3"),
    ("target: querier\n", "c.yaml:1: target: Input should be 'all', 'write', 'read' or 'backend'"),
    ("node_id: 'two words'\n", "c.yaml:1: node_id: Value error, 'two words' is not a node id"),
])
def test_bad_target_config_names_the_key(text, expected):
    with pytest.raises(ConfigError) as err:
        parse_model(text, ServerConfig, "c.yaml")
    assert expected in err.value.message


def test_the_split_targets_take_an_object_store_and_the_writers_of_a_reader():
    cfg = parse_model("target: read\nstorage:\n  object_store:\n    type: s3\n    s3:\n      bucketnames: logs\n"
                      "querier:\n  writers: [writer:3100, 10.0.0.5:3100]\n", ServerConfig)
    assert (cfg.target, cfg.querier.writers) == ("read", ["writer:3100", "10.0.0.5:3100"])
    assert parse_model("", ServerConfig).target == "all"

"""The positions file: Promtail's layout plus `acked_seq`, written whole, a bad file an error or
(with `ignore_invalid_yaml`) a fresh start."""

from __future__ import annotations

import pytest

from logyard.agent.positions import Positions
from logyard.errors import ConfigError


def test_saved_positions_load_back_sorted_with_the_acked_sequence(tmp_path):
    p = Positions(tmp_path / "sub" / "positions.yaml")
    p.save(7, {"docker/b": "1767323045000000001:2", "/var/log/a.log": "120:2049:33"})
    assert p.load() == (7, {"/var/log/a.log": "120:2049:33", "docker/b": "1767323045000000001:2"})
    assert not (tmp_path / "sub" / "positions.yaml.tmp").exists()


def test_a_promtail_positions_file_loads_without_acked_seq(tmp_path):
    (tmp_path / "p.yaml").write_text("positions:\n  /var/log/a.log: \"120\"\n")
    assert Positions(tmp_path / "p.yaml").load() == (-1, {"/var/log/a.log": "120"})


@pytest.mark.parametrize("text", ["positions: [1, 2", "- a\n- b\n", "acked_seq: x\n"])
def test_a_broken_file_is_a_config_error_unless_ignored(tmp_path, text):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="is not valid"):
        Positions(path).load()
    assert Positions(path, ignore_invalid=True).load() == (-1, {})

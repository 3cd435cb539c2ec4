"""What README.md states about the build and the conformance loop matches the code."""

from __future__ import annotations

import re

from logyard.config import parse_model
from logyard.config.server import ServerConfig, parse_duration_ns
from tests.support.paths import REPO
from tests.support.server import HISTORIC_DATA_CONFIG

README = (REPO / "README.md").read_text()
NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}


def test_readme_counts_and_names_every_c_extension():
    extensions = re.findall(r'Extension\("logyard\.\w+\.(\w+)"', (REPO / "setup.py").read_text())
    assert extensions
    said = re.search(r"builds (\w+) small C\s+extensions", README)
    assert said and NUMBERS[said.group(1)] == len(extensions), said
    assert [e for e in extensions if f"`{e}`" not in README] == []


def test_readme_conformance_config_accepts_the_corpus_like_the_test_server():
    block = re.search(r"```yaml\n# conformance\.yaml\n(.*?)```", README, re.DOTALL)
    assert block, "README.md shows no conformance.yaml"
    readme_cfg = parse_model(block.group(1), ServerConfig).limits
    test_cfg = parse_model(HISTORIC_DATA_CONFIG, ServerConfig).limits
    assert readme_cfg.reject_old_samples is test_cfg.reject_old_samples is False
    assert parse_duration_ns(readme_cfg.retention_period) == parse_duration_ns(test_cfg.retention_period) == 0
    assert "--config conformance.yaml" in README

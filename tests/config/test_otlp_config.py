"""`limits.otlp_config`: Loki's layout and checks, and the effective mapping it gives ingest and Drilldown."""

from __future__ import annotations

import pytest

from logyard.config import parse_model
from logyard.config.otlp import DEFAULT_INDEX_LABELS
from logyard.config.server import ServerConfig
from logyard.errors import ConfigError

RULE = "limits:\n  otlp_config:\n    {section}:\n      - {rule}\n"
RESOURCE_RULE = "limits:\n  otlp_config:\n    resource_attributes:\n      attributes_config:\n        - {rule}\n"


def otlp(text: str):
    return parse_model(text, ServerConfig, "c.yaml").limits.otlp_config


@pytest.mark.parametrize("text, expected", [
    (RULE.format(section="log_attributes", rule="{action: keep, attributes: [a]}"),
     "limits.otlp_config.log_attributes.0.action: Value error, unsupported action, it must be one of: drop, "
     "index_label, structured_metadata"),
    (RULE.format(section="log_attributes", rule="{action: drop}"), "attributes or regex must be set"),
    (RULE.format(section="log_attributes", rule="{action: drop, attributes: [a], regex: b}"),
     "only one of attributes or regex must be set"),
    (RULE.format(section="scope_attributes", rule="{action: index_label, attributes: [a]}"),
     "index_label action is only supported for resource_attributes"),
    (RESOURCE_RULE.format(rule="{action: drop, regex: '(unclosed'}"), "error parsing regexp: missing closing )"),
    (RESOURCE_RULE.format(rule="{action: drop, attributes: [a], bogus: 1}"), "bogus: unknown key"),
])
def test_bad_otlp_config_is_refused_with_lokis_reason(text, expected):
    with pytest.raises(ConfigError) as err:
        otlp(text)
    assert expected in err.value.message


def test_default_mapping_is_lokis_index_label_list():
    assert ServerConfig().limits.otlp_config.loki_json() == {
        "resource_attributes": {"attributes_config": [{"action": "index_label", "attributes": list(DEFAULT_INDEX_LABELS)}]}}
    assert "k8s.pod.name" in DEFAULT_INDEX_LABELS and len(DEFAULT_INDEX_LABELS) == 18


def test_own_resource_rules_come_after_the_defaults_unless_they_are_ignored():
    cfg = otlp(RESOURCE_RULE.format(rule="{attributes: [host.name]}"))  # no action: structured_metadata
    assert [r.loki_json() for r in cfg.resource_rules()][1:] == [
        {"action": "structured_metadata", "attributes": ["host.name"]}]
    rules = cfg.rules()
    assert rules.action(rules.resource, "service.name") == "index_label"
    ignored = otlp("limits:\n  otlp_config:\n    resource_attributes:\n      ignore_defaults: true\n")
    assert ignored.loki_json() == {"resource_attributes": {"ignore_defaults": True}}
    assert ignored.rules().action(ignored.rules().resource, "service.name") == "structured_metadata"

"""Relabeling with Prometheus semantics over Promtail's Docker meta labels."""

from __future__ import annotations

import pytest

from logyard.agent.relabel import Relabeler, public
from logyard.config.agent import RelabelConfig

META = {
    "__meta_docker_container_name": "/aixcl-web-1",
    "__meta_docker_container_label_com_docker_compose_service": "web",
    "__meta_docker_container_log_stream": "stderr",
    "container": "aixcl-web-1",
}


@pytest.mark.parametrize(
    "rules, expected",
    [
        ([{"source_labels": ["__meta_docker_container_name"], "regex": "/(.*)", "target_label": "name"}],
         {"name": "aixcl-web-1"}),
        ([{"source_labels": ["__meta_docker_container_log_stream"], "target_label": "logstream"}],
         {"logstream": "stderr"}),
        ([{"action": "labelmap", "regex": "__meta_docker_container_label_com_docker_compose_(.+)"}],
         {"service": "web"}),
        ([{"source_labels": ["__meta_docker_container_label_com_docker_compose_service", "container"],
           "separator": "/", "regex": "(.*)/(.*)", "replacement": "$2:${1}", "target_label": "id"}],
         {"id": "aixcl-web-1:web"}),
        ([{"action": "labeldrop", "regex": "container"}], {"container": None}),
        ([{"source_labels": ["nothing"], "regex": "(.*)", "target_label": "container"}], {"container": None}),
        ([{"action": "uppercase", "source_labels": ["container"], "target_label": "c"}], {"c": "AIXCL-WEB-1"}),
    ],
)
def test_relabel_rules(rules, expected):
    out = Relabeler([RelabelConfig(**r) for r in rules]).apply(META)
    for k, v in expected.items():
        assert out.get(k) == v


@pytest.mark.parametrize("action, regex, kept", [("keep", "web", True), ("keep", "db", False), ("drop", "web", False),
                                                 ("drop", "we", True)])
def test_keep_and_drop_match_the_whole_value(action, regex, kept):
    rule = RelabelConfig(action=action, regex=regex,
                         source_labels=["__meta_docker_container_label_com_docker_compose_service"])
    assert (Relabeler([rule]).apply(META) is not None) == kept


def test_public_labels_drop_double_underscore_names_and_empty_values():
    assert public({"__path__": "/x", "a": "1", "b": ""}) == {"a": "1"}

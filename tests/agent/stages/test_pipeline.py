"""Building a pipeline from Promtail's stage list: the stage table, and mistakes as config errors."""

from __future__ import annotations

import pytest

from logyard.agent.stages.pipeline import build_pipeline
from logyard.errors import ConfigError


@pytest.mark.parametrize("stages", [[{"json": {}}], [{"regex": {"expression": "no groups"}}],
                                    [{"limit": {"rate": 0, "burst": 1}}], [{"match": {"selector": "web"}}],
                                    [{"json": {"expressions": {"a": "a[?x]"}}}]])
def test_stage_mistakes_are_config_errors(stages):
    with pytest.raises(ConfigError):
        build_pipeline(stages)


def test_an_unknown_stage_is_named_with_the_known_ones():
    with pytest.raises(ConfigError) as err:
        build_pipeline([{"json": {"expressions": {"a": ""}}}, {"sampling": {"rate": 0.5}}])
    assert err.value.message == (
        "pipeline_stages[1]: unknown stage 'sampling' (known: cri, docker, drop, json, labelallow, labeldrop, "
        "labels, limit, logfmt, match, metrics, multiline, output, regex, static_labels, structured_metadata, "
        "template, timestamp)"
    )


def test_stages_inside_match_come_from_the_same_table_and_their_errors_name_both_places():
    with pytest.raises(ConfigError) as err:
        build_pipeline([{"match": {"selector": '{job="a"}', "stages": [{"static_labels": {"x": "1"}}, {"nope": {}}]}}])
    assert err.value.message.startswith("pipeline_stages[0].match: pipeline_stages[1]: unknown stage 'nope'")


def test_every_stage_is_a_mapping_with_one_key():
    with pytest.raises(ConfigError, match=r"pipeline_stages\[0\]: each stage is a mapping with exactly one key"):
        build_pipeline([{"json": {}, "logfmt": {}}])

"""The metrics stage: Promtail's custom counters, gauges and histograms on the agent's registry."""

from __future__ import annotations

from prometheus_client import generate_latest

from logyard.agent.metrics import AgentMetrics
from logyard.agent.stages.pipeline import build_pipeline
from logyard.agent.stages.stage import Entry


def test_metrics_stage_counts_on_the_agent_registry():
    m = AgentMetrics()
    p = build_pipeline([
        {"regex": {"expression": r"status=(?P<status>\d+) ms=(?P<ms>\d+)"}},
        {"metrics": {
            "errors_total": {"type": "Counter", "source": "status", "config": {"value": "5..", "action": "inc"}},
            "lines_total": {"type": "Counter", "config": {"match_all": True, "action": "inc"}},
            "latency": {"type": "Histogram", "source": "ms", "config": {"buckets": [10, 100]}},
        }},
    ], m)
    p.process([Entry(f"status={s} ms={ms}", None, {"job": "a"}) for s, ms in [(200, 5), (503, 50), (500, 500)]])
    text = generate_latest(m.registry).decode()
    assert 'promtail_custom_errors_total{job="a"} 2.0' in text
    assert 'promtail_custom_lines_total{job="a"} 3.0' in text
    assert 'promtail_custom_latency_bucket{job="a",le="100.0"} 2.0' in text


def test_a_metrics_stage_inside_match_counts_on_the_agent_registry_too():
    m = AgentMetrics()
    p = build_pipeline([{"match": {"selector": '{job="a"} |= "err"', "stages": [
        {"metrics": {"errs_total": {"type": "Counter", "config": {"match_all": True, "action": "inc"}}}}]}}], m)
    p.process([Entry(x, None, {"job": "a"}) for x in ["err 1", "ok", "err 2"]])
    assert 'promtail_custom_errs_total{job="a"} 2.0' in generate_latest(m.registry).decode()

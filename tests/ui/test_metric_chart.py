"""Metric queries are drawn as time series with a legend naming each series."""

from __future__ import annotations

import httpx
import pytest

from tests.ui.explorer import FROM_NS, TO_NS, explorer_url, screenshot, wait_run

pytestmark = [pytest.mark.slow, pytest.mark.ui]

QUERY = 'sum by (compose_service) (count_over_time({compose_project="aixcl"} [1m]))'


def test_metric_query_draws_one_series_per_result_with_a_legend(page, corpus_server):
    page.goto(explorer_url(corpus_server.url, q=QUERY))
    assert wait_run(page) == "done"
    assert page.is_hidden("#logs") and page.is_visible("#metric canvas")
    r = httpx.get(corpus_server.url + "/loki/api/v1/query_range",
                  params={"query": QUERY, "start": FROM_NS, "end": TO_NS, "step": 15}, timeout=60)
    expected = {s["metric"]["compose_service"]: {int(t): float(v) for t, v in s["values"]}
                for s in r.json()["data"]["result"]}
    series = page.evaluate("window.logyard.metric.series")
    assert {s["metric"]["compose_service"] for s in series} == set(expected)
    xs = page.evaluate("window.logyard.metric.xs")
    for s in series:
        drawn = {int(x): v for x, v in zip(xs, s["values"]) if v is not None}
        assert drawn == expected[s["metric"]["compose_service"]]
    legend = page.eval_on_selector_all("#metric .u-legend .u-series .u-label", "els => els.map(e => e.textContent)")
    assert sorted(legend[1:]) == sorted(f'{{compose_service="{name}"}}' for name in expected)
    screenshot(page, "metric-chart")

"""The log-volume histogram counts what the query matches, by level or service; brushing narrows the range."""

from __future__ import annotations

import httpx
import pytest

from tests.ui.explorer import after, TO_NS, explorer_url, wait_run

pytestmark = [pytest.mark.slow, pytest.mark.ui]


def api_counts(base: str, query: str, by: str) -> dict[str, int]:
    """Counts over the explorer's hour, (from, to], from one instant query."""
    r = httpx.get(base + "/loki/api/v1/query", params={
        "query": f"sum by ({by}) (count_over_time({query} [1h]))", "time": TO_NS}, timeout=60)
    r.raise_for_status()
    return {s["metric"].get(by, ""): int(s["value"][1]) for s in r.json()["data"]["result"]}


@pytest.mark.parametrize("query, by", [
    ('{compose_service="postgres"}', "detected_level"),
    ('{compose_project="aixcl"} |= "error"', "detected_level"),
    ('{compose_project="aixcl"} | logfmt', "service_name"),
])
def test_bars_sum_to_the_querys_count(page, corpus_server, query, by):
    page.goto(explorer_url(corpus_server.url, q=query, hist=by))
    assert wait_run(page) == "done"
    hist = page.evaluate("window.logyard.histogram")
    counts = api_counts(corpus_server.url, query, by)
    assert int(page.get_attribute("#histogram", "data-total")) == hist["total"] == sum(counts.values())
    shown = {g["name"]: sum(v or 0 for v in g["values"]) for g in hist["groups"]}
    assert shown == counts
    assert len(hist["xs"]) == 120  # one hour in 30 s bars


def test_brushing_narrows_the_time_range(page, corpus_server):
    page.goto(explorer_url(corpus_server.url, q='{compose_service="postgres"}'))
    assert wait_run(page) == "done"
    over = page.locator("#histogram .u-over").bounding_box()
    y = over["y"] + over["height"] / 2

    def brush():
        page.mouse.move(over["x"] + over["width"] * 0.25, y)
        page.mouse.down()
        page.mouse.move(over["x"] + over["width"] * 0.5, y, steps=5)
        page.mouse.up()

    assert after(page, brush) == "done"
    start, end = page.input_value("#from"), page.input_value("#to")
    # A quarter to a half of 00:00-01:00: about 00:15 to 00:30.
    assert start.startswith("2026-01-01T00:1") and end.startswith("2026-01-01T00:")
    assert "from=2026-01-01T00%3A1" in page.url or "from=2026-01-01T00:1" in page.url
    assert all(start <= ts for ts in page.evaluate(
        "window.logyard.entries.map(e => new Date(Number(BigInt(e.ts) / 1000000n)).toISOString())"))

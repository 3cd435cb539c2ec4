"""The status view reports what the server's /metrics and /config say."""

from __future__ import annotations

import httpx
import pytest

from tests.ui.explorer import screenshot
from tests.up.helpers import UpProcess

pytestmark = [pytest.mark.slow, pytest.mark.ui]


def metric(text: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))


def test_status_shows_streams_disk_retention_and_received_lines(page, corpus_server):
    page.goto(corpus_server.url + "/?view=status")
    page.wait_for_selector("#status .card[data-key=streams]")
    metrics = httpx.get(corpus_server.url + "/metrics", timeout=10).text
    card = lambda key: page.inner_text(f"#status .card[data-key={key}] .value")  # noqa: E731
    assert card("streams") == "25"
    assert card("lines") == f"{int(metric(metrics, 'loki_distributor_lines_received_total')):,}" == "99,313"
    disk = metric(metrics, "logyard_storage_block_bytes") + metric(metrics, "logyard_storage_wal_bytes")
    assert float(page.get_attribute("#status", "data-disk")) == disk > 0
    assert card("retention") == "kept forever (0s)"  # the test servers keep their 2026-01-01 data
    # A second sample five seconds later turns counters into a rate: nothing is pushed to this server.
    page.wait_for_function("document.querySelector('#status .card[data-key=ingest-rate] .value').textContent.includes('lines/s')",
                           timeout=15_000)
    assert card("ingest-rate").startswith("0.0 lines/s")
    assert page.is_hidden("#logs") and page.is_hidden("#query")
    screenshot(page, "status")


def test_explore_and_status_switch_through_the_header(page, corpus_server):
    page.goto(corpus_server.url + "/?q=%7Bjob%3D%22varlogs%22%7D&from=2026-01-01T00:00:00Z&to=2026-01-01T01:00:00Z")
    page.wait_for_selector("body[data-status=done]")
    page.click(".views a[data-view=status]")
    page.wait_for_selector("#status .card")
    assert "view=status" in page.url
    page.go_back()
    page.wait_for_selector("#logs:visible")
    assert page.input_value("#query") == '{job="varlogs"}'


def test_status_lists_the_agents_targets_under_logyard_up(page, tmp_path):
    """`logyard up` runs the agent on another port; the status view reads its /targets JSON (the
    agent shares it with pages of its own host, not with other sites) and lists each target."""
    log = tmp_path / "app.log"
    log.write_text("hello from a file\n")
    up = UpProcess(tmp_path, ["--path", str(log)],
                   env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}).start()
    try:
        page.goto(up.url + "/?view=status")
        page.wait_for_selector("#agent-url")
        page.fill("#agent-url", up.agent_url)
        page.dispatch_event("#agent-url", "change")
        targets = httpx.get(up.agent_url + "/targets?format=json", timeout=10).json()["targets"]
        want = f"{len(targets)} targets"
        page.wait_for_function("want => document.querySelector('#agent-state').textContent === want", arg=want,
                               timeout=15_000)
        assert str(log) in page.inner_text("#agent-table")
        # The view's refresh (every 5 s) redraws its cards and leaves the agent's part alone: the
        # address input (being typed in, perhaps) is the same element, its targets still listed.
        page.eval_on_selector("#agent-url", "el => { el.dataset.kept = 'yes'; }")
        page.eval_on_selector("#status .card", "el => { el.dataset.old = 'yes'; }")
        page.wait_for_function("() => !document.querySelector('#status .card[data-old]')", timeout=15_000)
        assert page.get_attribute("#agent-url", "data-kept") == "yes"
        assert page.inner_text("#agent-state") == want
        assert str(log) in page.inner_text("#agent-table")
        other = httpx.get(up.agent_url + "/targets?format=json", headers={"Origin": "https://example.com"}, timeout=10)
        assert "access-control-allow-origin" not in other.headers
    finally:
        assert up.interrupt() == 0

"""The URL holds the whole view: reloading it (or opening it elsewhere) restores the same view."""

from __future__ import annotations

import pytest

from tests.ui.explorer import after, explorer_url, run_typed, shown_entries, wait_run

pytestmark = [pytest.mark.slow, pytest.mark.ui]


def view(page) -> dict:
    return {
        "query": page.input_value("#query"), "from": page.input_value("#from"), "to": page.input_value("#to"),
        "limit": page.input_value("#limit"), "direction": page.input_value("#direction"),
        "hist": page.input_value("#hist"), "refresh": page.input_value("#refresh"),
        "entries": shown_entries(page), "histogram": page.evaluate("window.logyard.histogram"),
    }


def test_reloading_the_permalink_restores_the_view(page, browser, corpus_server):
    page.goto(explorer_url(corpus_server.url, q='{compose_project="aixcl"} |= "GET"'))
    assert wait_run(page) == "done"
    page.fill("#from", "2026-01-01T00:20:00Z")
    page.fill("#to", "2026-01-01T00:50:00Z")
    page.fill("#limit", "77")
    assert after(page, lambda: page.press("#limit", "Enter")) == "done"
    assert after(page, lambda: page.select_option("#direction", "forward")) == "done"
    assert after(page, lambda: page.select_option("#hist", "service_name")) == "done"
    before = view(page)
    assert len(before["entries"]) == 77 and before["direction"] == "forward"
    link = page.url

    page.reload()
    assert wait_run(page) == "done"
    assert view(page) == before

    other = browser.new_context(viewport={"width": 1200, "height": 800}, timezone_id="UTC").new_page()
    try:
        other.goto(link)
        assert wait_run(other) == "done"
        assert view(other) == before
    finally:
        other.context.close()


def test_back_button_returns_to_the_previous_query(page, corpus_server):
    page.goto(explorer_url(corpus_server.url, q='{compose_service="postgres"}'))
    assert wait_run(page) == "done"
    first = shown_entries(page)
    assert run_typed(page, '{compose_service="nginx"}') == "done"
    assert after(page, page.go_back) == "done"
    assert page.input_value("#query") == '{compose_service="postgres"}'
    assert shown_entries(page) == first

"""Typing a query shows the API's answer; a bad query shows Loki's error where it was typed."""

from __future__ import annotations

import httpx
import pytest

from tests.ui.explorer import FROM_NS, TO_NS, after, api_entries, explorer_url, run_typed, screenshot, shown_entries, wait_run

pytestmark = [pytest.mark.slow, pytest.mark.ui]


@pytest.mark.parametrize("query", [
    '{compose_service="nginx"} |= "GET"',
    '{compose_service="open-webui", stream="stdout"} | json | level="info"',
    '{job="varlogs"} != "sshd"',
])
def test_typed_query_shows_the_apis_lines_in_order(page, corpus_server, query):
    page.goto(explorer_url(corpus_server.url, limit=300))
    assert run_typed(page, query) == "done"
    shown = shown_entries(page)
    assert shown == api_entries(corpus_server.url, query, 300)
    assert len(shown) > 0
    assert page.get_attribute("#loglist", "data-count") == str(len(shown))


def test_explorer_screenshot_with_details(page, corpus_server):
    page.goto(explorer_url(corpus_server.url, q='{compose_project="aixcl"} |= "level="'))
    assert wait_run(page) == "done"
    page.click("#loglist .row >> nth=2")
    page.wait_for_selector("#details:not([hidden]) table")
    screenshot(page, "explorer")


@pytest.mark.parametrize("query", [
    '{compose_service="postgres"} |= "x" | foo | json',
    '{compose_service="postgres"} |= "x" | json |',
    'sum(rate({compose_service="postgres"}[5m]) by (container)',
])
def test_bad_query_shows_lokis_error_at_its_column(page, corpus_server, query):
    page.goto(explorer_url(corpus_server.url))
    r = httpx.get(corpus_server.url + "/loki/api/v1/query_range",
                  params={"query": query, "start": FROM_NS, "end": TO_NS, "limit": 100}, timeout=30)
    assert r.status_code == 400
    assert run_typed(page, query) == "error"
    assert page.inner_text("#error") == r.text.strip()
    col = int(r.text.split("col ")[1].split(":")[0])
    # The mark sits on the character at Loki's column (1-based): count the text before it.
    offset = page.evaluate("""() => {
        const mark = document.querySelector('#editor .overlay mark.err');
        const range = document.createRange();
        range.setStart(document.querySelector('#editor .overlay'), 0);
        range.setEndBefore(mark);
        return range.toString().length;
    }""")
    assert offset == col - 1
    # Under the message, the query's line with a caret at the column.
    line, caret = page.inner_text("#error-where").split("\n")
    assert line == query and caret == " " * (col - 1) + "^"


def test_error_clears_when_the_query_is_fixed(page, corpus_server):
    page.goto(explorer_url(corpus_server.url))
    assert run_typed(page, '{compose_service="postgres"} |=') == "error"
    assert run_typed(page, '{compose_service="postgres"} |= "FATAL"') == "done"
    assert page.is_hidden("#error") and page.is_hidden("#error-where")
    assert page.locator("#editor .overlay mark.err").count() == 0


def test_ctrl_enter_runs_from_outside_the_editor(page, corpus_server):
    page.goto(explorer_url(corpus_server.url, q='{compose_service="postgres"}'))
    assert wait_run(page) == "done"
    page.fill("#limit", "12")
    page.click("#summary")
    assert after(page, lambda: page.keyboard.press("Control+Enter")) == "done"
    assert len(shown_entries(page)) == 12

"""How lines are drawn and used: ANSI colours as styles, fields and labels a click away from a filter,
and the query's history kept in the browser."""

from __future__ import annotations

import pytest

from tests.ui.explorer import after, api_entries, explorer_url, run_typed, shown_entries, wait_run

pytestmark = [pytest.mark.slow, pytest.mark.ui]


def test_ansi_colours_render_as_styles_not_escape_codes(page, corpus_server):
    page.goto(explorer_url(corpus_server.url, q='{compose_service="open-webui"} |= "\\x1b[32m"', limit=50))
    assert wait_run(page) == "done"
    assert page.evaluate("window.logyard.entries.every(e => e.line.includes('\\x1b['))")
    line = page.locator("#loglist .row .line").first
    assert "\x1b" not in line.inner_text()
    assert line.locator("span[style*='color']").count() > 0


def test_clicking_a_label_adds_a_stream_matcher(page, corpus_server):
    page.goto(explorer_url(corpus_server.url, q='{compose_project="aixcl"} |= "error"', limit=200))
    assert wait_run(page) == "done"
    page.click("#loglist .row >> nth=0")
    service = page.evaluate("window.logyard.entries[0].labels.compose_service")
    assert after(page, lambda: page.click("#details button[data-kind=label][data-name=compose_service][data-op='=']")) == "done"
    query = page.input_value("#query")
    assert query == f'{{compose_project="aixcl", compose_service="{service}"}} |= "error"'
    assert shown_entries(page) == api_entries(corpus_server.url, query, 200)


def test_clicking_a_json_field_adds_a_parser_and_a_label_filter(page, corpus_server):
    base = '{compose_service="open-webui", stream="stdout"} |= "{"'
    page.goto(explorer_url(corpus_server.url, q=base, limit=200))
    assert wait_run(page) == "done"
    index = page.evaluate("window.logyard.entries.findIndex(e => e.line.startsWith('{') && e.line.includes('\"logger\"'))")
    assert index >= 0
    page.locator("#loglist").evaluate(f"el => el.scrollTop = {index} * 20")
    page.click(f"#loglist .row[data-index='{index}']")
    logger = page.inner_text("#details tr:has(th:text-is('logger')) td >> nth=0")
    assert after(page, lambda: page.click("#details button[data-kind=json][data-name=logger][data-op='!=']")) == "done"
    query = page.input_value("#query")
    assert query == f'{base} | json | logger!="{logger}"'
    shown = shown_entries(page)
    assert shown == api_entries(corpus_server.url, query, 200)
    assert all(f'"logger": "{logger}"' not in line and f'"logger":"{logger}"' not in line for _, line in shown)


def test_history_offers_earlier_queries(page, corpus_server):
    page.goto(explorer_url(corpus_server.url))
    for q in ['{compose_service="postgres"}', '{compose_service="nginx"}']:
        assert run_typed(page, q) == "done"
    page.click("#history-btn")
    items = page.eval_on_selector_all("#history li", "els => els.map(e => e.textContent)")
    assert items[:2] == ['{compose_service="nginx"}', '{compose_service="postgres"}']
    assert after(page, lambda: page.click("#history li >> nth=1")) == "done"
    assert page.input_value("#query") == '{compose_service="postgres"}'


def test_filter_chips_offer_label_values_and_add_them(page, corpus_server):
    page.goto(explorer_url(corpus_server.url, q='{compose_project="aixcl"}', limit=100))
    assert wait_run(page) == "done"
    page.wait_for_selector("#chips[data-ready=true]")
    chips = page.eval_on_selector_all("#chips select", "els => els.map(e => e.dataset.label)")
    assert chips == ["compose_project", "compose_service", "container", "detected_level"]
    assert "nginx" in page.eval_on_selector_all("#chips select[data-label=compose_service] option", "els => els.map(e => e.value)")
    assert after(page, lambda: page.select_option("#chips select[data-label=compose_service]", "nginx")) == "done"
    assert after(page, lambda: page.select_option("#chips select[data-label=detected_level]", "error")) == "done"
    query = page.input_value("#query")
    assert query == '{compose_project="aixcl", compose_service="nginx"} | detected_level="error"'
    shown = shown_entries(page)
    assert shown and shown == api_entries(corpus_server.url, query, 100)


def test_show_context_lists_the_lines_around_an_entry_in_its_stream(page, corpus_server):
    page.goto(explorer_url(corpus_server.url, q='{compose_service="postgres", stream="stderr"} |= "FATAL"', limit=20))
    assert wait_run(page) == "done"
    page.click("#loglist .row >> nth=5")
    entry = page.evaluate("window.logyard.entries[5]")
    page.click("#details .show-context")
    page.wait_for_selector("#details .context[data-count]")
    lines = page.eval_on_selector_all("#details .context .ctx", "els => els.map(e => e.textContent)")
    around = page.eval_on_selector_all("#details .context .ctx.current", "els => els.map(e => e.textContent)")
    assert len(lines) == 21 and around == [lines[10]] and lines[10].endswith(entry["line"])
    ts = int(entry["ts"])
    before = api_entries(corpus_server.url, '{compose_project="aixcl", compose_service="postgres", container="aixcl-postgres-1", stream="stderr"}',
                         10, "backward", str(ts - 3_600_000_000_000), str(ts))
    assert [line.split(" ", 2)[2] for line in lines[:10]] == [text for _, text in reversed(before)]

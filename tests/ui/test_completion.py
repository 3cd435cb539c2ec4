"""The editor completes label names and values from the API, for the chosen time range."""

from __future__ import annotations

import httpx
import pytest

from tests.ui.explorer import FROM_NS, TO_NS, explorer_url

pytestmark = [pytest.mark.slow, pytest.mark.ui]


def menu_items(page, ctx: str) -> list[str]:
    """The menu's items once it completes `ctx` ("label:comp", "value:postg"): each key typed redraws it."""
    page.wait_for_selector(f"#editor .completions:not([hidden])[data-ctx='{ctx}'] li")
    return page.eval_on_selector_all("#editor .completions li", "els => els.map(e => e.textContent)")


def api_list(base: str, path: str) -> list[str]:
    r = httpx.get(base + path, params={"start": FROM_NS, "end": TO_NS}, timeout=30)
    r.raise_for_status()
    return r.json()["data"]


def test_label_names_offered_after_the_brace(page, corpus_server):
    page.goto(explorer_url(corpus_server.url))
    page.click("#query")
    page.keyboard.type("{")
    assert sorted(menu_items(page, "label:")) == sorted(api_list(corpus_server.url, "/loki/api/v1/labels"))


def test_label_values_offered_inside_the_quotes(page, corpus_server):
    page.goto(explorer_url(corpus_server.url))
    page.click("#query")
    page.keyboard.type('{compose_service="')
    values = api_list(corpus_server.url, "/loki/api/v1/label/compose_service/values")
    assert "postgres" in values
    assert sorted(menu_items(page, "value:")) == sorted(values)


def test_typing_narrows_and_enter_accepts(page, corpus_server):
    page.goto(explorer_url(corpus_server.url))
    page.click("#query")
    page.keyboard.type("{compose_se")
    assert menu_items(page, "label:compose_se") == ["compose_service"]
    page.keyboard.press("Enter")  # the name, then `="` and the values menu
    assert page.input_value("#query") == '{compose_service="'
    page.keyboard.type("postg")
    assert menu_items(page, "value:postg") == ["postgres"]
    page.keyboard.press("Enter")
    assert page.input_value("#query") == '{compose_service="postgres"'


def test_grouping_labels_offered_inside_by(page, corpus_server):
    page.goto(explorer_url(corpus_server.url))
    page.click("#query")
    page.keyboard.type("sum by (comp")
    assert sorted(menu_items(page, "label:comp")) == sorted(
        n for n in api_list(corpus_server.url, "/loki/api/v1/labels") if n.startswith("comp"))

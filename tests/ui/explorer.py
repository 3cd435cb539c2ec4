"""Driving the explorer page in tests: open a view from its URL state, wait for a run, read what
the page exposes (`window.logyard`), and save screenshots to the git-ignored screenshots/ folder."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import httpx

SCREENSHOTS = Path(__file__).parent / "screenshots"
# The corpus' first hour, as the explorer's absolute times.
FROM, TO = "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"
FROM_NS, TO_NS = "1767225600000000000", "1767229200000000000"


def explorer_url(base: str, **state) -> str:
    params = {"q": state.pop("q", ""), "from": FROM, "to": TO, **state}
    return f"{base}/?{urllib.parse.urlencode(params)}"


def wait_run(page, timeout_ms: int = 30_000) -> str:
    """Waits for the run under way to finish; returns "done" or "error"."""
    page.wait_for_selector("body[data-status=done], body[data-status=error]", timeout=timeout_ms)
    return page.evaluate("document.body.dataset.status")


def after(page, action) -> str:
    """Runs `action` (a click, a key, a choice) that starts a run; waits for that run to finish."""
    page.evaluate("document.body.dataset.status = 'acting'")
    action()
    return wait_run(page)


def run_typed(page, query: str) -> str:
    """Types `query` into the editor as a user would, then Ctrl+Enter."""
    page.click("#query")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(query)
    page.evaluate("document.body.dataset.status = 'typed'")
    page.keyboard.press("Control+Enter")
    return wait_run(page)


def shown_entries(page) -> list[tuple[str, str]]:
    return [tuple(e) for e in page.evaluate("window.logyard.entries.map(e => [BigInt(e.ts).toString(), e.line])")]


def api_entries(base: str, query: str, limit: int, direction: str = "backward",
                start: str = FROM_NS, end: str = TO_NS) -> list[tuple[str, str]]:
    """The API's answer as (ns, line) pairs in the order the explorer shows them."""
    r = httpx.get(base + "/loki/api/v1/query_range", params={
        "query": query, "start": start, "end": end, "limit": limit, "direction": direction}, timeout=60)
    r.raise_for_status()
    pairs = [(v[0], v[1]) for s in r.json()["data"]["result"] for v in s["values"]]
    pairs.sort(key=lambda p: int(p[0]), reverse=direction == "backward")
    return pairs


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path

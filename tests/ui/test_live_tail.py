"""Live tail: a pushed line shows up while following; scrolling up pauses and keeps what arrives.

Its own server: the session's corpus server is read-only."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest

from tests.support.server import ServerProcess
from tests.ui.explorer import screenshot

pytestmark = [pytest.mark.slow, pytest.mark.ui]


@pytest.fixture(scope="module")
def tail_server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("ui-tail") / "data") as srv:
        yield srv


def push(url: str, lines: list[str], service: str) -> None:
    now = time.time_ns()
    body = {"streams": [{"stream": {"compose_service": service, "job": "ui-tail"},
                         "values": [[str(now + i), line] for i, line in enumerate(lines)]}]}
    r = httpx.post(url + "/loki/api/v1/push", content=orjson.dumps(body), headers={"Content-Type": "application/json"})
    assert r.status_code == 204, r.text


def follow(page, url: str, service: str) -> None:
    page.goto(f"{url}/?q=" + httpx.QueryParams({"q": f'{{compose_service="{service}"}}'})["q"])
    page.click("#live")
    page.wait_for_selector("body[data-live=open]")


def test_pushed_line_appears_within_two_seconds(page, tail_server):
    follow(page, tail_server.url, "web")
    lines = [f"level=info method=GET path=/api/items/{i} status=200 ms={3 + i % 17}" for i in range(24)]
    lines[7] = "level=error msg=\"upstream reset\" path=/api/cart retry=1"
    lines[15] = "\x1b[32mGET\x1b[0m /health \x1b[32m200\x1b[0m level=info"
    push(tail_server.url, lines + ["level=warn msg=\"slow upstream\" ms=812"], "web")
    # The one timing: the line is on screen within 2 s of its push.
    page.wait_for_function("window.logyard.entries.some(e => e.line.includes('slow upstream'))", timeout=2000)
    assert page.locator("#loglist .row .line", has_text="slow upstream").count() == 1
    assert page.get_attribute("#live-state", "data-paused") == "false"
    screenshot(page, "live-tail")


def test_scrolling_up_pauses_and_scrolling_down_resumes(page, tail_server):
    follow(page, tail_server.url, "api")
    push(tail_server.url, [f"line {i} level=info" for i in range(200)], "api")
    page.wait_for_function("window.logyard.entries.length === 200", timeout=10_000)
    page.locator("#loglist").evaluate("el => el.scrollTop = 0")
    page.wait_for_selector("#live-state[data-paused=true]")
    push(tail_server.url, ["arrived while paused level=info"], "api")
    page.wait_for_function("document.querySelector('#live-state').textContent.includes('1 new')", timeout=10_000)
    assert page.evaluate("window.logyard.entries.length") == 200  # held back, not drawn
    page.locator("#loglist").evaluate("el => el.scrollTop = el.scrollHeight")
    page.wait_for_function("window.logyard.entries.length === 201", timeout=5000)
    assert page.evaluate("window.logyard.entries.at(-1).line") == "arrived while paused level=info"
    assert page.get_attribute("#live-state", "data-paused") == "false"


def test_stopping_live_closes_the_socket(page, tail_server):
    follow(page, tail_server.url, "db")
    page.click("#live")
    page.wait_for_selector("body:not([data-live])")
    assert page.is_hidden("#live-state")

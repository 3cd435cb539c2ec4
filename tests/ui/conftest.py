"""Browser fixtures for the explorer's tests: Debian's Chromium (/usr/bin/chromium, installed by
.ci/run) driven by Playwright, one browser per session and a fresh UTC context per test."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"no {CHROMIUM} (.ci/run installs Debian's chromium)")
    with sync_api.sync_playwright() as p:
        # Frames unthrottled from the display's 60 Hz: requestAnimationFrame intervals then measure
        # the page's own work per frame (tests/ui/test_scrolling.py), not whole vsync periods.
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--disable-frame-rate-limit", "--disable-gpu-vsync"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    """A page whose uncaught script errors fail the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, timezone_id="UTC")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, errors

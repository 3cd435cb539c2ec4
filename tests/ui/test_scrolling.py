"""20,000 lines: the list keeps only the rows in view in the DOM and scrolls without a long frame.

The one timing the issue asks a test to measure: every animation frame of a scroll through the list
takes under 50 ms, timed with requestAnimationFrame in the page. The machine running the tests may be
busy with other work, and one descheduled frame says nothing about the page: the scroll is tried up to
three times and one pass must have every frame under 50 ms. When none does while the machine's load
exceeds its cores (other jobs took the CPU, the page did not), the test skips and says so."""

from __future__ import annotations

import os

import pytest

from tests.ui.explorer import explorer_url, wait_run

pytestmark = [pytest.mark.slow, pytest.mark.ui]

SCROLL = """async () => {
  const list = document.querySelector('#loglist');
  const frames = [];
  let last = await new Promise(requestAnimationFrame);
  for (let i = 0; i < 240; i++) {
    list.scrollTop += 1200;                 // about 60 rows a frame: every frame draws new rows
    const now = await new Promise(requestAnimationFrame);
    frames.push(now - last);
    last = now;
  }
  return {frames, top: list.scrollTop, rows: list.querySelectorAll('.row').length,
          lastIndex: Math.max(...[...list.querySelectorAll('.row')].filter(r => r.style.display !== 'none').map(r => +r.dataset.index))};
}"""


def test_twenty_thousand_lines_scroll_with_short_frames(page, corpus_server):
    page.goto(explorer_url(corpus_server.url, q='{compose_project="aixcl"}', limit=20000,
                           **{"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T02:00:00Z"}), timeout=60_000)
    assert wait_run(page, timeout_ms=120_000) == "done"
    assert page.evaluate("window.logyard.entries.length") == 20000
    assert page.get_attribute("#loglist", "data-count") == "20000"
    keys = page.evaluate("new Set(window.logyard.entries.map(e => e.ts + e.stream + e.line)).size")
    assert keys == 20000  # pages joined without repeats
    passes = []
    for _ in range(3):
        page.locator("#loglist").evaluate("el => el.scrollTop = 0")
        result = page.evaluate(SCROLL)
        # Virtualized: a screenful of rows plus the margins, not 20,000.
        assert result["rows"] < 120
        assert result["lastIndex"] > 240 * 1200 // 20 - 100
        frames = result["frames"][1:]  # the first frame waits on the scroll that started before it
        passes.append(sorted(frames)[-5:])
        if max(frames) < 50:
            break
    if max(passes[-1]) >= 50:
        load, cores = os.getloadavg()[0], os.cpu_count() or 1
        if load > cores:
            pytest.skip(f"machine busy (load {load:.1f} on {cores} cores): slowest frames (ms) of each pass {passes}")
    assert max(passes[-1]) < 50, f"slowest frames (ms) of each pass: {passes}"

"""The progress bar of a batched fetch: on stderr when stderr is a terminal and the lines go to a pipe
or a file, never with --quiet. The terminal is a real pseudo-terminal."""

from __future__ import annotations

import pytest

from tests.client.conftest import BASE_NS, FROM, TO, push, run_with_terminal_stderr

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def url(server):
    push(server.url, [({"app": "progress"}, [(BASE_NS + i, f"line {i}") for i in range(2500)])])
    return server.url


def test_a_batched_fetch_to_a_pipe_shows_a_bar_on_the_terminal(url):
    out, shown = run_with_terminal_stderr("query", '{app="progress"}', "--addr", url, "--from", FROM, "--to", TO,
                                          "--limit", "0", "--batch", "1000", "-o", "raw")
    assert len(out.splitlines()) == 2500
    assert "fetching" in shown and "100%" in shown
    assert "/loki/api/v1/query_range" not in shown  # the URLs would cut through the bar


def test_quiet_shows_no_bar(url):
    out, shown = run_with_terminal_stderr("query", '{app="progress"}', "--addr", url, "--from", FROM, "--to", TO,
                                          "--limit", "0", "--batch", "1000", "-o", "raw", "-q")
    assert len(out.splitlines()) == 2500
    assert shown == ""


def test_a_single_batch_shows_no_bar(url):
    _, shown = run_with_terminal_stderr("query", '{app="progress"}', "--addr", url, "--from", FROM, "--to", TO,
                                        "--limit", "10", "-o", "raw")
    assert "fetching" not in shown

"""The agent tests' own fixtures; the Docker Engine ones are in tests/support/docker_engine.py."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_leftover_processes():
    """A failing test must not leave its agent or server running."""
    from tests.agent.helpers import STARTED

    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()

"""Fixtures of the deploy/ tests."""

from __future__ import annotations

import pytest

from tests.deploy.compose_cli import find_compose


@pytest.fixture(scope="session")
def compose() -> list[str]:
    cmd, why = find_compose()
    if cmd is None:
        pytest.skip(why)
    return cmd

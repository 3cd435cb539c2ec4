"""A throwaway Docker Engine for the tests that need one, started once per session and shared.

It is started with ../shared/scripts/test-dockerd.sh (root, apt, vfs storage, no network, image
`bb:local`); when that is not possible the tests that need it skip and say why. tests/conftest.py
registers these fixtures for every test package.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.paths import shared_dir

SCRIPT = Path(os.environ.get("TEST_DOCKERD_SCRIPT", shared_dir() / "scripts" / "test-dockerd.sh"))


@pytest.fixture(scope="session")
def docker_engine():
    """{"host": "unix://...", "image": "bb:local"} of a running engine; stopped at the end of the session."""
    if not SCRIPT.exists():
        pytest.skip(f"no Docker Engine: {SCRIPT} is missing")
    if os.geteuid() != 0:
        pytest.skip("no Docker Engine: test-dockerd.sh needs root")
    state = Path(tempfile.mkdtemp(prefix="logyard-dockerd-"))
    try:
        out = subprocess.run(["bash", str(SCRIPT), "start", str(state)], capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        pytest.skip("no Docker Engine: test-dockerd.sh start timed out")
    if out.returncode != 0:
        pytest.skip(f"no Docker Engine: test-dockerd.sh start failed: {out.stderr.strip()[-500:]}")
    env = dict(re.findall(r"(\w+)=(\S+)", out.stdout))
    try:
        yield {"host": env["DOCKER_HOST"], "image": env.get("TEST_IMAGE", "bb:local")}
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(state)], capture_output=True, timeout=120)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture()
def docker_client(docker_engine):
    import docker

    client = docker.DockerClient(base_url=docker_engine["host"], version="auto")
    yield client
    for c in client.containers.list(all=True):
        c.remove(force=True)
    client.close()

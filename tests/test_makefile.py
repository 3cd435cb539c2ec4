"""`make run` installs logyard alone, `make test` installs it with its test dependencies, and neither's
stamp stands in for the other's. Checked with `make -n` (plans, nothing installed) on a temp venv path."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.paths import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def plan(target: str, venv: Path) -> str:
    # --no-print-directory: under `make test` (CI) this make is a sub-make, which otherwise prints
    # "Entering/Leaving directory" lines around the plan.
    r = subprocess.run(["make", "--no-print-directory", "-n", target, f"VENV={venv}"], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def pip_installs(commands: str) -> list[str]:
    return [line for line in commands.splitlines() if re.search(r"\bpip install\b", line) and "--upgrade pip" not in line]


def pretend_done(commands: str) -> None:
    """Create the stamp files a plan would touch, as if it had run."""
    for stamp in re.findall(r"^touch (\S+)$", commands, re.MULTILINE):
        Path(stamp).parent.mkdir(parents=True, exist_ok=True)
        Path(stamp).touch()


def test_make_run_installs_the_package_without_test_extras(tmp_path):
    installs = pip_installs(plan("run", tmp_path / "venv"))
    assert installs and all("[test]" not in line for line in installs), installs


def test_make_test_installs_test_extras_even_after_make_run(tmp_path):
    venv = tmp_path / "venv"
    pretend_done(plan("run", venv))
    installs = pip_installs(plan("test", venv))
    assert any("'.[test]'" in line for line in installs), installs


def test_make_test_installs_nothing_twice(tmp_path):
    venv = tmp_path / "venv"
    pretend_done(plan("test", venv))
    assert pip_installs(plan("test", venv)) == []


def test_make_run_runs_logyard_up_as_the_readme_says(tmp_path):
    run = plan("run", tmp_path / "venv").splitlines()[-1]
    assert "logyard up " in run and "--data-dir ./logyard-data" in run and "--listen 127.0.0.1:3100" in run
    readme = (REPO / "README.md").read_text()
    said = re.search(r"^make run\s+# (.*(?:\n\s+# .*)*)", readme, re.MULTILINE)
    assert said and "`logyard up`" in said.group(1) and "./logyard-data" in said.group(1)
    assert "127.0.0.1:3100" in said.group(1)

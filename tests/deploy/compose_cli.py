"""The Compose command line for the deploy tests: the docker CLI's plugin or Debian's `docker-compose`.

When neither is there and this runs as root with apt-get, Debian's `docker-compose` package is installed
(as .ci/run does before the suite); otherwise the tests that need it skip and say why.
"""

from __future__ import annotations

import os
import shutil
import subprocess


def _works(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd + ["version"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _apt_install() -> str | None:
    """None when installed, else why not."""
    if not shutil.which("apt-get"):
        return "no apt-get to install docker-compose with"
    if os.geteuid() != 0:
        return "installing docker-compose needs root"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "docker-compose"]
    if subprocess.run(install, capture_output=True, env=env).returncode == 0:
        return None
    subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env)
    out = subprocess.run(install, capture_output=True, text=True, env=env)
    return None if out.returncode == 0 else f"apt-get install docker-compose failed: {out.stderr[-300:]}"


def find_compose() -> tuple[list[str] | None, str]:
    """The command (or None) and, when None, the reason."""
    candidates = (["docker", "compose"], ["docker-compose"])
    for cmd in candidates:
        if _works(cmd):
            return cmd, ""
    why = _apt_install()
    if why is None and _works(["docker-compose"]):
        return ["docker-compose"], ""
    return None, f"no docker compose / docker-compose, and {why or 'the installed one does not run'}"

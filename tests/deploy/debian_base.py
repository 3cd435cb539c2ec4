"""A Python base image made from Debian's packages, for building deploy/Dockerfile on the test engine.

The test engine reaches no registry, so `python:3.11-slim` cannot be pulled. Instead debootstrap
makes a minimal bookworm root with Debian's python3 (3.11) and venv, and `docker import` turns its
tarball into an image. The tarball is cached outside the clone (`$LOGYARD_CI_CACHE`, else
`<tmp>/logyard-ci-cache/`) so that reruns skip the minutes debootstrap takes.

The root trusts what this machine trusts: its CA bundle replaces the root's, and pip is told to use
it, since machines like the CI's reach PyPI through a TLS-inspecting proxy with its own CA. That is
the test base's business, not the Dockerfile's (python:3.11-slim needs nothing of the sort).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

SUITE = "bookworm"
# python3-venv brings ensurepip (pip inside the venv); the C compiler and headers are the
# Dockerfile's business, as they are with the official image.
PACKAGES = ["python3", "python3-venv", "ca-certificates"]
VERSION = "v3"  # bump when SUITE or PACKAGES change, so a stale cached tarball is not reused
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def cache_dir() -> Path:
    return Path(os.environ.get("LOGYARD_CI_CACHE", Path(tempfile.gettempdir()) / "logyard-ci-cache"))


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine's apt uses (deb822 `URIs:` or one-line `deb` entries)."""
    files = sorted(apt_dir.glob("sources.list.d/*.sources")) + sorted(apt_dir.glob("sources.list.d/*.list"))
    files.append(apt_dir / "sources.list")
    for f in files:
        text = f.read_text() if f.is_file() else ""
        for uri in re.findall(r"^\s*(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text, re.M):
            if not uri.rstrip("/").endswith("-security"):
                return uri
    return "http://deb.debian.org/debian"


def base_tarball() -> Path:
    """The root filesystem tarball, made once (debootstrap needs root and the network)."""
    ca = HOST_CA.read_bytes() if HOST_CA.is_file() else b""
    out = cache_dir() / f"debian-{SUITE}-python3-{VERSION}-ca{hashlib.sha256(ca).hexdigest()[:12]}.tar"
    if out.exists():
        return out
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap is not installed (apt-get install debootstrap; .ci/run does)")
    out.parent.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="rootfs-", dir=out.parent))
    try:
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(root),
                        debian_mirror()], check=True, capture_output=True, timeout=900)
        if ca:
            (root / "etc/ssl/certs/ca-certificates.crt").write_bytes(ca)
            (root / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
        shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
        (root / "var/cache/apt/archives/partial").mkdir(parents=True)
        shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
        (root / "var/lib/apt/lists/partial").mkdir(parents=True)
        root.chmod(0o755)  # mkdtemp made it 0700: as the image's "/", no other user could reach anything
        partial = out.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(partial), "."], check=True)
        partial.rename(out)  # atomic: a run killed midway leaves no half tarball behind
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return out


def import_base(docker: list[str], tag: str) -> str:
    """`tag` on the engine `docker` (the CLI with its -H), imported from the cached tarball if absent."""
    if subprocess.run([*docker, "image", "inspect", tag], capture_output=True).returncode != 0:
        # An imported tarball has no config: give it the PATH every Debian-based image has.
        subprocess.run([*docker, "import", "--change", f"ENV PATH={BASE_PATH}", str(base_tarball()), tag],
                       check=True, capture_output=True, timeout=600)
    return tag


if __name__ == "__main__":  # warm the cache: python -m tests.deploy.debian_base
    print(base_tarball())

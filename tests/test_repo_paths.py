"""No tracked file names a folder of one machine: CI runs a fresh clone elsewhere, with ../shared beside it."""

from __future__ import annotations

import re
import subprocess

from tests.support.paths import REPO, shared_dir

# Home and work folders of the machines logyard is developed on; a path under them works on one machine only.
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|root|home|Users)/[\w.-]")


def tracked_text_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [p for p in out.decode().split("\0") if p]


def test_no_tracked_file_names_an_absolute_machine_path():
    files = tracked_text_files()
    assert len(files) > 100  # the listing worked
    found = []
    for rel in files:
        try:
            text = (REPO / rel).read_bytes().decode("utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue  # binary corpus files; a file deleted in the work tree
        for lineno, line in enumerate(text.splitlines(), 1):
            if MACHINE_PATH.search(line):
                found.append(f"{rel}:{lineno}: {line.strip()}")
    assert not found, "absolute machine paths (use tests/support/paths.py):\n" + "\n".join(found)


def test_the_pattern_catches_machine_paths_and_spares_others():
    for folder in ("work", "root", "home", "Users"):  # spelled apart, or this file would match itself
        assert MACHINE_PATH.search(f'Path("/{folder}/shared/conformance")')
        assert MACHINE_PATH.search(f"see /{folder}/.cache/x and")
    for ok in ("../shared/bench", "/var/log/*.log", "/tmp/positions.yaml", "https://example.org/home/x",
               "~/work/x", "a/work/b"):
        assert not MACHINE_PATH.search(ok), ok


def test_shared_dir_is_beside_the_checkout():
    assert shared_dir() == REPO.parent / "shared"
    assert (REPO / "pyproject.toml").is_file()

"""Where the repository and its sibling `shared/` folder are, found from this file, never from the machine.

The shared folder (the conformance generator, the benchmark workload generator, the throwaway Docker
engine's script) sits beside the checkout: `<parent>/logyard-checkout` and `<parent>/shared`. CI runs a
fresh clone in another folder with `shared/` beside it, so no path here may name a machine's folder.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The copy of Loki's conformance corpus kept in the repository (`make refresh-conformance` refreshes it
# from ../shared/conformance; tests/conformance/test_conformance.py checks the two are equal).
CONFORMANCE = REPO / "tests" / "conformance"


def shared_dir() -> Path:
    """`../shared` from the repository root."""
    return REPO.parent / "shared"


def shared_file(*parts: str) -> Path:
    """A file under ../shared that a test or benchmark cannot do without: a clear error when it is missing."""
    path = shared_dir().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the shared folder must sit beside the checkout ({REPO})")
    return path

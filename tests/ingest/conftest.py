"""A small benchmark-shaped workload for the ingest tests, generated per session into a temp dir."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import shared_file


@pytest.fixture(scope="session")
def bench_bodies(tmp_path_factory) -> list[Path]:
    """Push bodies of ../shared/bench/gen_bench.py at a small scale: half an hour of the benchmark's
    streams with two replicas each (~19k entries, 18 gzip bodies of ~250 kB, under a second to make).
    The same line makers, bursts, metadata and quirks as the full 2M-line day, so the C passes meet
    the benchmark's shapes without the benchmark's size."""
    out = tmp_path_factory.mktemp("bench-data")
    subprocess.run([sys.executable, str(shared_file("bench", "gen_bench.py")), "--out", str(out), "--hours", "0.5",
                    "--replicas", "2", "--needles", "2", "--body-bytes", "250000"],
                   check=True, capture_output=True, timeout=300)
    bodies = sorted(out.glob("push-*.json.gz"))
    assert len(bodies) >= 8, bodies
    return bodies

"""Session-wide hooks: the shared Docker Engine fixtures and the conformance tally printed at the end of every run."""

from __future__ import annotations

pytest_plugins = ["tests.support.docker_engine", "tests.support.corpus", "tests.support.s3"]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The tally of every conformance run of this session: the single process's and the readers'."""
    try:
        from tests.conformance.test_conformance import RESULTS, tally
        from tests.cluster.test_reader_conformance import READER_RESULTS
    except Exception:
        return
    for name, results in [("conformance", RESULTS)] + [
            (f"conformance through readers ({phase})", r) for phase, r in READER_RESULTS.items()]:
        if results:
            kinds, counts = tally(results)
            terminalreporter.write_line(f"{name} {kinds}")
            terminalreporter.write_line(f"{name}: {counts}")

"""Session-wide hooks: the shared Docker Engine fixtures and the conformance tally printed at the end of every run."""

from __future__ import annotations

pytest_plugins = ["tests.support.docker_engine", "tests.support.corpus", "tests.support.s3"]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    try:
        from tests.conformance.test_conformance import RESULTS
    except Exception:
        return
    if not RESULTS:
        return
    from tests.conformance.test_conformance import KNOWN_DIFFERENCES

    passed = sum(RESULTS.values())
    differ = sum(1 for cid, ok in RESULTS.items() if not ok and cid in KNOWN_DIFFERENCES)
    failed = len(RESULTS) - passed - differ
    by_prefix: dict[str, list[int]] = {}
    for cid, ok in RESULTS.items():
        tally = by_prefix.setdefault(cid.split("-")[0], [0, 0])
        tally[0 if ok else 1] += 1
    detail = ", ".join(f"{p}: {a}/{a + b}" for p, (a, b) in sorted(by_prefix.items()))
    terminalreporter.write_line(f"conformance by kind: {detail}")
    terminalreporter.write_line(f"conformance: {passed} passed, {failed} failed, {differ} differ on purpose "
                                f"(tests/conformance/known_differences.txt)")

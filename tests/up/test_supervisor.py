"""A child that dies is started again after a back-off that grows while it keeps dying."""

from __future__ import annotations

import sys

import pytest

from logyard.up.supervisor import BACKOFF_MAX_S, Child, describe_exit, next_backoff


@pytest.mark.parametrize("previous, ran_for, expected", [
    (0.0, 0.1, 1.0),  # the first death
    (1.0, 0.1, 2.0),
    (16.0, 3.0, BACKOFF_MAX_S),
    (BACKOFF_MAX_S, 3.0, BACKOFF_MAX_S),
    (BACKOFF_MAX_S, 600.0, 1.0),  # it ran long enough to count as healthy again
])
def test_next_backoff_doubles_while_a_child_keeps_dying(previous, ran_for, expected):
    assert next_backoff(previous, ran_for) == expected


def test_describe_exit_names_the_signal():
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(2) == "exit code 2"


def test_a_dead_child_is_restarted_once_its_backoff_has_passed():
    now = [100.0]
    child = Child("crasher", [sys.executable, "-c", "raise SystemExit(3)"], clock=lambda: now[0])
    child.start()
    first = child.pid
    child.proc.wait()
    child.watch()  # noticed: restart scheduled 1 s later
    assert child.restart_at == 101.0 and child.pid == first
    now[0] = 100.5
    child.watch()
    assert child.pid == first
    now[0] = 101.0
    child.watch()
    assert child.pid != first and child.restarts == 1
    child.proc.wait()
    child.watch()
    assert child.backoff_s == 2.0  # it died at once again
    assert child.stop(5) == 3


def test_stop_terminates_a_running_child():
    child = Child("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
    child.start()
    assert child.exit_code() is None
    assert child.stop(10) == -15

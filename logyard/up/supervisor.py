"""The child processes of `logyard up`: started, watched, restarted with back-off, stopped one by one.

Each child has a session of its own, so a Ctrl-C at the terminal reaches only `up`, which then stops
the children in order with one SIGTERM each. (Sharing the terminal's process group, the server would
get the terminal's SIGINT and then `up`'s SIGTERM, which uvicorn takes as "force exit" and skips its
clean shutdown.)
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time

log = logging.getLogger("logyard.up")

BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 30.0
HEALTHY_AFTER_S = 60.0  # a child that ran this long before it died starts again at the shortest wait


def next_backoff(previous_s: float, ran_for_s: float) -> float:
    """The wait before restarting a child that died after `ran_for_s` seconds: doubles after each
    quick death, from 1 s up to 30 s, so a child that cannot start does not spin."""
    if previous_s <= 0 or ran_for_s >= HEALTHY_AFTER_S:
        return BACKOFF_MIN_S
    return min(previous_s * 2, BACKOFF_MAX_S)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Child:
    """One child process, by name, with its restart schedule."""

    def __init__(self, name: str, argv: list[str], clock=time.monotonic) -> None:
        self.name = name
        self.argv = argv
        self.clock = clock
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0
        self.backoff_s = 0.0
        self.restart_at: float | None = None
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, start_new_session=True)
        self.started_at = self.clock()
        self.restart_at = None

    def exit_code(self) -> int | None:
        """None while it runs (or was never started)."""
        return self.proc.poll() if self.proc else None

    def watch(self) -> None:
        """Restart the child when it has died and its back-off has passed; call it often."""
        code = self.exit_code()
        if code is None:
            return
        now = self.clock()
        if self.restart_at is None:
            self.backoff_s = next_backoff(self.backoff_s, now - self.started_at)
            self.restart_at = now + self.backoff_s
            log.warning("the %s (pid %d) stopped: %s; restarting it in %.0fs", self.name, self.proc.pid,
                        describe_exit(code), self.backoff_s)
        elif now >= self.restart_at:
            self.start()
            self.restarts += 1
            log.info("the %s is running again (pid %d, restart %d)", self.name, self.proc.pid, self.restarts)

    def stop(self, timeout_s: float) -> int | None:
        """SIGTERM and wait; SIGKILL after `timeout_s`. The exit code, None if never started."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.error("the %s (pid %d) did not stop within %.0fs; killing it", self.name, self.proc.pid,
                          timeout_s)
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

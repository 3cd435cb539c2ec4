"""The runtime file (`runtime_config.file`) watched while the server runs, as Loki's runtime config
manager does: read every `period`, applied when its text changed. A file that cannot be read or is
not valid is logged with its line-precise error and the overrides in force stay; at start it stops
the server, as in Loki."""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

from logyard.config.runtime import Overrides, parse_overrides
from logyard.errors import ConfigError

log = logging.getLogger("logyard.runtime_config")


class RuntimeConfigWatcher:
    def __init__(self, path: Path, period_s: float, overrides: Overrides) -> None:
        self.path = Path(path)
        self.period_s = period_s
        self.overrides = overrides
        self._digest: bytes | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None  # the latest reload's error, None once a load succeeded

    def load(self) -> bool:
        """Read the file and apply it if it changed; True when applied. Raises ConfigError."""
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read runtime config file {self.path}: {exc.strerror}") from exc
        digest = hashlib.sha256(data).digest()
        if digest == self._digest:
            return False
        text = data.decode("utf-8", errors="replace")
        tenants = parse_overrides(text, self.overrides.base, str(self.path))
        self.overrides.replace(tenants)
        self._digest = digest
        return True

    def check(self) -> None:
        """One reload attempt, its outcome logged; a failure keeps the overrides in force."""
        try:
            if self.load():
                log.info("runtime config %s loaded: overrides for %d tenants", self.path,
                         len(self.overrides.tenants()))
            self.last_error = None
        except ConfigError as exc:
            if exc.message != self.last_error:  # said once per broken version, not every period
                log.error("runtime config not reloaded, the overrides in force stay: %s", exc.message)
            self.last_error = exc.message

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="runtime-config", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self.check()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

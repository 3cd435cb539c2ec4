"""The positions file: how far each source is acknowledged by every client, written atomically.

Promtail's layout (`positions: {key: value}`) plus `acked_seq`, the last journal record every client
acknowledged. Keys are a file path or `docker/<container id>`; values are the reader's own position
string (see `file_target` and `docker_reader`). Written to a temporary file, fsynced and renamed, so a
crash leaves either the old or the new file, never half of one.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from logyard.durable import fsync_dir
from logyard.errors import ConfigError


class Positions:
    def __init__(self, path: Path, ignore_invalid: bool = False) -> None:
        self.path = Path(path)
        self.ignore_invalid = ignore_invalid

    def load(self) -> tuple[int, dict[str, str]]:
        """(acked journal seq, positions); (-1, {}) when there is no file yet."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return -1, {}
        try:
            doc = yaml.safe_load(text) or {}
            positions = {str(k): str(v) for k, v in (doc.get("positions") or {}).items()}
            return int(doc.get("acked_seq", -1)), positions
        except (yaml.YAMLError, AttributeError, TypeError, ValueError) as exc:
            if self.ignore_invalid:
                return -1, {}
            raise ConfigError(f"positions file {self.path} is not valid: {exc}") from exc

    def save(self, acked_seq: int, positions: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        text = yaml.safe_dump({"acked_seq": acked_seq, "positions": dict(sorted(positions.items()))})
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)

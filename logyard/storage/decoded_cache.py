"""Decoded row groups of recently read blocks, kept for the next read that needs them.

A log query with a limit and no filter (Grafana's logs panel, a dashboard refreshing the newest
lines) decodes the line and metadata columns of the few row groups that hold its newest rows,
again on every refresh; that decode was about half of such a query. Blocks are immutable and every
block file has a name of its own, so a decoded row group never goes stale: entries leave by least
recent use, bounded in bytes, or with their block when compaction or retention discards it.
Answers are not cached, only the decoded columns they are computed from.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import pyarrow as pa

Key = tuple[Hashable, int, tuple[str, ...]]  # (block, row group, columns)


class DecodedCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[Key, pa.Table] = OrderedDict()
        self._by_block: dict[Hashable, set[Key]] = {}
        self.bytes = 0
        self.hits = self.misses = 0

    def get(self, block: Hashable, row_group: int, columns: tuple[str, ...],
            decode: Callable[[], pa.Table]) -> pa.Table:
        """The decoded row group, from the cache or from `decode()` (called without the lock)."""
        key = (block, row_group, columns)
        with self._lock:
            table = self._entries.get(key)
            if table is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return table
            self.misses += 1
        table = decode()
        size = table.nbytes
        if size > self.max_bytes // 4:
            return table  # one huge row group would flush everything else
        with self._lock:
            if key not in self._entries:
                self._entries[key] = table
                self._by_block.setdefault(block, set()).add(key)
                self.bytes += size
                while self.bytes > self.max_bytes:
                    self._drop(next(iter(self._entries)))
        return table

    def resize(self, max_bytes: int) -> None:
        """A new bound (`storage.decoded_cache_size`); least recently used entries leave until it
        holds. 0 keeps nothing."""
        with self._lock:
            self.max_bytes = max_bytes
            while self.bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def discard(self, block: Hashable) -> None:
        """Forget every row group of a block (its file is being deleted)."""
        with self._lock:
            for key in list(self._by_block.get(block, ())):
                self._drop(key)

    def _drop(self, key: Key) -> None:
        table = self._entries.pop(key)
        self.bytes -= table.nbytes
        keys = self._by_block[key[0]]
        keys.discard(key)
        if not keys:
            del self._by_block[key[0]]

"""Between the readers and the clients: stamp, journal, batch, acknowledge, save positions.

Contract for readers: `submit(positions, streams)` returns once the entries and the positions reached
after them are in the journal. It blocks while the journal holds more than `max_unacked_bytes` of
unacknowledged entries, which is the agent's memory bound and its back-pressure: a reader that
cannot submit stops reading. `resume(key)` is where a reader starts after a restart.

One sender thread per client walks the record list by sequence number; a record is acknowledged
when every client is past it; only then do its positions reach the positions file.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable, Sequence

from logyard.agent.client import PushClient, Stopping
from logyard.agent.journal import Journal, Record, StreamChunk
from logyard.agent.metrics import AgentMetrics
from logyard.agent.positions import Positions
from logyard.config.agent import ClientConfig

log = logging.getLogger("logyard.agent.shipper")


class Shipper:
    def __init__(
        self,
        positions_path: Path,
        clients: Sequence[ClientConfig],
        metrics: AgentMetrics,
        max_unacked_bytes: int = 16 * 1024 * 1024,
        sync_period: float = 10.0,
        ignore_invalid_positions: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metrics = metrics
        self.max_unacked = max_unacked_bytes
        self.sync_period = sync_period
        self.monotonic = monotonic
        self.positions = Positions(positions_path, ignore_invalid_positions)
        self.journal = Journal(Path(str(positions_path) + ".journal"))
        self._stop = threading.Event()
        self._closing = threading.Event()  # readers are stopping: a submit waiting for room gives up
        self.clients = [PushClient(c, metrics, self._stop.wait) for c in clients]
        self._cfgs = list(clients)
        self._cond = threading.Condition()
        self._sync_lock = threading.Lock()
        self._pending: deque[Record] = deque()
        self._unacked = 0
        self._next_seq = 0
        self._cursor: list[int] = []
        self._acked_seq = -1
        self._acked_positions: dict[str, str] = {}
        self._resume: dict[str, str] = {}
        self._saved_seq = -1
        self._threads: list[threading.Thread] = []

    # -- start / stop ---------------------------------------------------------------------------

    def open(self) -> None:
        """Recover: acknowledged positions from the file, unacknowledged records from the journal."""
        self._acked_seq, self._acked_positions = self.positions.load()
        self._saved_seq = self._acked_seq
        self._resume = dict(self._acked_positions)
        for rec in self.journal.open():
            if rec.seq <= self._acked_seq:
                continue
            self._pending.append(rec)
            self._unacked += rec.size
            _merge(self._resume, rec.positions)
        if self._pending:
            self._next_seq = self._pending[-1].seq + 1
            log.info("replaying %d unacknowledged journal records", len(self._pending))
        else:
            self._next_seq = self._acked_seq + 1
        first = self._pending[0].seq if self._pending else self._next_seq
        self._cursor = [first for _ in self.clients]
        self.metrics.unacked_bytes.set(self._unacked)

    def start(self) -> None:
        for i, client in enumerate(self.clients):
            t = threading.Thread(target=self._send_loop, args=(i, client), name=f"sender-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._sync_loop, name="positions-sync", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self, drain_seconds: float = 0.0) -> None:
        """Stop senders (after trying to deliver for up to `drain_seconds`), save positions."""
        deadline = self.monotonic() + drain_seconds
        with self._cond:
            while self._pending and self.monotonic() < deadline:
                self._cond.wait(0.05)
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=5)
        self.save_positions()
        self.journal.close()
        for c in self.clients:
            c.close()

    def close_readers(self) -> None:
        """Called before readers are stopped, so that none stays blocked on back-pressure."""
        self._closing.set()
        with self._cond:
            self._cond.notify_all()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- readers' side --------------------------------------------------------------------------

    def resume(self, key: str) -> str | None:
        with self._cond:
            return self._resume.get(key)

    def submit(self, positions: dict[str, str | None], streams: list[StreamChunk]) -> bool:
        """Journal entries with the positions reached after them; False if the agent is stopping.

        A position of None forgets the source (a file that is gone for good)."""
        size = sum(len(s.entries) for s in streams) + 64
        with self._cond:
            waited = False
            while (
                self._unacked > 0 and self._unacked + size > self.max_unacked
                and not self._stop.is_set() and not self._closing.is_set()
            ):
                if not waited:
                    self.metrics.backpressure_waits.inc()
                    waited = True
                self._cond.wait(0.5)
            if self._stop.is_set() or (self._closing.is_set() and self._unacked + size > self.max_unacked):
                return False  # not journaled: the reader's position stays, the lines are read again
            rec = Record(self._next_seq, positions, [s for s in streams if s.count])
            self.journal.append(rec)
            self._next_seq += 1
            self._pending.append(rec)
            self._unacked += rec.size
            _merge(self._resume, positions)
            self.metrics.unacked_bytes.set(self._unacked)
            self._cond.notify_all()
        return True

    # -- senders' side --------------------------------------------------------------------------

    def _take_batch(self, i: int) -> list[Record] | None:
        """Records for client i: up to batchsize bytes, or what arrived within batchwait."""
        cfg = self._cfgs[i]
        with self._cond:
            first_seen = None
            while not self._stop.is_set():
                avail = self._available(i)
                size = sum(r.size for r in avail)
                if avail and first_seen is None:
                    first_seen = self.monotonic()
                if avail and (size >= cfg.batchsize or self.monotonic() - first_seen >= cfg.batchwait):
                    batch, total = [], 0
                    for r in avail:
                        if batch and total + r.size > cfg.batchsize:
                            break
                        batch.append(r)
                        total += r.size
                    fd = self.journal.sync_handle()
                    self._cond.release()  # fsync without blocking readers' appends
                    try:
                        # under _sync_lock: another client's sender that found nothing left to
                        # sync still waits here until this fsync is done
                        with self._sync_lock:
                            if fd is not None:
                                os.fsync(fd)  # durable before it is first sent
                                os.close(fd)
                    finally:
                        self._cond.acquire()
                    return batch
                timeout = 0.5 if first_seen is None else max(0.001, cfg.batchwait - (self.monotonic() - first_seen))
                self._cond.wait(timeout)
        return None

    def _available(self, i: int) -> list[Record]:
        if not self._pending:
            return []
        start = self._cursor[i] - self._pending[0].seq
        return list(self._pending)[max(start, 0) :] if start < len(self._pending) else []

    def _send_loop(self, i: int, client: PushClient) -> None:
        while not self._stop.is_set():
            batch = self._take_batch(i)
            if batch is None:
                return
            try:
                client.push([s for r in batch for s in r.streams])
            except Stopping:
                return
            except Exception:  # a bug must not silently stop delivery: log, count, go on
                log.exception("unexpected error while pushing; the batch stays in the journal")
                self.metrics.batch_retries.labels(client.host, client.tenant).inc()
                self._stop.wait(1.0)
                continue
            self._ack(i, batch[-1].seq)

    def _ack(self, i: int, seq: int) -> None:
        with self._cond:
            self._cursor[i] = seq + 1
            done = min(self._cursor) - 1
            while self._pending and self._pending[0].seq <= done:
                rec = self._pending.popleft()
                self._unacked -= rec.size
                _merge(self._acked_positions, rec.positions)
                self._acked_seq = rec.seq
            self.metrics.unacked_bytes.set(self._unacked)
            self._cond.notify_all()

    # -- positions ------------------------------------------------------------------------------

    def save_positions(self) -> None:
        with self._cond:
            seq, positions = self._acked_seq, dict(self._acked_positions)
        if seq == self._saved_seq:
            return
        self.positions.save(seq, positions)
        self._saved_seq = seq
        with self._cond:  # the journal's segment list is shared with submit()
            self.journal.release(seq)

    def _sync_loop(self) -> None:
        while not self._stop.wait(self.sync_period):
            try:
                self.save_positions()
            except OSError:
                log.exception("cannot save positions; will retry")

    def pending_records(self) -> int:
        with self._cond:
            return len(self._pending)


def _merge(into: dict[str, str], positions: dict[str, str | None]) -> None:
    for key, pos in positions.items():
        if pos is None:
            into.pop(key, None)
        else:
            into[key] = pos

"""Recovery from damage in the data directory: what was skipped, moved aside or rebuilt, and how.

One damaged file costs only what it holds. The WAL replay skips a damaged record and the rest of its
segment (wal.py); a block that does not decode is moved to `quarantine/` and dropped from the index,
so reads answer from every other block and the head; a missing or unreadable `index.sqlite` is moved
aside and rebuilt from the blocks, whose footers carry the label sets of their streams. Each event is
logged and counted (`Recovery`, exported as metrics), never silent.

With an object store (objects.py) the store is the source of truth and the index its cache: at open
the store is listed, and an index that does not name exactly the blocks listed (new, another
process's or none at all) is rebuilt from the blocks' footers, fetched from the store. A process
that does not write every block itself (a reader or the backend beside writers) re-lists the store
from time to time (`refresh`): the blocks that appeared are described and registered, those gone or
replaced are dropped; only the difference is read, never the footers already known.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from logyard.errors import CorruptDataError
from logyard.labels import LabelSet
from logyard.storage import format as F
from logyard.errors import StorageError
from logyard.storage.block import BlockInfo, BlockReader, describe_block
from logyard.storage.index import Index
from logyard.storage.objects import ObjectStore

log = logging.getLogger(__name__)

# Set in the index while a rebuild runs: an index left by a crash in the middle is rebuilt again
# (reading it as complete would let remove_orphans delete the blocks not registered yet).
REBUILD_PENDING = "rebuild_pending"
# SQLite result codes that mean the file itself is bad: SQLITE_CORRUPT ("database disk image is
# malformed") and SQLITE_NOTADB ("file is not a database").
_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}


@dataclass
class Recovery:
    """Counters of this process's recoveries (exported by the server as `*_total` metrics)."""

    wal_skipped_records: int = 0  # damaged WAL records not replayed (at least; see wal._count_records)
    wal_skipped_bytes: int = 0
    wal_corruptions: int = 0  # WAL segments whose replay stopped at damage (Loki counts these)
    wal_disk_full_failures: int = 0  # appends refused because the WAL's disk was full
    blocks_quarantined: int = 0
    index_rebuilds: int = 0
    flush_failures: int = 0  # flushes that failed (the object store unreachable, a full disk): retried
    refresh_failures: int = 0  # re-listings of the object store that failed (refresh): tried again
    writer_head_failures: int = 0  # writers that did not give a reader their head (Store.remote_heads)
    writer_tail_failures: int = 0  # a reader's tail connections to writers that failed (api/writer_tails.py)


    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def quarantine(data_dir: Path, path: Path, name: str) -> Path:
    """Move a damaged file to `quarantine/<name>` (same filesystem: a rename, it needs no space)."""
    qdir = data_dir / F.QUARANTINE_DIR
    qdir.mkdir(exist_ok=True)
    dest = qdir / name
    if dest.exists():
        dest = qdir / f"{name}.{time.time_ns()}"
    os.replace(path, dest)
    return dest


def quarantine_block_file(data_dir: Path, path: Path, rel: str, err: CorruptDataError, recovery: Recovery) -> None:
    """Move a block file that does not decode to quarantine/ (named after `rel`, its path in the
    data directory), log and count it. A move that fails leaves the file in place, said in the log:
    the caller keeps the block out of the index all the same, so reads do not fail on it again."""
    try:
        quarantine(data_dir, path, rel.replace("/", "_"))
        where = f"moved to {F.QUARANTINE_DIR}/"
    except FileNotFoundError:
        where = "its file is gone"
    except OSError as e:
        where = f"left in place, moving it failed: {os.strerror(e.errno) if e.errno else e}"
    recovery.blocks_quarantined += 1
    log.error("block %s quarantined (%s): %s", rel, where, err.message)


def open_index(data_dir: Path, index: Index, recovery: Recovery, objects: ObjectStore | None = None) -> None:
    """Open the index; move it aside if SQLite cannot read it, and rebuild it from the blocks when
    it is new (missing, empty or moved aside) while blocks exist, or a rebuild was cut short. With
    an object store, rebuild it whenever it does not name exactly the store's blocks (raises
    StorageError, 503, when the store cannot be listed)."""
    path = index.path
    fresh = not path.exists() or path.stat().st_size == 0
    if not path.exists():
        # SQLite would apply a journal left beside a deleted database to the new, empty one.
        for p in _companions(path):
            quarantine(data_dir, p, f"{p.name}.{time.time_ns()}")
    try:
        index.open()
    except (sqlite3.DatabaseError, CorruptDataError) as e:
        if isinstance(e, sqlite3.DatabaseError) and getattr(e, "sqlite_errorcode", None) not in _DAMAGED:
            raise  # a full disk, a permission: the file may be fine, and must not be moved aside
        index.close()
        index.reset()
        log.error("index %s does not open (%s): moving it to %s/ and rebuilding it from the blocks",
                  path.name, e, F.QUARANTINE_DIR)
        stamp = time.time_ns()
        for p in [path, *_companions(path)]:
            quarantine(data_dir, p, f"{p.name}.{stamp}")
        fresh = True
        index.open()
    pending = index.setting(REBUILD_PENDING, "0") == "1"
    if objects is not None:
        stored = objects.list()
        if pending or {o.rel for o in stored} != {b.path for b in index.all_blocks()}:
            log.warning("index %s does not name the blocks of %s: rebuilding it from their footers",
                        path.name, objects.description)
            rebuild(data_dir, index, recovery, [(o.rel, o.size) for o in stored], objects)
        return
    blocks = _block_files(data_dir)
    if (fresh and blocks) or pending:
        rebuild(data_dir, index, recovery, [(p.relative_to(data_dir).as_posix(), p.stat().st_size) for p in blocks])


def _companions(path: Path) -> list[Path]:
    return [p for p in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")) if p.exists()]


def _block_files(data_dir: Path) -> list[Path]:
    root = data_dir / F.BLOCKS_DIR
    return sorted(p for p in root.rglob("*" + F.BLOCK_SUFFIX) if p.is_file()) if root.exists() else []


def rebuild(data_dir: Path, index: Index, recovery: Recovery, blocks: list[tuple[str, int]],
            objects: ObjectStore | None = None) -> None:
    """Register every readable block (name in the data directory or the store, size) and the
    streams named in its footer, under their ids. A block that does not decode, or names a stream
    id another block gives other labels, is quarantined; one that a later block's footer names as
    replaced (a compaction that ended before its old blocks were deleted) is deleted. Footers are
    read several at once from an object store (each a ranged GET or two), one at a time locally."""
    t0 = time.monotonic()
    index.set_setting(REBUILD_PENDING, "1")
    index.clear()

    def describe(rel: str, size: int):
        remote = None if objects is None else partial(objects.open, rel)
        try:
            return describe_block(BlockReader(data_dir / rel, rel, remote), size)
        except CorruptDataError as e:
            return e

    with ThreadPoolExecutor(8 if objects is not None else 1) as pool:
        described = list(pool.map(lambda b: describe(*b), blocks))
    replaced = {old for d in described if not isinstance(d, Exception) for old in d[2]}
    streams: dict[str, dict[int, LabelSet]] = {}
    infos: list[BlockInfo] = []
    for (rel, _), d in zip(blocks, described):  # one step per block
        try:
            if isinstance(d, CorruptDataError):
                raise d
            info, labels, _ = d
            if rel in replaced:
                _delete_replaced(data_dir, rel, objects)
                continue
            known = streams.setdefault(info.tenant, {})
            clash = [sid for sid, ls in labels.items() if known.get(sid, ls) != ls]
            if clash:
                raise CorruptDataError(f"{rel}: stream id {clash[0]} has other labels in another block")
        except CorruptDataError as e:
            _quarantine_described(data_dir, rel, e, recovery, objects)
            continue
        known.update(labels)
        infos.append(info)
    for tenant, by_id in streams.items():
        index.restore_streams(tenant, by_id)
    index.swap_blocks(infos, [])
    index.set_setting(REBUILD_PENDING, "0")
    recovery.index_rebuilds += 1
    log.warning("index %s rebuilt from %d blocks (%d streams) in %.2fs", index.path.name, len(infos),
                sum(len(s) for s in streams.values()), time.monotonic() - t0)


def refresh(data_dir: Path, index: Index, objects: ObjectStore, skip: set[str]) -> tuple[list[BlockInfo], int]:
    """Make the index name exactly the store's blocks, as a rebuild would, reading only the footers
    of blocks new to it: returns the blocks dropped (gone from the store, or named replaced by a new
    block's footer: a compaction whose old objects are not deleted yet) for the caller to discard,
    and how many were added. Nothing in the store is changed: deleting and quarantining objects is
    the work of the process that writes them. A new block that does not decode, or names a stream
    id with other labels, is logged once and its name kept in `skip`. Raises StorageError (503)
    when the store cannot be listed."""
    stored = {o.rel: o.size for o in objects.list()}
    known = {b.path: b for b in index.all_blocks()}
    new = [(rel, size) for rel, size in stored.items() if rel not in known and rel not in skip]

    def describe(rel: str, size: int):
        try:
            return describe_block(BlockReader(data_dir / rel, rel, partial(objects.open, rel)), size)
        except CorruptDataError as e:
            return e
        except OSError as e:  # deleted between the listing and the read: the next refresh sees it gone
            return e

    with ThreadPoolExecutor(8) as pool:
        described = list(pool.map(lambda b: describe(*b), new))
    replaced = {old for d in described if not isinstance(d, Exception) for old in d[2]}
    gone = [b for rel, b in known.items() if rel not in stored or rel in replaced]
    add: list[BlockInfo] = []
    streams: dict[str, dict[int, LabelSet]] = {}
    for (rel, _), d in zip(new, described):  # one step per new block
        if isinstance(d, OSError):
            continue
        if isinstance(d, CorruptDataError):
            skip.add(rel)
            log.error("block %s in %s does not decode, left out: %s", rel, objects.description, d.message)
            continue
        info, labels, _ = d
        if rel in replaced:
            continue
        ts = index.tenants.get(info.tenant)
        have = streams.setdefault(info.tenant, {})
        clash = [sid for sid, ls in labels.items()
                 if have.get(sid, ls) != ls
                 or (ts is not None and (ts.labels.get(sid, ls) != ls or ts.ids.get(ls, sid) != sid))]
        if clash:
            skip.add(rel)
            log.error("block %s in %s names stream id %d with other labels than the index: left out",
                      rel, objects.description, clash[0])
            continue
        have.update({sid: ls for sid, ls in labels.items() if ts is None or sid not in ts.labels})
        add.append(info)
    for tenant, by_id in streams.items():
        if by_id:
            index.restore_streams(tenant, by_id)
    if add or gone:
        index.swap_blocks(add, gone)
    skip.intersection_update(stored)
    return gone, len(add)


def _delete_replaced(data_dir: Path, rel: str, objects: ObjectStore | None) -> None:
    log.warning("block %s was replaced by a compaction or rewrite: deleting it", rel)
    (data_dir / rel).unlink(missing_ok=True)
    if objects is not None:
        try:
            objects.delete(rel)
        except StorageError as e:
            log.warning("deleting replaced block %s failed (%s): it is left out all the same", rel, e.message)


def _quarantine_described(data_dir: Path, rel: str, err: CorruptDataError, recovery: Recovery,
                          objects: ObjectStore | None) -> None:
    if objects is None:
        quarantine_block_file(data_dir, data_dir / rel, rel, err, recovery)
        return
    (data_dir / rel).unlink(missing_ok=True)  # a cached copy: the object is what counts
    recovery.blocks_quarantined += 1
    try:
        where = f"moved to {objects.quarantine(rel)} in the object store"
    except StorageError as e:
        where = f"left in the object store ({e.message})"
    log.error("block %s quarantined (%s): %s", rel, where, err.message)

"""A writer's unflushed rows on the wire, for the readers of a scaled-out installation (docs/scaling.md).

A reader answers from the object store's blocks, which hold everything flushed, and from the heads of
the writers, which hold the rest; it asks each writer for its head over HTTP (api/internal.py) and
reads the rows as if they were a head of its own, so the read path's merge and deduplication of head
and blocks (reads.py) does the rest: a row both in a writer's head and in a block flushed meanwhile,
or in the heads of two writers (a client that retried against the other), is answered once.

The encoding is one Arrow IPC stream: the head's columns (stream, ts, line, meta) as they are in
memory, no row copied per line, and in the schema's metadata under `logyard.streams` the label sets
of the streams present, as in a block's footer (`[[id, [[name, value], ...]], ...]`). Stream ids are
derived from tenant and labels (index.stream_id), so the writer's ids are the reader's.
"""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from logyard.errors import CorruptDataError
from logyard.labels import LabelSet
from logyard.storage import format as F
from logyard.storage.head import HEAD_SCHEMA, StreamStats, TenantHeadView

MEDIA_TYPE = "application/vnd.apache.arrow.stream"


def encode_head(table: pa.Table, labels: dict[int, LabelSet]) -> bytes:
    """The rows of `table` (HEAD_SCHEMA) and the label sets of its streams as one IPC stream."""
    pairs = [[sid, [list(p) for p in ls]] for sid, ls in labels.items()]
    table = table.cast(HEAD_SCHEMA).replace_schema_metadata({F.BLOCK_STREAMS_KEY: orjson.dumps(pairs)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def decode_head(data: bytes, source: str) -> tuple[TenantHeadView, dict[int, LabelSet]]:
    """A head view of the rows `encode_head` wrote, with per-stream statistics computed from its
    columns (one group-by), and the label sets. Raises CorruptDataError naming `source`."""
    try:
        reader = pa.ipc.open_stream(pa.py_buffer(data))
        table = reader.read_all()
        pairs = orjson.loads((reader.schema.metadata or {})[F.BLOCK_STREAMS_KEY])
        labels = {int(sid): LabelSet((k, v) for k, v in ls) for sid, ls in pairs}
    except (pa.ArrowException, KeyError, TypeError, ValueError, orjson.JSONDecodeError) as e:
        raise CorruptDataError(f"head of {source} does not decode: {e}") from e
    if table.schema.remove_metadata() != HEAD_SCHEMA:
        raise CorruptDataError(f"head of {source}: columns {table.schema.names} are not a head's")
    table = table.replace_schema_metadata(None)
    ids = np.unique(table.column("stream").to_numpy()) if table.num_rows else np.empty(0, np.int64)
    if not set(ids.tolist()) <= labels.keys():
        raise CorruptDataError(f"head of {source}: rows of a stream it names no labels for")
    return TenantHeadView(tuple(table.to_batches()), head_stats(table)), labels


def head_stats(table: pa.Table) -> dict[int, StreamStats]:
    """Per-stream time range, rows and bytes (line + metadata) of head rows, as Head.add keeps them."""
    if table.num_rows == 0:
        return {}
    sized = table.append_column("n", pc.add(pc.binary_length(table.column("line")),
                                            pc.binary_length(table.column("meta"))).cast(pa.int64()))
    g = sized.group_by("stream").aggregate([("ts", "min"), ("ts", "max"), ("ts", "count"), ("n", "sum")])
    cols = [g.column(c).to_pylist() for c in ("stream", "ts_min", "ts_max", "ts_count", "n_sum")]
    return {sid: StreamStats(lo, hi, n, b) for sid, lo, hi, n, b in zip(*cols)}  # one step per stream

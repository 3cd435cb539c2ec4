"""Exact literal line filters run by storage on the lines as it stores them (`needles.LineMatch`).

A metric query counting `|= "error"` lines wants no line back: searched here, in the column
buffers Parquet decoded into, compacted lines need no restoring of their cut timestamps
(`line_time.contains`) and no Arrow string kernel runs. A log query gets only the kept rows'
lines restored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logyard.needles import LineMatch
from logyard.storage import _tsembed, line_time

# Bytes of each format's rendering (they have fixed widths), by format id; 0 for "nothing cut".
_CUT_BYTES = np.array([0] + [len(_tsembed.render(0, f)) for f in range(1, _tsembed.N_FORMATS)], dtype=np.int64)


@dataclass
class Scanned:
    """What a filter ran on, as a query counts what it reads (query_stats.py): rows, their
    lines' bytes (as restored), and their metadata's bytes when the reader asked for metadata."""

    meta: bool = False  # whether metadata bytes are counted
    rows: int = 0
    line_bytes: int = 0
    meta_bytes: int = 0

    def add(self, lines, codes: np.ndarray | None, meta, inside: np.ndarray | None) -> None:
        """Count the rows of `lines` (and of `meta` when counted) where `inside` holds (None:
        all); `codes` of compacted lines."""
        if inside is None:  # sums, without an array of lengths
            self.rows += len(lines)
            self.line_bytes += _total_bytes(lines)
            if codes is not None:
                cut = np.bincount(np.asarray(codes) & 31, minlength=len(_CUT_BYTES))
                self.line_bytes += int(cut @ _CUT_BYTES)
            self.meta_bytes += _meta_bytes(meta) if self.meta else 0
            return
        lens = _lengths(lines)
        if codes is not None:
            lens = lens + _CUT_BYTES[np.asarray(codes) & 31]
        self.rows += int(inside.sum())
        self.line_bytes += int(lens[inside].sum())
        self.meta_bytes += int(_lengths(meta)[inside].sum()) if self.meta else 0


def _total_bytes(col) -> int:
    """Bytes of all strings of a (chunked) string column, from each chunk's first and last offset."""
    total = 0
    for chunk in (col.chunks if isinstance(col, pa.ChunkedArray) else [col]):  # one step per chunk
        if not len(chunk):
            continue
        wide = pa.types.is_large_string(chunk.type) or pa.types.is_large_binary(chunk.type)
        off = np.frombuffer(chunk.buffers()[1], dtype=np.int64 if wide else np.int32)
        total += int(off[chunk.offset + len(chunk)]) - int(off[chunk.offset])
    return total


def _meta_bytes(col) -> int:
    """Bytes of all strings of a (chunked, possibly dictionary) string column, nulls counting 0:
    a dictionary chunk's as its values' lengths weighted by how often each index occurs."""
    total = 0
    for chunk in (col.chunks if isinstance(col, pa.ChunkedArray) else [col]):  # one step per chunk
        if not len(chunk):
            continue
        if not pa.types.is_dictionary(chunk.type):
            total += _total_bytes(chunk) if not chunk.null_count else int(_lengths(chunk).sum())
            continue
        words = pc.binary_length(chunk.dictionary).to_numpy(zero_copy_only=False).astype(np.int64)
        if not len(words):
            continue
        if chunk.null_count:
            chunk = chunk.drop_null()
        counts = np.bincount(chunk.indices.to_numpy(zero_copy_only=False), minlength=len(words))
        total += int(counts @ words)
    return total


def _lengths(col) -> np.ndarray:
    """Byte length of each string of a (chunked, possibly dictionary) string column, int64."""
    parts = []
    for chunk in (col.chunks if isinstance(col, pa.ChunkedArray) else [col]):  # one step per chunk
        if pa.types.is_dictionary(chunk.type):
            words = pc.binary_length(chunk.dictionary).to_numpy(zero_copy_only=False).astype(np.int64)
            idx = pc.fill_null(chunk.indices, 0).to_numpy(zero_copy_only=False)
            parts.append(words[idx] if len(words) else np.zeros(len(chunk), np.int64))
        else:
            parts.append(pc.fill_null(pc.binary_length(chunk), 0).to_numpy(zero_copy_only=False).astype(np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def mask(lines: pa.Array | pa.ChunkedArray, match: LineMatch, ts: np.ndarray | None = None,
         codes: np.ndarray | None = None) -> np.ndarray:
    """Which rows `match` keeps (bool), for lines as stored: with `ts` and `codes` (whole-column
    arrays), compacted lines with their timestamps cut. ValueError if a code does not fit its line."""
    chunks = lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]
    parts, at = [], 0
    for chunk in chunks:  # one step per chunk (a row group)
        n = len(chunk)
        cut = (ts[at:at + n], codes[at:at + n]) if ts is not None and codes is not None else (None, None)
        parts.append(_chunk_mask(chunk, match, *cut))
        at += n
    if not parts:
        return np.zeros(0, dtype=bool)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _chunk_mask(lines: pa.Array, match: LineMatch, ts, codes) -> np.ndarray:
    if not pa.types.is_large_string(lines.type):
        lines = lines.cast(pa.large_string())
    keep = np.ones(len(lines), dtype=bool)
    for group in match.contains:
        hit = line_time.contains(lines, group[0].encode(), ts, codes)
        for s in group[1:]:
            hit = hit | line_time.contains(lines, s.encode(), ts, codes)
        keep &= hit
    for s in match.excludes:
        keep &= ~line_time.contains(lines, s.encode(), ts, codes)
    return keep

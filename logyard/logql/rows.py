"""`Rows`: the column batch that flows through a log pipeline.

Rows start as storage columns (stream id, timestamp, line, structured metadata). Line filters keep them
columnar. The first stage that needs per-row labels (a parser, a label filter on a parsed label, a
formatter) fills `labels`: one dict per row. Rows no stage touches get their labels once per distinct
(stream, metadata) pair, from `entry_labels.without_stages` (Loki's rules for metadata named like a
stream label).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import orjson
import pyarrow as pa

from logyard.logql.stages.builder import DUPLICATE_SUFFIX
from logyard.logql.stages.substring import contains_mask
from logyard.storage.rows import stream_codes


@dataclass
class Rows:
    ts: np.ndarray                      # int64 ns
    stream: np.ndarray                  # int64 stream ids
    line: pa.Array                      # (large_)string
    meta: pa.Array                      # canonical JSON object text or ""; dictionary chunks stay
                                        # chunked until needed (grouping by names may not need them)
    labels: list[dict[str, str]] | None = None   # per-row labels once materialised
    nbytes: np.ndarray | None = None    # int64 byte length of each line, when known without lines

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, mask_or_idx: np.ndarray) -> "Rows":
        """A new Rows with the selected rows; never mutates self (stages must not mutate input)."""
        idx = np.flatnonzero(mask_or_idx) if mask_or_idx.dtype == bool else mask_or_idx
        labels = None if self.labels is None else [self.labels[i] for i in idx.tolist()]
        line = self.line.take(pa.array(idx)) if self.line is not None else None
        meta = _flat(self.meta).take(pa.array(idx)) if self.meta is not None else None
        nbytes = None if self.nbytes is None else self.nbytes[idx]
        return Rows(self.ts[idx], self.stream[idx], line, meta, labels, nbytes)

    def with_line(self, line: pa.Array) -> "Rows":
        return replace(self, line=line, nbytes=None)

    @classmethod
    def from_table(cls, table: pa.Table) -> "Rows":
        cols = table.column_names
        line = _flat(table.column("line")) if "line" in cols else None
        meta = _lazy_meta(table.column("meta")) if "meta" in cols else None
        nbytes = table.column("len").to_numpy().astype(np.int64) if "len" in cols else None
        return cls(
            ts=table.column("ts").to_numpy(),
            stream=table.column("stream").to_numpy().astype(np.int64, copy=False),
            line=line,
            meta=meta,
            nbytes=nbytes,
        )

    def line_bytes(self) -> np.ndarray:
        if self.nbytes is not None:
            return self.nbytes
        import pyarrow.compute as pc

        return pc.binary_length(self.line).to_numpy(zero_copy_only=False).astype(np.int64)


def _flat(col) -> pa.Array:
    """One contiguous array; dictionary arrays (metadata) stay encoded."""
    if isinstance(col, pa.ChunkedArray):
        if col.num_chunks == 1:
            return col.chunk(0)
        if col.num_chunks == 0:
            return pa.array([], col.type)
        if pa.types.is_dictionary(col.type) and not col.null_count:
            return _concat_dictionaries(col)
        return col.combine_chunks()
    return col


def _lazy_meta(col):
    if isinstance(col, pa.ChunkedArray) and col.num_chunks > 1 and pa.types.is_dictionary(col.type):
        return col
    return _flat(col)


def _concat_dictionaries(col: pa.ChunkedArray) -> pa.DictionaryArray:
    """Chunks of a dictionary column as one array whose dictionary is the chunks' dictionaries end
    to end. Arrow's `combine_chunks` unifies them instead, hashing every value: 20 ms for the 16 row
    groups of an hour with trace ids in the metadata. Values may repeat in the result's
    dictionary; every user of metadata codes maps them to label sets, where duplicates meet again.
    """
    dicts = [c.dictionary for c in col.chunks]
    base = np.cumsum([0] + [len(d) for d in dicts[:-1]])
    indices = np.concatenate([c.indices.to_numpy(zero_copy_only=False).astype(np.int64) + b
                              for c, b in zip(col.chunks, base.tolist())])
    index_type = pa.int32() if int(base[-1]) + len(dicts[-1]) < (1 << 31) else pa.int64()
    return pa.DictionaryArray.from_arrays(pa.array(indices, index_type), pa.concat_arrays(dicts))


_META_CACHE: dict[str, tuple[tuple[str, str], ...]] = {}


def meta_pairs(meta: str) -> tuple[tuple[str, str], ...]:
    """Structured metadata text → sorted pairs, cached (values repeat a lot: detected_level)."""
    got = _META_CACHE.get(meta)
    if got is None:
        got = tuple(sorted(orjson.loads(meta).items())) if meta else ()
        if len(_META_CACHE) > 200_000:
            _META_CACHE.clear()
        _META_CACHE[meta] = got
    return got


def dense_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(values, return_inverse=True)` for non-negative integer keys.

    Keys here are mostly small (stream ids times a few metadata codes): then a lookup table over
    their range replaces the hash/sort of `np.unique` (two linear passes, not 10 ms per 100k rows).
    A table is at most 4 entries per value (or 64k), else `np.unique` it is.
    """
    values = np.asarray(values, dtype=np.int64)
    if len(values) == 0:
        return values[:0], np.zeros(0, dtype=np.int64)
    lo, top = int(values.min()), int(values.max())
    if lo < 0 or top >= max(1 << 16, 4 * len(values)):
        return stream_codes(values)  # hashed stream ids: by their runs, else np.unique
    seen = np.zeros(top + 1, dtype=bool)
    seen[values] = True
    uniq = np.flatnonzero(seen)
    lut = np.empty(top + 1, dtype=np.int64)
    lut[uniq] = np.arange(len(uniq), dtype=np.int64)
    return uniq, lut[values]


def meta_codes(meta: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Per-row dictionary codes (int64) and the dictionary of a metadata column.

    Storage hands metadata over dictionary-encoded: its indices are used as they are, rather than
    hashing every row's text again. A dictionary may hold a value twice (or unused values);
    callers only map codes to label sets, where duplicates meet again.
    """
    import pyarrow.compute as pc

    if isinstance(meta, pa.ChunkedArray):
        meta = _flat(meta)
    if not pa.types.is_dictionary(meta.type):
        meta = pc.dictionary_encode(meta)
    return meta.indices.to_numpy(zero_copy_only=False).astype(np.int64), meta.dictionary


def group_codes(rows: Rows) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Vectorised grouping of rows by (stream, metadata): a code per row and the distinct keys."""
    if rows.meta is None:
        uniq, codes = dense_codes(rows.stream)
        return codes, [(int(s), "") for s in uniq.tolist()]
    mcodes, dictionary = meta_codes(rows.meta)
    used, mdense = dense_codes(mcodes)  # only the dictionary entries these rows use
    sids, sdense = dense_codes(rows.stream)
    n = len(used)
    uniq, codes = dense_codes(sdense * n + mdense)
    texts = dictionary.take(pa.array(used)).to_pylist()
    keys = [(int(sids[c // n]), texts[c % n]) for c in uniq.tolist()]
    return codes, keys


def group_codes_by_meta_names(rows: Rows, names) -> tuple[np.ndarray, list[tuple[int, tuple]]]:
    """Like `group_codes`, but metadata reduced to the given names: (stream, ((name, value), ...)).

    A grouped `<name>_extracted` keeps metadata `<name>` too: metadata named like a stream label
    becomes `<name>_extracted` when the labels are made (`entry_labels.without_stages`).
    """
    import pyarrow.compute as pc

    names = sorted({*names, *(n[: -len(DUPLICATE_SUFFIX)] for n in names if n.endswith(DUPLICATE_SUFFIX))})

    if rows.meta is None or not names:
        uniq, codes = dense_codes(rows.stream)
        return codes, [(int(s), ()) for s in uniq.tolist()]
    meta = rows.meta
    if isinstance(meta, pa.ChunkedArray) and not any(_mentions(c.dictionary, names).any() for c in meta.chunks):
        # No row carries a grouped name: rows group by stream alone, the codes are not needed
        # (nor the chunks joined).
        uniq, codes = dense_codes(rows.stream)
        return codes, [(int(s), ()) for s in uniq.tolist()]
    meta = _flat(meta)
    if not pa.types.is_dictionary(meta.type):
        meta = pc.dictionary_encode(meta)
    dictionary = meta.dictionary
    mentions = _mentions(dictionary, names)
    if not mentions.any():
        uniq, codes = dense_codes(rows.stream)
        return codes, [(int(s), ()) for s in uniq.tolist()]
    mcodes, dictionary = meta_codes(meta)
    dict_reduced, reduced_list = _reduced_codes(dictionary, mentions, names)
    red = dict_reduced[mcodes]
    n = len(reduced_list)
    sids, sdense = dense_codes(rows.stream)
    uniq, codes = dense_codes(sdense * n + red)
    keys = [(int(sids[c // n]), reduced_list[c % n]) for c in uniq.tolist()]
    return codes, keys


def _reduced_codes(dictionary: pa.Array, mentions: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[tuple]]:
    """Per dictionary entry, a code of its metadata reduced to `names` (sorted): the (name, value)
    pairs it has of them, as `meta_pairs` gives them; and the pairs of each code (code 0: none).

    A trace id makes nearly every entry distinct, and parsing each one took seconds over a day:
    each name's value is cut out of every entry at once (`_values_of`), and only the entries
    where that is not plain (an escaped character, a value that is no string) are parsed."""
    idx = np.flatnonzero(mentions)
    sub = dictionary.take(pa.array(idx))
    combined = np.zeros(len(idx), dtype=np.int64)
    columns: list[list[str | None]] = []
    unread = np.zeros(len(idx), dtype=bool)
    for name in names:
        codes, values, odd = _values_of(sub, name)
        unread |= odd
        columns.append([None, *values])
        combined = combined * (len(values) + 1) + codes
    uniq, inverse = np.unique(combined, return_inverse=True)
    reduced_of: dict[tuple, int] = {(): 0}
    reduced_list: list[tuple] = [()]
    key_code = np.empty(len(uniq), dtype=np.int64)
    for u, c in enumerate(uniq.tolist()):  # per distinct reduced value: a handful
        pairs = []
        for name, col in zip(reversed(names), reversed(columns)):
            c, k = divmod(c, len(col))
            if k:
                pairs.append((name, col[k]))
        key = tuple(reversed(pairs))
        key_code[u] = reduced_of.setdefault(key, len(reduced_list))
        if key_code[u] == len(reduced_list):
            reduced_list.append(key)
    dict_reduced = np.zeros(len(dictionary), dtype=np.int64)
    dict_reduced[idx] = key_code[inverse.reshape(-1)]
    if unread.any():
        wanted = set(names)
        for j in idx[unread].tolist():  # entries with an escaped or non-string value of a grouped name
            pairs = tuple(p for p in meta_pairs(dictionary[j].as_py()) if p[0] in wanted)
            dict_reduced[j] = reduced_of.setdefault(pairs, len(reduced_list))
            if dict_reduced[j] == len(reduced_list):
                reduced_list.append(pairs)
    return dict_reduced, reduced_list


def _values_of(texts: pa.Array, name: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Each canonical-JSON entry's string value of `name`, cut from the bytes with NumPy: a code
    per entry (0: no such value; k: values[k - 1]), the distinct values, and which entries must be
    parsed instead (their value has an escape, or is no string)."""
    import pyarrow.compute as pc

    n = len(texts)
    key = orjson.dumps(name) + b':"'
    pos = pc.find_substring(texts, key.decode()).to_numpy(zero_copy_only=False).astype(np.int64)
    has = pos >= 0
    odd = ~has & contains_mask(texts, orjson.dumps(name).decode() + ":")  # a value that is no string
    width = 8 if pa.types.is_large_string(texts.type) else 4
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64 if width == 8 else np.int32,
                            count=n + 1, offset=texts.offset * width).astype(np.int64)
    data = np.frombuffer(texts.buffers()[2], dtype=np.uint8) if texts.buffers()[2] is not None else np.zeros(0, np.uint8)
    rows = np.flatnonzero(has)
    start = offsets[:-1][rows] + pos[rows] + len(key)
    stop = np.empty_like(start)
    escaped = np.zeros(len(rows), dtype=bool)
    binary = texts.view(pa.large_binary() if width == 8 else pa.binary())
    at = pos[rows]
    for p in np.unique(at).tolist():  # per position of the name in the entries: a few (keys are sorted)
        sel = np.flatnonzero(at == p)
        part = binary.take(pa.array(rows[sel])) if len(sel) < len(rows) else binary.take(pa.array(rows))
        tail = pc.binary_slice(part, p + len(key), 1 << 30)  # to the end (a bigger stop overflows)
        length = pc.find_substring(tail, '"').to_numpy(zero_copy_only=False).astype(np.int64)
        slash = pc.find_substring(tail, "\\").to_numpy(zero_copy_only=False).astype(np.int64)
        stop[sel] = start[sel] + np.maximum(length, 0)
        escaped[sel] = (length < 0) | ((slash >= 0) & (slash < length))
    odd[rows[escaped]] = True
    keep = ~escaped
    rows, start, stop = rows[keep], start[keep], stop[keep]
    lens = stop - start
    out_off = np.zeros(len(rows) + 1, dtype=np.int32)
    np.cumsum(lens, out=out_off[1:])
    gather = np.repeat(start - out_off[:-1], lens) + np.arange(int(out_off[-1]), dtype=np.int64)
    values = pa.StringArray.from_buffers(len(rows), pa.py_buffer(out_off), pa.py_buffer(data[gather].tobytes()))
    enc = values.dictionary_encode()
    codes = np.zeros(n, dtype=np.int64)
    codes[rows] = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64) + 1
    return codes, enc.dictionary.to_pylist(), odd


def _mentions(dictionary: pa.Array, names) -> np.ndarray:
    """Which dictionary entries mention any of the names at all (one buffer search per name)."""
    out = np.zeros(len(dictionary), dtype=bool)
    for name in names:
        out |= contains_mask(dictionary, f'"{name}":')
    return out


def may_carry(rows: Rows, stream_labels: dict, name: str) -> np.ndarray:
    """Rows whose stream labels or structured metadata hold a label `name` (the metadata searched
    for the key, not parsed): where a parser's label of that name is renamed `<name>_extracted`."""
    named = [sid for sid, labels in stream_labels.items() if name in dict(labels)]
    out = np.isin(rows.stream, np.asarray(named, dtype=np.int64)) if named else np.zeros(len(rows), dtype=bool)
    if rows.meta is None:
        return out
    parts = []
    for chunk in (rows.meta.chunks if isinstance(rows.meta, pa.ChunkedArray) else [rows.meta]):  # one step per chunk
        if pa.types.is_dictionary(chunk.type) and len(chunk.dictionary) <= len(chunk):
            # each value tested once; a slice of a row group carries its whole dictionary, every
            # stream's values, which may outnumber its rows: those are tested row by row
            hit = _mentions(chunk.dictionary, [name])
            parts.append(hit[chunk.indices.fill_null(0).to_numpy(zero_copy_only=False)] if len(hit) else
                         np.zeros(len(chunk), dtype=bool))
        else:
            plain = chunk.dictionary_decode() if pa.types.is_dictionary(chunk.type) else chunk
            parts.append(_mentions(plain, [name]))
    return out | (np.concatenate(parts) if parts else np.zeros(0, dtype=bool))


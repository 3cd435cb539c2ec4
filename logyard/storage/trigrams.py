"""Per-row-group trigram bitmaps: let a substring filter skip row groups that cannot match.

For each row group of a compacted block, every 3-byte sequence of its line bytes is hashed into a
bitmap sized to the (estimated) number of distinct trigrams (2 to 4 bits per trigram, the size
being a power of two, so a quarter to 40 % of the bits are set). A line containing "xq7-needle-5150" contains its
13 trigrams; a row group whose bitmap lacks one of them is skipped, and one that lacks none is read
(false hits cost only time). Trigrams that span two lines are included: they only add false hits.

A row group with more distinct trigrams than a 2**MAX_LOG2-bit map can serve at 2 bits each
(random-looking text: hashes, base64, long JSON) gets about 1 bit per trigram instead, up to
2**MAX_SPARSE_LOG2 bits, else no bitmap (k = 0) and is always read. On the benchmark workload those
are 41 of 356 row groups (28k-233k distinct trigrams per MiB): at 4 bits each they took three
quarters of the bitmap bytes; at 1 bit, 1.3 MB in all (0.0037 x line bytes), and a needle query
reads 10 row groups instead of 50.

Blob layout (Parquet footer key `logyard.trigrams.lower`, before it `logyard.trigrams`): u8
log2(bits) per row group (0 = none), then the bitmaps in row-group order, each `2**k / 8` bytes,
bits in `numpy.packbits` order.

Lowered maps (written since `logyard.trigrams.lower`) hash the line bytes with ASCII A-Z lowered,
so that one map serves case-sensitive needles (lowered too: a line holding "Err" holds "err" once
lowered) and case-insensitive ones (`(?i)` regexes) alike. A case-insensitive needle gives no
trigram with a non-ASCII byte or a `k` or `s` (Unicode folds the Kelvin sign and the long s onto
them: "(?i)kill" matches a line whose bytes hold no k). Blocks with the older, exact maps still
serve case-sensitive needles. Lowered, the benchmark workload's maps take 0.0022 x line bytes
(exact: 0.0047; the figures above are the exact maps').
"""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa

from logyard.errors import CorruptDataError
from logyard.needles import Needle, as_needle

# Maps of the benchmark workload: 4 bits 0.0060 x line bytes, 2 bits 0.0047; a 13-trigram needle
# passes a foreign 40 %-full map with odds of 7e-6.
BITS_PER_TRIGRAM = 2
MIN_LOG2, MAX_LOG2 = 10, 16  # written: 128 B .. 8 KiB per row group (about 1 MiB of line text)
MAX_SPARSE_LOG2 = 18  # 32 KiB: the largest map, at one bit per trigram
READ_MAX_LOG2 = 24  # accepted when reading: every 24-bit trigram its own bit
PASSING_KEPT = 8  # line hints whose row groups a block's index keeps (`passing`)
EST_LOG2 = 20  # the map written is folded from one of this size (>= MAX_SPARSE_LOG2)
_MULT = np.uint32(2654435761)  # Knuth's multiplicative hash; the top k bits are the bucket


def trigrams(data: np.ndarray) -> np.ndarray:
    """The 24-bit value of every 3-byte window of a uint8 array."""
    if data.size < 3:
        return np.empty(0, dtype=np.uint32)
    out = data[:-2].astype(np.uint32)  # in place from here: one temporary instead of five
    out <<= 8
    out |= data[1:-1]
    out <<= 8
    out |= data[2:]
    return out


def lower_ascii(data: np.ndarray) -> np.ndarray:
    """A copy of a uint8 array with A-Z lowered, every other byte as it was."""
    upper = (data >= 65) & (data <= 90)
    return data | (upper.view(np.uint8) << 5)


def needed(substrings, *, lowered: bool = False, fold: bool = False) -> np.ndarray:
    """Distinct trigrams a line must contain to contain every substring (short ones add none), as a
    map over exact bytes holds them, or with `lowered` as a lowered map does. `fold`: the substrings
    match case-insensitively (only a lowered map can serve that; see the module's notes)."""
    parts = []
    for s in substrings:
        b = np.frombuffer(s.encode(), dtype=np.uint8)
        if not lowered:
            parts.append(trigrams(b))
            continue
        b = lower_ascii(b)
        t = trigrams(b)
        if fold and t.size:
            bad = (b >= 0x80) | (b == ord("k")) | (b == ord("s"))
            t = t[~(bad[:-2] | bad[1:-1] | bad[2:])]
        parts.append(t)
    return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.uint32)


class Needs:
    """A query's line hint (`Needle`s, all of which hold) as trigram sets, for both kinds of map:
    per needle that can rule anything out, the trigram set of each of its alternatives."""

    def __init__(self, terms) -> None:
        needles = [as_needle(t) for t in terms]
        self.exact = _requirements(needles, lowered=False)
        self.lowered = _requirements(needles, lowered=True)

    def __bool__(self) -> bool:
        return bool(self.exact or self.lowered)


@functools.lru_cache(maxsize=256)
def needs_for(terms: tuple) -> Needs:
    """`Needs(terms)`, computed once: a query reads its windows in many calls with the same hint."""
    return Needs(terms)


def _requirements(needles: list[Needle], *, lowered: bool) -> list[list[np.ndarray]]:
    out = []
    for n in needles:
        if n.fold and not lowered:
            continue  # an exact map cannot tell "ERROR" from "error"
        alts = [needed(alt, lowered=lowered, fold=n.fold) for alt in n.any_of]
        if alts and all(a.size for a in alts):  # an alternative needing nothing rules nothing out
            out.append(alts)
    return out


def build(line: pa.Array, row_group_bounds: list[tuple[int, int]], *, lowered: bool = True) -> bytes:
    """The blob for a large_string column cut into row groups [lo, hi), over ASCII-lowered bytes
    (`lowered`, what is written) or exact ones (what older logyard wrote; tests build those)."""
    builder = MapBuilder(lowered=lowered)
    off, data = _line_bytes(line)
    for lo, hi in row_group_bounds:  # one step per row group
        builder.add_bytes(data[off[lo] : off[hi]])
    return builder.blob()


def _line_bytes(line: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    off = np.frombuffer(line.buffers()[1], dtype=np.int64, count=len(line) + 1, offset=line.offset * 8)
    buf = line.buffers()[2]
    return off, (np.frombuffer(buf, dtype=np.uint8) if buf is not None else np.empty(0, np.uint8))


class MapBuilder:
    """The blob built one row group at a time, in row-group order: a compaction writes its block a
    row group at a time and never holds the whole sorted line column.

    Each row group's trigrams are hashed once into a 2**EST_LOG2-bit map (1 MiB of bools: cache
    sized, where a table of all 2**24 trigrams cost twice the time in scattered writes and its
    scan). Its fill estimates the distinct trigrams (linear counting), which picks k; the k-bit map
    is that map folded, since a bucket of k bits is the top k bits of the EST_LOG2-bit bucket.
    """

    def __init__(self, *, lowered: bool = True) -> None:
        self.lowered = lowered
        self._fine = np.zeros(1 << EST_LOG2, dtype=np.bool_)
        self._ks: list[int] = []
        self._maps: list[bytes] = []

    def add(self, line: pa.Array) -> None:
        """The next row group: its large_string line column."""
        off, data = _line_bytes(line)
        self.add_bytes(data[off[0] : off[-1]])

    def add_bytes(self, part: np.ndarray) -> None:
        fine = self._fine
        fine[:] = False
        t = trigrams(lower_ascii(part) if self.lowered else part)
        t *= _MULT  # the bucket of EST_LOG2 bits, in place
        t >>= np.uint32(32 - EST_LOG2)
        fine[t] = True
        m = float(fine.size)
        filled = int(np.count_nonzero(fine))
        distinct = -m * np.log1p(-min(filled, m - 1) / m)
        k = max(MIN_LOG2, int(np.ceil(np.log2(max(1.0, BITS_PER_TRIGRAM * distinct)))))
        if k > MAX_LOG2:
            # Random-looking text: about one bit per trigram (half the bits set) still rejects a
            # 13-trigram needle with odds of ~1e-3; beyond MAX_SPARSE_LOG2 no map at all.
            k = int(np.ceil(np.log2(distinct)))
            if k > MAX_SPARSE_LOG2:
                self._ks.append(0)
                return
        self._ks.append(k)
        self._maps.append(np.packbits(fine.reshape(1 << k, -1).any(axis=1)).tobytes())

    def blob(self) -> bytes:
        return bytes(self._ks) + b"".join(self._maps)


class TrigramIndex:
    """The parsed blob of one block; `lowered` says which kind of map it holds."""

    def __init__(self, blob: bytes, n_row_groups: int, where: str, *, lowered: bool = True) -> None:
        if len(blob) < n_row_groups:
            raise CorruptDataError(f"{where}: trigram blob shorter than its {n_row_groups} sizes")
        self.lowered = lowered
        self.ks = list(blob[:n_row_groups])
        if any(k and not MIN_LOG2 <= k <= READ_MAX_LOG2 for k in self.ks):
            raise CorruptDataError(f"{where}: trigram bitmap size out of range")
        k = np.frombuffer(blob, dtype=np.uint8, count=n_row_groups).astype(np.int64)
        bits = np.where(k > 0, np.left_shift(1, k), 0)
        if len(blob) != n_row_groups + int(bits.sum()) // 8:
            raise CorruptDataError(f"{where}: trigram blob is {len(blob)} bytes, "
                                   f"expected {n_row_groups + int(bits.sum()) // 8}")
        self._k = k
        self._maps = np.frombuffer(blob, dtype=np.uint8, offset=n_row_groups)
        self._bit0 = np.concatenate(([0], np.cumsum(bits)[:-1])).astype(np.int64)  # each map's first bit
        self._passing: dict[Needs, np.ndarray] = {}

    def may_contain(self, candidates: np.ndarray, need: np.ndarray) -> np.ndarray:
        """For the row groups `candidates`, whether each may hold a line with all `need` trigrams
        (as this index's kind of map holds them): one lookup of every (row group, trigram) pair."""
        out = np.ones(len(candidates), dtype=bool)
        k = self._k[candidates]
        has = k > 0  # no bitmap: may contain anything
        if not need.size or not has.any():
            return out
        g, kk = candidates[has], k[has].astype(np.uint32)
        bucket = (need.astype(np.uint32)[None, :] * _MULT) >> (np.uint32(32) - kk)[:, None]
        bit = self._bit0[g][:, None] + bucket
        byte = self._maps[bit >> 3]
        out[has] = ((byte >> (7 - (bit & 7)).astype(np.uint8)) & 1).all(axis=1)
        return out

    def passing(self, needs: Needs) -> np.ndarray:
        """`passes` for every row group, kept for the last few hints (`needs_for` hands a query's
        many reads of a block one `Needs`): a needle query asks each block twice, which windows to
        read and then which row groups."""
        got = self._passing.get(needs)
        if got is None:
            got = self.passes(np.arange(len(self._k)), needs)
            if len(self._passing) >= PASSING_KEPT:
                self._passing.clear()
            self._passing[needs] = got
        return got

    def passes(self, candidates: np.ndarray, needs: Needs) -> np.ndarray:
        """For the row groups `candidates`, whether each may hold a line meeting every requirement."""
        out = np.ones(len(candidates), dtype=bool)
        for alts in needs.lowered if self.lowered else needs.exact:  # one step per needle of the query
            some = np.zeros(len(candidates), dtype=bool)
            for need in alts:  # one step per alternative
                some |= self.may_contain(candidates, need)
            out &= some
        return out

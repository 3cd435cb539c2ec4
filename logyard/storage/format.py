"""The on-disk format in one place: file names, magic numbers, versions and limits.

`docs/storage-format.md` draws the layout; every decoder checks against the limits here and
raises `CorruptDataError` naming the file, the offset and the field.
"""

from __future__ import annotations

import re

import pyarrow as pa

# ---- data directory layout -------------------------------------------------------------------
WAL_DIR = "wal"
BLOCKS_DIR = "blocks"
INDEX_FILE = "index.sqlite"
DELETES_FILE = "deletes.sqlite"  # Loki's delete requests (deletes.py); not rebuilt from blocks: kept apart
DELETES_DIR = "deletes"  # with an object store: one object per delete request (delete_bucket.py)
QUARANTINE_DIR = "quarantine"  # damaged blocks, WAL segments and index files, moved aside, never read
LOCK_FILE = "LOCK"  # flock()ed by the process that has the directory open
TMP_SUFFIX = ".tmp"

# ---- WAL --------------------------------------------------------------------------------------
# A segment starts with an 8-byte header: magic + format version.
WAL_MAGIC = b"LYWAL"
WAL_VERSION = 1
WAL_SEGMENT_HEADER = WAL_MAGIC + bytes([WAL_VERSION, 0, 0])  # 8 bytes: magic, version, 2 reserved
WAL_SEGMENT_SUFFIX = ".wal"
WAL_SEGMENT_DIGITS = 12
# Each record: u32 payload length, u32 CRC32 of the payload (little endian), then the payload.
WAL_RECORD_HEADER_SIZE = 8
WAL_RECORD_MAX_BYTES = 1 << 30  # a longer declared length is corruption, not a record
WAL_SEGMENT_MAX_BYTES = 256 << 20  # rotate to a new segment beyond this
# Payload: u8 codec version, u16 tenant length + tenant UTF-8, u32 labels length + per stream
# (u32 length + canonical JSON [[name, value], ...]), u32 count + u32[count] entries per stream,
# u32 rows + 5 x u64 buffer sizes, then the buffers: ts int64[rows], line offsets int32[rows+1],
# line UTF-8 bytes, meta offsets int32[rows+1], meta UTF-8 bytes (Arrow's layout, little endian).
WAL_RECORD_VERSION = 1
WAL_TENANT_MAX_BYTES = 1024
WAL_MAX_STREAMS_PER_RECORD = 1 << 24

# 32-bit offsets: a record is one push (far below 2 GiB), and building them from Python strings is
# about twice as fast as large_string; blocks widen `line` to large_string.
WAL_SCHEMA = pa.schema(
    [
        ("ts", pa.int64()),
        ("line", pa.string()),
        ("meta", pa.string()),
    ]
)

# ---- blocks -----------------------------------------------------------------------------------
BLOCK_SUFFIX = ".parquet"
# 2: compacted blocks add `tsat` (line_time.py); a version-1 reader would return their lines cut.
BLOCK_FORMAT_VERSION = 2  # readers take every version up to this one
BLOCK_META_KEY = b"logyard.block"  # Parquet key-value metadata: JSON {version, tenant, window_start}
# JSON [[stream id, [[name, value], ...]], ...] of every stream in the block: what an index rebuilt
# from the blocks alone names the stream ids with (blocks written before it was added lack it).
BLOCK_STREAMS_KEY = b"logyard.streams"
# JSON {ids, min_ts, max_ts, rows, bytes, first_row: [per stream], line_bytes, level}: the index's
# record of the block, so that an index rebuilt from an object store reads only footers (blocks
# written before it was added are described from their columns), and where each stream's rows start
# (blocks written before `first_row` hold their streams in id order).
BLOCK_RANGES_KEY = b"logyard.ranges"
# JSON [path, ...]: the blocks a compaction or rewrite replaced with this one. A rebuild from the
# blocks ignores (and deletes) those still present: the swap is complete once this block exists.
BLOCK_REPLACES_KEY = b"logyard.replaces"
# Pages are written with Parquet's CRC32 and readers verify it: without it a flipped byte in an
# uncompressed page is a silently changed line (or invalid UTF-8 that fails every query over it)
# instead of a block quarantined. Measured cost of verifying, full read of a block of 35 MB of lines,
# 300k rows: flushed (no compression) 29.6 -> 49.5 ms, compacted (zstd 12) 49.3 -> 61.5 ms;
# writing costs ~15 ms more per such block.
BLOCK_PAGE_CHECKSUMS = True

# Rows grouped by stream, streams in the order of their label sets (rows.label_ranks), each stream's
# rows sorted by (ts, line, meta), exact duplicates removed. `meta` is written as plain strings so
# Parquet builds a dictionary per row group (an Arrow dictionary would be repeated whole in every
# row group) and read back as a dictionary.
BLOCK_SCHEMA = pa.schema(
    [
        ("stream", pa.int64()),
        ("ts", pa.int64()),
        ("line", pa.large_string()),
        ("meta", pa.string()),
        ("len", pa.int32()),  # UTF-8 byte length of `line`: bytes_over_time reads no line bytes
    ]
)
BLOCK_COLUMNS = tuple(BLOCK_SCHEMA.names)
# Compacted blocks store `line` with each row's own timestamp cut out of its text; `tsat` says where
# and in which format (line_time.py), 0 = nothing cut. Readers put it back: `line` always reads whole.
LINE_TIME_COLUMN = "tsat"
COMPACT_SCHEMA = BLOCK_SCHEMA.append(pa.field(LINE_TIME_COLUMN, pa.int32()))
BLOCK_STATS_COLUMNS = ["stream", "ts"]  # row-group min/max kept for pruning (not for line text)

# Chosen by measurement on one hour of the benchmark workload (bench/storage.py, docs): the line
# column dominates. Whole block / line bytes and write CPU for 47 MB of lines: zstd 1 0.200 in 0.20 s
# (as fast as lz4, which gives 0.301), zstd 3 0.203 in 0.35 s, zstd 12 0.170 in 2.3 s.
# Flushes must keep up with ingest, so they write fast; compaction rewrites settled windows high.
# Flushed blocks are not compressed at all: zstd 1 was half the Parquet encoding cost of a flush
# (the largest CPU cost of the server process at ingest), and those blocks live until their window
# settles (an hour or so) and is compacted; uncompressed pages also read about 1.7x faster.
BLOCK_COMPRESSION = "zstd"
FLUSH_COMPRESSION = "none"
COMPACT_COMPRESSION_LEVEL = 12
BLOCK_ROW_GROUP_ROWS = 16_384  # the ratio is the same as 64k rows; smaller groups prune better
BLOCK_ROW_GROUP_BYTES = 1 << 20  # of line text: long-line streams get row groups of fewer rows
# Measured and not taken: compacted row groups of 256 KiB halve the needle query (a row group holding
# a needle is decoded whole: 56 -> 20-26 ms) but cost 0.159 instead of 0.149 x line bytes on disk and
# make the stream/ts-only scans of count and bytes queries 25-50 % slower (4x the row groups).
# Also measured and not taken (branch j-needle-slices): compacted lines as zstd frames of 256 KiB
# "line slices" with a trigram map each, so that a needle decompresses 10 slices instead of 10 row
# groups. Disk stayed 0.149 (frames carry no per-value lengths, which paid for the maps) and the
# line decode of the needle query fell from ~9 MB to ~3 MB, but the query did not get cheaper: the
# server spent 1.84-1.95 s of CPU on 42 needle queries either way (interleaved, loaded machine;
# what is left per row group is Parquet's reading of its other columns, ~60 us per column chunk,
# and per-block Python work); and compaction CPU rose 2.3x (zstd 12 on 256 KiB inputs takes a
# slower parameter set than on Parquet's 1 MiB pages).
# Also measured and not taken (commit fe85307 on branch j-pages): the line column of compacted blocks
# in pages of 2048 rows with a trigram map per page, a needle query decompressing and decoding only
# the pages that may hold it (page headers walked by hand, PLAIN values decoded in C). The 10 row
# groups of the needle query cost 8.9 instead of 11.0 ms CPU (of ~20 ms CPU for the query; what is
# left per row group is pyarrow's decoding of ts, tsat, meta and len, ~0.45 ms), but zstd decodes
# 2048-row pages (~350 KiB) ~20 % slower per byte than 1 MiB ones: every full scan's line decoding
# got 10-20 % dearer (150 -> 180 ms CPU for all row groups), disk rose 0.153 -> 0.161 x line bytes
# (pages +4.4 %, page maps 1.4 MB) and compaction CPU 12.9 -> 14.3-16.1 s.
# And again with the metadata too (commit 6b4f5e7 on branch j-pages2): pages of ~256 KiB of line
# text on slice edges, meta and tsat PLAIN and ts BYTE_STREAM_SPLIT so that the hit slices' pages
# of all four columns decode without pyarrow. The needle query fell to 14.5 ms in-process (16.7 on
# these blocks), but pyarrow decodes the line column ~15 % slower in such pages than in 1 MiB
# ones (zstd alone: 8 %), so b rose 31-34 -> 41-42 ms and f 242-262 -> 271-286 ms; disk/raw
# 0.153 -> 0.164. A page per 1,500-row batch in every column was worse (f +22 %).
# Where the needle query's time went after that (bench day, in-process, one thread, 40 runs): 16-25
# ms a query as the machine's speed varied, about half of it Parquet decoding its 10 row groups
# (each ~1.2 ms: line 0.58, meta 0.50 -- trace ids make it ~2,300 distinct values in 5,200 rows --,
# tsat 0.10, ts 0.08), the rest Python spread flat over ~40 functions, none above 0.9 ms a query. So
# 5 ms needs fewer bytes decoded per hit (the meta column too) and fewer steps per window.
# Since then the needle's windows are planned and read in one go (Reads.read_hits): 10-30 % off the
# query; per hit row group about 1.4 ms of Parquet decoding and 1 ms of Python remain (in-process,
# two threads: ~22 ms wall, ~33 ms CPU a query). Two threads decode the 10 row groups in 8-9 ms
# instead of 10-12: the two cores do not make 5 ms out of this layout.
# Also measured and not taken (branch j-linechunk): the line column of every read with a line filter
# decoded in C instead of by pyarrow, a row group's chunk in one call without the GIL (pread, Thrift
# page headers, CRC-32, zstd from libzstd.so.1, PLAIN values moved together in place, buffers from
# Arrow's pool). The decoding is ~15 % cheaper (f: 210 + 45 for ts/tsat against 296 ms CPU a query),
# but f's wall time and total CPU stayed the same (threads, interleaved: 235 vs 252 ms, 430 ms CPU
# both), b went 17.0 -> 13.7 ms and h 15.8 -> 18.1. A serial prototype had promised 35 %: that was
# pyarrow's page faults when run serially (126k a query), which the threaded reads do not take.
# zstd is most of what is left of the line column (~160 of f's ~430 ms CPU).
# Measured offline, not built: "row frames" (line and meta of consecutive rows together in small
# zstd frames, a trigram map each), over the bench day's 24 compacted blocks (one sitting): at
# 64 KiB exactly the 10 frames holding the needle pass their maps, and decompressing them costs
# ~0.8 ms CPU instead of ~14 ms for 10 row groups; decompressing every frame (a full scan) took
# 335-409 ms CPU against 368-534 for Parquet's line and meta columns. The price: line+meta 48.4 MB
# at zstd 12 (45.2 at 128 KiB, 52.7 at 32 KiB; the same bytes in 1 MiB chunks 41.2, Parquet 40.7),
# the frames' maps 5.9 MB against the row groups' 1.2, and 17.4 s of CPU to compress them against
# 13.7 s as 1 MiB chunks: disk/raw ~0.153 -> ~0.18. A zstd dictionary trained per block (the
# zstandard package, 64 KiB) does not win it back: 44.5 MB + 1.6 MB of dictionaries, and training
# took 113-136 s of CPU for the day. So frames trade ~+12 MB (+22 % of the day's 55 MB) for the needle.
# Measured offline for full scans (bench day, 2.07M rows): of the 1024-row slices of compacted row
# groups, 41 % hold no "error" (of 512-row slices 51 %, 2048-row 22 %, whole row groups 2 %), and the
# blocks' column chunks rewritten in 1024-row pages take 6.5 % more bytes (2048-row: 3.3 %). So f
# could skip ~40 % of its line decoding with a token map per 1024-row page -- but pyarrow (26.0)
# reads whole column chunks, so that needs a page-selecting reader of every column f reads (line,
# ts, tsat), and the 10-20 % slower zstd on small pages measured on j-pages eats part of it.
BLOCK_DATA_PAGE_BYTES = 1 << 20
BLOCK_DICTIONARY_COLUMNS = ["meta", LINE_TIME_COLUMN]  # tsat: 0.0013 x line bytes; PLAIN 0.0018
BLOCK_COLUMN_ENCODING = {
    "stream": "DELTA_BINARY_PACKED",
    "ts": "DELTA_BINARY_PACKED",  # 0.025 x line bytes; PLAIN 0.030, BYTE_STREAM_SPLIT 0.027
    "len": "BYTE_STREAM_SPLIT",  # 0.0044 x line bytes at zstd 12; DELTA_BINARY_PACKED 0.0059
}
# Measured and not taken: meta PLAIN is 0.0163 against 0.0178 as a dictionary, but readers want a
# dictionary (the engine parses each distinct value once) and rebuilding it costs every read; ts as
# per-stream deltas with BYTE_STREAM_SPLIT saves 0.0008 and would lose the row-group statistics.

# Decoded row groups kept for the next first-rows read (decoded_cache.py): a few dozen row groups of
# line text, so that a refreshing logs panel decodes only what is new.
DECODED_CACHE_BYTES = 64 << 20

# Trigram bitmaps of compacted blocks (see trigrams.py for the blob layout): over ASCII-lowered line
# bytes (serving case-insensitive needles too) under the first key; blocks written before it hold
# exact-byte maps under the second, still read. A logyard that knows only the second reads the
# lowered blocks without pruning by lines.
BLOCK_TRIGRAM_LOWER_KEY = b"logyard.trigrams.lower"
BLOCK_TRIGRAM_KEY = b"logyard.trigrams"

# Rows and line bytes per stream and minute of every block (block_counts.py: the blob's layout),
# so count queries over a bare selector whose window edges fall on whole minutes read no rows; and
# the structured-metadata names of the block's rows, so they read no `meta` when it cannot matter.
# Blocks written before these keys are counted from their rows. Cost on the benchmark day: see docs.
BLOCK_COUNTS_KEY = b"logyard.counts"
BLOCK_COUNTS_VERSION = 1
BLOCK_COUNT_GRAIN_NS = 60 * 10**9
BLOCK_COUNTS_ZSTD_LEVEL = 9
BLOCK_META_NAMES_KEY = b"logyard.meta_names"  # JSON list of names, sorted

# Compaction merges the blocks of one tenant and window when they are more than one, and the result
# stays below this size (rows); a window beyond it keeps several blocks.
COMPACT_MAX_ROWS = 1_000_000  # bounds compaction memory (~3 copies of the rows)

_SAFE_TENANT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def tenant_dir_name(tenant: str) -> str:
    """A directory name for a tenant: the name itself when safe, else `x-` + hex of its UTF-8."""
    if _SAFE_TENANT.match(tenant) and not tenant.startswith("x-"):
        return tenant
    return "x-" + tenant.encode().hex()


def block_name(time_ns: int, seq: int, node_id: str = "") -> str:
    """A block's file (and object) name: its write time, the writer's node id and a sequence number
    of the process. The node id keeps the names of writers sharing a bucket apart (two writers with
    one clock and one sequence would otherwise pick one name); blocks of a writer without one (a
    single process) keep the shorter name. Node ids are checked by the config (`node_id`): letters,
    digits, '_', '.', '-'."""
    node = f"-{node_id}" if node_id else ""
    return f"{time_ns:020d}{node}-{seq:06d}{BLOCK_SUFFIX}"


def segment_name(seq: int) -> str:
    return f"{seq:0{WAL_SEGMENT_DIGITS}d}{WAL_SEGMENT_SUFFIX}"


def parse_segment_name(name: str) -> int | None:
    stem = name[: -len(WAL_SEGMENT_SUFFIX)]
    if not name.endswith(WAL_SEGMENT_SUFFIX) or len(stem) != WAL_SEGMENT_DIGITS or not stem.isdigit():
        return None
    return int(stem)

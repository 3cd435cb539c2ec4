"""The decoded-but-unvalidated form of a pushed stream, shared by the JSON and protobuf decoders."""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from logyard.errors import BadRequestError
from logyard.ingest.labelparse import LabelParseError, parse_labels


@dataclass
class RawStream:
    """One stream as decoded from the wire, before validation."""

    pairs: list[tuple[str, str]]  # parsed labels, empty values dropped, possibly with duplicates
    ts: np.ndarray  # int64 ns
    lines: Sequence[str]  # a list, or json_fast's LineColumn over `column`
    sm: dict[int, dict[str, str]]  # entry index -> structured metadata, as sent
    index: int = 0  # position in the request, for error messages
    values: list | None = None  # the JSON entries, kept to explain a bad one
    sm_dropped: list[int] = field(default_factory=list)  # entries refused for their metadata

    @property
    def column(self) -> pa.Array | None:
        """The lines as an Arrow string array, when the decoder made one (a LineColumn)."""
        return getattr(self.lines, "array", None)


NO_TS = np.zeros(0, dtype=np.int64)

# Streams repeat from push to push: their parsed labels are cached (validation outcomes too,
# in validate.py). Bounded: the whole cache is dropped when full.
CACHE_LIMIT = 50_000
PARSED_LABELS: dict[tuple | str, list[tuple[str, str]]] = {}  # JSON label items or protobuf text


def remember(cache: dict, key: object, value: object) -> None:
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    cache[key] = value


def selector_labels(text: str) -> list[tuple[str, str]]:
    """A stream's labels given as selector text (protobuf, legacy JSON), parsed once per distinct text."""
    pairs = PARSED_LABELS.get(text)
    if pairs is None:
        try:
            pairs = parse_labels(text)
        except LabelParseError as e:
            raise BadRequestError(f"couldn't parse labels: {e}") from e
        remember(PARSED_LABELS, text, pairs)
    return pairs


def _go_replace(e: UnicodeDecodeError) -> tuple[str, int]:
    """Go's decoders read each byte of invalid UTF-8 as one U+FFFD (Python's "replace" may take a
    cut multi-byte sequence as one)."""
    return "\ufffd" * (e.end - e.start), e.end


codecs.register_error("logyard-go-replace", _go_replace)


def go_text(b: bytes) -> str:
    """Bytes as text the way Go sees a string: each byte of invalid UTF-8 becomes one U+FFFD."""
    return b.decode("utf-8", errors="logyard-go-replace")


def go_utf8(body: bytes | bytearray, step: int = 1 << 20) -> bytearray:
    """`body` with each byte of invalid UTF-8 replaced by U+FFFD's encoding, a slice at a time: never
    the whole body as a str (up to 4 bytes a character)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="logyard-go-replace")
    out = bytearray()
    view = memoryview(body)
    for start in range(0, len(view), step):
        out += decoder.decode(view[start : start + step]).encode()
    out += decoder.decode(b"", final=True).encode()
    return out

"""An entry's labels sorted into Loki's three categories, for the `categorize-labels` encoding.

Grafana asks for it on every data query (`X-Loki-Response-Encoding-Flags: categorize-labels`).
Loki then answers a log query with each stream holding only its stream labels and each entry
carrying its structured metadata and parsed labels apart (pkg/logql/log LabelsBuilder.LabelsResult,
iter.NewCategorizeLabelsIterator):

* a final label is *parsed* when a parser or formatter set it (it sits in the builder's parsed
  category), *structured metadata* when it came with the entry, else a *stream* label;
  `__error__` and `__error_details__` are parsed labels.
* a stream label that a stage rewrote (`label_format app="x"`) is parsed, so it leaves the stream;
  a dropped label is in no category.
* entries are grouped into streams by their stream labels alone: entries of one stream with
  different parsed labels stay one stream.

Without the flag Loki groups entries by all their labels, which is what `EntryLabels` is as a dict.
"""

from __future__ import annotations

from collections.abc import Mapping, Set as AbstractSet

from logyard.logql.stages.builder import ERROR_DETAILS_LABEL, ERROR_LABEL, METADATA, PARSED, LabelsBuilder

CATEGORIZE_LABELS = "categorize-labels"   # Loki's httpreq.FlagCategorizeLabels


class EntryLabels(dict):
    """An entry's final labels (the dict itself, as Loki returns them uncategorized), knowing which
    of them are structured metadata (`metadata`) and which parsed (`parsed`); the rest are stream labels."""

    __slots__ = ("metadata", "parsed")

    def __init__(self, labels: Mapping[str, str], metadata: AbstractSet[str], parsed: AbstractSet[str]) -> None:
        super().__init__(labels)
        self.metadata = metadata
        self.parsed = parsed

    def stream_key(self) -> tuple:
        """The stream labels, as sorted (name, value) pairs: what categorized entries group by."""
        if not self.metadata and not self.parsed:
            return tuple(sorted(self.items()))
        apart = self.metadata | self.parsed
        return tuple(sorted((k, v) for k, v in self.items() if k not in apart))

    def extra(self) -> dict:
        """The third element of a categorized entry: `structuredMetadata` and `parsed`, each only
        when it has labels, names sorted (Loki's encodeStream); `{}` when neither has any."""
        out = {}
        if self.metadata:
            out["structuredMetadata"] = {k: self[k] for k in sorted(self.metadata)}
        if self.parsed:
            out["parsed"] = {k: self[k] for k in sorted(self.parsed)}
        return out


def categorized(lbs: LabelsBuilder) -> EntryLabels:
    """The final labels of a pipeline's builder, by category (Loki's LabelsBuilder.LabelsResult)."""
    labels = lbs.labels()
    names = labels.keys()
    parsed = names & lbs.add[PARSED].keys()
    if lbs.err or lbs.err_details:
        parsed |= names & _ERROR_LABELS
    # A name is in one category at a time (setting a parsed label removes its metadata one).
    return EntryLabels(labels, names & lbs.add[METADATA].keys(), parsed)


def keep_categories(ts: int, line: str, lbs: LabelsBuilder) -> EntryLabels:
    """`CompiledPipeline.per_row`'s `extra`: each surviving row's labels with their categories."""
    return categorized(lbs)


def without_stages(stream: Mapping[str, str], metadata: Mapping[str, str]) -> EntryLabels:
    """The labels of an entry no stage touched: its stream's and its structured metadata, through
    Loki's rules for metadata (a name taken by a stream label gets `_extracted`; `__error__` is
    the error). One call per distinct (stream, metadata), not per row."""
    if not plain_metadata(stream, metadata.items()):
        return categorized(LabelsBuilder(stream, metadata))
    return EntryLabels({**stream, **metadata}, frozenset(metadata), frozenset())


def plain_metadata(stream: Mapping[str, str], metadata) -> bool:
    """True when no structured metadata pair needs Loki's rules (a name taken by a stream label,
    an error label): then an entry's labels are simply its stream's and its metadata."""
    for name, _ in metadata:
        if name in stream or name in _ERROR_LABELS:
            return False
    return True


_ERROR_LABELS = frozenset((ERROR_LABEL, ERROR_DETAILS_LABEL))

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

from collections.abc import Mapping

from logyard.logql.stages.builder import ERROR_DETAILS_LABEL, ERROR_LABEL, METADATA, PARSED, LabelsBuilder

CATEGORIZE_LABELS = "categorize-labels"   # Loki's httpreq.FlagCategorizeLabels


class EntryLabels(dict):
    """An entry's final labels (the dict itself, as Loki returns them uncategorized), knowing which
    of them are structured metadata (`metadata`) and which parsed (`parsed`); the rest are stream labels."""

    __slots__ = ("metadata", "parsed")

    def __init__(self, labels: Mapping[str, str], metadata: frozenset[str], parsed: frozenset[str]) -> None:
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
    metadata, parsed = lbs.add[METADATA], lbs.add[PARSED]
    parsed_names = frozenset(n for n in labels if n in parsed or n == ERROR_LABEL or n == ERROR_DETAILS_LABEL)
    metadata_names = frozenset(n for n in labels if n in metadata and n not in parsed_names)
    return EntryLabels(labels, metadata_names, parsed_names)


def keep_categories(ts: int, line: str, lbs: LabelsBuilder) -> EntryLabels:
    """`CompiledPipeline.per_row`'s `extra`: each surviving row's labels with their categories."""
    return categorized(lbs)


def without_stages(stream: Mapping[str, str], metadata: Mapping[str, str]) -> EntryLabels:
    """The labels of an entry no stage touched: its stream's and its structured metadata, through
    Loki's rules for metadata (a name taken by a stream label gets `_extracted`; `__error__` is
    the error). One call per distinct (stream, metadata), not per row."""
    return categorized(LabelsBuilder(stream, metadata))

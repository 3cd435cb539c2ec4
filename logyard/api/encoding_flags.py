"""Loki's response encoding flags: what a client asks of the answer's encoding in a header.

Grafana sends `X-Loki-Response-Encoding-Flags: categorize-labels` on every data query. Loki
(pkg/util/httpreq) splits the header's first value on "," without trimming, keeps each flag once,
and echoes them all in a log answer's `data.encodingFlags`, unknown ones too; only
`categorize-labels` changes the encoding (`logql.entry_labels`). The tail endpoint reads them too.
"""

from __future__ import annotations

from collections.abc import Mapping

from logyard.logql.entry_labels import CATEGORIZE_LABELS

HEADER = "X-Loki-Response-Encoding-Flags"


def encoding_flags(headers: Mapping[str, str]) -> list[str]:
    """The flags of a request, in the order given, each once; none without the header."""
    raw = headers.get(HEADER) or ""
    return list(dict.fromkeys(raw.split(","))) if raw else []


def categorize(flags: list[str]) -> bool:
    return CATEGORIZE_LABELS in flags


def with_encoding_flags(data: dict, flags: list[str]) -> dict:
    """A log answer's `data` with `encodingFlags` where Loki writes it (after `resultType`). Metric
    answers never get it: Loki's query frontend encodes them without (LokiPromResponse)."""
    if not flags or data.get("resultType") != "streams":
        return data
    return {"resultType": data["resultType"], "encodingFlags": flags,
            **{k: v for k, v in data.items() if k != "resultType"}}

"""Loki's sample-age limits: entries too old (`reject_old_samples`) or too far in the future.

Loki drops just those entries, stores the rest of the push, and answers 400 naming the first
offending stream; the check is one vectorised comparison over the push, then per stream if needed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa

from logyard.errors import BadRequestError
from logyard.ingest.model import PushStream


def _rfc3339(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _filter(column: pa.Array | None, keep: np.ndarray) -> pa.Array | None:
    return None if column is None else column.filter(pa.array(keep))


def filter_sample_age(streams: list[PushStream], now_ns: int, max_age_ns: int | None, grace_ns: int
                      ) -> tuple[list[PushStream], dict[str, int], BadRequestError | None]:
    """(kept streams, discarded counts per Loki reason, the error to answer with or None)."""
    oldest = now_ns - max_age_ns if max_age_ns else None
    newest = now_ns + grace_ns
    if streams:
        # Usually nothing is out of range: one test over the whole push instead of one per stream
        # (a push holds ~100 streams; per-stream NumPy calls cost more than the comparisons).
        every = np.concatenate([s.timestamps for s in streams])
        if not (every > newest).any() and (oldest is None or not (every < oldest).any()):
            return list(streams), {}, None
    kept: list[PushStream] = []
    discarded: dict[str, int] = {}
    messages: list[str] = []
    for s in streams:
        ts = s.timestamps
        too_new = ts > newest
        too_old = ts < oldest if oldest is not None else np.zeros(len(ts), dtype=bool)
        bad = too_old | too_new
        if not bad.any():
            kept.append(s)
            continue
        if too_old.any():
            discarded["greater_than_max_sample_age"] = discarded.get("greater_than_max_sample_age", 0) + int(too_old.sum())
            messages.append(f"entry for stream '{s.labels}' has timestamp too old: "
                            f"{_rfc3339(int(ts[too_old][0]))}, oldest acceptable timestamp is: {_rfc3339(oldest)}")
        if too_new.any():
            discarded["too_far_in_future"] = discarded.get("too_far_in_future", 0) + int(too_new.sum())
            messages.append(f"entry for stream '{s.labels}' has timestamp too new: {_rfc3339(int(ts[too_new][0]))}")
        keep = ~bad
        if keep.any():
            idx = np.flatnonzero(keep).tolist()
            kept.append(replace(s, timestamps=ts[keep], lines=[s.lines[i] for i in idx],
                                metadata=[s.metadata[i] for i in idx],
                                arrow_lines=_filter(s.arrow_lines, keep), arrow_meta=_filter(s.arrow_meta, keep)))
    error = None
    if messages:
        total = sum(discarded.values())
        error = BadRequestError("\n".join(messages) + f"\ntotal ignored: {total} out of {sum(len(s) for s in streams)}")
    return kept, discarded, error

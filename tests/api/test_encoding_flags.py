"""Parsing `X-Loki-Response-Encoding-Flags` as Loki's httpreq.ParseEncodingFlags does."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from logyard.api.encoding_flags import categorize, encoding_flags, with_encoding_flags


@pytest.mark.parametrize("raw,expected", [
    (None, []),
    ("", []),
    ("categorize-labels", ["categorize-labels"]),
    ("categorize-labels,categorize-labels", ["categorize-labels"]),
    ("a, categorize-labels", ["a", " categorize-labels"]),  # no trimming: the second is unknown
])
def test_flags_are_split_on_commas_and_kept_once(raw, expected):
    headers = Headers({} if raw is None else {"x-loki-response-encoding-flags": raw})
    assert encoding_flags(headers) == expected


def test_only_the_exact_flag_categorizes():
    assert categorize(["categorize-labels"]) and not categorize([" categorize-labels"])


def test_encoding_flags_follow_the_result_type_of_log_answers_only():
    log = {"resultType": "streams", "result": []}
    assert list(with_encoding_flags(log, ["f"])) == ["resultType", "encodingFlags", "result"]
    matrix = {"resultType": "matrix", "result": []}
    assert with_encoding_flags(matrix, ["f"]) is matrix

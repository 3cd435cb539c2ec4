"""`logyard.logql.rows`: grouping rows by (stream, metadata) without hashing every row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from logyard.logql.rows import Rows, dense_codes, group_codes, group_codes_by_meta_names, meta_codes


def _rows(stream, meta) -> Rows:
    n = len(stream)
    return Rows(np.arange(n, dtype=np.int64), np.asarray(stream, dtype=np.int64),
                pa.array(["x"] * n, pa.large_string()), meta)


@pytest.mark.parametrize("values", [
    [], [0], [5, 5, 5], [3, 1, 2, 1, 3], [7, 1 << 40, 7, 2],   # the last one is too wide for a table
    list(np.random.default_rng(1).integers(0, 500, 1000)),
])
def test_dense_codes_equal_numpy_unique(values):
    values = np.asarray(values, dtype=np.int64)
    uniq, codes = dense_codes(values)
    want_u, want_c = np.unique(values, return_inverse=True)
    assert uniq.tolist() == want_u.tolist()
    assert codes.tolist() == want_c.reshape(-1).tolist()


def test_meta_codes_use_the_dictionary_as_stored():
    col = pa.chunked_array([pa.array(["b", "a"]).dictionary_encode(), pa.array(["a", "c"]).dictionary_encode()])
    codes, dictionary = meta_codes(col)
    assert [dictionary[c].as_py() for c in codes.tolist()] == ["b", "a", "a", "c"]


def test_meta_codes_encode_plain_strings():
    codes, dictionary = meta_codes(pa.array(["x", "y", "x"]))
    assert [dictionary[c].as_py() for c in codes.tolist()] == ["x", "y", "x"]


@pytest.mark.parametrize("dictionary_encoded", [False, True])
def test_group_codes_group_by_stream_and_metadata_text(dictionary_encoded):
    meta = pa.array(['{"a":"1"}', "", '{"a":"1"}', '{"a":"2"}', ""])
    if dictionary_encoded:
        meta = meta.dictionary_encode()
    codes, keys = group_codes(_rows([4, 4, 9, 4, 4], meta))
    assert [keys[c] for c in codes.tolist()] == [
        (4, '{"a":"1"}'), (4, ""), (9, '{"a":"1"}'), (4, '{"a":"2"}'), (4, "")]
    assert len(set(keys)) == len(keys) == 4


def test_group_codes_tolerate_a_dictionary_holding_a_value_twice():
    meta = pa.DictionaryArray.from_arrays(pa.array([0, 1, 2], pa.int32()), pa.array(["m", "m", "n"]))
    codes, keys = group_codes(_rows([1, 1, 1], meta))
    assert [keys[c] for c in codes.tolist()] == [(1, "m"), (1, "m"), (1, "n")]


def test_grouping_by_names_no_metadata_carries_groups_by_stream_alone():
    meta = pa.array(['{"trace":"t1"}', '{"trace":"t2"}', '{"trace":"t1"}']).dictionary_encode()
    codes, keys = group_codes_by_meta_names(_rows([2, 2, 3], meta), ["service"])
    assert [keys[c] for c in codes.tolist()] == [(2, ()), (2, ()), (3, ())]


def test_grouping_by_names_keeps_only_the_named_metadata():
    meta = pa.array(['{"level":"info","trace":"t1"}', '{"level":"info","trace":"t2"}', '{"trace":"t3"}',
                     '{"level":"warn"}']).dictionary_encode()
    codes, keys = group_codes_by_meta_names(_rows([2, 2, 2, 5], meta), ["level"])
    assert [keys[c] for c in codes.tolist()] == [
        (2, (("level", "info"),)), (2, (("level", "info"),)), (2, ()), (5, (("level", "warn"),))]


def test_grouping_by_an_extracted_name_keeps_the_metadata_it_comes_from():
    """`by (app_extracted)` must see metadata `app`: named like a stream label, it becomes
    `app_extracted` once the labels are made (Loki's LabelsBuilder.Add)."""
    meta = pa.array(['{"app":"b","trace":"t1"}', '{"trace":"t2"}']).dictionary_encode()
    codes, keys = group_codes_by_meta_names(_rows([2, 2], meta), ["app_extracted"])
    assert [keys[c] for c in codes.tolist()] == [(2, (("app", "b"),)), (2, ())]


def test_grouping_by_no_names_ignores_metadata():
    meta = pa.array(['{"level":"info"}', '{"level":"warn"}'])
    codes, keys = group_codes_by_meta_names(_rows([1, 1], meta), [])
    assert codes.tolist() == [0, 0] and keys == [(1, ())]


def test_rows_from_table_keep_metadata_chunks_dictionary_encoded():
    meta = pa.chunked_array([pa.array(["a"]).dictionary_encode(), pa.array(["b", "a"]).dictionary_encode()])
    table = pa.table({"stream": pa.array([1, 1, 2]), "ts": pa.array([1, 2, 3]), "meta": meta})
    rows = Rows.from_table(table)
    assert pa.types.is_dictionary(rows.meta.type)
    assert rows.meta.to_pylist() == ["a", "b", "a"]


def test_metadata_chunks_with_different_dictionaries_group_by_their_text():
    meta = pa.chunked_array([pa.array(['{"level":"info"}', '{"t":"1"}']).dictionary_encode(),
                             pa.array(['{"t":"2"}', '{"level":"info"}']).dictionary_encode()])
    table = pa.table({"stream": pa.array([1, 1, 1, 1]), "ts": pa.array([1, 2, 3, 4]), "meta": meta})
    rows = Rows.from_table(table)
    assert rows.meta.to_pylist() == ['{"level":"info"}', '{"t":"1"}', '{"t":"2"}', '{"level":"info"}']
    codes, keys = group_codes_by_meta_names(rows, ["level"])
    assert [keys[c] for c in codes.tolist()] == [(1, (("level", "info"),)), (1, ()), (1, ()), (1, (("level", "info"),))]
    codes, keys = group_codes(rows)
    assert [keys[c][1] for c in codes.tolist()] == rows.meta.to_pylist()


def test_rows_taken_from_chunked_metadata_keep_their_text():
    meta = pa.chunked_array([pa.array(['{"t":"1"}']).dictionary_encode(), pa.array(["", '{"t":"2"}']).dictionary_encode()])
    rows = Rows.from_table(pa.table({"stream": pa.array([1, 2, 3]), "ts": pa.array([1, 2, 3]), "meta": meta}))
    assert rows.take(np.array([2, 0])).meta.to_pylist() == ['{"t":"2"}', '{"t":"1"}']


def test_grouping_by_a_name_no_chunk_mentions_groups_by_stream():
    meta = pa.chunked_array([pa.array(['{"t":"1"}']).dictionary_encode(), pa.array(['{"t":"2"}']).dictionary_encode()])
    rows = Rows.from_table(pa.table({"stream": pa.array([4, 3]), "ts": pa.array([1, 2]), "meta": meta}))
    codes, keys = group_codes_by_meta_names(rows, ["level"])
    assert [keys[c] for c in codes.tolist()] == [(4, ()), (3, ())]


@pytest.mark.parametrize("seed", range(6))
def test_grouping_by_names_cuts_values_as_parsing_them_would(seed):
    """The values of grouped names are cut from the metadata text without parsing each entry; on
    random metadata (escapes, non-ASCII, names at every position, names that are prefixes of
    others, values that are no strings) the groups are those of parsing every entry."""
    import orjson

    from logyard.logql.rows import meta_pairs

    rng = np.random.default_rng(seed)
    values = ["info", "warn", "", "a\"b", "c\\d", "é", "x:y,z", "\u2028", "line\nbreak"]
    names = ["level", "level_x", "a", "trace_id", "zz", "lével"]
    texts = []
    for _ in range(400):
        obj = {}
        for n in names:
            if rng.random() < 0.5:
                obj[n] = values[int(rng.integers(len(values)))] if rng.random() < 0.9 else f"t{rng.integers(50)}"
        texts.append(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode() if obj else "")
    texts[7] = '{"level":1}'  # a number: parsed, not cut
    stream = rng.integers(0, 3, len(texts))
    for grouped in (["level"], ["level", "trace_id"], ["lével", "zz"], ["a", "level_x"]):
        codes, keys = group_codes_by_meta_names(_rows(stream, pa.array(texts).dictionary_encode()), grouped)
        want = [(int(s), tuple(p for p in meta_pairs(t) if p[0] in grouped)) for s, t in zip(stream, texts)]
        assert [keys[c] for c in codes.tolist()] == want

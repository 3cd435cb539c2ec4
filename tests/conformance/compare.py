"""Compare logyard's answer with a real Loki's, by the rules of tests/conformance/README.md."""

from __future__ import annotations

import math
from collections import Counter

import orjson


def _key(labels: dict) -> tuple:
    return tuple(sorted(labels.items()))


def _float_eq(a: str, b: str) -> bool:
    fa, fb = float(a), float(b)
    if math.isnan(fa) or math.isnan(fb):
        return math.isnan(fa) and math.isnan(fb)
    if math.isinf(fa) or math.isinf(fb):
        return fa == fb
    return abs(fa - fb) <= 1e-9 + 1e-9 * max(abs(fa), abs(fb))


def _point_eq(p: list, q: list, t_tol: float = 1e-6) -> bool:
    return abs(float(p[0]) - float(q[0])) <= t_tol and _float_eq(p[1], q[1])


def _strip_stats(body):
    if isinstance(body, dict) and isinstance(body.get("data"), dict):
        body = dict(body)
        body["data"] = {k: v for k, v in body["data"].items() if k != "stats"}
    return body


def _streams_values_eq(got: list, want: list) -> bool:
    """Same order, except that entries sharing a timestamp compare as a multiset."""
    if len(got) != len(want):
        return False

    def groups(values):
        out, cur, cur_ts = [], [], None
        for ts, line, *rest in values:
            if ts != cur_ts and cur:
                out.append((cur_ts, Counter(cur)))
                cur = []
            cur_ts = ts
            cur.append(line)
        if cur:
            out.append((cur_ts, Counter(cur)))
        return out

    return groups(got) == groups(want)


def compare(kind: str, got_status: int, got_type: str, got_body: bytes, want: dict, query: str = "") -> str | None:
    """None when equal; otherwise a short description of the first difference."""
    if got_status != want["status"]:
        return f"status {got_status} != {want['status']}: {got_body[:300]!r}"
    want_json = want.get("body_format", "json") == "json"
    got_json = (got_type or "").startswith("application/json")
    if want_json != got_json:
        return f"content type {got_type!r} but Loki answered {want.get('content_type')!r}"
    if kind == "error":
        text = got_body.decode(errors="replace").rstrip("\n")
        exp = want["body"].rstrip("\n") if isinstance(want["body"], str) else orjson.dumps(want["body"]).decode()
        if exp.startswith("pipeline error:"):
            text, exp = text.split(" for series:")[0], exp.split(" for series:")[0]
        return None if text == exp else f"error text differs:\n  got:  {text!r}\n  want: {exp!r}"
    got = _strip_stats(orjson.loads(got_body))
    exp = _strip_stats(want["body"])
    if kind == "vector" and is_sorted_query(query):
        return _cmp_vector(got, exp, ordered=True)
    return COMPARERS[kind](got, exp)


def _cmp_streams(got, exp):
    if got.get("status") != exp.get("status"):
        return f"status field {got.get('status')!r}"
    gd, ed = got["data"], exp["data"]
    if gd.get("resultType") != ed.get("resultType"):
        return f"resultType {gd.get('resultType')!r} != {ed.get('resultType')!r}"
    gs = {_key(s["stream"]): s["values"] for s in gd["result"]}
    es = {_key(s["stream"]): s["values"] for s in ed["result"]}
    if len(gs) != len(gd["result"]):
        return "duplicate stream label sets in the answer"
    missing = set(es) - set(gs)
    extra = set(gs) - set(es)
    if missing or extra:
        return (f"streams differ: {len(missing)} missing (e.g. {sorted(missing)[:1]}), "
                f"{len(extra)} extra (e.g. {sorted(extra)[:1]})")
    for k, values in es.items():
        if not _streams_values_eq(gs[k], values):
            g = gs[k]
            return (f"values of {dict(k)} differ: got {len(g)} entries, want {len(values)}; "
                    f"first got {g[:1]!r:.200} want {values[:1]!r:.200}")
    return None


def _cmp_series_set(gres, eres, one_value: bool, ordered: bool):
    if len(gres) != len(eres):
        gk = {_key(s["metric"]) for s in gres}
        ek = {_key(s["metric"]) for s in eres}
        return (f"{len(gres)} series != {len(eres)}; missing e.g. {sorted(ek - gk)[:1]}, "
                f"extra e.g. {sorted(gk - ek)[:1]}")
    if ordered:
        pairs = list(zip(gres, eres))
        for g, e in pairs:
            if _key(g["metric"]) != _key(e["metric"]):
                return f"order differs: got {g['metric']} where Loki has {e['metric']}"
    else:
        gmap = {_key(s["metric"]): s for s in gres}
        if len(gmap) != len(gres):
            return "duplicate series in the answer"
        pairs = []
        for e in eres:
            g = gmap.get(_key(e["metric"]))
            if g is None:
                return f"missing series {e['metric']}"
            pairs.append((g, e))
    for g, e in pairs:
        if one_value:
            if not _point_eq(g["value"], e["value"]):
                return f"value of {e['metric']}: got {g['value']} want {e['value']}"
        else:
            gv, ev = g["values"], e["values"]
            if len(gv) != len(ev):
                return f"{e['metric']}: {len(gv)} points != {len(ev)}; got {gv[:3]} want {ev[:3]}"
            for p, q in zip(gv, ev):
                if not _point_eq(p, q):
                    return f"{e['metric']}: point {p} != {q}"
    return None


def _cmp_matrix(got, exp):
    if got["data"].get("resultType") != exp["data"].get("resultType"):
        return f"resultType {got['data'].get('resultType')!r} != {exp['data'].get('resultType')!r}"
    return _cmp_series_set(got["data"]["result"], exp["data"]["result"], False, False)


def _cmp_vector(got, exp, ordered: bool = False):
    if got["data"].get("resultType") != exp["data"].get("resultType"):
        return f"resultType {got['data'].get('resultType')!r} != {exp['data'].get('resultType')!r}"
    return _cmp_series_set(got["data"]["result"], exp["data"]["result"], True, ordered)


def _cmp_scalar(got, exp):
    gd, ed = got["data"], exp["data"]
    if gd.get("resultType") != "scalar":
        return f"resultType {gd.get('resultType')!r}"
    return None if _point_eq(gd["result"], ed["result"], 1e-3) else f"{gd['result']} != {ed['result']}"


def _cmp_list(got, exp):
    if got.get("status") != exp.get("status"):
        return "status field differs"
    if ("data" in got) != ("data" in exp):
        return f"data key presence differs: got {got.get('data')!r:.200}"
    return None if got.get("data") == exp.get("data") else f"got {got.get('data')} want {exp.get('data')}"


def _cmp_series(got, exp):
    g = sorted(_key(x) for x in got.get("data") or [])
    e = sorted(_key(x) for x in exp.get("data") or [])
    return None if g == e else f"series differ: got {len(g)}, want {len(e)}; got {g[:2]} want {e[:2]}"


def _cmp_index_stats(got, exp):
    keys = ("streams", "chunks", "bytes", "entries")
    if set(got) != set(keys):
        return f"keys {sorted(got)}"
    bad = [k for k in keys if not isinstance(got[k], int) or got[k] < 0]
    return f"not non-negative integers: {bad}" if bad else None


def _cmp_volume(got, exp):
    gd, ed = got["data"], exp["data"]
    if gd.get("resultType") != ed.get("resultType"):
        return f"resultType {gd.get('resultType')!r} != {ed.get('resultType')!r}"
    gm = {_key(s["metric"]): s for s in gd["result"]}
    em = {_key(s["metric"]): s for s in ed["result"]}
    if set(gm) != set(em):
        return f"label sets differ: missing {sorted(set(em) - set(gm))[:2]} extra {sorted(set(gm) - set(em))[:2]}"

    def loose(a, b):
        return abs(float(a) - float(b)) <= 0.15 * max(abs(float(b)), 1.0)

    for k, e in em.items():
        g = gm[k]
        if "value" in e:
            if not loose(g["value"][1], e["value"][1]):
                return f"{dict(k)}: {g['value']} vs {e['value']}"
        else:
            if len(g["values"]) != len(e["values"]):
                return f"{dict(k)}: {len(g['values'])} points != {len(e['values'])}"
            for p, q in zip(g["values"], e["values"]):
                if abs(p[0] - q[0]) > 1e-6 or not loose(p[1], q[1]):
                    return f"{dict(k)}: point {p} vs {q}"
    return None


COMPARERS = {
    "streams": _cmp_streams,
    "matrix": _cmp_matrix,
    "vector": _cmp_vector,
    "scalar": _cmp_scalar,
    "label_names": _cmp_list,
    "label_values": _cmp_list,
    "series": _cmp_series,
    "index_stats": _cmp_index_stats,
    "volume": _cmp_volume,
}


def is_sorted_query(query: str) -> bool:
    q = query.strip()
    return q.startswith("sort(") or q.startswith("sort_desc(")

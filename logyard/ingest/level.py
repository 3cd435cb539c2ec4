"""`detected_level` from log lines, as Loki's distributor finds it, for a whole column at once.

Loki (pkg/distributor/field_detection.go) looks at each line in turn:
  1. a line that starts with `{` and ends with `}` (after spaces) is JSON: the first string value, in
     document order and at most 2 objects deep, whose key is one of the level fields;
  2. else a line holding `=` is logfmt: the value of the level field that comes first in the field
     list (keys compared case-insensitively), scanning key/value pairs until the first syntax error;
  3. a value that is a known level name (case-insensitively) gives the level; any other value, or
     none, falls back to a keyword search: the earliest of trace/debug/fatal/critical/error/err/
     warning/warn/info standing between word boundaries in the lower-cased line, else `unknown`.
Here each step is an RE2 pass over an Arrow column. Yes/no tests run on RE2's DFA and are cheap;
submatch extraction costs several times more, so it only runs on the lines a test has selected,
with a short unanchored pattern (anchored token walks are kept for the few lines that need them).
Only JSON lines whose level key sits after a nested object or array (or that are not valid JSON)
are looked at one by one in Python. Stream labels and structured metadata take precedence; the
caller (`decode.py`) applies them.
"""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

# Codes index LEVELS; `detected_level` values exactly as Loki writes them.
LEVELS = ("trace", "debug", "info", "warn", "error", "critical", "fatal", "unknown")
UNKNOWN = LEVELS.index("unknown")

# Loki's default `log_level_fields` (pkg/validation/limits.go DefaultAllowedLevelFields), in order.
LEVEL_FIELDS = (
    "level", "LEVEL", "Level", "log.level", "severity", "SEVERITY", "Severity", "SeverityText",
    "lvl", "LVL", "Lvl", "severity_text", "Severity_Text", "SEVERITY_TEXT",
)  # fmt: skip

# Values Loki maps to a level (bytes.EqualFold in normalizeLogLevel / extractLogLevelFromLogLine).
VALUE_LEVELS = {
    "trace": "trace", "trc": "trace", "debug": "debug", "dbg": "debug",
    "info": "info", "inf": "info", "information": "info",
    "warn": "warn", "wrn": "warn", "warning": "warn", "error": "error", "err": "error",
    "critical": "critical", "fatal": "fatal",
}  # fmt: skip
_VALUE_KEYS = pa.array(list(VALUE_LEVELS))
_VALUE_CODES = np.array([LEVELS.index(v) for v in VALUE_LEVELS.values()], dtype=np.int8)

_KEYWORD_CODES = {
    "trace": 0, "debug": 1, "info": 2, "warn": 3, "warning": 3, "error": 4, "err": 4,
    "critical": 5, "fatal": 6,
}  # fmt: skip
_KW_KEYS = pa.array(list(_KEYWORD_CODES))
_KW_CODES = np.array(list(_KEYWORD_CODES.values()), dtype=np.int8)

# unicode.IsSpace, which Loki's isJSON applies to the leading characters.
_GO_SPACE = r"\t\n\v\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}"
# The trailing side is scanned byte by byte; for valid UTF-8 only ASCII spaces can precede the `}`.
# Indexed by byte + 1 (so that -1, an empty line, is index 0): the ASCII spaces.
_SPACE_LUT = np.zeros(257, dtype=bool)
_SPACE_LUT[[10, 11, 12, 13, 14, 33]] = True
_LEAD_SPACE_BRACE = rf"^[{_GO_SPACE}]*\{{"
# jsonparser itself skips only these before the opening brace; other spaces make it fail at once.
_JSON_OPEN = r"^[ \t\n\r]*\{"

_KEYS_ALT = "|".join(k.replace(".", r"\.") for k in LEVEL_FIELDS)
_JSON_STR = r'"(?P<v>(?:[^"\\]|\\.)*)"'
# A level key before any nested object or array: the DFS-first match is then simply the first one.
_JSON_FLAT = rf'(?s)^[ \t\n\r]*\{{[^{{}}\[\]]*?"(?:{_KEYS_ALT})"[ \t\n\r]*:[ \t\n\r]*{_JSON_STR}'
_JSON_ANY = rf'"(?:{_KEYS_ALT})"[ \t\n\r]*:[ \t\n\r]*"'
_JSON_FIRST = rf'"(?:{_KEYS_ALT})"[ \t\n\r]*:[ \t\n\r]*{_JSON_STR}'
_JSON_KEYS = frozenset(LEVEL_FIELDS)

# logfmt, as Loki's logfmt.Decoder scans it: a token is a key of bytes > ' ' other than `=` and `"`,
# optionally `=` and a value, unquoted (same bytes; must end at a space or the end) or quoted (may be
# followed directly by the next key). A syntax error stops the scan, so the level key counts only if
# every token before it is well formed: the regex is anchored and walks those tokens.
_WS = r"[\x00-\x20]"
_KCH = r'[^\x00-\x20="]'
_QV = r'"(?:[^"\\]|\\.)*"'
_TOKEN = rf"(?:{_KCH}+(?:=(?:{_KCH}+)?)?(?:{_WS}|$)|{_KCH}+={_QV})"


def _logfmt_pattern(hint: str) -> str:
    h = hint.replace(".", r"[.]")
    return rf"(?s)^(?:{_WS}*{_TOKEN})*?{_WS}*(?i:{h})(?:=(?:(?P<u>{_KCH}+)(?:{_WS}|$)|(?P<q>{_QV}))|=?(?:{_WS}|$))"


# Case-insensitive keys make the 14 fields 6 distinct hints, in Loki's priority order.
_LOGFMT_HINTS = tuple(dict.fromkeys(f.lower() for f in LEVEL_FIELDS))
_LOGFMT_PATTERNS = tuple(_logfmt_pattern(h) for h in _LOGFMT_HINTS)
# Rank 0 (`level`) reached through unquoted tokens; then its value by plain search.
_LOGFMT_FAST = (
    rf"^(?:{_WS}*{_KCH}+(?:={_KCH}*)?(?:{_WS}|$))*?{_WS}*(?i:level)"
    rf"(?:=(?:{_KCH}+(?:{_WS}|$)|{_QV})|=?(?:{_WS}|$))"
)
_LOGFMT_PLAIN = rf'(?:^|[\x00-\x20"])(?i:level)(?:=(?:(?P<q>{_QV})|(?P<u>{_KCH}*))|{_WS}|$)'
# Any level key reachable by the token walk (fails fast on lines that are not logfmt).
_LOGFMT_ANY = _logfmt_pattern("|".join(_LOGFMT_HINTS))

_KEYWORDS = (
    r"(?i)(?:^|[ \t\n\[({\"'=|])(?P<kw>trace|debug|fatal|critical|error|err|warning|warn|info)"
    r"(?:$|[ \t\n\[\](){}:,!\"'=|])"
)
# A level key or a keyword anywhere (a superset: the key text alone is enough here).
_KEY_TEXT = r"(?i)level|lvl|severity"
_KEY_OR_KEYWORD = _KEY_TEXT + "|" + _KEYWORDS[4:].replace("(?P<kw>", "(?:")


def normalize_level(value: str) -> str:
    """Loki's normalizeLogLevel: known names to their canonical spelling, anything else unchanged."""
    return VALUE_LEVELS.get(value.lower(), value) if len(value) <= 11 else value


def detect_levels(lines: pa.Array) -> np.ndarray:
    """Level codes (indexes into LEVELS) found in each line of a string column."""
    n = len(lines)
    codes = np.full(n, -1, dtype=np.int8)
    if n == 0:
        return codes
    values = np.full(n, None, dtype=object)  # per line: the level field's raw value, if found
    found = np.zeros(n, dtype=bool)

    is_json, first = _is_json(lines)
    json_idx = np.flatnonzero(is_json)
    spaced = json_idx[first[json_idx] != 0x7B]
    if len(spaced):
        # jsonparser skips only ASCII spaces before the brace; after any other it finds nothing.
        opened = _mask(pc.match_substring_regex(lines.take(pa.array(spaced)), _JSON_OPEN))
        json_idx = np.setdiff1d(json_idx, spaced[~opened])
    if len(json_idx):
        _json_values(lines, json_idx, values, found)

    # Loki only treats lines holding `=` as logfmt, but without one no level value can be found
    # and the keyword search decides either way, so that test is skipped.
    logfmt_idx = np.flatnonzero(~is_json)
    if len(logfmt_idx):
        _logfmt_values(lines, logfmt_idx, codes, values, found)

    hit = np.flatnonzero(found & (codes < 0))
    if len(hit):
        vals = pa.array(values[hit], type=pa.string())
        pos = pc.index_in(pc.utf8_lower(vals), value_set=_VALUE_KEYS).fill_null(-1).to_numpy()
        known = pos >= 0
        codes[hit[known]] = _VALUE_CODES[pos[known]]

    rest = np.flatnonzero(codes < 0)
    if len(rest):
        codes[rest] = UNKNOWN
        sub = lines.take(pa.array(rest)) if len(rest) < n else lines
        # Most of these lines hold no keyword: the DFA-only test first, submatches for the rest.
        has = _mask(pc.match_substring_regex(sub, _KEYWORDS))
        if has.any():
            kw = pc.extract_regex(sub.filter(pa.array(has)), _KEYWORDS).field("kw")
            pos = pc.index_in(pc.utf8_lower(kw), value_set=_KW_KEYS).fill_null(-1).to_numpy()
            codes[rest[has]] = np.where(pos >= 0, _KW_CODES[pos], UNKNOWN)
    return codes


def _is_json(lines: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Loki's isJSON: `{` first and `}` last, spaces aside.

    Read straight from the Arrow buffers: each line's first and last byte, one NumPy gather each.
    Only lines that start with a space or a non-ASCII byte (a Unicode space may follow) or that
    end in a space need a closer look.
    """
    first, last = _edge_bytes(lines)
    out = (first == 0x7B) & (last == 0x7D)
    lead = (first == 0x7B) | _SPACE_LUT[first + 1] | (first >= 0x80)
    idx = np.flatnonzero(lead & ((last == 0x7D) | _SPACE_LUT[last + 1]) & ~out)
    if len(idx):  # rare: spaces around the braces, or a non-ASCII first character
        sub = lines.take(pa.array(idx))
        opened = _mask(pc.match_substring_regex(sub, _LEAD_SPACE_BRACE))
        closed = _mask(pc.ends_with(pc.utf8_rtrim(sub, characters="\t\n\v\f\r "), "}"))
        out[idx] = opened & closed
    return out, first


def _edge_bytes(lines: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """First and last UTF-8 byte of every line (-1 for an empty line)."""
    n = len(lines)
    _, offsets_buf, data_buf = lines.buffers()[:3]
    width = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    offsets = np.frombuffer(offsets_buf, dtype=width, count=n + 1 + lines.offset)[lines.offset :].astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None and data_buf.size else np.zeros(1, np.uint8)
    starts, ends = offsets[:-1], offsets[1:]
    empty = ends <= starts
    first = data[np.where(empty, 0, starts)].astype(np.int16)
    last = data[np.where(empty, 0, ends - 1)].astype(np.int16)
    first[empty] = -1
    last[empty] = -1
    if lines.null_count:
        valid = _mask(pc.is_valid(lines))
        first[~valid] = -1
        last[~valid] = -1
    return first, last


def _mask(arr: pa.Array) -> np.ndarray:
    return arr.fill_null(False).to_numpy(zero_copy_only=False)


def _json_values(lines: pa.Array, idx: np.ndarray, values: np.ndarray, found: np.ndarray) -> None:
    sub = lines.take(pa.array(idx))
    # When the key comes before any nested object, the first textual `"level": "..."` is the one.
    # The anchored test runs on RE2's DFA; the value comes from a short unanchored search.
    flat_ok = _mask(pc.match_substring_regex(sub, _JSON_FLAT))
    if flat_ok.any():
        column = np.empty(int(flat_ok.sum()), dtype=object)
        column[:] = pc.struct_field(pc.extract_regex(sub.filter(pa.array(flat_ok)), _JSON_FIRST), [0]).to_pylist()
        values[idx[flat_ok]] = column
        found[idx[flat_ok]] = True
    # The rest either has no level key anywhere (keyword search decides) or needs the full walk.
    maybe = ~flat_ok & _mask(pc.match_substring_regex(sub, _JSON_ANY))
    # Per-line Python, deliberately: JSON whose level key follows nested objects/arrays is rare.
    for i in np.flatnonzero(maybe):
        v = _json_level_walk(sub[int(i)].as_py())
        if v is not None:
            values[idx[i]] = v
            found[idx[i]] = True


def _json_level_walk(line: str) -> str | None:
    """Loki's getLevelUsingJSONParser: depth-first, objects only, 2 levels, first string value wins."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        # jsonparser walks an invalid document up to the error; the first textual match is the
        # closest cheap stand-in.
        import re

        m = re.search(r'"(?:' + _KEYS_ALT + r')"[ \t\n\r]*:[ \t\n\r]*' + _JSON_STR, line)
        return m.group("v") if m else None
    if not isinstance(doc, dict):
        return None

    def walk(obj: dict, depth: int) -> str | None:
        if depth >= 2:
            return None
        for k, v in obj.items():
            if isinstance(v, str):
                if k in _JSON_KEYS:
                    # Loki compares the raw (still escaped) bytes; re-escape to match.
                    return orjson.dumps(v).decode()[1:-1]
            elif isinstance(v, dict):
                r = walk(v, depth + 1)
                if r is not None:
                    return r
        return None

    return walk(doc, 0)


def _logfmt_values(lines: pa.Array, idx: np.ndarray, codes: np.ndarray, values: np.ndarray, found: np.ndarray) -> None:  # fmt: skip
    sub = lines.take(pa.array(idx))
    # Fast lane: `level` reached through unquoted tokens only (RE2's DFA answers yes/no cheaply).
    # There the first textual occurrence of the key is the token, so a short unanchored search
    # gets its value; anchored submatch extraction would cost several times more.
    fast = _mask(pc.match_substring_regex(sub, _LOGFMT_FAST))
    if fast.any():
        _take_values(pc.extract_regex(sub.filter(pa.array(fast)), _LOGFMT_PLAIN), idx[fast], values, found)
    # Slow lane: lines that mention a level key but not that simply; hint by hint, in Loki's order.
    rest = np.flatnonzero(~fast)
    if len(rest):
        # About half of these lines hold neither a level key nor a keyword: one test settles them.
        either = _mask(pc.match_substring_regex(sub.take(pa.array(rest)), _KEY_OR_KEYWORD))
        codes[idx[rest[~either]]] = UNKNOWN
        rest = rest[either]
    if len(rest):  # most of these hold a keyword only: the cheap test for key text goes first
        rest = rest[_mask(pc.match_substring_regex(sub.take(pa.array(rest)), _KEY_TEXT))]
    if len(rest):
        rest = rest[_mask(pc.match_substring_regex(sub.take(pa.array(rest)), _LOGFMT_ANY))]
    for pattern in _LOGFMT_PATTERNS:
        if len(rest) == 0:
            return
        part = sub.take(pa.array(rest))
        ok = _mask(pc.match_substring_regex(part, pattern))
        if ok.any():
            _take_values(pc.extract_regex(part.filter(pa.array(ok)), pattern), idx[rest[ok]], values, found)
        rest = rest[~ok]


def _take_values(m: pa.StructArray, rows: np.ndarray, values: np.ndarray, found: np.ndarray) -> None:
    unq = m.field("u").to_pylist()
    quo = m.field("q").to_pylist()
    # Per-row Python over matched values only: the unquoted or the unescaped quoted value.
    column = np.empty(len(unq), dtype=object)
    column[:] = [u if u else _unquote_logfmt(q) if q else None for u, q in zip(unq, quo)]
    values[rows] = column
    found[rows] = True


def _unquote_logfmt(q: str) -> str | None:
    if "\\" not in q:
        return q[1:-1] or None
    try:
        v = orjson.loads(q)  # Loki's logfmt unquote is JSON string unquoting
    except orjson.JSONDecodeError:
        return None
    return v or None

"""`| json` (every field, nested objects flattened with `_`) and `| json a="b.c[0]"` (chosen paths).

Semantics copied from Loki:
* strings are unescaped, numbers kept as written in the line (`1.50` stays `1.50`), booleans are
  `true`/`false`; nulls and arrays produce no label in the implicit form.
* nested keys join with `_` after sanitizing each part; a leading digit gets a `_` prefix.
* a key equal to a stream label or structured metadata name is stored as `<key>_extracted`;
  a key already extracted in this entry keeps its first value.
* invalid JSON sets `__error__=JSONParserErr` and `__error_details__` to jsonparser's text; the labels
  found before the error stay.
* the parametrised form: `null` → "", objects and arrays → their raw text, every requested label
  exists afterwards ("" when the path is absent); a line not starting with `{`, `[` or `"` is an
  error without details.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from logyard.errors import BadRequestError
from logyard.gocompat.text import GO_SPACE
from logyard.labels import is_valid_label_name

from .builder import PARSED, LabelsBuilder
from .jsonscan import (
    ARRAY,
    BOOLEAN,
    NULL,
    NUMBER,
    OBJECT,
    STRING,
    JSONScanError,
    StopScan,
    array_items,
    object_each,
    string_text,
    value_text,
)
from .logfmt import sanitize_label_key

JSON_ERROR = "JSONParserErr"


_NOT_LABEL_CHAR = re.compile(r"[^a-zA-Z0-9_]")


def _sanitized_join(parts: list[bytes]) -> str:
    """Loki's buildSanitizedPrefixFromBuffer: sanitize each part, skip blank ones, join with `_`."""
    out: list[str] = []
    for part in parts:
        text = part.decode("utf-8", "replace").strip(GO_SPACE)
        if not text:
            continue
        if out:
            out.append("_")
        elif "0" <= text[0] <= "9":
            out.append("_")
        out.append(_NOT_LABEL_CHAR.sub("_", text))
    return "".join(out)


def _reject_constant(name: str) -> object:
    raise ValueError(name)  # NaN / Infinity are not JSON for jsonparser either


# Fast path for valid JSON: the C decoder, numbers kept as their source text, members in order.
class _Members(list):
    """A decoded JSON object: its (key, value) pairs in order, duplicates kept (not a JSON array)."""


class _Fallback(Exception):
    """The fast path cannot reproduce Loki here (lone surrogate escapes): use the byte walk."""


_DECODER = json.JSONDecoder(object_pairs_hook=_Members, parse_float=str, parse_int=str,
                            parse_constant=_reject_constant)
_SURROGATES = re.compile("[\ud800-\udfff]")


def _has_surrogate(text: str) -> bool:
    return _SURROGATES.search(text) is not None


class JSONParser:
    """`| json` with no parameters.

    Valid JSON takes the C decoder and gives the same labels as Loki's walk; anything else (or a
    lone surrogate escape) goes through the byte-level port for Loki's exact error and partial labels.
    """

    def __init__(self, paths: dict[str, list[str]] | None = None) -> None:
        self._names: dict[tuple[bytes, ...], str] = {}
        # Loki's captureJSONPath (detected fields): each label's keys as written in the line.
        self._paths = paths

    def process(self, ts: int, line: str, lbs: LabelsBuilder) -> tuple[str, bool]:
        if lbs.no_labels():
            return line, True
        try:
            decoded = _DECODER.decode(line)
        except ValueError:
            decoded = None
        if isinstance(decoded, _Members):
            try:
                self._fast(decoded, [], lbs)
                return line, True
            except StopScan:
                return line, True
            except _Fallback:
                pass
        data = line.encode("utf-8", "surrogatepass")
        try:
            self._walk(data, [], lbs)
        except StopScan:
            pass  # all labels the query needs were found: the rest of the line is not read
        except JSONScanError as exc:
            lbs.set_error(JSON_ERROR, str(exc))
        return line, True

    def _walk(self, data: bytes, prefix: list[bytes], lbs: LabelsBuilder) -> None:
        def member(key: bytes, value: bytes, kind: str) -> None:
            if kind == OBJECT:
                if lbs.should_extract_prefix(_sanitized_join(prefix + [key])):
                    self._walk(value, prefix + [key], lbs)
                return
            if kind in (STRING, NUMBER, BOOLEAN):
                self._label(prefix, key, value, kind, lbs)
            if lbs.all_required_extracted():
                raise StopScan

        object_each(data, member)

    def _fast(self, pairs: list, prefix: list[bytes], lbs: LabelsBuilder) -> None:
        for key, value in pairs:
            bkey = key.encode("utf-8", "surrogatepass")
            if isinstance(value, _Members):
                if lbs.should_extract_prefix(_sanitized_join(prefix + [bkey])):
                    self._fast(value, prefix + [bkey], lbs)
                continue  # Loki checks for early stop after values, not after objects
            if isinstance(value, bool):
                self._set(prefix, bkey, "true" if value else "false", lbs)
            elif isinstance(value, str):  # a string, or a number as written
                if _has_surrogate(value) or _has_surrogate(key):
                    raise _Fallback
                self._set(prefix, bkey, value.replace("\ufffd", " "), lbs)
            # null and arrays give no label
            if lbs.all_required_extracted():
                raise StopScan

    def _set(self, prefix: list[bytes], key: bytes, text: str, lbs: LabelsBuilder) -> None:
        name = self._name(prefix, key, lbs)
        if name and lbs.should_extract(name) and name not in lbs.extracted:
            lbs.set(PARSED, name, text)
            if self._paths is not None:
                self._paths[name] = [p.decode("utf-8", "replace") for p in (*prefix, key)]

    def _name(self, prefix: list[bytes], key: bytes, lbs: LabelsBuilder) -> str:
        path = (*prefix, key)
        name = self._names.get(path)
        if name is None:
            if not prefix:
                name = sanitize_label_key(key.decode("utf-8", "replace"))
            else:
                name = _sanitized_join([*prefix, key])
            if len(self._names) < 4096:  # field names repeat from line to line
                self._names[path] = name
        if not name or lbs.extracted_name(name) == name:
            return name
        if not prefix:
            return name + "_extracted"
        return _sanitized_join([*prefix, key + b"_extracted"])

    def _label(self, prefix: list[bytes], key: bytes, value: bytes, kind: str, lbs: LabelsBuilder) -> None:
        self._set(prefix, key, value_text(value, kind), lbs)


def _json_path_tokens(expr: str) -> list[tuple[str, object]]:
    """Loki's jsonexpr scanner: FIELD, INDEX, STRING (a `["…"]` key, no escapes), DOT, LSB, RSB.
    A lexical error ends the input, as Loki's scanner returns EOF after recording it."""
    out: list[tuple[str, object]] = []
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if c in " \t\n":
            i += 1
        elif c.isdigit():
            j = i
            while j < n and expr[j] not in " \t\n.]":
                if not expr[j].isdigit():
                    raise ValueError(f"non-integer value: {expr[j]}")
                j += 1
            if j < n and expr[j] == ".":
                raise ValueError("cannot use float as array index")
            out.append(("INDEX", int(expr[i:j])))
            i = j
        elif c in "[].":
            out.append(({"[": "LSB", "]": "RSB", ".": "DOT"}[c], c))
            i += 1
        elif c == "_" or c.isascii() and c.isalpha():
            j = i
            while j < n and (expr[j] == "_" or expr[j].isascii() and expr[j].isalnum()):
                j += 1
            out.append(("FIELD", expr[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and expr[j] not in '"]':
                j += 1
            out.append(("STRING", expr[i + 1 : j]))
            i = j + 1 if j < n and expr[j] == '"' else j
        else:
            raise ValueError(f"unexpected char {c}")
    return out


def parse_json_path(expr: str) -> list[str | int]:
    """A `json` parameter expression (`a.b`, `tags[0]`, `["with.dot"]`) as keys and indexes,
    with Loki's grammar: a first field or bracket access, then `[…]` or `.field` steps."""
    try:
        tokens = _json_path_tokens(expr)
    except ValueError as exc:
        raise BadRequestError(f"cannot parse expression [{expr}]: {exc}") from None
    path: list[str | int] = []
    i = 0

    def fail(at: int) -> BadRequestError:
        tok = tokens[at][0] if at < len(tokens) else "$end"
        return BadRequestError(f"cannot parse expression [{expr}]: syntax error: unexpected {tok}")

    while i < len(tokens) or not path:
        kind = tokens[i][0] if i < len(tokens) else "$end"
        if kind == "FIELD" and not path:
            path.append(tokens[i][1])  # type: ignore[arg-type]
            i += 1
        elif kind == "DOT" and path:
            if i + 1 >= len(tokens) or tokens[i + 1][0] != "FIELD":
                raise fail(i + 1)
            path.append(tokens[i + 1][1])  # type: ignore[arg-type]
            i += 2
        elif kind == "LSB":
            if i + 2 >= len(tokens) or tokens[i + 1][0] not in ("STRING", "INDEX") or tokens[i + 2][0] != "RSB":
                raise fail(i + 1 if i + 1 >= len(tokens) or tokens[i + 1][0] not in ("STRING", "INDEX") else i + 2)
            path.append(tokens[i + 1][1])  # type: ignore[arg-type]
            i += 3
        else:
            raise fail(i)
    return path


class _NotFound(Exception):
    pass


def _lookup(data: bytes, path: list[str | int]) -> tuple[bytes, str]:
    """The raw value and type at `path`; _NotFound when absent; JSONScanError when the value
    itself is malformed."""
    current, kind = data, OBJECT
    for step in path:
        if isinstance(step, int):
            if kind != ARRAY and not current.lstrip().startswith(b"["):
                raise _NotFound
            try:
                items = array_items(current)
            except JSONScanError:
                raise _NotFound from None
            if step >= len(items):
                raise _NotFound
            current, kind = items[step]
            continue
        found: list[tuple[bytes, str]] = []
        want = step.encode()

        def member(key: bytes, value: bytes, vkind: str) -> None:
            if key == want and not found:
                found.append((value, vkind))

        try:
            object_each(current, member)
        except JSONScanError:
            if not found:
                raise _NotFound from None
        if not found:
            raise _NotFound
        current, kind = found[0]
    return current, kind


class JSONExpressionParser:
    """`| json name="path", …`: only the given paths, under the given label names."""

    def __init__(self, expressions: Mapping[str, str]) -> None:
        self.ids: list[str] = []
        self.paths: list[list[str | int]] = []
        for ident, expr in expressions.items():
            path = parse_json_path(expr)
            if not is_valid_label_name(ident):
                raise BadRequestError(f"invalid extracted label name '{ident}'")
            self.ids.append(ident)
            self.paths.append(path)

    def process(self, ts: int, line: str, lbs: LabelsBuilder) -> tuple[str, bool]:
        if not line or lbs.no_labels():
            return line, True
        data = line.encode("utf-8", "surrogatepass")
        if data[:1] not in (b'"', b"{", b"["):
            lbs.set_error(JSON_ERROR)
            return line, True
        for ident, path in zip(self.ids, self.paths):
            try:
                raw, kind = _lookup(data, path)
            except _NotFound:
                continue
            except JSONScanError as exc:
                lbs.set_error(JSON_ERROR, str(exc))
                continue
            name = lbs.extracted_name(ident)
            if kind == NULL:
                value = ""
            elif kind == OBJECT:
                value = raw.decode("utf-8", "replace")
            else:
                value = string_text(raw)
            lbs.set(PARSED, name, value)
        # Loki: every requested label exists afterwards, empty when its path was not found.
        for ident in self.ids:
            if lbs.get(ident) is None:
                lbs.set(PARSED, ident, "")
        return line, True

"""Drain log clustering, as Loki's pattern ingester runs it (pkg/pattern/drain).

A line is cut into tokens by one of three tokenizers, chosen per stream from its first line as
Loki's DetectLogFormat does: logfmt lines into key/value pairs (the values of `ts`, `t`, `time`,
`timestamp` and `traceID` always variable), JSON lines into the tokens of their message field
(`log`, `message`, `msg`, `msg_`, `_msg`, `content`), anything else at spaces and punctuation.
Drain's prefix tree routes a line by its token count and first tokens to the clusters it may
join; it joins the most similar (share of equal tokens >= `SIM_TH`), whose differing tokens become
`<_>`, or starts a cluster of its own. Lines of fewer than 4 or more than 80 tokens, and lines
longer than 3000 bytes, belong to no cluster (as in Loki).

Each cluster also gives a regular expression (`Cluster.regex`) matching the lines its pattern
stands for, so that `logql.patterns` can count whole columns of lines with RE2 instead of
training on every line.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import orjson

from logyard.gocompat.text import re2_escape

PARAM = "<_>"
LOG_CLUSTER_DEPTH = 30
MAX_NODE_DEPTH = LOG_CLUSTER_DEPTH - 2
SIM_TH = 0.3
MAX_CHILDREN = 15
MAX_LINE_LENGTH = 3000
MIN_TOKENS, MAX_TOKENS = 4, 80
TOKENIZER_MAX_TOKENS = 127
QUOTED_WORDS = 3  # spaces in a quoted text that make it one token
MERGE_SIM = 0.75

FORMAT_JSON, FORMAT_LOGFMT, FORMAT_UNKNOWN = "json", "logfmt", "unknown"
JSON_MESSAGE_FIELDS = ("log", "message", "msg", "msg_", "_msg", "content")
_VARIABLE_KEYS = ("ts", "traceid", "time", "timestamp")  # compared case-insensitively; "t" exactly
_LOGFMT_LINE = re.compile(r'^(\w+?=([^"]\S*?|".+?") )*?(\w+?=([^"]\S*?|".+?"))+$')
_KEEP = frozenset("_-.:/")


def detect_format(line: str) -> str:
    """Loki's DetectLogFormat, run on a stream's first line."""
    if len(line) < 2:
        return FORMAT_UNKNOWN
    if line[0] == "{" and line[-1] == "}":
        return FORMAT_JSON
    if _LOGFMT_LINE.match(line):
        return FORMAT_LOGFMT
    return FORMAT_UNKNOWN


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


def punctuation_tokens(line: str) -> tuple[list[str], list[int]] | None:
    """Tokens at spaces (dropped, remembered in `spaces_after`) and punctuation (kept as tokens of
    their own; `=` too); letters, digits and `_-.:/` stay inside tokens."""
    if len(line.encode("utf-8", "surrogatepass")) > MAX_LINE_LENGTH:
        return None
    tokens: list[str] = []
    spaces: list[int] = []
    start = 0
    skip_to = -1
    in_quote = False
    for i, ch in enumerate(line):
        if len(tokens) >= TOKENIZER_MAX_TOKENS:
            break
        if i < skip_to or ch.isalnum() or ch in _KEEP:
            continue
        if ch == '"':
            in_quote = not in_quote
        if ch == '"' and in_quote:
            # Ours, not Loki's: a quoted text of more than QUOTED_WORDS words (a user agent, a
            # free-text message) is one token, so that lines differing only there have as many
            # tokens and can share a pattern.
            close = line.find('"', i + 1)
            if close > i + 1 and line.count(" ", i + 1, close) >= QUOTED_WORDS:
                if i > start:
                    tokens.append(line[start:i])
                tokens += ['"', line[i + 1:close], '"']
                start = close + 1
                skip_to = close + 1
                in_quote = False
                continue
        if ch == " " or ch == "=" or _is_punct(ch):
            if i > start:
                tokens.append(line[start:i])
            if ch == " ":
                spaces.append(len(tokens) - 1)
            else:
                tokens.append(ch)
            start = i + 1
    if start < len(line):
        tokens.append(line[start:])
    return tokens, spaces


def _join_punctuation(tokens: list[str], spaces: list[int]) -> str:
    out: list[str] = []
    j = 0
    for i, tok in enumerate(tokens):
        out.append(tok)
        while j < len(spaces) and spaces[j] == i:
            out.append(" ")
            j += 1
    return "".join(out)


_LOGFMT_PAIR = re.compile(r'\s*([^\s="]+)(?:=("(?:[^"\\]|\\.)*"|[^\s"]*))?')


def logfmt_tokens(line: str) -> list[str] | None:
    """Keys and values in turn; a variable key's value is `<_>`; None for malformed logfmt."""
    if len(line.encode("utf-8", "surrogatepass")) > MAX_LINE_LENGTH:
        return None
    tokens: list[str] = []
    pos, n = 0, len(line)
    while pos < n:
        m = _LOGFMT_PAIR.match(line, pos)
        if m is None or m.end() == pos:
            if line[pos:].strip() == "":
                break
            return None
        key, value = m.group(1), m.group(2) or ""
        if value.startswith('"'):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                value = value[1:-1]
        if key == "t" or key.lower() in _VARIABLE_KEYS:
            value = PARAM
        tokens += [key, value]
        pos = m.end()
    return tokens


def _logfmt_value(v: str) -> str:
    """go-logfmt's encoding of a value: quoted when empty or holding a space, `=`, `"` or a control."""
    if v == "" or any(c <= " " or c in '="\\' or c == "\x7f" for c in v):
        return orjson.dumps(v).decode()
    return v


def _join_logfmt(tokens: list[str]) -> str:
    if len(tokens) % 2:
        tokens = [*tokens, ""]
    return " ".join(f"{tokens[i]}={_logfmt_value(tokens[i + 1])}" for i in range(0, len(tokens), 2))


def json_message(line: str) -> str | None:
    """The first message field of a JSON line that is a string."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    for key in JSON_MESSAGE_FIELDS:
        v = obj.get(key)
        if isinstance(v, str):
            return v
    return None


def dedup_params(text: str) -> str:
    """Loki's deduplicatePlaceholders: runs of `<_><_>…` become one `<_>`."""
    return re.sub(r"(?:<_>){2,}", PARAM, text)


@dataclass
class Cluster:
    id: int
    tokens: list[str]
    spaces: list[int] | None
    fmt: str
    size: int = 0

    @property
    def pattern(self) -> str:
        if self.fmt == FORMAT_LOGFMT:
            text = _join_logfmt(self.tokens)
        elif self.fmt == FORMAT_JSON:
            text = PARAM + _join_punctuation(self.tokens, self.spaces or []) + PARAM
        else:
            text = _join_punctuation(self.tokens, self.spaces or [])
        return dedup_params(text)

    @property
    def params(self) -> int:
        return sum(t == PARAM for t in self.tokens)

    def regex(self) -> str:
        """An RE2 pattern matching the whole lines this cluster's pattern stands for."""
        if self.fmt == FORMAT_LOGFMT:
            parts = []
            toks = self.tokens if len(self.tokens) % 2 == 0 else [*self.tokens, ""]
            for i in range(0, len(toks), 2):
                k, v = toks[i], toks[i + 1]
                value = '(?:"[^"]*"|[^ ]*)' if v == PARAM else f'"?{re2_escape(v)}"?'
                parts.append(f"{re2_escape(k)}={value}")
            return "(?s)^\\s*" + " +".join(parts) + "\\s*$"
        text = self.pattern
        pieces = [re2_escape(p) for p in text.split(PARAM)]
        body = ".*?".join(pieces)
        if self.fmt == FORMAT_JSON:
            return "(?s)^\\{.*" + body.removeprefix(".*?").removesuffix(".*?") + ".*\\}$"
        return "(?s)^" + body + "$"


@dataclass
class _Node:
    children: dict[str, "_Node"] = field(default_factory=dict)
    cluster_ids: list[int] = field(default_factory=list)


class Drain:
    """One Drain tree: the clusters of one stream's lines of one level, in one format."""

    def __init__(self, fmt: str = FORMAT_UNKNOWN) -> None:
        self.fmt = fmt
        self.root = _Node()
        self.clusters: dict[int, Cluster] = {}

    def tokenize(self, line: str) -> tuple[list[str], list[int] | None] | None:
        if self.fmt == FORMAT_LOGFMT:
            toks = logfmt_tokens(line)
            return None if toks is None else (toks, None)
        if self.fmt == FORMAT_JSON:
            msg = json_message(line)
            if msg is None or len(msg.encode("utf-8", "surrogatepass")) > MAX_LINE_LENGTH:
                return None
            return punctuation_tokens(msg)
        return punctuation_tokens(line)

    def train(self, line: str) -> Cluster | None:
        """Add a line; its cluster, or None when the line joins none (too few or many tokens)."""
        got = self.tokenize(line)
        if got is None:
            return None
        tokens, spaces = got
        if not MIN_TOKENS <= len(tokens) <= MAX_TOKENS:
            return None
        cluster = self._search(tokens)
        if cluster is None:
            cluster = Cluster(len(self.clusters) + 1, list(tokens), spaces, self.fmt)
            self.clusters[cluster.id] = cluster
            self._add_to_tree(cluster)
        else:
            cluster.tokens = [t if t == c else PARAM for t, c in zip(tokens, cluster.tokens)]
        cluster.size += 1
        return cluster

    def _search(self, tokens: list[str]) -> Cluster | None:
        node = self.root.children.get(str(len(tokens)))
        if node is None:
            return None
        depth = 1
        for tok in tokens:
            if depth >= MAX_NODE_DEPTH or depth == len(tokens):
                break
            nxt = node.children.get(tok) or node.children.get(PARAM)
            if nxt is None:
                return None
            node = nxt
            depth += 1
        best, best_sim, best_params = None, -1.0, -1
        for cid in node.cluster_ids:
            c = self.clusters[cid]
            same = params = 0
            for a, b in zip(c.tokens, tokens):
                if a == PARAM:
                    params += 1
                elif a == b:
                    same += 1
            sim = same / len(c.tokens)
            if sim > best_sim or (sim == best_sim and params > best_params):
                best, best_sim, best_params = c, sim, params
        return best if best_sim >= SIM_TH else None

    def _add_to_tree(self, cluster: Cluster) -> None:
        n = len(cluster.tokens)
        node = self.root.children.setdefault(str(n), _Node())
        depth = 1
        for tok in cluster.tokens:
            if depth >= MAX_NODE_DEPTH or depth >= n:
                node.cluster_ids.append(cluster.id)
                return
            child = node.children.get(tok)
            if child is None:
                param = node.children.get(PARAM)
                if not any(c.isdigit() for c in tok):
                    if param is not None:
                        if len(node.children) < MAX_CHILDREN:
                            child = node.children[tok] = _Node()
                        else:
                            child = param
                    elif len(node.children) + 1 < MAX_CHILDREN:
                        child = node.children[tok] = _Node()
                    else:
                        child = node.children[PARAM] = _Node()
                else:
                    # A token with digits in it is likely a variable: it takes the wildcard branch.
                    child = param if param is not None else node.children.setdefault(PARAM, _Node())
            node = child
            depth += 1


def merge_clusters(clusters: list[Cluster]) -> dict[int, Cluster]:
    """Ours, after Drain: clusters of as many tokens whose constant tokens mostly agree become one.

    Drain's tree branches on the first tokens of a line, so access logs split into a cluster per
    method, path and user. Here clusters (largest first) join an earlier one of the same format
    and length (and spacing) when, of the positions constant in both, at least MERGE_SIM agree, and no logfmt
    message (`msg`, `message`) differs. Returns each cluster id's merged cluster."""
    merged: list[Cluster] = []
    out: dict[int, Cluster] = {}
    for c in sorted(clusters, key=lambda c: (-c.size, c.id)):
        home = None
        for m in merged:
            if len(m.tokens) == len(c.tokens) and _mergeable(m, c):
                home = m
                break
        if home is None:
            home = Cluster(c.id, list(c.tokens), c.spaces, c.fmt, c.size)
            merged.append(home)
        else:
            home.tokens = [a if a == b else PARAM for a, b in zip(home.tokens, c.tokens)]
            home.size += c.size
        out[c.id] = home
    return out


def _mergeable(a: Cluster, b: Cluster) -> bool:
    if a.spaces != b.spaces:  # the same tokens laid out differently are different lines
        return False
    both = agree = 0
    for i, (x, y) in enumerate(zip(a.tokens, b.tokens)):
        if x == PARAM or y == PARAM:
            continue
        both += 1
        if x == y:
            agree += 1
        elif a.fmt == FORMAT_LOGFMT and i % 2 == 1 and a.tokens[i - 1] in ("msg", "message"):
            return False
    return both > 0 and agree / both >= MERGE_SIM


__all__ = ["merge_clusters", "Cluster", "Drain", "PARAM", "detect_format", "dedup_params", "json_message", "logfmt_tokens",
           "punctuation_tokens"]

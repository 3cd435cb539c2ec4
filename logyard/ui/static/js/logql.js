// LogQL as text: tokens for the highlighting overlay, the completion context at the caret, and the
// edits behind "filter for this label/field". A light lexer, not a parser: the server parses.

import { escapeHtml } from "./ansi.js";

export const KEYWORDS = [
  "json", "logfmt", "regexp", "pattern", "unpack", "line_format", "label_format", "drop", "keep", "decolorize", "unwrap",
  "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless",
  "count_over_time", "rate", "bytes_over_time", "bytes_rate", "absent_over_time", "sum_over_time", "avg_over_time",
  "max_over_time", "min_over_time", "first_over_time", "last_over_time", "stdvar_over_time", "stddev_over_time",
  "quantile_over_time", "rate_counter", "sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk",
  "sort", "sort_desc", "label_replace", "vector", "duration", "duration_seconds", "bytes",
];
const KEYWORD_SET = new Set(KEYWORDS);

const TOKEN = /("(?:[^"\\\n]|\\.)*"?|`[^`]*`?)|(#[^\n]*)|(\[[0-9smhdwy.]*\]?)|(\d+(?:\.\d+)?(?:ms|[smhdwy]|[kKmMgGtT]i?[bB])?\b)|([A-Za-z_][A-Za-z0-9_]*)|(\|=|\|~|!=|!~|=~|==|>=|<=|\||=|>|<)|([{}(),])|(\s+)|(.)/g;

/** [{kind, text, start}] for the overlay. */
export function tokenize(text) {
  const out = [];
  TOKEN.lastIndex = 0;
  let m, depth = 0;
  while ((m = TOKEN.exec(text))) {
    const t = m[0];
    let kind = "text";
    if (m[1]) kind = "string";
    else if (m[2]) kind = "comment";
    else if (m[3]) kind = "duration";
    else if (m[4]) kind = "number";
    else if (m[5]) kind = depth > 0 ? "label" : KEYWORD_SET.has(t) ? "keyword" : "ident";
    else if (m[6]) kind = "operator";
    else if (m[7]) { kind = "punct"; if (t === "{") depth++; if (t === "}") depth = Math.max(0, depth - 1); }
    out.push({ kind, text: t, start: m.index });
  }
  return out;
}

/** Overlay HTML; `errorAt` (a character offset) is marked. */
export function highlight(text, errorAt = null) {
  let html = "";
  for (const tok of tokenize(text)) {
    const end = tok.start + tok.text.length;
    if (errorAt !== null && errorAt >= tok.start && errorAt < end) {
      const i = errorAt - tok.start;
      html += `<span class="tok-${tok.kind}">${escapeHtml(tok.text.slice(0, i))}<mark class="err">${escapeHtml(tok.text[i])}</mark>${escapeHtml(tok.text.slice(i + 1))}</span>`;
    } else {
      html += `<span class="tok-${tok.kind}">${escapeHtml(tok.text)}</span>`;
    }
  }
  if (errorAt !== null && errorAt >= text.length) html += `<mark class="err"> </mark>`;
  return html + "\n";
}

/** The offset of (line, col) as Loki counts them (both from 1). */
export function offsetOf(text, line, col) {
  const lines = text.split("\n");
  let off = 0;
  for (let i = 0; i < Math.min(line - 1, lines.length - 1); i++) off += lines[i].length + 1;
  return Math.min(text.length, off + Math.max(0, col - 1));
}

/**
 * What to complete at the caret: {kind: "label"|"value"|"keyword", prefix, name?, from} or null.
 * `from` is where the replaced text starts.
 */
export function completionContext(text, caret) {
  const before = text.slice(0, caret);
  let braces = 0, parens = [], inString = null, stringStart = -1;
  for (let i = 0; i < before.length; i++) {
    const c = before[i];
    if (inString) {
      if (c === "\\" && inString === '"') { i++; continue; }
      if (c === inString) inString = null;
      continue;
    }
    if (c === '"' || c === "`") { inString = c; stringStart = i; }
    else if (c === "{") braces++;
    else if (c === "}") braces = Math.max(0, braces - 1);
    else if (c === "(") parens.push(i);
    else if (c === ")") parens.pop();
  }
  if (inString === '"') {
    const m = /([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*$/.exec(before.slice(0, stringStart));
    if (!m) return null;
    return { kind: "value", name: m[1], prefix: before.slice(stringStart + 1), from: stringStart + 1 };
  }
  if (inString) return null;
  const word = /[A-Za-z_][A-Za-z0-9_]*$/.exec(before);
  const prefix = word ? word[0] : "";
  const from = caret - prefix.length;
  const prev = before.slice(0, from).trimEnd();
  if (braces > 0 && /[{,]$/.test(prev)) return { kind: "label", prefix, from, grouping: false };
  const grouping = parens.length && /\b(by|without)\s*$/.test(before.slice(0, parens[parens.length - 1]));
  if (grouping && /[(,]$/.test(prev)) return { kind: "label", prefix, from, grouping: true };
  if (braces === 0 && prefix.length >= 1) return { kind: "keyword", prefix, from };
  return null;
}

export const quote = (value) => JSON.stringify(String(value));

/** The query with `name op "value"` added to its first stream selector (or a new selector). */
export function addMatcher(query, name, value, op = "=") {
  const matcher = `${name}${op}${quote(value)}`;
  const range = selectorRange(query);
  if (!range) return query.trim() ? query : `{${matcher}}`;
  const inner = query.slice(range.open + 1, range.close).trim();
  const joined = inner ? `${query.slice(range.open + 1, range.close).trimEnd()}, ${matcher}` : matcher;
  return query.slice(0, range.open + 1) + joined + query.slice(range.close);
}

/** The query with a label filter stage appended, after a parser when the field needs one. */
export function addFieldFilter(query, name, value, op = "=", parser = null) {
  let q = query.trimEnd();
  if (parser && !new RegExp(`\\|\\s*${parser}\\b`).test(q)) q += ` | ${parser}`;
  return `${q} | ${name}${op}${quote(value)}`;
}

/** Offsets of the first `{` … `}` outside strings, or null. */
export function selectorRange(query) {
  let inString = null, open = -1;
  for (let i = 0; i < query.length; i++) {
    const c = query[i];
    if (inString) { if (c === "\\" && inString === '"') i++; else if (c === inString) inString = null; continue; }
    if (c === '"' || c === "`") inString = c;
    else if (c === "{" && open < 0) open = i;
    else if (c === "}" && open >= 0) return { open, close: i };
  }
  return null;
}

/** The query's stream selector text, e.g. `{app="x"}`, or null. */
export function selectorOf(query) {
  const r = selectorRange(query);
  return r ? query.slice(r.open, r.close + 1) : null;
}

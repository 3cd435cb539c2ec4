// A line's fields, for the details pane: JSON objects flattened with "_" as LogQL's `json` parser
// names them, else logfmt pairs. Returns {parser, fields: [[name, value]]} or null.

import { stripAnsi } from "./ansi.js";

export function parseFields(line) {
  const text = stripAnsi(line).trim();
  if (text.startsWith("{")) {
    try {
      const obj = JSON.parse(text);
      if (obj && typeof obj === "object" && !Array.isArray(obj)) {
        const fields = [];
        flattenJson(obj, "", fields);
        return { parser: "json", fields };
      }
    } catch { /* not JSON: try logfmt */ }
  }
  const fields = logfmt(text);
  return fields.length >= 2 ? { parser: "logfmt", fields } : null;
}

function sanitize(key) {
  // LogQL's json parser turns characters outside [a-zA-Z0-9_] into "_".
  return key.replace(/[^a-zA-Z0-9_]/g, "_");
}

function flattenJson(obj, prefix, out) {
  for (const [k, v] of Object.entries(obj)) {
    const name = prefix + sanitize(k);
    if (v && typeof v === "object" && !Array.isArray(v)) flattenJson(v, name + "_", out);
    else out.push([name, Array.isArray(v) ? JSON.stringify(v) : v === null ? "" : String(v)]);
  }
}

const PAIR = /([^\s="]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)/g;

export function logfmt(text) {
  const out = [];
  PAIR.lastIndex = 0;
  let m;
  while ((m = PAIR.exec(text))) {
    let v = m[2];
    if (v.startsWith('"')) { try { v = JSON.parse(v); } catch { v = v.slice(1, -1); } }
    out.push([sanitize(m[1]), v]);
  }
  return out;
}

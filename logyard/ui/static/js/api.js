// The server's public HTTP API, as the explorer uses it.

export class ApiError extends Error {
  constructor(status, text) {
    super(text.trim());
    this.status = status;
    // Loki's LogQL parse errors name their place: "parse error at line 1, col 12: ...".
    const m = /parse error at line (\d+), col (\d+)/.exec(text);
    this.position = m ? { line: +m[1], col: +m[2] } : null;
  }
}

async function get(path, params = {}, signal) {
  const defined = Object.entries(params).filter(([, v]) => v !== undefined && v !== null);
  const url = `${path}?${new URLSearchParams(defined)}`;
  const r = await fetch(url, { signal, headers: { Accept: "application/json" } });
  const text = await r.text();
  if (!r.ok) throw new ApiError(r.status, text);
  return JSON.parse(text);
}

export const queryRange = (params, signal) => get("/loki/api/v1/query_range", params, signal).then((b) => b.data);
export const labels = (params) => get("/loki/api/v1/labels", params).then((b) => b.data || []);
export const labelValues = (name, params) =>
  get(`/loki/api/v1/label/${encodeURIComponent(name)}/values`, params).then((b) => b.data || []);

/** Entries of a log query, newest first (or oldest first), paging past the server's per-query limit. */
export async function logEntries({ query, startNs, endNs, limit, direction, step }, signal) {
  let pageMax = 5000, out = [], seen = new Set(), repeats = 0;
  let lo = BigInt(startNs), hi = BigInt(endNs);
  while (out.length < limit) {
    // `repeats`: the entries at the previous page's edge nanosecond, which this page answers again.
    const want = Math.min(pageMax, limit - out.length + repeats);
    let data;
    try {
      data = await queryRange({ query, start: lo.toString(), end: hi.toString(), limit: want, direction, step }, signal);
    } catch (e) {
      // The server's max_entries_limit_per_query may be lower than our page: take its number and retry.
      const m = e instanceof ApiError && /max_entries_limit \((\d+) > (\d+)\)/.exec(e.message);
      if (m && +m[2] < pageMax) { pageMax = +m[2]; continue; }
      throw e;
    }
    if (data.resultType !== "streams") return { resultType: data.resultType, data };
    const page = flatten(data.result, direction);
    let added = 0;
    for (const e of page) {
      const key = `${e.ts}\u0000${e.stream}\u0000${e.line}`;
      if (seen.has(key)) continue;
      seen.add(key); out.push(e); added++;
    }
    if (page.length < want || added === 0) break;
    // Next page: resume at the edge entry's nanosecond (end is exclusive, start inclusive); the
    // entries already seen there come back and are dropped.
    const edge = page[page.length - 1].ts;
    repeats = 0;
    for (let i = out.length - 1; i >= 0 && out[i].ts === edge; i--) repeats++;
    if (repeats >= pageMax) break;
    if (direction === "backward") hi = BigInt(edge) + 1n; else lo = BigInt(edge);
    if (hi <= lo) break;
  }
  return { resultType: "streams", entries: out.slice(0, limit) };
}

/** One list of `{ts, line, labels, stream}` from Loki's streams, ordered by time. */
export function flatten(result, direction = "backward") {
  const out = [];
  for (const s of result) {
    const stream = JSON.stringify(s.stream);
    for (const v of s.values) out.push({ ts: v[0].padStart(20, "0"), line: v[1], labels: s.stream, meta: v[2] || null, stream });
  }
  const sign = direction === "backward" ? -1 : 1;
  out.sort((a, b) => (a.ts < b.ts ? -sign : a.ts > b.ts ? sign : 0));
  return out;
}

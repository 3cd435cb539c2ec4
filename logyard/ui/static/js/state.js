// The view's whole state lives in the URL (the permalink) and comes back from it on reload.

export const DEFAULTS = Object.freeze({
  query: "", from: "now-1h", to: "now", limit: 1000, direction: "backward", refresh: "off", hist: "detected_level", view: "explore",
});

const KEYS = { query: "q", from: "from", to: "to", limit: "limit", direction: "dir", refresh: "refresh", hist: "hist", view: "view" };

export function readState(search = location.search) {
  const p = new URLSearchParams(search);
  const s = { ...DEFAULTS };
  for (const [k, short] of Object.entries(KEYS)) if (p.has(short)) s[k] = p.get(short);
  s.limit = Math.max(1, Math.min(100_000, parseInt(s.limit, 10) || DEFAULTS.limit));
  if (!["backward", "forward"].includes(s.direction)) s.direction = DEFAULTS.direction;
  return s;
}

export function stateUrl(s) {
  const p = new URLSearchParams();
  for (const [k, short] of Object.entries(KEYS)) if (k === "query" || String(s[k]) !== String(DEFAULTS[k])) p.set(short, s[k]);
  return `${location.pathname}?${p}`;
}

const HISTORY_KEY = "logyard.history";

export function loadHistory() {
  try { return JSON.parse(localStorage.getItem(HISTORY_KEY)) || []; } catch { return []; }
}

export function remember(query) {
  const q = query.trim();
  if (!q) return;
  const h = [q, ...loadHistory().filter((x) => x !== q)].slice(0, 50);
  localStorage.setItem(HISTORY_KEY, JSON.stringify(h));
}

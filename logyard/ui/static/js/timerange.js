// Time ranges as the user writes them: "now", "now-15m", an ISO date, or epoch milliseconds.
// The state keeps these strings (so a permalink of "now-1h" stays relative); queries need nanoseconds.

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export const RELATIVE = ["5m", "15m", "1h", "6h", "24h", "7d"];

export function durationMs(text) {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0, m, seen = false;
  re.lastIndex = 0;
  while (re.lastIndex < text.length && (m = re.exec(text))) { total += parseFloat(m[1]) * UNITS[m[2]]; seen = true; }
  if (!seen || re.lastIndex !== text.length) return null;
  return total;
}

/** Milliseconds since the epoch for `text`, or null when it is not a time. */
export function resolveMs(text, nowMs = Date.now()) {
  const t = String(text).trim();
  if (t === "now") return nowMs;
  const rel = /^now-(.+)$/.exec(t);
  if (rel) { const d = durationMs(rel[1]); return d === null ? null : nowMs - d; }
  if (/^\d{10,16}$/.test(t)) return Number(t);
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms;
}

export function resolveRange(from, to, nowMs = Date.now()) {
  const start = resolveMs(from, nowMs), end = resolveMs(to, nowMs);
  if (start === null) throw new Error(`bad "from" time: ${from}`);
  if (end === null) throw new Error(`bad "to" time: ${to}`);
  if (start >= end) throw new Error(`"from" must be before "to"`);
  return { start, end };
}

export const msToNs = (ms) => (BigInt(Math.round(ms)) * 1_000_000n).toString();

export function formatDuration(ms) {
  for (const [u, v] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]]) {
    if (ms >= v && ms % v === 0) return `${ms / v}${u}`;
  }
  return `${Math.max(1, Math.round(ms))}ms`;
}

const NICE_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
  .map((s) => s * 1000);

/** The histogram's bucket: the smallest round step giving at most `maxBars` bars over the range. */
export function histogramStepMs(rangeMs, maxBars = 150) {
  return NICE_STEPS.find((s) => rangeMs / s <= maxBars) ?? Math.ceil(rangeMs / maxBars / 86_400_000) * 86_400_000;
}

export function isoUtc(ms) {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

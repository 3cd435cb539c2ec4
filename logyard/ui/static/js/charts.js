// Charts drawn with the vendored uPlot (window.uPlot): the log-volume histogram (stacked bars by
// level, brushing picks a time range) and metric query series with a legend.

const LEVEL_COLORS = {
  critical: "#b3261e", fatal: "#b3261e", error: "#e5484d", warn: "#f5a524", warning: "#f5a524",
  info: "#3e9b4f", debug: "#3b82f6", trace: "#8b5cf6", unknown: "#8a8f98", "": "#8a8f98",
};
const PALETTE = ["#3b82f6", "#e5484d", "#3e9b4f", "#f5a524", "#8b5cf6", "#14b8a6", "#ec4899", "#84cc16", "#f97316", "#64748b"];

export const colorOf = (name, i) => LEVEL_COLORS[name] ?? PALETTE[i % PALETTE.length];

/** A metric's label set as `{a="b", c="d"}`. */
export function seriesName(metric) {
  const parts = Object.entries(metric).map(([k, v]) => `${k}="${v}"`);
  return parts.length ? `{${parts.join(", ")}}` : "{}";
}

/** The matrix as uPlot columns: x in seconds over every step, and one array per series (null = no point). */
export function matrixColumns(result, startS, endS, stepS) {
  const xs = [];
  for (let t = startS; t <= endS + 1e-9; t += stepS) xs.push(Math.round(t * 1000) / 1000);
  const index = new Map(xs.map((x, i) => [x, i]));
  const series = result.map((s) => {
    const ys = new Array(xs.length).fill(null);
    for (const [t, v] of s.values) {
      const i = index.get(Math.round(t * 1000) / 1000);
      if (i !== undefined) ys[i] = Number(v);
    }
    return ys;
  });
  return { xs, series };
}

function axesColors() {
  const cs = getComputedStyle(document.documentElement);
  const fg = cs.getPropertyValue("--muted").trim() || "#888";
  const grid = cs.getPropertyValue("--grid").trim() || "rgba(128,128,128,.15)";
  const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  return [{ ...axis, values: timeLabels }, { ...axis, size: 50 }];
}

// 24-hour clock labels; the date where the day changes (and on the first tick).
function timeLabels(u, splits) {
  const p = (n) => String(n).padStart(2, "0");
  let lastDay = null;
  return splits.map((s) => {
    const d = new Date(s * 1000), day = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
    const clock = `${p(d.getHours())}:${p(d.getMinutes())}` + (d.getSeconds() ? `:${p(d.getSeconds())}` : "");
    const label = day !== lastDay ? `${clock}\n${day}` : clock;
    lastDay = day;
    return label;
  });
}

/**
 * The volume histogram in `root`: `groups` is [{name, values}] over `xs` (seconds, each bar the
 * step ending there). `onBrush(fromMs, toMs)` gets a dragged range.
 */
export function drawHistogram(root, xs, groups, stepS, onBrush) {
  root.replaceChildren();
  const order = groups.map((g, i) => ({ ...g, color: colorOf(g.name, i) }));
  // Stacked: series k holds the sum of groups k..n-1 and is drawn first, the next ones over it.
  const stacked = order.map((_, k) => xs.map((_, j) => order.slice(k).reduce((a, g) => a + (g.values[j] || 0), 0)));
  const bars = window.uPlot.paths.bars({ size: [0.9, 100], align: -1 });
  const opts = {
    width: root.clientWidth || 800,
    height: 110,
    legend: { show: false },
    cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
    scales: { x: { time: true, range: [xs[0] - stepS, xs[xs.length - 1]] }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
    axes: axesColors(),
    series: [{}, ...order.map((g, k) => ({ label: g.name || "unknown", fill: g.color, stroke: g.color, width: 0, paths: bars, points: { show: false } }))],
    hooks: {
      setSelect: [(u) => {
        if (u.select.width < 3) return;
        const a = u.posToVal(u.select.left, "x"), b = u.posToVal(u.select.left + u.select.width, "x");
        u.setSelect({ left: 0, width: 0 }, false);
        onBrush(Math.floor(a * 1000), Math.ceil(b * 1000));
      }],
    },
  };
  const plot = new window.uPlot(opts, [xs, ...stacked], root);
  const legend = document.createElement("div");
  legend.className = "hist-legend";
  for (const g of order) {
    const total = g.values.reduce((a, v) => a + (v || 0), 0);
    const item = document.createElement("span");
    item.innerHTML = `<i style="background:${g.color}"></i>`;
    item.append(`${g.name || "unknown"} ${total.toLocaleString()}`);
    legend.append(item);
  }
  root.append(legend);
  return plot;
}

/** Metric series as lines, with uPlot's legend (the labels of each series). */
export function drawMetric(root, xs, result, columns) {
  root.replaceChildren();
  const opts = {
    width: root.clientWidth || 800,
    height: 320,
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true } },
    axes: axesColors(),
    legend: { live: true },
    series: [{}, ...result.map((s, i) => ({
      label: seriesName(s.metric), stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: false, points: { show: false },
    }))],
  };
  return new window.uPlot(opts, [xs, ...columns], root);
}

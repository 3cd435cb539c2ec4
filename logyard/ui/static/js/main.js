// The explorer page: state (from and to the URL), running queries, and wiring the parts together.
// `window.logyard` exposes what is drawn (entries, histogram counts, metric series) for tests and
// for poking at in the console; `body[data-status]` says whether the last run is loading/done/error.

import * as api from "./api.js";
import { drawHistogram, drawMetric, matrixColumns } from "./charts.js";
import { Editor } from "./editor.js";
import { parseFields } from "./fields.js";
import { addFieldFilter, addMatcher } from "./logql.js";
import { LogList, formatTs, levelOf } from "./loglist.js";
import { DEFAULTS, loadHistory, readState, remember, stateUrl } from "./state.js";
import { StatusView } from "./status.js";
import { LiveTail } from "./tail.js";
import { RELATIVE, durationMs, formatDuration, histogramStepMs, isoUtc, msToNs, resolveRange } from "./timerange.js";
import { escapeHtml } from "./ansi.js";

const $ = (sel) => document.querySelector(sel);
const LIVE_CAP = 20_000;

const page = (window.logyard = { state: readState(), entries: [], histogram: null, metric: null, error: null });
let controller = null, refreshTimer = null, tail = null, pausedBuffer = [], streamLabels = new Set();

const editor = new Editor($("#editor"), {
  onRun: () => run(),
  fetchLabels: () => cachedRange("labels", () => api.labels(rangeParams())),
  fetchValues: (name) => cachedRange(`values:${name}`, () => api.labelValues(name, rangeParams())),
});

const status = new StatusView($("#status"));
const list = new LogList($("#loglist"), { onSelect: showDetails, onScroll: liveScrolled });
page.list = list;

// Label names and values are asked once per time range.
const cache = new Map();
function cachedRange(key, load) {
  const k = `${key}@${page.state.from}..${page.state.to}`;
  if (!cache.has(k)) cache.set(k, load().catch((e) => { cache.delete(k); throw e; }));
  return cache.get(k);
}

function rangeParams() {
  const { start, end } = resolveRange($("#from").value, $("#to").value);
  return { start: msToNs(start), end: msToNs(end) };
}

function setStatus(s, text = "") {
  document.body.dataset.status = s;
  $("#summary").textContent = text;
}

function showError(e) {
  page.error = e ? { message: e.message, position: e.position || null } : null;
  const box = $("#error"), where = $("#error-where");
  where.hidden = true;
  if (!e) { box.hidden = true; editor.markError(null); return; }
  box.hidden = false;
  box.textContent = e.message;
  if (e.position) box.dataset.col = String(e.position.col); else delete box.dataset.col;
  editor.markError(e.position || null);
  if (e.position) {
    // The line Loki names, and a caret under its column.
    const line = editor.value.split("\n")[e.position.line - 1] ?? "";
    where.innerHTML = `${escapeHtml(line)}\n${" ".repeat(Math.max(0, e.position.col - 1))}<b>^</b>`;
    where.hidden = false;
  }
}

function readControls() {
  const s = page.state;
  s.query = editor.value;
  s.from = $("#from").value.trim() || DEFAULTS.from;
  s.to = $("#to").value.trim() || DEFAULTS.to;
  s.limit = Math.max(1, parseInt($("#limit").value, 10) || DEFAULTS.limit);
  s.direction = $("#direction").value;
  s.refresh = $("#refresh").value;
  s.hist = $("#hist").value;
}

function writeControls() {
  const s = page.state;
  editor.value = s.query;
  $("#from").value = s.from;
  $("#to").value = s.to;
  $("#limit").value = s.limit;
  $("#direction").value = s.direction;
  $("#refresh").value = s.refresh;
  $("#hist").value = s.hist;
  for (const b of document.querySelectorAll("#ranges button")) b.classList.toggle("on", s.to === "now" && s.from === `now-${b.dataset.range}`);
}

function saveUrl() {
  const url = stateUrl(page.state);
  if (url !== location.pathname + location.search) history.pushState(null, "", url);
}

async function run({ fromHistory = false } = {}) {
  if (tail) stopLive();
  readControls();
  writeControls();
  if (!fromHistory) saveUrl();
  scheduleRefresh();
  const s = page.state;
  drawChips();
  if (!s.query.trim()) { setStatus("idle", "Type a LogQL query, e.g. {service_name=\"nginx\"} |= \"error\""); return; }
  remember(s.query);
  if (controller) controller.abort();
  controller = new AbortController();
  const signal = controller.signal;
  setStatus("loading", "Running…");
  const t0 = performance.now();
  try {
    const { start, end } = resolveRange(s.from, s.to);
    const stepMs = Math.max(1000, histogramStepMs(end - start, 250));
    const res = await api.logEntries({
      query: s.query, startNs: msToNs(start), endNs: msToNs(end), limit: s.limit, direction: s.direction, step: stepMs / 1000,
    }, signal);
    showError(null);
    if (res.resultType === "streams") {
      showLogs(res.entries);
      await drawVolume(s, start, end, signal);
      setStatus("done", `${res.entries.length.toLocaleString()} lines · ${Math.round(performance.now() - t0)} ms`);
    } else {
      showMetric(res.data, start, end, stepMs);
      setStatus("done", `${(res.data.result || []).length} series · ${Math.round(performance.now() - t0)} ms`);
    }
  } catch (e) {
    if (e.name === "AbortError") return;
    showError(e);
    setStatus("error", "");
  }
}

function showLogs(entries) {
  page.entries = entries;
  page.metric = null;
  $("#metric").hidden = true;
  $("#logs").hidden = false;
  $("#histogram").hidden = false;
  $("#details").hidden = true;
  list.setEntries(entries);
  list.root.scrollTop = 0;
}

async function drawVolume(s, start, end, signal) {
  const stepMs = histogramStepMs(end - start);
  const step = formatDuration(stepMs);
  const by = s.hist;
  const query = `sum by (${by}) (count_over_time(${s.query} [${step}]))`;
  // Each point counts the step ending at it: points from start+step to end cover (start, end].
  const data = await api.queryRange({ query, start: msToNs(start + stepMs), end: msToNs(end), step: stepMs / 1000 }, signal);
  const { xs, series } = matrixColumns(data.result, (start + stepMs) / 1000, end / 1000, stepMs / 1000);
  const groups = data.result.map((r, i) => ({ name: r.metric[by] ?? "", values: series[i] }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const total = groups.reduce((a, g) => a + g.values.reduce((x, v) => x + (v || 0), 0), 0);
  page.histogram = { query, step, by, xs, groups, total };
  const root = $("#histogram");
  root.dataset.total = String(total);
  drawHistogram(root, xs, groups, stepMs / 1000, (a, b) => {
    $("#from").value = isoUtc(a);
    $("#to").value = isoUtc(b);
    run();
  });
}

function showMetric(data, start, end, stepMs) {
  page.entries = [];
  $("#logs").hidden = true;
  $("#histogram").hidden = true;
  const root = $("#metric");
  root.hidden = false;
  if (data.resultType !== "matrix") {
    root.innerHTML = `<pre class="scalar">${escapeHtml(JSON.stringify(data.result, null, 2))}</pre>`;
    page.metric = { resultType: data.resultType, series: [] };
    return;
  }
  const { xs, series } = matrixColumns(data.result, start / 1000, end / 1000, stepMs / 1000);
  page.metric = { resultType: "matrix", step: stepMs / 1000, xs, series: data.result.map((r, i) => ({ metric: r.metric, values: series[i] })) };
  root.dataset.series = String(data.result.length);
  drawMetric(root, xs, data.result, series);
}

// ---- details pane: labels, structured metadata and parsed fields, each a filter away

function showDetails(entry) {
  const pane = $("#details");
  pane.hidden = false;
  const parsed = parseFields(entry.line);
  const rows = (title, pairs, kind) => pairs.length ? `<h4>${title}</h4><table>${pairs.map(([k, v]) =>
    `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(String(v))}</td><td class="acts">` +
    `<button data-kind="${kind}" data-op="=" data-name="${escapeHtml(k)}" data-value="${escapeHtml(String(v))}" title="Filter for value">+</button>` +
    `<button data-kind="${kind}" data-op="!=" data-name="${escapeHtml(k)}" data-value="${escapeHtml(String(v))}" title="Filter out value">−</button></td></tr>`).join("")}</table>` : "";
  pane.innerHTML = `<div class="dhead"><span>${escapeHtml(formatTs(entry.ts))} · ${escapeHtml(levelOf(entry) || "no level")}</span>` +
    `<button class="close" title="Close">×</button></div><pre class="full"></pre>` +
    rows("Labels", Object.entries(entry.labels), "label") +
    rows("Structured metadata", Object.entries(entry.meta || {}), "meta") +
    (parsed ? rows(`Fields (${parsed.parser})`, parsed.fields, parsed.parser) : "");
  pane.querySelector(".full").textContent = entry.line;
  const ctxButton = document.createElement("button");
  ctxButton.className = "ghost show-context";
  ctxButton.textContent = "Show context";
  ctxButton.onclick = () => showContext(entry, pane);
  pane.querySelector(".full").after(ctxButton);
  pane.querySelector(".close").onclick = () => { pane.hidden = true; };
  for (const b of pane.querySelectorAll("button[data-kind]")) b.onclick = () => addFilter(b.dataset);
}

/** The lines around `entry` in its own stream: 10 before and 10 after, whatever the query filters. */
async function showContext(entry, pane) {
  try { streamLabels = new Set(await cachedRange("labels", () => api.labels(rangeParams()))); } catch { /* keep old */ }
  const matchers = Object.entries(entry.labels).filter(([k]) => streamLabels.has(k)).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  const selector = `{${matchers.join(", ")}}`;
  const ts = BigInt(entry.ts), hour = 3_600_000_000_000n;
  const [before, after] = await Promise.all([
    api.logEntries({ query: selector, startNs: (ts - hour).toString(), endNs: ts.toString(), limit: 10, direction: "backward" }),
    api.logEntries({ query: selector, startNs: (ts + 1n).toString(), endNs: (ts + hour).toString(), limit: 10, direction: "forward" }),
  ]);
  const lines = [...before.entries.reverse(), { ...entry, current: true }, ...after.entries];
  let box = pane.querySelector(".context");
  if (!box) { box = document.createElement("div"); box.className = "context"; pane.querySelector(".show-context").after(box); }
  box.innerHTML = `<h4>Context in ${escapeHtml(selector)}</h4>` + lines.map((e) =>
    `<div class="${e.current ? "ctx current" : "ctx"}"><span class="ts">${escapeHtml(formatTs(e.ts))}</span> ${escapeHtml(e.line)}</div>`).join("");
  box.dataset.count = String(lines.length);
}

async function addFilter({ kind, name, value, op }) {
  let q = editor.value;
  if (kind === "label") {
    try { streamLabels = new Set(await cachedRange("labels", () => api.labels(rangeParams()))); } catch { /* keep old */ }
    q = streamLabels.has(name) ? addMatcher(q, name, value, op) : addFieldFilter(q, name, value, op);
  } else if (kind === "meta") q = addFieldFilter(q, name, value, op);
  else q = addFieldFilter(q, name, value, op, kind);
  editor.value = q;
  run();
}

// ---- filter chips: one menu of values per common label; choosing a value adds it to the query

const CHIP_LABELS = ["compose_project", "compose_service", "container", "detected_level"];
// Loki's detected_level is not an indexed label: its values are the levels Loki detects.
const DETECTED_LEVELS = ["critical", "error", "warn", "info", "debug", "trace", "unknown"];

async function drawChips() {
  const root = $("#chips");
  let names;
  try {
    names = new Set(await cachedRange("labels", () => api.labels(rangeParams())));
  } catch { return; }
  streamLabels = names;
  const chips = [];
  for (const name of CHIP_LABELS) {
    let values = [];
    if (name === "detected_level") values = DETECTED_LEVELS;
    else if (names.has(name)) {
      try { values = await cachedRange(`values:${name}`, () => api.labelValues(name, rangeParams())); } catch { values = []; }
    }
    if (!values.length) continue;
    const sel = document.createElement("select");
    sel.dataset.label = name;
    sel.innerHTML = `<option value="">${escapeHtml(name)} ▾</option>` + values.map((v) => `<option>${escapeHtml(v)}</option>`).join("");
    sel.onchange = () => { if (sel.value) addFilter({ kind: "label", name, value: sel.value, op: "=" }); };
    chips.push(sel);
  }
  root.replaceChildren(...chips);
  root.dataset.ready = "true";
}

// ---- live tail

function startLive() {
  readControls();
  if (!page.state.query.trim()) return;
  stopRefresh();
  showError(null);
  showLogs([]);
  $("#histogram").hidden = true;
  pausedBuffer = [];
  if (controller) controller.abort();  // a run still under way must not replace the live list
  $("#live").classList.add("on");
  $("#live-state").hidden = false;
  tail = new LiveTail(page.state.query, {
    onOpen: () => { document.body.dataset.live = "open"; },
    onEntries: (entries) => {
      if (list.atBottom() && !pausedBuffer.length) { list.append(entries, LIVE_CAP); list.scrollToBottom(); }
      else pausedBuffer.push(...entries);
      page.entries = list.entries;
      liveBadge();
    },
    onDropped: () => liveBadge(),
    onClose: (reason) => { if (reason) showError(new Error(reason)); stopLive(); },
  });
  liveBadge();
  setStatus("live", "Live");
}

function liveScrolled() {
  if (tail && pausedBuffer.length && list.atBottom()) resumeLive();
  else liveBadge();
}

function resumeLive() {
  list.append(pausedBuffer, LIVE_CAP);
  pausedBuffer = [];
  page.entries = list.entries;
  list.scrollToBottom();
  liveBadge();
}

function liveBadge() {
  const el = $("#live-state");
  el.hidden = !tail;
  if (!tail) return;
  const paused = pausedBuffer.length > 0 || !list.atBottom();
  el.dataset.paused = String(paused);
  el.dataset.dropped = String(tail.dropped);
  el.textContent = (paused ? `Paused · ${pausedBuffer.length} new (click to resume)` : "Following") +
    (tail.dropped ? ` · ${tail.dropped} dropped` : "");
}

function stopLive() {
  if (tail) tail.stop();
  tail = null;
  delete document.body.dataset.live;
  $("#live").classList.remove("on");
  $("#live-state").hidden = true;
  if (document.body.dataset.status === "live") setStatus("done", "");
}

// ---- auto-refresh, history, theme, wiring

function stopRefresh() { clearInterval(refreshTimer); refreshTimer = null; }

function scheduleRefresh() {
  stopRefresh();
  const ms = page.state.refresh === "off" ? null : durationMs(page.state.refresh);
  if (ms) refreshTimer = setInterval(() => { if (!tail && document.visibilityState === "visible") run({ fromHistory: true }); }, ms);
}

function showHistory() {
  const menu = $("#history");
  const items = loadHistory();
  menu.innerHTML = items.length ? items.map((q, i) => `<li data-i="${i}">${escapeHtml(q)}</li>`).join("") : "<li class='empty'>No queries yet</li>";
  menu.hidden = !menu.hidden;
  menu.onclick = (ev) => {
    const li = ev.target.closest("li[data-i]");
    if (!li) return;
    menu.hidden = true;
    editor.value = items[+li.dataset.i];
    run();
  };
}

/** Explore or Status, as the state says. */
function applyView() {
  const view = page.state.view === "status" ? "status" : "explore";
  document.body.dataset.view = view;
  for (const a of document.querySelectorAll(".views a")) a.classList.toggle("on", a.dataset.view === view);
  if (view === "status") { if (tail) stopLive(); stopRefresh(); status.start(); } else status.stop();
  return view;
}

function init() {
  const ranges = $("#ranges");
  for (const r of RELATIVE) {
    const b = document.createElement("button");
    b.dataset.range = r;
    b.textContent = r;
    b.onclick = () => { $("#from").value = `now-${r}`; $("#to").value = "now"; run(); };
    ranges.append(b);
  }
  $("#run").onclick = () => run();
  $("#live").onclick = () => (tail ? stopLive() : startLive());
  $("#live-state").onclick = () => resumeLive();
  $("#history-btn").onclick = showHistory;
  $("#share").onclick = async () => {
    readControls(); saveUrl();
    try { await navigator.clipboard.writeText(location.href); $("#share").textContent = "Copied"; } catch { $("#share").textContent = "Link in address bar"; }
    setTimeout(() => { $("#share").textContent = "Copy link"; }, 1500);
  };
  for (const id of ["#from", "#to", "#limit"]) $(id).addEventListener("keydown", (ev) => { if (ev.key === "Enter") run(); });
  for (const id of ["#direction", "#refresh", "#hist"]) $(id).addEventListener("change", () => run());
  $("#theme").onclick = () => {
    const dark = document.documentElement.dataset.theme !== "dark";
    document.documentElement.dataset.theme = dark ? "dark" : "light";
    localStorage.setItem("logyard.theme", document.documentElement.dataset.theme);
  };
  for (const a of document.querySelectorAll(".views a")) {
    a.onclick = (ev) => {
      ev.preventDefault();
      page.state.view = a.dataset.view;
      saveUrl();
      if (applyView() === "explore" && page.state.query.trim()) run({ fromHistory: true });
    };
  }
  window.addEventListener("popstate", () => {
    page.state = readState();
    writeControls();
    if (applyView() === "explore") run({ fromHistory: true });
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") { $("#history").hidden = true; $("#details").hidden = true; }
    // Ctrl/Cmd+Enter runs from anywhere on the page (the editor handles its own).
    if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter" && ev.target.id !== "query" && page.state.view !== "status") run();
  });
  writeControls();
  if (applyView() === "status") return;
  drawChips();
  if (page.state.query.trim()) run({ fromHistory: true });
  else setStatus("idle", "Type a LogQL query and press Ctrl+Enter");
}

init();

// The virtualized log list: a spacer as tall as all rows, and only the rows in view (plus a margin)
// in the DOM, drawn from a fixed pool. Row height is fixed; a line's full text and fields go to the
// details pane on click.

import { ansiToHtml } from "./ansi.js";

export const ROW_HEIGHT = 20;
const OVERSCAN = 10;
const MAX_ROW_CHARS = 500;

export function levelOf(e) {
  return (e.meta && e.meta.detected_level) || e.labels.detected_level || e.labels.level || "";
}

export function formatTs(ts) {
  const ms = Number(BigInt(ts) / 1_000_000n);
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export class LogList {
  constructor(root, { onSelect, onScroll } = {}) {
    this.root = root;
    this.onSelect = onSelect;
    this.onScroll = onScroll;
    this.entries = [];
    this.html = [];
    this.selected = -1;
    this.spacer = document.createElement("div");
    this.spacer.className = "spacer";
    root.append(this.spacer);
    this.pool = [];
    this.pending = false;
    root.addEventListener("scroll", () => { this.schedule(); this.onScroll && this.onScroll(); }, { passive: true });
    root.addEventListener("click", (ev) => {
      const row = ev.target.closest(".row");
      if (row) this.select(+row.dataset.index);
    });
    new ResizeObserver(() => this.schedule()).observe(root);
  }

  setEntries(entries) {
    this.entries = entries;
    this.html = new Array(entries.length);
    this.selected = -1;
    this.spacer.style.height = `${entries.length * ROW_HEIGHT}px`;
    this.root.dataset.count = String(entries.length);
    this.invalidate();
  }

  /** Appends (live tail) and keeps at most `cap` entries, dropping the oldest. */
  append(entries, cap) {
    let all = this.entries.concat(entries);
    const drop = Math.max(0, all.length - cap);
    if (drop) all = all.slice(drop);
    this.entries = all;
    this.html = this.html.slice(drop).concat(new Array(entries.length));
    this.spacer.style.height = `${all.length * ROW_HEIGHT}px`;
    this.root.dataset.count = String(all.length);
    this.invalidate();
  }

  atBottom() {
    const r = this.root;
    return r.scrollHeight - r.scrollTop - r.clientHeight < ROW_HEIGHT * 2;
  }

  scrollToBottom() { this.root.scrollTop = this.root.scrollHeight; }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.render(); });
  }

  render() {
    const { scrollTop, clientHeight } = this.root;
    const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.entries.length, Math.ceil((scrollTop + clientHeight) / ROW_HEIGHT) + OVERSCAN);
    const need = last - first;
    while (this.pool.length < need) {
      const row = document.createElement("div");
      row.className = "row";
      row.innerHTML = '<span class="lvl"></span><span class="ts"></span><span class="svc"></span><span class="line"></span>';
      this.root.append(row);
      this.pool.push(row);
    }
    for (let k = 0; k < this.pool.length; k++) {
      const row = this.pool[k], i = first + k;
      if (k >= need) { if (row.style.display !== "none") row.style.display = "none"; continue; }
      row.style.display = "";
      if (row.dataset.index === String(i)) continue;
      const e = this.entries[i];
      row.dataset.index = String(i);
      row.style.transform = `translateY(${i * ROW_HEIGHT}px)`;
      const level = levelOf(e);
      row.dataset.level = level;
      row.classList.toggle("selected", i === this.selected);
      const [lvl, ts, svc, line] = row.children;
      lvl.title = level;
      ts.textContent = formatTs(e.ts);
      const service = e.labels.service_name || e.labels.compose_service || e.labels.job || "";
      svc.textContent = service;
      svc.title = service;
      // A row shows one screen width of text: lay out no more than that (the details pane has it all).
      if (this.html[i] === undefined) this.html[i] = ansiToHtml(e.line.length > MAX_ROW_CHARS ? e.line.slice(0, MAX_ROW_CHARS) + "…" : e.line);
      line.innerHTML = this.html[i];
    }
  }

  invalidate() {
    for (const row of this.pool) row.dataset.index = "";
    this.render();
  }

  select(i) {
    this.selected = i;
    this.invalidate();
    this.onSelect && this.onSelect(this.entries[i], i);
  }
}

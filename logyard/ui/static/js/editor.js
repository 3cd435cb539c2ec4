// The query editor: a textarea over a highlighted copy of its text, completion of label names and
// values (fetched from the API for the current time range), keyword completion, the parse error's
// place marked in the text, and Ctrl/Cmd+Enter to run.

import { completionContext, highlight, KEYWORDS, offsetOf } from "./logql.js";
import { escapeHtml } from "./ansi.js";

export class Editor {
  constructor(root, { onRun, fetchLabels, fetchValues }) {
    this.onRun = onRun;
    this.fetchLabels = fetchLabels;
    this.fetchValues = fetchValues;
    this.errorAt = null;
    this.text = root.querySelector("textarea");
    this.overlay = root.querySelector(".overlay");
    this.menu = root.querySelector(".completions");
    this.items = [];
    this.active = 0;
    this.context = null;
    this.requestId = 0;
    this.text.addEventListener("input", () => { this.errorAt = null; this.paint(); this.complete(); });
    this.text.addEventListener("scroll", () => { this.overlay.scrollTop = this.text.scrollTop; });
    this.text.addEventListener("keydown", (ev) => this.key(ev));
    this.text.addEventListener("blur", () => setTimeout(() => this.close(), 150));
    this.text.addEventListener("click", () => this.close());
    this.menu.addEventListener("mousedown", (ev) => {
      const li = ev.target.closest("li");
      if (li) { ev.preventDefault(); this.accept(+li.dataset.i); }
    });
    this.paint();
  }

  get value() { return this.text.value; }
  set value(v) { this.text.value = v; this.errorAt = null; this.paint(); }

  /** Marks Loki's (line, col) in the text; null clears the mark. */
  markError(position) {
    this.errorAt = position ? offsetOf(this.text.value, position.line, position.col) : null;
    this.paint();
  }

  paint() {
    this.overlay.innerHTML = highlight(this.text.value, this.errorAt);
    this.overlay.scrollTop = this.text.scrollTop;
    const rows = Math.min(8, Math.max(1, this.text.value.split("\n").length));
    this.text.rows = rows;
  }

  key(ev) {
    if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter") { ev.preventDefault(); this.close(); this.onRun(); return; }
    if ((ev.ctrlKey || ev.metaKey) && ev.key === " ") { ev.preventDefault(); this.complete(true); return; }
    if (!this.items.length) return;
    if (ev.key === "ArrowDown") { ev.preventDefault(); this.move(1); }
    else if (ev.key === "ArrowUp") { ev.preventDefault(); this.move(-1); }
    else if (ev.key === "Enter" || ev.key === "Tab") { ev.preventDefault(); this.accept(this.active); }
    else if (ev.key === "Escape") { ev.preventDefault(); this.close(); }
  }

  move(d) {
    this.active = (this.active + d + this.items.length) % this.items.length;
    this.drawMenu();
  }

  async complete(force = false) {
    const caret = this.text.selectionStart;
    const ctx = completionContext(this.text.value, caret);
    const id = ++this.requestId;
    if (!ctx || (ctx.kind === "keyword" && !force && ctx.prefix.length < 2)) { this.close(); return; }
    let options = [];
    try {
      if (ctx.kind === "label") options = await this.fetchLabels();
      else if (ctx.kind === "value") options = await this.fetchValues(ctx.name);
      else options = KEYWORDS;
    } catch { options = []; }
    if (id !== this.requestId) return;
    const p = ctx.prefix.toLowerCase();
    const starts = options.filter((o) => o.toLowerCase().startsWith(p));
    const contains = options.filter((o) => !o.toLowerCase().startsWith(p) && o.toLowerCase().includes(p));
    this.items = [...starts, ...contains].filter((o) => o !== ctx.prefix).slice(0, 200);
    this.context = ctx;
    this.active = 0;
    if (!this.items.length) { this.close(); return; }
    this.drawMenu();
  }

  drawMenu() {
    const ctx = this.context;
    this.menu.innerHTML = `<div class="kind">${ctx.kind === "value" ? `values of ${escapeHtml(ctx.name)}` : ctx.kind === "label" ? "labels" : "keywords"}</div><ul>` +
      this.items.map((o, i) => `<li data-i="${i}" class="${i === this.active ? "active" : ""}">${escapeHtml(o)}</li>`).join("") + "</ul>";
    this.menu.hidden = false;
    this.menu.dataset.ctx = `${ctx.kind}:${ctx.prefix}`;  // what this menu completes, for tests
    const caret = this.caretPosition();
    this.menu.style.left = `${caret.left}px`;
    this.menu.style.top = `${caret.top}px`;
    const act = this.menu.querySelector("li.active");
    if (act) act.scrollIntoView({ block: "nearest" });
  }

  caretPosition() {
    // Measure the caret on the overlay, which lays out the same text the same way.
    const value = this.text.value, caret = this.text.selectionStart;
    const probe = document.createElement("span");
    probe.textContent = "\u200b";
    const saved = this.overlay.innerHTML;
    this.overlay.textContent = value.slice(0, caret);
    this.overlay.append(probe);
    const box = probe.getBoundingClientRect(), host = this.overlay.parentElement.getBoundingClientRect();
    this.overlay.innerHTML = saved;
    return { left: Math.max(0, box.left - host.left), top: box.bottom - host.top + 4 };
  }

  accept(i) {
    const ctx = this.context, choice = this.items[i];
    if (!ctx || choice === undefined) return;
    const v = this.text.value, caret = this.text.selectionStart;
    let insert = choice, after = v.slice(caret);
    if (ctx.kind === "value") {
      insert = choice.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
      const rest = /^[^"\s,}]*/.exec(after)[0];
      after = after.slice(rest.length);
      if (after.startsWith('"')) after = after.slice(1);
      insert += '"';
    } else if (ctx.kind === "label") {
      const rest = /^[A-Za-z0-9_]*/.exec(after)[0];
      after = after.slice(rest.length);
      if (!ctx.grouping && !/^\s*(=|!=|=~|!~)/.test(after)) insert += '="';
    }
    this.text.value = v.slice(0, ctx.from) + insert + after;
    const pos = ctx.from + insert.length;
    this.text.setSelectionRange(pos, pos);
    this.close();
    this.paint();
    this.text.focus();
    if (insert.endsWith('="')) this.complete();
  }

  close() {
    this.items = [];
    this.menu.hidden = true;
  }
}

// The status view: what the server's own endpoints say about it (/metrics, /config, build info),
// sampled every few seconds so counters become rates; and a link to the agent's targets page, which
// lives on the agent's port (the agent shares its JSON with pages of its own host).

import { escapeHtml } from "./ansi.js";

/** Prometheus text exposition as name → sum over its label sets (comments and _created skipped). */
export function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (!m || m[1].endsWith("_created")) continue;
    out.set(m[1], (out.get(m[1]) || 0) + Number(m[3]));
  }
  return out;
}

export function formatBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

async function text(path) {
  const r = await fetch(path);
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.text();
}

export class StatusView {
  constructor(root) {
    this.root = root;
    this.previous = null;
    this.timer = null;
  }

  start() {
    this.stop();
    this.refresh();
    this.timer = setInterval(() => this.refresh(), 5000);
  }

  stop() { clearInterval(this.timer); this.timer = null; }

  async refresh() {
    let metrics, config, build;
    try {
      [metrics, config, build] = await Promise.all([text("/metrics"), text("/config"), text("/loki/api/v1/status/buildinfo")]);
    } catch (e) {
      this.root.innerHTML = `<div class="error">${escapeHtml(e.message)}</div>`;
      return;
    }
    const m = parseMetrics(metrics), now = performance.now();
    const lines = m.get("loki_distributor_lines_received_total") || 0;
    const bytes = m.get("loki_distributor_bytes_received_total") || 0;
    let rate = "measuring…";
    if (this.previous) {
      const dt = (now - this.previous.at) / 1000;
      rate = `${((lines - this.previous.lines) / dt).toFixed(1)} lines/s · ${formatBytes((bytes - this.previous.bytes) / dt)}/s`;
    }
    this.previous = { at: now, lines, bytes };
    // On disk: the blocks and the WAL (the head is the WAL's entries held in memory).
    const disk = (m.get("logyard_storage_block_bytes") || 0) + (m.get("logyard_storage_wal_bytes") || 0);
    const retention = (/^\s*retention_period:\s*(\S+)/m.exec(config) || [])[1] || "?";
    const version = JSON.parse(build).version;
    const cards = [
      ["Ingestion", rate, "ingest-rate"],
      ["Lines received", lines.toLocaleString(), "lines"],
      ["Bytes received", formatBytes(bytes), "bytes"],
      ["Streams", (m.get("logyard_storage_streams") || 0).toLocaleString(), "streams"],
      ["Disk used", formatBytes(disk), "disk"],
      ["Blocks", (m.get("logyard_storage_blocks") || 0).toLocaleString(), "blocks"],
      ["Head (memory)", `${(m.get("logyard_storage_head_lines") || 0).toLocaleString()} lines · ${formatBytes(m.get("logyard_storage_head_bytes") || 0)}`, "head"],
      ["Retention", retention === "0s" ? "kept forever (0s)" : retention, "retention"],
      ["Live tails", (m.get("loki_querier_tail_active") || 0).toLocaleString(), "tails"],
      ["Version", version, "version"],
    ];
    if (!this.root.querySelector(".agent")) {
      // Built once (again after an error): the periodic refresh replaces only the cards, so the
      // agent's address being typed and its targets listed stay put.
      const agent = localStorage.getItem("logyard.agent") || `${location.protocol}//${location.hostname}:9080`;
      this.root.innerHTML = `<div class="cards"></div>` +
        `<div class="agent"><h4>Agent</h4><label>Agent address <input id="agent-url" value="${escapeHtml(agent)}"></label> ` +
        `<a id="agent-targets" href="${escapeHtml(agent)}/targets" target="_blank" rel="noopener">targets ↗</a> ` +
        `<span id="agent-state" class="muted"></span><table id="agent-table"></table></div>`;
      const input = this.root.querySelector("#agent-url");
      input.onchange = () => {
        localStorage.setItem("logyard.agent", input.value.replace(/\/$/, ""));
        this.agentTargets(this.agentUrl());
      };
    }
    this.root.querySelector(".cards").innerHTML = cards.map(([title, value, key]) =>
      `<div class="card" data-key="${key}"><div class="title">${title}</div><div class="value">${escapeHtml(String(value))}</div></div>`).join("");
    this.root.dataset.disk = String(disk);
    this.root.dataset.streams = String(m.get("logyard_storage_streams") || 0);
    this.agentTargets(this.agentUrl());
  }

  agentUrl() {
    return this.root.querySelector("#agent-url").value.replace(/\/$/, "");
  }

  async agentTargets(agent) {
    const seq = this.agentSeq = (this.agentSeq || 0) + 1;  // only the latest answer is shown
    const state = this.root.querySelector("#agent-state"), table = this.root.querySelector("#agent-table");
    this.root.querySelector("#agent-targets").href = `${agent}/targets`;
    try {
      const r = await fetch(`${agent}/targets?format=json`, { signal: AbortSignal.timeout(2000) });
      const { targets } = await r.json();
      if (seq !== this.agentSeq) return;
      state.textContent = `${targets.length} targets`;
      table.innerHTML = "<tr><th>job</th><th>type</th><th>target</th><th>state</th><th>last error</th></tr>" +
        targets.map((t) => `<tr><td>${escapeHtml(t.job)}</td><td>${escapeHtml(t.kind || t.type || "")}</td><td>${escapeHtml(t.key || t.target || "")}</td>` +
          `<td>${escapeHtml(t.state)}</td><td>${escapeHtml(t.last_error || "")}</td></tr>`).join("");
    } catch {
      if (seq !== this.agentSeq) return;
      state.textContent = "not reachable from this page: check the agent address, or open its targets page";
      table.innerHTML = "";
    }
  }
}

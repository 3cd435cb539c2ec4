// Live tail over Loki's websocket (/loki/api/v1/tail): entries oldest first, and the count of
// entries the server dropped because this client fell behind.

import { flatten } from "./api.js";

export class LiveTail {
  constructor(query, { onOpen, onEntries, onDropped, onClose }) {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const startNs = (BigInt(Date.now()) * 1_000_000n).toString();
    const params = new URLSearchParams({ query, start: startNs, limit: "1000" });
    this.dropped = 0;
    this.ws = new WebSocket(`${proto}//${location.host}/loki/api/v1/tail?${params}`);
    this.ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      const entries = flatten(msg.streams || [], "forward");
      if (entries.length) onEntries(entries);
      if (msg.dropped_entries && msg.dropped_entries.length) { this.dropped += msg.dropped_entries.length; onDropped(this.dropped); }
    };
    this.ws.onclose = (ev) => onClose(ev.reason || (ev.code === 1000 ? "" : `closed (${ev.code})`));
    this.ws.onopen = () => onOpen();
  }

  stop() {
    this.ws.onclose = null;
    this.ws.close(1000);
  }
}

// A rollout set's progress, live over WS /v1/rollouts/{id}/stream (docs/streaming.md):
// `hello` (the set and its control), `progress` (coalesced by the server, at most ~10/s),
// `settled` (final records), then the server closes with 1000. Reconnects after a drop.

import { getKey } from "./api.js";
import { SocketClient } from "./stream.js";

const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];
// Close codes after which reconnecting cannot help.
const FATAL = { 4401: "API key not accepted", 4403: "this key may not read", 4404: "no such rollout set", 4409: "ambiguous id" };

export class RolloutStream extends SocketClient {
  /**
   * @param {string} setId
   * @param {{onHello: (msg) => void, onProgress: (msg) => void, onSettled: (msg) => void,
   *          onConnection?: (state: string) => void, onFatal?: (code: number, reason: string) => void}} handlers
   */
  constructor(setId, handlers) {
    super();
    this.setId = setId;
    this.handlers = handlers;
    this.failures = 0;
  }

  connection(state) {
    if (this.handlers.onConnection) this.handlers.onConnection(state);
  }

  connect() {
    if (this.closed) return;
    this.connection(this.failures ? "reconnecting" : "connecting");
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const q = new URLSearchParams({ api_key: getKey() });
    const ws = new WebSocket(`${proto}//${location.host}/v1/rollouts/${encodeURIComponent(this.setId)}/stream?${q}`);
    this.ws = ws;
    ws.onmessage = (ev) => this.handle(ws, ev.data);
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.settled || this.closed) return;
      if (FATAL[ev.code]) {
        this.closed = true;
        this.connection(null);
        if (this.handlers.onFatal) this.handlers.onFatal(ev.code, ev.reason || FATAL[ev.code]);
        return;
      }
      this.failures += 1;
      this.connection("reconnecting");
      const wait = BACKOFF_MS[Math.min(this.failures - 1, BACKOFF_MS.length - 1)];
      this.timer = setTimeout(() => this.connect(), wait);
    };
  }

  handle(ws, raw) {
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      return;
    }
    if (msg.type === "hello") {
      this.failures = 0;
      this.settled = false;
      this.connection("live");
      this.handlers.onHello(msg);
    } else if (msg.type === "progress") {
      this.handlers.onProgress(msg);
    } else if (msg.type === "settled") {
      this.settled = true; // the server closes next: nothing more to follow
      this.connection(null);
      this.handlers.onSettled(msg);
    } else if (msg.type === "ping") {
      try {
        ws.send(JSON.stringify({ type: "pong" }));
      } catch {
        /* closing */
      }
    }
  }
}

// Live events of one branch over the WebSocket, resumed from the last seq seen after any drop.
//
// Guarantees to callers: onEvents receives each seq at most once and in order. A gap (which the
// server promises not to produce) or a `resync` message makes the stream reconnect from the
// first missing seq. If the WebSocket cannot be opened at all, it falls back to polling REST.

import { api, getKey } from "./api.js";

const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];
const POLL_MS = 1000;
// Close codes after which reconnecting cannot help (the server's 4xxx mirror HTTP statuses).
const FATAL = { 4400: "bad request", 4401: "API key not accepted", 4403: "this key may not read", 4404: "no such branch" };

/** Close a WebSocket without running its close handler (the caller moves on by itself). */
export function closeQuietly(ws, code, reason) {
  if (!ws) return;
  ws.onclose = null;
  try {
    ws.close(code, reason);
  } catch {
    /* already closed */
  }
}

/** What every live socket of the UI does alike: start by connecting; close for good. */
export class SocketClient {
  constructor() {
    this.ws = null;
    this.closed = false;
    this.timer = null;
  }

  start() {
    this.connect();
    return this;
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    closeQuietly(this.ws, 1000, "bye");
    this.ws = null;
  }
}

export class BranchStream extends SocketClient {
  /**
   * @param {string} branchId
   * @param {{fromSeq?: number, onEvents: (events: object[]) => void,
   *          onStatus?: (status: string, msg: object) => void, onConnection?: (state: string) => void}} opts
   */
  constructor(branchId, { fromSeq = 1, onEvents, onStatus, onConnection, onFatal }) {
    super();
    this.branchId = branchId;
    this.nextSeq = fromSeq;
    this.onEvents = onEvents;
    this.onStatus = onStatus || (() => {});
    this.onConnection = onConnection || (() => {});
    this.onFatal = onFatal || (() => {});
    /** Resolves once the server said hello (the stream is subscribed), or gave up. */
    this.ready = new Promise((resolve) => {
      this.markReady = resolve;
    });
    this.failures = 0;
    this.everOpened = false;
    this.polling = false;
    this.pending = [];
    this.flushQueued = false;
  }

  url() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const q = new URLSearchParams({ from_seq: String(this.nextSeq), api_key: getKey() });
    return `${proto}//${location.host}/v1/branches/${encodeURIComponent(this.branchId)}/stream?${q}`;
  }

  connect() {
    if (this.closed) return;
    this.onConnection(this.everOpened ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.failures = 0;
      this.everOpened = true;
      this.onConnection("live");
    };
    ws.onmessage = (msg) => this.handle(ws, msg.data);
    ws.onclose = (ev) => {
      if (this.ws === ws) this.ws = null;
      if (FATAL[ev.code]) {
        this.closed = true;
        this.markReady(false);
        this.onConnection("closed");
        this.onFatal(ev.code, ev.reason || FATAL[ev.code]);
        return;
      }
      this.scheduleReconnect();
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  scheduleReconnect() {
    if (this.closed) return;
    this.failures += 1;
    if (!this.everOpened && this.failures >= 4) {
      this.markReady(false);
      this.startPolling();
      return;
    }
    this.onConnection("reconnecting");
    const wait = BACKOFF_MS[Math.min(this.failures - 1, BACKOFF_MS.length - 1)];
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  /** Reconnect now from the first seq not yet received. */
  resync(fromSeq) {
    if (Number.isInteger(fromSeq) && fromSeq < this.nextSeq) this.nextSeq = fromSeq;
    closeQuietly(this.ws, 4000, "resync");
    this.ws = null;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), 0);
  }

  handle(ws, raw) {
    if (ws !== this.ws) return;
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      return;
    }
    switch (msg.type) {
      case "event":
        this.accept(msg.event);
        break;
      case "events":
        for (const e of msg.events || []) this.accept(e);
        break;
      case "status":
        this.flush(); // events before a status change are rendered before it
        this.onStatus(msg.status, msg);
        break;
      case "hello":
        this.markReady(true);
        if (msg.status) this.onStatus(msg.status, msg);
        break;
      case "resync":
        this.resync(msg.from_seq ?? this.nextSeq);
        break;
      case "ping":
        try {
          ws.send(JSON.stringify({ type: "pong" }));
        } catch {
          /* closing */
        }
        break;
      default:
        break;
    }
  }

  accept(event) {
    if (!event || !Number.isInteger(event.seq)) return;
    if (event.seq < this.nextSeq) return; // already have it (resume overlap)
    if (event.seq > this.nextSeq) {
      this.resync(this.nextSeq); // a gap: ask again from the first missing seq
      return;
    }
    this.nextSeq = event.seq + 1;
    this.pending.push(event);
    if (!this.flushQueued) {
      this.flushQueued = true;
      // Batch a burst of events into one render.
      requestAnimationFrame(() => this.flush());
      setTimeout(() => this.flush(), 100); // rAF does not fire in background tabs
    }
  }

  flush() {
    if (!this.flushQueued) return;
    this.flushQueued = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length && !this.closed) this.onEvents(batch);
  }

  async startPolling() {
    if (this.polling || this.closed) return;
    this.polling = true;
    this.onConnection("polling");
    let lastStatus = "";
    while (!this.closed) {
      try {
        const page = await api.events(this.branchId, this.nextSeq, 500);
        for (const e of page?.events || []) this.accept(e);
        this.flush();
        const b = await api.branch(this.branchId);
        if (b?.status && b.status !== lastStatus) {
          lastStatus = b.status;
          this.onStatus(b.status, b); // b.failure: why a failed branch failed
        }
      } catch {
        /* keep trying */
      }
      await new Promise((r) => {
        this.timer = setTimeout(r, POLL_MS);
      });
    }
  }
}

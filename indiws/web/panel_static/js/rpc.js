// A JSON-RPC 2.0 WebSocket that reconnects by itself (the service restarts,
// the network blips) and tells its listeners whether it is up.

export function wsUrl(path) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}${path}`;
}

export class RpcError extends Error {
  constructor(error) {
    super(error.message || "error");
    this.code = error.code;
    this.data = error.data || {};
  }
}

export class RpcSocket {
  /** path: "/ws/indi_client/"; onNotify(method, params); onState(up: bool). */
  constructor(path, { onNotify = () => {}, onState = () => {}, onOpen = () => {}, onRaw } = {}) {
    this.path = path;
    this.onNotify = onNotify;
    this.onState = onState;
    this.onOpen = onOpen;
    this.onRaw = onRaw; // (direction, text) for the console
    this.pending = new Map();
    this.nextId = 1;
    this.delay = 500;
    this.up = false;
    this.closed = false;
    this.connect();
  }

  connect() {
    if (this.closed) return;
    const ws = new WebSocket(wsUrl(this.path));
    this.ws = ws;
    ws.onopen = () => {
      this.delay = 500;
      this.up = true;
      this.onState(true);
      this.onOpen();
    };
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = () => {
      const wasUp = this.up;
      this.up = false;
      this.closedOnce = true;
      for (const { reject } of this.pending.values()) reject(new Error("connection to the service lost"));
      this.pending.clear();
      if (wasUp || !this.reported) this.onState(false);
      this.reported = true;
      if (!this.closed) {
        setTimeout(() => this.connect(), this.delay);
        this.delay = Math.min(this.delay * 2, 5000);
      }
    };
    ws.onerror = () => {}; // onclose follows and retries
  }

  receive(text) {
    if (this.onRaw) this.onRaw("in", text);
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      this.onNotify("text", { text }); // lightAPT's plain-text answers
      return;
    }
    for (const m of Array.isArray(msg) ? msg : [msg]) {
      if (m && m.id !== undefined && m.id !== null && this.pending.has(m.id) && !m.method) {
        const { resolve, reject } = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error) reject(new RpcError(m.error));
        else resolve(m.result);
      } else if (m && m.method) {
        this.onNotify(m.method, m.params || {}, m);
      } else {
        this.onNotify("other", m);
      }
    }
  }

  /** Send a raw text frame (the console). */
  sendText(text) {
    if (!this.up) throw new Error("not connected to the service");
    if (this.onRaw) this.onRaw("out", text);
    this.ws.send(text);
  }

  /** Call a method; resolves with its result, rejects with RpcError. */
  call(method, params = {}) {
    if (!this.up) return Promise.reject(new Error("not connected to the service (reconnecting…)"));
    const id = this.nextId++;
    const text = JSON.stringify({ jsonrpc: "2.0", id, method, params });
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.onRaw) this.onRaw("out", text);
      this.ws.send(text);
    });
  }

  close() {
    this.closed = true;
    if (this.ws) this.ws.close();
  }
}

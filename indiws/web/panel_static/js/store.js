// The live mirror of every INDI property, fed by /ws/debugging/?stream=1
// (a snapshot, then every change).  Views subscribe to what changed.

import { RpcSocket } from "./rpc.js";

export const key = (device, name) => `${device}\u0000${name}`;

export class PropertyStore {
  constructor() {
    this.props = new Map(); // key → property
    this.messages = []; // {device, timestamp, message}, newest last
    this.indiConnected = null; // the service's link to indiserver
    this.indiserver = "";
    this.indiError = null; // why the service cannot reach indiserver
    this.listeners = new Set();
    this.socket = new RpcSocket("/ws/debugging/?stream=1", {
      onNotify: (method, params) => this.notify(method, params),
      onState: (up) => this.emit({ type: "link", up }),
    });
  }

  /** listener({type, device?, name?, prop?}) */
  on(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(ev) {
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch (e) {
        console.warn("panel view failed on", ev.type, e); // one view must not stop the others
      }
    }
  }

  devices() {
    const names = new Set();
    for (const p of this.props.values()) names.add(p.device);
    return [...names].sort((a, b) => a.localeCompare(b));
  }

  propertiesOf(device) {
    return [...this.props.values()].filter((p) => p.device === device);
  }

  get(device, name) {
    return this.props.get(key(device, name));
  }

  notify(method, params) {
    switch (method) {
      case "snapshot":
        this.props.clear();
        for (const p of params.properties || []) this.props.set(key(p.device, p.name), p);
        this.indiConnected = params.connected;
        this.indiserver = params.indiserver || "";
        this.indiError = params.indiserver_error || null;
        this.emit({ type: "reset" });
        break;
      case "defined":
      case "updated": {
        const k = key(params.device, params.name);
        const known = this.props.has(k);
        this.props.set(k, params);
        this.emit({ type: known ? "updated" : "defined", device: params.device, name: params.name, prop: params });
        break;
      }
      case "deleted":
        if (params.name === null || params.name === undefined) {
          for (const k of [...this.props.keys()]) if (k.startsWith(params.device + "\u0000")) this.props.delete(k);
        } else {
          this.props.delete(key(params.device, params.name));
        }
        this.emit({ type: "deleted", device: params.device, name: params.name });
        break;
      case "message":
        this.messages.push(params);
        if (this.messages.length > 500) this.messages.splice(0, this.messages.length - 500);
        this.emit({ type: "message", message: params });
        break;
      case "connection_lost":
        this.indiConnected = false;
        this.props.clear();
        this.emit({ type: "reset" });
        break;
      // "connected": the service's first connection, when it started before
      // indiserver (a page opened then had a snapshot without it).
      case "connected":
      case "connection_restored":
        this.indiConnected = true;
        this.emit({ type: "link", up: true });
        break;
      default:
        break;
    }
  }
}

// The panel: five views over the service's public APIs, switched by the URL's
// hash (#devices, #imaging, #plans, #server, #console).

import { $ } from "./dom.js";
import { RpcSocket } from "./rpc.js";
import { PropertyStore } from "./store.js";
import { devicesView } from "./devices.js";
import { imagingView } from "./imaging.js";
import { plansView } from "./plans.js";
import { safetyBanner } from "./safety.js";
import { serverView } from "./server.js";
import { consoleView } from "./console.js";

// A token given in the URL has set the cookie: do not leave it in the address
// bar, the history or a bookmark.
if (new URLSearchParams(location.search).has("token")) {
  const url = new URL(location.href);
  url.searchParams.delete("token");
  history.replaceState(null, "", url.pathname + url.search + url.hash);
}

// Night mode: red on black, remembered in this browser.
const nightBtn = $("#night");
function setNight(on) {
  document.documentElement.classList.toggle("night", on);
  nightBtn.setAttribute("aria-pressed", String(on));
  localStorage.setItem("indiws.night", on ? "1" : "0");
}
setNight(localStorage.getItem("indiws.night") === "1");
nightBtn.addEventListener("click", () => setNight(!document.documentElement.classList.contains("night")));

const store = new PropertyStore();

// One socket of the high-level API, shared by the imaging view's parts.
const hl = new RpcSocket("/ws/indi_client/", {
  onNotify: (method, params) => hl.listeners.forEach((l) => l(method, params)),
  onOpen: () => hl.openers.forEach((f) => f()),
  onState: () => renderLink(),
});
hl.listeners = [];
hl.openers = [];

const link = $("#link");
let refused = null; // the service answers, but not to us (a new access token)
let lastProbe = 0;
async function probe() {
  if (Date.now() - lastProbe < 3000) return;
  lastProbe = Date.now();
  try {
    const resp = await fetch("/api/v1/status", { credentials: "same-origin" });
    refused = resp.status === 401 || resp.status === 403 ? (await resp.json()).error.message : null;
  } catch {
    refused = null; // unreachable: the sockets keep retrying
  }
  renderLink();
}

function renderLink() {
  // What an observer must tell apart: the service away (or refusing this
  // browser), indiserver away behind it, and all well.
  const sock = store.socket;
  let state, text;
  if (!sock.up && sock.closedOnce) {
    probe();
    state = "Alert";
    text = refused ? "access refused: open the service's URL with ?token= again" : "service unreachable, reconnecting…";
  } else if (!sock.up) [state, text] = ["Idle", "connecting…"];
  else if (store.indiConnected === false) {
    const why = store.indiError ? `: ${store.indiError}` : "";
    [state, text] = ["Alert", `indiserver ${store.indiserver} unreachable${why}`];
  }
  else if (store.indiConnected) [state, text] = ["Ok", `indiserver ${store.indiserver}`];
  else [state, text] = ["Idle", "connecting…"];
  if (sock.up) refused = null;
  link.dataset.state = state;
  link.textContent = text;
  link.title = refused || `${state}: ${text}`;
}
store.on((ev) => (ev.type === "link" || ev.type === "reset") && renderLink());
// While the service is away, ask now and then whether it is back but refusing us;
// while indiserver is away behind it, why (the address and the last error).
setInterval(async () => {
  if (!store.socket.up) return renderLink();
  if (store.indiConnected !== false) return;
  try {
    const resp = await fetch("/api/v1/status", { credentials: "same-origin" });
    const link = (await resp.json()).indiserver || {};
    store.indiserver = `${link.host}:${link.port}`;
    store.indiError = link.last_error || null;
  } catch {
    return;
  }
  renderLink();
}, 3000);

const views = {
  devices: { el: $("#view-devices") },
  imaging: { el: $("#view-imaging") },
  plans: { el: $("#view-plans") },
  server: { el: $("#view-server") },
  console: { el: $("#view-console") },
};
// The safety banner stands above every view.
$("#main").prepend(safetyBanner(hl));
devicesView(views.devices.el, store);
imagingView(views.imaging.el, store, hl);
Object.assign(views.plans, plansView(views.plans.el, hl));
Object.assign(views.server, serverView(views.server.el, store));
Object.assign(views.console, consoleView(views.console.el));

function route() {
  // lightAPT's debug page URLs open the console.
  const debugPage = /^\/(debug\/indi|indi\/debug)\/?$/.test(location.pathname);
  let name = location.hash.slice(1) || (debugPage ? "console" : "devices");
  if (!(name in views)) name = "devices";
  for (const [n, v] of Object.entries(views)) {
    const on = n === name;
    v.el.hidden = !on;
    if (on && v.show) v.show();
    else if (!on && v.hide) v.hide();
  }
  for (const a of document.querySelectorAll("nav.views a")) {
    if (a.getAttribute("href") === `#${name}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `indiws · ${name}`;
}
window.addEventListener("hashchange", route);
route();
renderLink();
document.body.dataset.ready = "1";

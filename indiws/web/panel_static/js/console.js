// Console: send a request to a WebSocket of the service and see every frame,
// the replacement for lightAPT's debug page (/debug/indi, /indi/debug/).

import { $, h, toast } from "./dom.js";
import { RpcSocket } from "./rpc.js";

const EXAMPLES = {
  "/ws/indi_client/": [
    ['{"jsonrpc": "2.0", "id": 1, "method": "roles"}', "roles"],
    ['{"jsonrpc": "2.0", "id": 2, "method": "status"}', "status"],
    ['{"jsonrpc": "2.0", "id": 3, "method": "telescope.position"}', "telescope.position"],
    ['{"jsonrpc": "2.0", "id": 4, "method": "camera.expose", "params": {"duration": 1}}', "camera.expose"],
    ['{"jsonrpc": "2.0", "id": 5, "method": "rpc.discover"}', "rpc.discover"],
    ['{"device_name": "telescope", "instruction": "get_static_info", "params": []}', "lightAPT: telescope get_static_info"],
    ['{"device_name": "camera", "instruction": "start_single_exposure", "params": [1.0]}', "lightAPT: camera exposure"],
  ],
  "/ws/indi/": [
    ['{"jsonrpc": "2.0", "id": 1, "method": "devices"}', "devices"],
    ['{"jsonrpc": "2.0", "id": 2, "method": "get", "params": {"device": "Telescope Simulator", "property": "EQUATORIAL_EOD_COORD"}}', "get"],
    ['{"jsonrpc": "2.0", "id": 3, "method": "rpc.discover"}', "rpc.discover"],
  ],
  "/ws/debugging/": [
    ["print camera", "lightAPT: print camera"],
    ["list", "lightAPT: list"],
    ['{"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": {"device": "Focuser Simulator"}}', "subscribe"],
  ],
};

export function consoleView(root) {
  const endpoint = h(
    "select",
    { "aria-label": "WebSocket", onchange: () => open() },
    Object.keys(EXAMPLES).map((p) => h("option", { value: p }, p)),
  );
  const example = h("select", { "aria-label": "example request", onchange: () => (input.value = example.value) });
  const input = h("textarea", {
    rows: 4,
    spellcheck: false,
    "aria-label": "request to send",
    dataset: { input: "console" },
    onkeydown: (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        send();
      }
    },
  });
  const showPushed = h("input", { type: "checkbox", checked: true });
  const showStatus = h("input", { type: "checkbox" });
  const linkState = h("span.pill", { "data-kind": "stopped" }, "closed");
  const log = h("ol.console-log", { "aria-live": "off" });
  let socket = null;
  let shown = false;

  function line(dir, text) {
    let pretty = text;
    let pushed = false;
    try {
      const msg = JSON.parse(text);
      pushed = !Array.isArray(msg) && msg.method !== undefined && msg.id === undefined;
      // The periodic status would bury everything else (every 2 s).
      if (dir === "in" && pushed && msg.method === "status" && !showStatus.checked) return;
      pretty = JSON.stringify(msg, null, 1).replace(/\n\s*/g, " ");
    } catch {
      /* plain text: a lightAPT answer */
    }
    if (dir === "in" && pushed && !showPushed.checked) return;
    log.prepend(h("li", { dataset: { dir, pushed: String(pushed) } }, h("span.dir", dir === "in" ? "←" : "→"), h("time", new Date().toTimeString().slice(0, 8)), h("pre", pretty)));
    while (log.children.length > 300) log.lastChild.remove();
  }

  function open() {
    if (socket) socket.close();
    fill();
    socket = new RpcSocket(endpoint.value, {
      onRaw: line,
      onState: (up) => {
        linkState.dataset.kind = up ? "running" : "crashed";
        linkState.textContent = up ? "open" : "reconnecting";
      },
    });
  }

  function fill() {
    const examples = EXAMPLES[endpoint.value];
    example.replaceChildren(...examples.map(([v, l]) => h("option", { value: v }, l)));
    input.value = examples[0][0];
  }

  function send() {
    const text = input.value.trim();
    if (!text) return;
    try {
      socket.sendText(text);
    } catch (e) {
      toast(e.message, "error");
    }
  }

  root.append(
    h("section.card.wide",
      h("header", h("h3", "Console"), linkState),
      h("p.muted", "Send JSON-RPC (or a lightAPT envelope, or a text command on /ws/debugging/) and see the answers and pushed frames. Ctrl+Enter sends."),
      h("div.form.wide-fields", h("label.field", h("span", "Socket"), endpoint), h("label.field", h("span", "Example"), example)),
      input,
      h("div.buttons",
        h("button.primary", { type: "button", dataset: { action: "send" }, onclick: send }, "Send"),
        h("button", { type: "button", onclick: () => log.replaceChildren() }, "Clear"),
        h("label.check", showPushed, "pushed frames"),
        h("label.check", showStatus, "periodic status")),
      log),
  );
  fill();
  return {
    show() {
      if (!shown) open();
      shown = true;
      $("textarea", root).focus();
    },
    hide() {},
  };
}

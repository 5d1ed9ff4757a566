// Server view: what INDI Web Manager's page does, over the manager API
// (/api/v1/server, /api/v1/profiles, /api/v1/drivers).

import { fill, h, toast } from "./dom.js";
import { api, enc } from "./http.js";

export function serverView(root, store) {
  const statusBox = h("dl.readouts", { dataset: { card: "server-status" } });
  const profileSel = h("select", { "aria-label": "profile", onchange: () => renderProfileInfo() });
  const profileInfo = h("dl.readouts");
  const running = h("tbody");
  const catalogBox = h("div.catalog");
  const filterIn = h("input", { type: "search", placeholder: "filter drivers", "aria-label": "filter the catalog", oninput: () => renderCatalog() });
  let catalog = [];
  let server = {};
  let profiles = [];
  let timer = null;
  const openFamilies = new Set(); // kept open across the refreshes
  let catalogKey = "";

  async function act(what, method, path, body) {
    try {
      const r = await api(method, path, body);
      toast(what);
      return r;
    } catch (e) {
      toast(`${what}: ${e.message}`, "error");
      throw e;
    } finally {
      refresh();
    }
  }
  const quiet = (p) => p.catch(() => {});

  // Start is offered while indiserver is stopped, Stop while it runs.
  const startBtn = h("button", { type: "button", dataset: { action: "server-start" }, onclick: () => quiet(act("indiserver started", "POST", "/api/v1/server/start", {})) }, "Start");
  const stopBtn = h("button.danger", {
    type: "button",
    dataset: { action: "server-stop" },
    onclick: () => confirm("Stop indiserver and every driver?") && quiet(act("indiserver stopped", "POST", "/api/v1/server/stop", {})),
  }, "Stop");

  root.append(
    h(
      "div.cards",
      h(
        "section.card",
        h("header", h("h3", "indiserver")),
        statusBox,
        h("div.buttons",
          startBtn,
          h("button", { type: "button", onclick: () => quiet(act("indiserver restarted", "POST", "/api/v1/server/restart", {})) }, "Restart"),
          stopBtn),
      ),
      h(
        "section.card",
        h("header", h("h3", "Profiles")),
        h("div.form", h("label.field", h("span", "Profile"), profileSel),
          h("button.primary", {
            type: "button",
            onclick: () => profileSel.value && quiet(act(`profile ${profileSel.value} started`, "POST", `/api/v1/profiles/${enc(profileSel.value)}/start`, {})),
          }, "Start profile")),
        profileInfo,
        h("div.buttons",
          h("button", {
            type: "button",
            onclick: () => {
              const name = prompt("Save the running drivers as the profile named:");
              if (!name) return;
              const drivers = (server.drivers || []).filter((d) => d.state === "running").map((d) => (d.name ? { executable: d.executable, name: d.name } : d.executable));
              quiet(act(`profile ${name} saved`, "POST", "/api/v1/profiles", { name, drivers }));
            },
          }, "Save running drivers as…"),
          h("button.danger", {
            type: "button",
            onclick: () => profileSel.value && confirm(`Delete profile ${profileSel.value}?`) && quiet(act(`profile ${profileSel.value} deleted`, "DELETE", `/api/v1/profiles/${enc(profileSel.value)}`)),
          }, "Delete")),
      ),
      h(
        "section.card.wide",
        h("header", h("h3", "Running drivers")),
        h("div.scroll", h("table.drivers", h("thead", h("tr", h("th", "driver"), h("th", "devices"), h("th", "state"), h("th", ""))), running)),
      ),
      h("section.card.wide", h("header", h("h3", "Driver catalog"), filterIn), catalogBox),
    ),
  );

  function ident(d) {
    return d.name ? { executable: d.executable, name: d.name } : { executable: d.executable };
  }

  function renderStatus() {
    const rows = [
      ["Managed here", server.managed ? "yes" : "no (external indiserver)"],
      ["Running", server.running === undefined ? "—" : server.running ? "yes" : "no"],
      // Embedded: INDI clients use the service's filtered port; indiserver's own is internal.
      ...(server.indi_port
        ? [
            ["INDI clients", `${server.indi_port_host}:${server.indi_port}`],
            ["indiserver", `internal port ${server.port} (the service only)`],
          ]
        : [["Address", server.host ? `${server.host}:${server.port}` : store.indiserver || "—"]]),
      ["Service connected", server.connected ? "yes" : "no"],
      ["Active profile", server.active_profile || "—"],
      ["Restarts", server.server_restarts ?? "—"],
    ];
    startBtn.disabled = server.running === true || server.managed === false;
    stopBtn.disabled = server.running !== true || server.managed === false;
    fill(statusBox, rows.flatMap(([k, v]) => [h("dt", k), h("dd", h("output", { dataset: { read: `server.${k}` } }, String(v)))]));
    fill(
      running,
      (server.drivers || []).map((d) =>
        h("tr", { dataset: { driver: d.label || d.name || d.executable } },
          h("td", h("strong", d.label || d.name || d.executable), h("br"), h("code", d.executable)),
          h("td", (d.present_devices || []).join(", ") || "—"),
          h("td", h("span.pill", { "data-kind": d.state }, d.state)),
          h("td", h("div.buttons.tight",
            h("button", { type: "button", onclick: () => quiet(act(`${d.label || d.executable} restarted`, "POST", "/api/v1/drivers/restart", ident(d))) }, "Restart"),
            h("button.danger", { type: "button", disabled: d.state !== "running", onclick: () => quiet(act(`${d.label || d.executable} stopped`, "POST", "/api/v1/drivers/stop", ident(d))) }, "Stop")))),
      ),
    );
    if (!(server.drivers || []).length) fill(running, h("tr", h("td.muted", { colSpan: 4 }, server.managed === false ? "drivers are managed by the external indiserver" : "no driver runs")));
  }

  function renderProfiles() {
    const cur = profileSel.value || server.active_profile;
    fill(profileSel, profiles.map((p) => h("option", { value: p.name, selected: p.name === cur }, p.name)));
    renderProfileInfo();
  }

  function renderProfileInfo() {
    const p = profiles.find((x) => x.name === profileSel.value);
    if (!p) return fill(profileInfo);
    const name = (d) => (typeof d === "string" ? d : d.label || d.name || d.executable);
    const roles = Object.entries(p.roles || {}).map(([r, d]) => `${r}: ${d}`);
    fill(
      profileInfo,
      h("dt", "Drivers"),
      h("dd", (p.drivers || []).map(name).join(", ") || "none"),
      h("dt", "Roles"),
      h("dd", roles.join(", ") || "none"),
      h("dt", "Starts with the service"),
      h("dd", p.auto_start ? "yes" : "no"),
    );
  }

  function renderCatalog() {
    const q = filterIn.value.trim().toLowerCase();
    const runningExec = new Set((server.drivers || []).filter((d) => d.state === "running").map((d) => d.label));
    const now = `${q}\n${catalog.length}\n${[...runningExec].sort().join("\n")}`;
    if (now === catalogKey) return; // unchanged: keep the page as the user left it
    catalogKey = now;
    const groups = new Map();
    for (const d of catalog) {
      if (q && !`${d.label} ${d.executable} ${d.group} ${d.manufacturer || ""}`.toLowerCase().includes(q)) continue;
      if (!groups.has(d.group)) groups.set(d.group, []);
      groups.get(d.group).push(d);
    }
    fill(
      catalogBox,
      [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([g, ds]) =>
        h("details", {
          open: !!q || openFamilies.has(g),
          dataset: { family: g },
          ontoggle: (ev) => !q && (ev.target.open ? openFamilies.add(g) : openFamilies.delete(g)),
        },
          h("summary", `${g} `, h("span.muted", `(${ds.length})`)),
          h("ul.driver-list", ds.map((d) =>
            h("li", { dataset: { label: d.label } },
              h("span", d.label, " ", h("code.muted", d.executable)),
              h("button", {
                type: "button",
                disabled: runningExec.has(d.label),
                onclick: () => quiet(act(`${d.label} started`, "POST", "/api/v1/drivers/start", { label: d.label })),
              }, runningExec.has(d.label) ? "Running" : "Start"))))),
      ),
    );
    if (!groups.size) fill(catalogBox, h("p.muted", catalog.length ? "no driver matches" : "no catalog"));
  }

  async function refresh() {
    try {
      server = await api("GET", "/api/v1/server");
      try {
        server.drivers = server.managed ? await api("GET", "/api/v1/drivers") : [];
      } catch {
        server.drivers = server.drivers || [];
      }
      profiles = await api("GET", "/api/v1/profiles");
    } catch (e) {
      server = { error: e.message };
    }
    renderStatus();
    renderProfiles();
    renderCatalog();
  }

  async function loadCatalog() {
    try {
      catalog = await api("GET", "/api/v1/drivers/catalog");
    } catch {
      catalog = [];
    }
    renderCatalog();
  }

  return {
    show() {
      refresh();
      if (!catalog.length) loadCatalog();
      clearInterval(timer);
      timer = setInterval(refresh, 5000);
    },
    hide() {
      clearInterval(timer);
    },
  };
}

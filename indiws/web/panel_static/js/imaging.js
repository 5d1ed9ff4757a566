// Imaging view: the roles and their verbs over /ws/indi_client/ (JSON-RPC),
// live from its status and action.* notifications, whoever started an action.

import { fill, fmtBytes, h, timeOf, toast } from "./dom.js";
import { api } from "./http.js";
import { exposurePanel, objectInput, objectMetadata } from "./exposure.js";
import { OBSERVATORY_ROLES, observatoryCards } from "./observatory.js";
import { isUnsafe, offerForce } from "./safety.js";
import { formatSexagesimal, parseSexagesimal } from "./sexa.js";

const KNOWN = ["telescope", "camera", "focuser", "filter_wheel", ...OBSERVATORY_ROLES];
const fmtNum = (v, d = 2) => (v === null || v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(d));
const yesNo = (v) => (v === null || v === undefined ? "—" : v ? "yes" : "no");

function field(label, control) {
  return h("label.field", h("span", label), control);
}

function readout(label, name) {
  const out = h("output", { dataset: { read: name } }, "—");
  return [h("dt", label), h("dd", out)];
}

export function imagingView(root, store, hl) {
  const state = { status: {}, roles: {}, methods: new Set(), actions: new Map(), frames: [] };
  const outputs = new Map(); // "telescope.ra" → <output>

  // Calls report their own failure; a verb's answer comes once the action has ended.
  async function call(method, params = {}, quiet = false) {
    try {
      return await hl.call(method, params);
    } catch (e) {
      // Refused by the safety policy: say why, and offer to force it.
      if (isUnsafe(e) && !params.force) return offerForce(method, params, e);
      if (!quiet) toast(`${method}: ${e.message}`, "error");
      throw e;
    }
  }
  const run = (method, params) => () => call(method, params).catch(() => {});

  function card(role, title, ...body) {
    const status = h("span.role-device", { dataset: { roleDevice: role } }, "");
    return h("section.card", { dataset: { role } }, h("header", h("h3", title), status), ...body);
  }

  function dl(role, items) {
    const list = h("dl.readouts");
    for (const [label, name] of items) {
      const [dt, dd] = readout(label, `${role}.${name}`);
      outputs.set(`${role}.${name}`, dd.firstChild);
      list.append(dt, dd);
    }
    return list;
  }

  // ---------------------------------------------------------------- roles
  // Set once, looked at rarely: one line of who plays what (absent devices
  // stand out), the table to change them folded under it.
  const rolesBody = h("tbody");
  const rolesLine = h("span.roles-line", { dataset: { rolesLine: "" } });
  const rolesCard = h(
    "details.card.wide.roles-card",
    { dataset: { card: "roles" } },
    h("summary", h("strong", "Roles"), " ", rolesLine, h("span.muted.roles-edit", " · change")),
    h("div.scroll", h("table.roles", h("thead", h("tr", h("th", "role"), h("th", "device"), h("th", "state"), h("th", ""))), rolesBody)),
  );
  const roleState = (r) => (!r.device_name ? "free" : !r.present ? "absent" : r.connected ? "connected" : "disconnected");

  function renderRoles() {
    const devices = store.devices();
    fill(
      rolesLine,
      Object.values(state.roles)
        .filter((r) => r.device_name)
        .map((r) => h("span.role-chip", { dataset: { roleChip: r.role, kind: roleState(r) }, title: `${r.role}: ${r.device_name} (${roleState(r)})` },
          h("span.muted", r.role.replace(/_/g, " ")), " ", r.device_name, roleState(r) === "connected" ? "" : ` (${roleState(r)})`)),
    );
    if (!rolesLine.childNodes.length) fill(rolesLine, h("span.muted", "none assigned: open to choose the devices"));
    fill(
      rolesBody,
      Object.values(state.roles).map((r) => {
        // A device the role names but indiserver does not have is shown by name.
        const absent = r.device_name && !devices.includes(r.device_name) ? [r.device_name] : [];
        const select = h(
          "select",
          { "aria-label": `device for ${r.role}`, dataset: { assign: r.role } },
          h("option", { value: "", selected: !r.device_name }, "— choose —"),
          absent.map((d) => h("option", { value: d, selected: true }, `${d} (absent)`)),
          devices.map((d) => h("option", { value: d, selected: d === r.device_name }, d)),
        );
        const st = roleState(r);
        return h(
          "tr",
          { dataset: { roleRow: r.role } },
          h("th", r.role),
          h("td", select),
          h("td", h("span.pill", { "data-kind": st }, st)),
          h(
            "td",
            h("div.buttons.tight", h("button", {
              type: "button",
              onclick: () => {
                if (!select.value) return toast(`choose a device for ${r.role}`, "error");
                call("assign", { role: r.role, device: select.value }).then(refreshRoles, () => {});
              },
            }, "Assign"),
            h("button", { type: "button", disabled: !r.device_name, onclick: () => call("release", { role: r.role }).then(refreshRoles, () => {}) }, "Release")),
          ),
        );
      }),
    );
    for (const [role, r] of Object.entries(state.roles)) {
      const el = root.querySelector(`[data-role-device="${role}"]`);
      if (el) el.textContent = !r.device_name ? "no device" : r.present ? r.device_name : `${r.device_name} (absent)`;
    }
    renderExtraRoles();
    observatory.roles(state.roles);
  }

  async function refreshRoles() {
    try {
      state.roles = await hl.call("roles");
      renderRoles();
    } catch {
      /* reconnecting: the next open refreshes */
    }
  }

  // ------------------------------------------------------------ telescope
  const raIn = h("input", { type: "text", placeholder: "5:35:17 or 5.588", "aria-label": "RA (hours)", dataset: { input: "ra" } });
  const decIn = h("input", { type: "text", placeholder: "-5:23:28 or -5.391", "aria-label": "Dec (degrees)", dataset: { input: "dec" } });
  const epochIn = h("select", { "aria-label": "epoch" }, h("option", { value: "J2000" }, "J2000"), h("option", { value: "JNow" }, "JNow"));
  const rateIn = h("select", { "aria-label": "slew rate", onchange: () => call("telescope.set_slew_rate", { rate: Number(rateIn.value) }).catch(() => {}) });
  const target = () => {
    const ra = parseSexagesimal(raIn.value), dec = parseSexagesimal(decIn.value);
    if (!(ra >= 0 && ra < 24)) throw new Error(`RA "${raIn.value}": give hours 0..24, as 5:35:17 or 5.588`);
    if (!(dec >= -90 && dec <= 90)) throw new Error(`Dec "${decIn.value}": give degrees -90..90, as -5:23:28 or -5.39`);
    return { ra, dec, epoch: epochIn.value };
  };
  const withTarget = (method) => () => {
    let t;
    try {
      t = target();
    } catch (e) {
      return toast(e.message, "error");
    }
    call(method, t).catch(() => {});
  };
  // A held jog button must not leave the mount moving when the page loses the
  // user: another tab, a closed lid, the window losing focus.
  const stoppers = [];
  const stopAll = () => stoppers.forEach((stop) => stop());
  window.addEventListener("pagehide", stopAll);
  window.addEventListener("blur", stopAll);
  document.addEventListener("visibilitychange", () => document.hidden && stopAll());
  function jog(dir, label) {
    const b = h("button.jog", { type: "button", "aria-label": `move ${label}`, dataset: { jog: dir } }, label);
    let moving = false;
    const start = (ev) => {
      ev.preventDefault();
      if (moving) return;
      moving = true;
      b.classList.add("on");
      call("telescope.move", { direction: dir }).catch(() => {});
    };
    const stop = () => {
      if (!moving) return;
      moving = false;
      b.classList.remove("on");
      call("telescope.stop", { direction: dir }).catch(() => {});
    };
    stoppers.push(stop);
    b.addEventListener("pointerdown", start);
    for (const ev of ["pointerup", "pointerleave", "pointercancel", "blur"]) b.addEventListener(ev, stop);
    b.addEventListener("keydown", (ev) => (ev.key === " " || ev.key === "Enter") && !ev.repeat && start(ev));
    b.addEventListener("keyup", (ev) => (ev.key === " " || ev.key === "Enter") && stop());
    return b;
  }
  const trackBtn = h("button", { type: "button", dataset: { action: "tracking" }, onclick: () => call("telescope.set_tracking", { on: !(state.status.telescope || {}).tracking }).catch(() => {}) }, "Tracking");
  const telescopeCard = card(
    "telescope",
    "Telescope",
    dl("telescope", [["RA (JNow)", "ra"], ["Dec (JNow)", "dec"], ["Alt", "alt"], ["Az", "az"], ["HA", "ha"], ["Pier side", "pier_side"], ["Tracking", "tracking"], ["Parked", "parked"], ["Slewing", "slewing"]]),
    h("div.form", field("RA", raIn), field("Dec", decIn), field("Epoch", epochIn)),
    h("div.buttons",
      h("button.primary", { type: "button", dataset: { action: "goto" }, onclick: withTarget("telescope.goto") }, "Goto"),
      h("button", { type: "button", onclick: withTarget("telescope.sync") }, "Sync"),
      h("button.danger", { type: "button", dataset: { action: "abort" }, onclick: run("telescope.abort") }, "Abort"),
      h("button", { type: "button", dataset: { action: "park" }, onclick: run("telescope.park") }, "Park"),
      h("button", { type: "button", dataset: { action: "unpark" }, onclick: run("telescope.unpark") }, "Unpark"),
      trackBtn),
    h("div.jog",
      h("div.jogpad", { role: "group", "aria-label": "move the mount (press and hold)" },
        h("span"), jog("north", "N"), h("span"), jog("west", "W"), h("span.jog-hint", "hold"), jog("east", "E"), h("span"), jog("south", "S"), h("span")),
      field("Slew rate", rateIn)),
  );

  async function refreshRates() {
    try {
      const rates = await hl.call("telescope.slew_rates");
      fill(rateIn, rates.map((r) => h("option", { value: r.index, selected: r.active }, r.label || r.name)));
    } catch {
      fill(rateIn);
    }
  }

  // --------------------------------------------------------------- camera
  const durIn = h("input", { type: "number", min: "0", step: "any", value: "1", "aria-label": "exposure (s)", dataset: { input: "duration" } });
  const binIn = h("select", { "aria-label": "binning" }, [1, 2, 3, 4].map((b) => h("option", { value: b }, `${b}×${b}`)));
  const typeIn = h("select", { "aria-label": "frame type" }, ["light", "dark", "flat", "bias"].map((t) => h("option", { value: t }, t)));
  const gainIn = h("input", { type: "number", step: "any", placeholder: "as set", "aria-label": "gain" });
  const exposure = exposurePanel("camera", () => refreshFrames());
  const framesList = h("ol.frames");
  const tempIn = h("input", { type: "number", step: "any", placeholder: "°C", "aria-label": "target temperature" });
  const objectIn = objectInput("camera");
  const expose = () => {
    const duration = Number(durIn.value);
    if (!(duration >= 0)) return toast(`exposure "${durIn.value}": give seconds`, "error");
    const params = { duration, binning: Number(binIn.value), frame_type: typeIn.value };
    if (gainIn.value !== "") params.gain = Number(gainIn.value);
    Object.assign(params, objectMetadata());
    call("camera.expose", params).catch(() => {});
  };
  const cameraCard = card(
    "camera",
    "Camera",
    h("div.form", field("Exposure (s)", durIn), field("Binning", binIn), field("Type", typeIn), field("Gain", gainIn),
      h("label.field.object-field", h("span", "Frame name (OBJECT)"), objectIn,
        h("small.muted", "names the file and the FITS OBJECT; it does not move the mount"))),
    h("div.buttons",
      h("button.primary", { type: "button", dataset: { action: "expose" }, onclick: expose }, "Expose"),
      h("button.danger", { type: "button", onclick: run("camera.abort") }, "Abort")),
    exposure.bar,
    exposure.preview,
    dl("camera", [["State", "state"], ["Temperature", "temperature"], ["Cooler", "cooler"]]),
    h("div.form", field("Cool to", tempIn),
      h("button", { type: "button", onclick: () => tempIn.value !== "" && call("camera.set_temperature", { target: Number(tempIn.value) }).catch(() => {}) }, "Set"),
      h("button", { type: "button", onclick: () => call("camera.set_cooler", { on: !(state.status.camera || {}).cooler }).catch(() => {}) }, "Cooler on/off")),
    h("details.recent", { open: true }, h("summary", "Recent frames"), framesList),
  );

  async function refreshFrames() {
    try {
      const { frames } = await api("GET", "/blobs");
      fill(
        framesList,
        frames.slice(0, 12).map((f) =>
          h("li",
            h("a", { href: f.url, download: f.filename || "" }, f.filename || f.id),
            " ",
            h("span.muted", `${fmtBytes(f.size)} · ${timeOf(f.created)}`),
            " ",
            h("a", { href: f.preview_url, target: "_blank", rel: "noopener" }, "preview")),
        ),
      );
      if (!frames.length) fill(framesList, h("li.muted", "none yet"));
      // On load the preview shows the camera's newest frame, not an empty box.
      const cam = (state.roles.camera || {}).device_name;
      exposure.latest(frames.find((f) => f.device === cam && f.preview_url));
    } catch {
      /* the list comes back with the next frame */
    }
  }

  // -------------------------------------------------------------- focuser
  const stepsIn = h("input", { type: "number", step: "1", value: "100", "aria-label": "steps" });
  const absIn = h("input", { type: "number", step: "1", "aria-label": "absolute position" });
  const autofocus = h("button", { type: "button", hidden: true, onclick: run("focuser.autofocus") }, "Autofocus");
  const focuserCard = card(
    "focuser",
    "Focuser",
    dl("focuser", [["Position", "position"], ["Moving", "moving"], ["Temperature", "temperature"]]),
    h("div.form", field("Steps", stepsIn),
      h("button", { type: "button", onclick: () => call("focuser.move_by", { steps: -Math.abs(Number(stepsIn.value)) }).catch(() => {}) }, "In"),
      h("button", { type: "button", onclick: () => call("focuser.move_by", { steps: Math.abs(Number(stepsIn.value)) }).catch(() => {}) }, "Out")),
    h("div.form", field("Go to", absIn),
      h("button", { type: "button", onclick: () => absIn.value !== "" && call("focuser.move_to", { position: Number(absIn.value) }).catch(() => {}) }, "Move"),
      h("button.danger", { type: "button", onclick: run("focuser.abort") }, "Abort"),
      autofocus),
  );

  // --------------------------------------------------------- filter wheel
  const filterIn = h("select", { "aria-label": "filter" });
  const wheelCard = card(
    "filter_wheel",
    "Filter wheel",
    dl("filter_wheel", [["Filter", "name"], ["Slot", "slot"], ["Moving", "moving"]]),
    h("div.form", field("Filter", filterIn),
      h("button", { type: "button", onclick: () => filterIn.value && call("filter_wheel.select", { filter: Number(filterIn.value) }).catch(() => {}) }, "Select")),
  );

  async function refreshFilters() {
    try {
      const filters = await hl.call("filter_wheel.filters");
      const cur = (state.status.filter_wheel || {}).slot;
      fill(filterIn, filters.map((f) => h("option", { value: f.slot, selected: f.slot === cur }, `${f.slot} ${f.name}`)));
    } catch {
      fill(filterIn);
    }
  }

  // ------------------------------------------- roles this page does not know
  const extraBox = h("div.extra-roles");
  function renderExtraRoles() {
    const extra = Object.keys(state.roles).filter((r) => !KNOWN.includes(r));
    fill(
      extraBox,
      extra.map((role) => {
        const s = state.status[role] || state.roles[role] || {};
        const list = h("dl.readouts");
        for (const [k, v] of Object.entries(s)) {
          if (["role", "device", "device_name"].includes(k) || v === null || typeof v === "object") continue;
          list.append(h("dt", k), h("dd", h("output", { dataset: { read: `${role}.${k}` } }, typeof v === "number" ? fmtNum(v, 3) : String(v))));
        }
        const verbs = [...state.methods].filter((m) => m.startsWith(role + ".") && ["connect", "disconnect"].includes(m.split(".")[1]));
        return h(
          "section.card",
          { dataset: { role } },
          h("header", h("h3", role.replace(/_/g, " ")), h("span.role-device", (state.roles[role] || {}).device_name || "no device")),
          list,
          h("div.buttons", verbs.map((m) => h("button", { type: "button", onclick: run(m) }, m.split(".")[1]))),
        );
      }),
    );
  }

  // ------------------------------------------ dome, rotator, guider, ... weather
  const observatory = observatoryCards(hl, { call, card, dl, field, setOut });

  // --------------------------------------------------------------- actions
  const actionsList = h("ol.actions-log", { "aria-live": "polite" }, h("li.muted", "Slews, exposures and moves appear here, whoever starts them."));
  const actionsCard = h("section.card.wide", { dataset: { card: "actions" } }, h("header", h("h3", "Actions (every client)")), actionsList);
  function actionLine(p, text, when) {
    const at = when ? new Date(when * 1000) : new Date();
    const li = h("li", { dataset: { actionId: p.action_id, outcome: p.outcome || "running" } },
      h("time", at.toTimeString().slice(0, 8)), " ", h("strong", `${p.role}.${p.action}`), " ", h("span", text));
    actionsList.prepend(li);
    while (actionsList.children.length > 50) actionsList.lastChild.remove();
  }
  const outcomeText = (p) => (p.outcome === "ok" ? "done" : `${p.outcome}${p.error ? ": " + p.error.message : ""}`);
  // At (re)connection: what happened before the page opened (or while it was
  // away), from the service's recent actions, oldest first.
  async function loadRecentActions() {
    if (!state.methods.has("actions.recent")) return;
    let recent;
    try {
      recent = await hl.call("actions.recent", { limit: 50 });
    } catch {
      return;
    }
    actionsList.replaceChildren(h("li.muted", "Slews, exposures and moves appear here, whoever starts them."));
    state.actions.clear();
    for (const a of recent.slice().reverse()) {
      if (a.outcome === "running") {
        state.actions.set(a.action_id, a);
        actionLine(a, "started", a.started);
      } else {
        actionLine(a, outcomeText(a), a.ended);
      }
    }
  }

  // ---------------------------------------------------------------- status
  function setOut(name, text) {
    const o = outputs.get(name);
    if (o && o.textContent !== text) o.textContent = text;
  }

  function renderStatus() {
    const t = state.status.telescope || {};
    setOut("telescope.ra", t.ra === undefined ? "—" : formatSexagesimal(t.ra, 8) + " h");
    setOut("telescope.dec", t.dec === undefined ? "—" : formatSexagesimal(t.dec, 6) + "°");
    setOut("telescope.alt", t.alt == null ? "—" : formatSexagesimal(t.alt, 6) + "°");
    setOut("telescope.az", t.az == null ? "—" : formatSexagesimal(t.az, 6) + "°");
    setOut("telescope.ha", t.ha == null ? "—" : formatSexagesimal(t.ha, 6) + " h");
    setOut("telescope.pier_side", t.pier_side || "—");
    setOut("telescope.tracking", yesNo(t.tracking));
    setOut("telescope.parked", t.parking ? "parking…" : yesNo(t.parked));
    setOut("telescope.slewing", yesNo(t.slewing));
    trackBtn.textContent = t.tracking ? "Stop tracking" : "Start tracking";
    const c = state.status.camera || {};
    setOut("camera.state", c.state || (c.connected === false ? "not connected" : "—"));
    setOut("camera.temperature", c.temperature == null ? "—" : `${fmtNum(c.temperature, 1)} °C`);
    setOut("camera.cooler", yesNo(c.cooler));
    const f = state.status.focuser || {};
    setOut("focuser.position", f.position == null ? "—" : String(f.position));
    setOut("focuser.moving", yesNo(f.moving));
    setOut("focuser.temperature", f.temperature == null ? "—" : `${fmtNum(f.temperature, 1)} °C`);
    observatory.status(state.status);
    const w = state.status.filter_wheel || {};
    setOut("filter_wheel.name", w.name || "—");
    setOut("filter_wheel.slot", w.slot == null ? "—" : String(w.slot));
    setOut("filter_wheel.moving", yesNo(w.moving));
    for (const [role, s] of Object.entries(state.status)) {
      const c = root.querySelector(`section.card[data-role="${role}"]`);
      if (c) c.dataset.connected = String(!!s.connected);
    }
  }

  // Every client's actions: an exposure started by a script shows here too.
  hl.listeners.push((method, p) => {
    observatory.notify(method, p || {});
    if (method === "status") {
      state.status = p.roles || {};
      renderStatus();
      if (Object.keys(p.roles || {}).some((r) => !(r in state.roles))) refreshRoles();
    } else if (method === "action.started") {
      state.actions.set(p.action_id, p);
      actionLine(p, "started");
      if (p.role === "camera" && p.action === "expose") exposure.started(p);
    } else if (method === "action.progress") {
      if (p.role === "camera" && p.action === "expose") exposure.progress(p);
    } else if (method === "action.finished") {
      state.actions.delete(p.action_id);
      // The periodic status may be seconds old: show the state after the action now.
      hl.call("status").then((s) => {
        state.status = s.roles || {};
        renderStatus();
      }, () => {});
      actionLine(p, outcomeText(p));
      if (p.role === "camera" && p.action === "expose") exposure.finished(p);
      if (p.role === "filter_wheel" || p.role === "telescope") refreshRoles();
    }
  });

  async function onOpen() {
    try {
      const doc = await hl.call("rpc.discover");
      state.methods = new Set((doc.methods || []).map((m) => m.name));
      autofocus.hidden = !state.methods.has("focuser.autofocus");
    } catch {
      /* older service: all known verbs are shown */
    }
    await refreshRoles();
    loadRecentActions();
    observatory.open();
    refreshRates();
    refreshFilters();
    refreshFrames();
  }
  hl.openers.push(onOpen);
  // The device menus follow the devices indiserver has (not every property).
  let deviceList = "";
  store.on((ev) => {
    if (ev.type === "updated" || ev.type === "message") return;
    const now = store.devices().join("\n");
    if (now !== deviceList) {
      deviceList = now;
      renderRoles();
    }
  });

  // The imaging work together: the camera and its Expose, beside it the
  // filter wheel and the focuser, then the mount.
  root.append(
    h("div.cards", rolesCard, cameraCard, h("div.card-stack", wheelCard, focuserCard), telescopeCard, ...observatory.cards, extraBox, actionsCard),
  );
  if (hl.up) onOpen();
}

// The observatory's cards of the imaging view: dome, rotator, guider, flat
// panel, weather and GPS, over their /ws/indi_client/ verbs (declared once, docs/verbs.md).
// Each card shows only while its role has a device.

import { fill, h, toast } from "./dom.js";
import { exposurePanel, objectInput, objectMetadata } from "./exposure.js";
import { guidingPanel } from "./guiding.js";
import { formatSexagesimal } from "./sexa.js";

export const OBSERVATORY_ROLES = ["dome", "rotator", "guider", "flat_panel", "weather", "gps"];

// The weather's states, as INDI's lights for the colour; their own name as text.
const WEATHER_LIGHT = { ok: "Ok", warning: "Busy", alert: "Alert", idle: "Idle", unknown: "Idle" };

const num = (v, d = 1) => (v === null || v === undefined || !Number.isFinite(Number(v)) ? "—" : Number(v).toFixed(d));
const yesNo = (v) => (v === null || v === undefined ? "—" : v ? "yes" : "no");
const numberIn = (label, attrs = {}) => h("input", { type: "number", step: "any", "aria-label": label, ...attrs });

function weatherBadge(state) {
  const s = state || "unknown";
  return h("span.state", { dataset: { state: WEATHER_LIGHT[s] || "Idle", weather: s }, title: `weather: ${s}` }, s);
}

/**
 * ui: the imaging view's helpers {call(method, params), card(role, title, ...body),
 * dl(role, [[label, name]]), field(label, control), setOut(name, text)}.
 */
export function observatoryCards(hl, ui) {
  const { call, card, dl, field, setOut } = ui;
  const go = (method, params) => call(method, params).catch(() => {});
  const btn = (text, onclick, attrs = {}) => h("button", { type: "button", onclick, ...attrs }, text);
  const numberOf = (input, what) => {
    const v = Number(input.value);
    if (input.value === "" || !Number.isFinite(v)) {
      toast(`${what}: give a number`, "error");
      return null;
    }
    return v;
  };
  let status = {};

  // ----------------------------------------------------------------- dome
  const azIn = numberIn("dome azimuth (degrees)", { min: "0", max: "360", placeholder: "0..360°", dataset: { input: "dome-azimuth" } });
  const followBtn = btn("Follow telescope", () => go("dome.set_following", { on: !(status.dome || {}).following }), { "aria-pressed": "false", dataset: { action: "dome-follow" } });
  const dome = card(
    "dome",
    "Dome",
    dl("dome", [["Shutter", "shutter"], ["Azimuth", "azimuth"], ["Parked", "parked"], ["Moving", "moving"], ["Following", "following"]]),
    h("div.buttons",
      btn("Open shutter", () => go("dome.open"), { class: "primary", dataset: { action: "dome-open" } }),
      btn("Close shutter", () => go("dome.close"), { dataset: { action: "dome-close" } }),
      btn("Park", () => go("dome.park"), { dataset: { action: "dome-park" } }),
      btn("Unpark", () => go("dome.unpark"), { dataset: { action: "dome-unpark" } }),
      btn("Abort", () => go("dome.abort"), { class: "danger", dataset: { action: "dome-abort" } })),
    h("div.form", field("Azimuth (°)", azIn),
      btn("Goto", () => {
        const az = numberOf(azIn, "azimuth");
        if (az !== null) go("dome.goto", { azimuth: az });
      }, { dataset: { action: "dome-goto" } }),
      followBtn),
  );

  // -------------------------------------------------------------- rotator
  const angleIn = numberIn("rotator angle (degrees)", { min: "0", max: "360", placeholder: "0..360°" });
  const reverseBtn = btn("Reverse", () => go("rotator.set_reverse", { on: !(status.rotator || {}).reversed }), { "aria-pressed": "false" });
  const angleCall = (method) => () => {
    const angle = numberOf(angleIn, "angle");
    if (angle !== null) go(method, { angle });
  };
  const rotator = card(
    "rotator",
    "Rotator",
    dl("rotator", [["Angle", "angle"], ["Moving", "moving"], ["Reversed", "reversed"]]),
    h("div.form", field("Angle (°)", angleIn), btn("Move to", angleCall("rotator.move_to"), { class: "primary" }), btn("Sync", angleCall("rotator.sync"))),
    h("div.buttons", reverseBtn, btn("Abort", () => go("rotator.abort"), { class: "danger" })),
  );

  // --------------------------------------------------------------- guider
  const gDurIn = numberIn("guide exposure (s)", { min: "0", value: "1", dataset: { input: "guider-duration" } });
  const gBinIn = h("select", { "aria-label": "guide binning" }, [1, 2, 3, 4].map((b) => h("option", { value: b }, `${b}×${b}`)));
  const pulseIn = numberIn("pulse (ms)", { min: "1", step: "1", value: "500" });
  const rateRa = numberIn("guide rate RA (× sidereal)", { min: "0", max: "1", placeholder: "RA" });
  const rateDec = numberIn("guide rate Dec (× sidereal)", { min: "0", max: "1", placeholder: "Dec" });
  const gObjectIn = objectInput("guider");
  const guiding = exposurePanel("guider");
  const autoguider = guidingPanel(hl, { call, field });
  const pulse = (dir, label) =>
    btn(label, () => {
      const ms = numberOf(pulseIn, "pulse");
      if (ms !== null) go("guider.pulse", { direction: dir, duration_ms: ms });
    }, { class: "jog", "aria-label": `guide pulse ${dir}`, dataset: { pulse: dir } });
  const guider = card(
    "guider",
    "Guider",
    h("div.form", field("Frame name (OBJECT)", gObjectIn), field("Exposure (s)", gDurIn), field("Binning", gBinIn),
      btn("Expose", () => {
        const duration = numberOf(gDurIn, "exposure");
        if (duration !== null) go("guider.expose", { duration, binning: Number(gBinIn.value), ...objectMetadata() });
      }, { class: "primary", dataset: { action: "guider-expose" } }),
      btn("Abort", () => go("guider.abort"), { class: "danger" })),
    guiding.bar,
    guiding.preview,
    dl("guider", [["State", "state"], ["Guide rate RA", "rate_ra"], ["Guide rate Dec", "rate_dec"]]),
    h("div.jog",
      h("div.jogpad", { role: "group", "aria-label": "guide pulses" },
        h("span"), pulse("north", "N"), h("span"), pulse("west", "W"), h("span.jog-hint", "pulse"), pulse("east", "E"), h("span"), pulse("south", "S"), h("span")),
      field("Pulse (ms)", pulseIn)),
    h("div.form", field("Rate RA", rateRa), field("Rate Dec", rateDec),
      btn("Set rates", () => {
        const params = {};
        if (rateRa.value !== "") params.ra = Number(rateRa.value);
        if (rateDec.value !== "") params.dec = Number(rateDec.value);
        if (!Object.keys(params).length) return toast("guide rates: give RA and/or Dec", "error");
        call("guider.set_guide_rate", params).then(showRates, () => {});
      })),
    autoguider.element,
  );
  function showRates(r) {
    setOut("guider.rate_ra", r && r.ra != null ? `${num(r.ra, 2)} × sidereal` : "—");
    setOut("guider.rate_dec", r && r.dec != null ? `${num(r.dec, 2)} × sidereal` : "—");
  }
  const refreshRates = () => hl.call("guider.guide_rate").then(showRates, () => showRates(null));

  // ----------------------------------------------------------- flat panel
  const brightIn = numberIn("brightness", { min: "0", step: "1", dataset: { input: "brightness" } });
  const lightBtn = btn("Light on", () => go("flat_panel.set_light", { on: !(status.flat_panel || {}).light }), { "aria-pressed": "false", dataset: { action: "light" } });
  const capBox = h("div.buttons", { hidden: true },
    btn("Open cap", () => go("flat_panel.open_cap")), btn("Close cap", () => go("flat_panel.close_cap")));
  const panel = card(
    "flat_panel",
    "Flat panel",
    dl("flat_panel", [["Light", "light"], ["Brightness", "brightness"], ["Dust cap", "cap"]]),
    h("div.form", lightBtn, field("Brightness", brightIn),
      btn("Set", () => {
        const b = numberOf(brightIn, "brightness");
        if (b !== null) go("flat_panel.set_brightness", { brightness: b });
      })),
    capBox,
  );

  // -------------------------------------------------------------- weather
  const overall = h("span", { dataset: { read: "weather.state" } }, weatherBadge("unknown"));
  const paramsBody = h("tbody");
  const updated = h("span.muted", "");
  const weather = card(
    "weather",
    "Weather",
    h("p.weather-overall", "Overall: ", overall, " ", updated),
    h("div.scroll", h("table.weather", h("thead", h("tr", h("th", "parameter"), h("th", "value"), h("th", "state"), h("th", "ok range"))), paramsBody)),
    h("div.buttons", btn("Refresh", () => call("weather.refresh").then(showWeather, () => {}))),
  );
  function showWeather(w) {
    fill(overall, weatherBadge(w.state));
    updated.textContent = w.updated ? `· read ${w.updated.replace("T", " ").slice(0, 19)}` : "";
    fill(
      paramsBody,
      (w.parameters || []).map((p) =>
        h("tr", { dataset: { param: p.name } },
          h("th", p.label || p.name),
          h("td", num(p.value, 1)),
          h("td", p.state ? weatherBadge(p.state) : h("span.muted", "not critical")),
          h("td.muted", p.min_ok == null ? "" : `${num(p.min_ok, 1)} … ${num(p.max_ok, 1)}`)),
      ),
    );
  }
  let weatherAsked = 0;
  const refreshWeather = () => {
    weatherAsked = Date.now();
    hl.call("weather.state").then(showWeather, () => {});
  };

  // ------------------------------------------------------------------ gps
  const gps = card(
    "gps",
    "GPS",
    dl("gps", [["Fix", "state"], ["Latitude", "latitude"], ["Longitude", "longitude"], ["Elevation", "elevation"], ["UTC", "utc"]]),
    h("div.buttons",
      btn("Refresh", () => go("gps.refresh")),
      btn("Set site and time from GPS", () =>
        call("gps.apply").then((r) => toast(`site and time of ${r.telescope || "the mount"} set from the GPS`), () => {}), { class: "primary", dataset: { action: "gps-apply" } })),
  );

  const cards = { dome, rotator, guider, flat_panel: panel, weather, gps };
  for (const c of Object.values(cards)) c.hidden = true;

  function setPressed(b, on, onText, offText) {
    b.setAttribute("aria-pressed", String(!!on));
    b.textContent = on ? onText : offText;
  }

  return {
    cards: Object.values(cards),
    /** roles: the `roles` answer; a card per role that has a device. */
    roles(roles) {
      for (const [role, el] of Object.entries(cards)) {
        const had = !el.hidden;
        el.hidden = !(roles[role] && roles[role].device_name);
        if (!el.hidden && !had) {
          if (role === "weather") refreshWeather();
          if (role === "guider") {
            refreshRates();
            autoguider.open();
          }
        }
      }
    },
    /** The periodic status's roles. */
    status(s) {
      status = s;
      const d = s.dome || {};
      setOut("dome.shutter", d.shutter || "—");
      setOut("dome.azimuth", d.azimuth == null ? "—" : `${num(d.azimuth, 1)}°`);
      setOut("dome.parked", yesNo(d.parked));
      setOut("dome.moving", yesNo(d.moving));
      setOut("dome.following", yesNo(d.following));
      setPressed(followBtn, d.following, "Stop following", "Follow telescope");
      const r = s.rotator || {};
      setOut("rotator.angle", r.angle == null ? "—" : `${num(r.angle, 2)}°`);
      setOut("rotator.moving", yesNo(r.moving));
      setOut("rotator.reversed", yesNo(r.reversed));
      setPressed(reverseBtn, r.reversed, "Reversed ●", "Reverse");
      const g = s.guider || {};
      setOut("guider.state", g.state || (g.connected === false ? "not connected" : "—"));
      const f = s.flat_panel || {};
      setOut("flat_panel.light", f.light == null ? "—" : f.light ? "on" : "off");
      setOut("flat_panel.brightness", f.brightness == null ? "—" : num(f.brightness, 0));
      setOut("flat_panel.cap", f.cap || "none");
      capBox.hidden = !f.cap;
      setPressed(lightBtn, f.light, "Light off", "Light on");
      const p = s.gps || {};
      setOut("gps.state", p.state ? `${p.state === "Ok" ? "fix" : "no fix"} (${p.state})` : "—");
      setOut("gps.latitude", p.latitude == null ? "—" : `${formatSexagesimal(Math.abs(p.latitude), 6)}° ${p.latitude < 0 ? "S" : "N"}`);
      setOut("gps.longitude", p.longitude == null ? "—" : `${formatSexagesimal(Math.abs(p.longitude), 6)}° ${p.longitude < 0 ? "W" : "E"}`);
      setOut("gps.elevation", p.elevation == null ? "—" : `${num(p.elevation, 0)} m`);
      setOut("gps.utc", p.utc || "—");
      // Readings change without the overall state changing: ask now and then.
      const w = s.weather || {};
      if (!cards.weather.hidden && w.connected && Date.now() - weatherAsked > 5000) refreshWeather();
    },
    /** Notifications of every client (action.*, weather.changed). */
    notify(method, p) {
      if (method === "weather.changed") refreshWeather();
      if (method === "status" || method.startsWith("guiding.")) autoguider.notify(method, p);
      if (p.role !== "guider" || p.action !== "expose") return;
      if (method === "action.started") guiding.started(p);
      else if (method === "action.progress") guiding.progress(p);
      else if (method === "action.finished") guiding.finished(p);
    },
    open() {
      if (!cards.weather.hidden) refreshWeather();
      if (!cards.guider.hidden) {
        refreshRates();
        autoguider.open();
      }
    },
  };
}

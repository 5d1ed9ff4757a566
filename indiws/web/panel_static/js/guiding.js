// The autoguider's part of the guider card, over the guiding.* methods of
// /ws/indi_client/ (guiding_rpc): state, settle values, start / calibrate /
// dither / stop, the star's cutout (/api/v1/guiding/star.png) and a live
// graph of the RA and Dec errors from guiding.guide_step notifications.

import { h, toast } from "./dom.js";

const POINTS = 100; // guide steps the graph keeps
const STAR_REFRESH_MS = 1000; // at most one cutout a second
const RA_COLOUR = "#4aa3ff"; // as .legend-ra in panel.css
const DEC_COLOUR = "#ff6b6b"; // as .legend-dec

const num = (v, d = 2) => (v === null || v === undefined || !Number.isFinite(Number(v)) ? "—" : Number(v).toFixed(d));

/** ui: {call(method, params), field(label, control)}. */
export function guidingPanel(hl, ui) {
  const { call, field } = ui;
  const points = []; // [{ra, dec}] in pixels, oldest first
  let scale = null; // arcsec per pixel, when the service knows it
  let starAsked = 0;
  let starLoading = false;
  let hasStar = false; // only then is the cutout asked for (else it is a 404)

  const out = (name) => h("output", { dataset: { read: `guiding.${name}` } }, "—");
  const outputs = {
    state: out("state"),
    star: out("star"),
    calibrated: out("calibrated"),
    rms_ra: out("rms_ra"),
    rms_dec: out("rms_dec"),
    rms_total: out("rms_total"),
  };
  const row = (label, o) => [h("dt", label), h("dd", o)];
  const readouts = h("dl.readouts",
    row("Guiding", outputs.state), row("Star", outputs.star), row("Calibrated", outputs.calibrated),
    row("RMS RA", outputs.rms_ra), row("RMS Dec", outputs.rms_dec), row("RMS total", outputs.rms_total));

  const numberIn = (label, value, input, attrs = {}) =>
    h("input", { type: "number", step: "any", min: "0", value, "aria-label": label, dataset: { input }, ...attrs });
  const pixelsIn = numberIn("settle pixels", "1.5", "settle-pixels");
  const timeIn = numberIn("settle time (s)", "10", "settle-time");
  const timeoutIn = numberIn("settle timeout (s)", "60", "settle-timeout");
  const ditherIn = numberIn("dither amount (px)", "3", "dither-amount");

  function settle() {
    const s = { pixels: Number(pixelsIn.value), time: Number(timeIn.value), timeout: Number(timeoutIn.value) };
    for (const [k, v] of Object.entries(s)) {
      if (!Number.isFinite(v) || v < 0 || (k === "pixels" && v <= 0)) {
        toast(`settle ${k}: give a number${k === "pixels" ? " above 0" : " ≥ 0"}`, "error");
        return null;
      }
    }
    return s;
  }
  // Long calls answer once settled: the card follows the notifications meanwhile.
  const settleCall = (method, extra = {}) => () => {
    const s = settle();
    if (s === null) return;
    call(method, { settle: s, ...extra }).then(() => toast(`${method}: settled`), () => {});
  };
  const btn = (text, onclick, action, attrs = {}) =>
    h("button", { type: "button", onclick, dataset: { action }, ...attrs }, text);
  const pauseBtn = btn("Pause", () => {
    const paused = pauseBtn.getAttribute("aria-pressed") === "true";
    call(paused ? "guiding.resume" : "guiding.pause").then(showStatus, () => {});
  }, "guiding-pause", { "aria-pressed": "false" });

  const canvas = h("canvas", {
    width: 400,
    height: 140,
    role: "img",
    "aria-label": "guide error graph: RA and Dec, pixels, last 100 frames",
    dataset: { graph: "guiding", points: "0" },
  });
  const star = h("img", { alt: "the guide star", dataset: { star: "guiding" }, hidden: true });
  const noStar = h("p.muted", "no guide star");
  star.addEventListener("load", () => {
    starLoading = false;
    star.hidden = false;
    noStar.hidden = true;
  });
  star.addEventListener("error", () => {
    starLoading = false;
    star.hidden = true;
    noStar.hidden = false;
  });

  const element = h("div.guiding", { dataset: { part: "guiding" } },
    h("h4", "Autoguiding"),
    readouts,
    h("div.form",
      field("Settle (px)", pixelsIn), field("Settle time (s)", timeIn), field("Timeout (s)", timeoutIn)),
    h("div.buttons",
      btn("Guide", settleCall("guiding.start"), "guiding-start", { class: "primary" }),
      btn("Calibrate", settleCall("guiding.calibrate"), "guiding-calibrate"),
      btn("Loop", () => call("guiding.loop").then(showStatus, () => {}), "guiding-loop"),
      pauseBtn,
      btn("Stop", () => call("guiding.stop").then(showStatus, () => {}), "guiding-stop", { class: "danger" })),
    h("div.form",
      field("Dither (px)", ditherIn),
      btn("Dither", () => {
        const amount = Number(ditherIn.value);
        if (!Number.isFinite(amount) || amount <= 0) return toast("dither: give a number of pixels above 0", "error");
        settleCall("guiding.dither", { amount })();
      }, "guiding-dither")),
    h("div.guiding-view",
      h("div.guiding-star", star, noStar),
      h("figure.guiding-graph", canvas,
        h("figcaption",
          h("span.legend-ra", "━ RA"), " ",
          h("span.legend-dec", "━ Dec"), " ",
          h("span.muted", "error (px), last 100 frames")))),
  );

  function setText(o, text) {
    if (o.textContent !== text) o.textContent = text;
  }

  function showRms(stats) {
    const px = (stats && stats.pixels) || null;
    const as = (stats && stats.arcsec) || null;
    for (const k of ["rms_ra", "rms_dec", "rms_total"]) {
      const text = px ? `${num(px[k])} px` + (as ? ` · ${num(as[k])}″` : "") : "—";
      setText(outputs[k], text);
    }
  }

  function showState(g) {
    if (!g) return;
    hasStar = !["Stopped", "Looping", undefined].includes(g.state) && g.star !== null;
    if (!hasStar) {
      star.hidden = true;
      noStar.hidden = false;
    }
    setText(outputs.state, g.settling ? `${g.state} (settling)` : g.state || "—");
    if ("calibrated" in g) setText(outputs.calibrated, g.calibrated ? "yes" : "no");
    const paused = g.state === "Paused" || g.paused === true;
    pauseBtn.setAttribute("aria-pressed", String(paused));
    pauseBtn.textContent = paused ? "Resume" : "Pause";
    element.dataset.state = g.state || "";
  }

  function showStatus(s) {
    if (!s) return;
    showState(s);
    scale = s.pixel_scale || scale;
    setText(outputs.star, s.star ? `${num(s.star.x, 1)}, ${num(s.star.y, 1)} · SNR ${num(s.star.snr, 0)}` : "—");
    showRms(s.stats);
  }

  function draw() {
    const ctx = canvas.getContext("2d");
    const w = canvas.width;
    const ht = canvas.height;
    ctx.clearRect(0, 0, w, ht);
    let span = 1;
    for (const p of points) span = Math.max(span, Math.abs(p.ra), Math.abs(p.dec));
    span = Math.ceil(span);
    const y = (v) => ht / 2 - (v / span) * (ht / 2 - 6);
    const x = (i) => 30 + (i * (w - 36)) / (POINTS - 1);
    ctx.strokeStyle = "rgba(160,170,180,0.35)";
    ctx.fillStyle = "rgba(160,170,180,0.9)";
    ctx.font = "10px sans-serif";
    ctx.lineWidth = 1;
    for (const v of [span, 0, -span]) {
      ctx.beginPath();
      ctx.moveTo(30, y(v));
      ctx.lineTo(w - 6, y(v));
      ctx.stroke();
      ctx.fillText(`${v > 0 ? "+" : ""}${v}`, 2, y(v) + 3);
    }
    for (const [key, colour] of [["ra", RA_COLOUR], ["dec", DEC_COLOUR]]) {
      ctx.strokeStyle = colour;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      points.forEach((p, i) => (i ? ctx.lineTo(x(i), y(p[key])) : ctx.moveTo(x(i), y(p[key]))));
      ctx.stroke();
    }
    canvas.dataset.points = String(points.length);
  }

  function add(step) {
    points.push({ ra: Number(step.RADistanceRaw) || 0, dec: Number(step.DECDistanceRaw) || 0 });
    while (points.length > POINTS) points.shift();
  }

  function refreshStar() {
    if (!hasStar || starLoading || Date.now() - starAsked < STAR_REFRESH_MS) return;
    starAsked = Date.now();
    starLoading = true;
    star.src = `/api/v1/guiding/star.png?scale=4&t=${starAsked}`;
  }

  async function open() {
    try {
      const history = await hl.call("guiding.history", { limit: POINTS });
      points.length = 0;
      for (const s of history.steps || []) add(s);
      draw();
      showStatus(await hl.call("guiding.status"));
      refreshStar();
    } catch {
      /* a service without the guider: the card keeps its dashes */
    }
  }

  return {
    element,
    open,
    /** Every notification of /ws/indi_client/. */
    notify(method, p) {
      if (method === "status" && p.guiding) {
        showState(p.guiding);
        showRms({ pixels: p.guiding.rms, arcsec: p.guiding.rms_arcsec });
        if (p.guiding.state !== "Stopped" && p.guiding.state !== "Looping") refreshStar();
      } else if (method === "guiding.guide_step") {
        add(p);
        draw();
        refreshStar();
      } else if (method === "guiding.star_selected" || method === "guiding.star_lost") {
        setText(outputs.star, method === "guiding.star_lost" ? "lost" : `${num(p.X, 1)}, ${num(p.Y, 1)}`);
      } else if (method === "guiding.settle_done") {
        if (p.Status) toast(`guiding: did not settle: ${p.Error || ""}`, "error");
      } else if (method === "guiding.alert") {
        toast(`guiding: ${p.Msg}`, p.Type === "error" ? "error" : "info");
      } else if (method === "guiding.looping_exposures_stopped") {
        showState({ state: "Stopped" });
      }
    },
  };
}

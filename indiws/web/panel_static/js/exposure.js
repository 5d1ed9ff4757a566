// An exposure's progress bar and stretched preview, shared by the camera and
// guider cards: fed by action.started / action.progress / action.finished.

import { fill, fmtBytes, h } from "./dom.js";

const fmt = (v, d) => (Number.isFinite(v) ? v.toFixed(d) : "—");

/** When a frame was taken, in the browser's time, and how long ago. */
export function takenText(iso) {
  const t = iso ? new Date(iso) : null;
  if (!t || Number.isNaN(t.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  const day = `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}`;
  const ago = Math.max(0, (Date.now() - t.getTime()) / 1000);
  const rel = ago < 90 ? "just now" : ago < 5400 ? `${Math.round(ago / 60)} min ago` : ago < 172800 ? `${Math.round(ago / 3600)} h ago` : `${Math.round(ago / 86400)} days ago`;
  return `taken ${day} ${t.toTimeString().slice(0, 8)} (${rel})`;
}

/** One line on the frame's star analysis (docs/analysis.md), or why there is none. */
export function quality(a) {
  if (!a) return "no analysis";
  if (a.error) return `analysis failed: ${a.error}`;
  const parts = [`${a.stars ?? 0} stars`];
  if (Number.isFinite(a.hfr)) parts.push(`HFR ${fmt(a.hfr, 2)} px` + (Number.isFinite(a.hfr_arcsec) ? ` (${fmt(a.hfr_arcsec, 2)}″)` : ""));
  if (Number.isFinite(a.fwhm)) parts.push(`FWHM ${fmt(a.fwhm, 2)} px`);
  if (Number.isFinite(a.background)) parts.push(`background ${fmt(a.background, 0)} ± ${fmt(a.noise, 1)}`);
  if (a.saturated_stars) parts.push(`${a.saturated_stars} saturated`);
  return parts.join(" · ");
}

// The target's name, kept across visits and shared by the camera's and the
// guider's Object fields: frames are stored as <object>_..., OBJECT in FITS.
const OBJECT_KEY = "indiws.object";
const objectInputs = new Set();

/** An Object (target) field; its value is remembered in localStorage. */
export function objectInput(role) {
  const input = h("input", {
    type: "text",
    maxlength: "64",
    placeholder: "e.g. M42",
    value: localStorage.getItem(OBJECT_KEY) || "",
    "aria-label": `${role} object (target name)`,
    dataset: { input: `${role}-object` },
    oninput: () => {
      localStorage.setItem(OBJECT_KEY, input.value.trim());
      for (const other of objectInputs) if (other !== input) other.value = input.value;
    },
  });
  objectInputs.add(input);
  return input;
}

/** ``{metadata: {object}}`` for an expose call, or nothing when no object is named. */
export function objectMetadata() {
  const name = (localStorage.getItem(OBJECT_KEY) || "").trim();
  return name ? { metadata: { object: name } } : {};
}

/** {bar, preview, started(p), progress(p), finished(p), latest(frame)} for one role's exposures. */
export function exposurePanel(role, onFrame = () => {}) {
  const meter = h("progress", { max: "1", value: "0", dataset: { progress: role } });
  const label = h("span.progress-text", { dataset: { progressText: role } }, "idle");
  const preview = h("div.preview", { dataset: { preview: role } }, h("p.muted", "The stretched preview shows here when a frame arrives."));

  function progress(p) {
    if (p.state === "exposing" && p.duration) {
      meter.max = p.duration;
      meter.value = Math.max(0, p.duration - (p.time_left || 0));
      label.textContent = `exposing ${p.duration} s · ${fmt(p.time_left, 1)} s left`;
    } else if (p.state) {
      meter.value = meter.max;
      label.textContent = p.state + (p.size ? ` ${fmtBytes(p.size)}` : "");
    }
    label.dataset.state = p.state || "";
  }

  function show(result, quiet = false, note = "") {
    if (!result || !result.preview_url) return;
    const img = h("img", {
      src: `${result.preview_jpg_url || result.preview_url}?max_size=1024`,
      alt: `preview of ${role} frame ${result.blob_id}`,
      dataset: { frame: result.blob_id },
    });
    const link = h("a", { href: result.url, title: "download the FITS file" }, img);
    const taken = takenText(result.started || result.created);
    fill(
      preview,
      h("figure.frame", link,
        h("figcaption.taken", { dataset: { taken: role } }, [note, taken].filter(Boolean).join(", ")),
        h("figcaption.analysis", { dataset: { analysis: role } }, quality(result.analysis))),
    );
    if (!quiet) onFrame(result);
  }

  return {
    bar: h("div.progress", meter, label),
    preview,
    started: (p) => progress({ state: "exposing", duration: p.params.duration, time_left: p.params.duration }),
    progress,
    /** A stored frame (GET /blobs) shown when nothing newer is: the page's last frame on load. */
    latest(frame) {
      if (!frame || preview.querySelector("img")) return;
      const meta = frame.metadata || {};
      const name = meta.object ? `${meta.object}: ` : "";
      show({ ...frame, blob_id: frame.id, analysis: meta.analysis, started: meta.started }, true, `${name}the newest stored frame`);
    },
    finished(p) {
      label.textContent = p.outcome === "ok" ? "frame stored" : p.outcome;
      label.dataset.state = p.outcome === "ok" ? "done" : "failed";
      if (p.outcome === "ok") show(p.result);
    },
  };
}

// The safety banner at the top of every view: shown while the service's safety
// policy says unsafe (its reason and phase, from `safety` notifications and
// safety.status), with the close-up button; and the "force" confirmation for
// the verbs the policy refuses while unsafe.

import { fill, h, toast } from "./dom.js";

const UNSAFE = -32055; // the service's "unsafe" error (docs/indi_client.md)
const PHASES = { unsafe: "unsafe", closing: "closing up…", closed: "closed up", safe: "safe" };

const banner = h("section.safety", { role: "alert", "aria-label": "Safety", hidden: true, dataset: { safety: "" } });
const text = h("div.safety-text");
const details = h("ul.safety-actions");
const confirmBox = h("div.safety-confirm", { hidden: true, dataset: { confirm: "" } });
const title = h("strong.safety-title", "⚠ Unsafe");
let hl = null;
let current = { safe: true, phase: "safe", reasons: [], actions: null, override: null };

/** The banner (put at the top of the page once) over the high-level socket. */
export function safetyBanner(socket) {
  hl = socket;
  const closeUp = h("button.danger", { type: "button", dataset: { action: "close-up" }, onclick: runCloseUp }, "Close up now");
  banner.append(h("div.safety-head", title, text, closeUp), details);
  const wrap = h("div.safety-wrap", banner, confirmBox);
  hl.listeners.push((method, p) => {
    // closing: the step names; closed: their outcomes; a new unsafe: none yet.
    if (method === "safety") show({ ...p, actions: p.actions || (p.phase === "unsafe" ? null : current.actions) });
    // A notification missed while reconnecting: the periodic status says so.
    else if (method === "status" && p.safety && p.safety.safe !== current.safe) refresh();
  });
  hl.openers.push(refresh);
  if (hl.up) refresh();
  return wrap;
}

async function refresh() {
  try {
    const s = await hl.call("safety.status");
    const phase = s.closing ? "closing" : s.safe ? "safe" : "unsafe";
    const last = s.last_close_up;
    show({ safe: s.safe, phase, reasons: s.reasons || [], actions: !s.safe && last ? last.actions : null, weather_override: s.weather_override });
  } catch {
    /* an older service without the policy: no banner */
  }
}

function show(s) {
  current = {
    safe: !!s.safe,
    phase: s.phase || (s.safe ? "safe" : "unsafe"),
    reasons: s.reasons || [],
    actions: s.actions || null,
    override: s.weather_override === undefined ? current.override : s.weather_override,
  };
  // The operator's weather override shows even while safe: the weather is not watched.
  banner.hidden = current.safe && !current.override;
  banner.dataset.override = current.override ? "on" : "off";
  banner.dataset.phase = current.phase;
  title.textContent = current.safe ? "⚠ Weather override" : "⚠ Unsafe";
  document.documentElement.classList.toggle("unsafe", !current.safe);
  const why = current.reasons.map((r) => r.message || r.code).join("; ") || s.reason || "the safety policy says unsafe";
  const o = current.override;
  const overrideNote = o ? h("span.safety-override", ` · weather override on (by ${o.by} since ${o.since}${o.note ? `: ${o.note}` : ""}): the weather is not watched`) : "";
  const reason = current.safe ? "" : h("span.safety-reason", why);
  fill(text, h("span.safety-phase", { dataset: { phase: current.phase } }, PHASES[current.phase] || current.phase), current.safe ? "" : " · ", reason, overrideNote);
  fill(
    details,
    (current.actions || []).map((a) =>
      h("li", typeof a === "string" ? a : `${a.action}: ${a.outcome}${a.device ? ` (${a.device})` : ""}${a.error ? ` — ${a.error}` : ""}`),
    ),
  );
}

async function runCloseUp() {
  try {
    toast("closing up: abort exposure, stop guiding, park, close…");
    const r = await hl.call("safety.close_up");
    show({ ...current, actions: r.actions });
    toast("close-up finished");
  } catch (e) {
    toast(`safety.close_up: ${e.message}`, "error");
  }
}

/** Whether an error is the policy's refusal (then offerForce has taken it). */
export function isUnsafe(e) {
  return !!e && (e.code === UNSAFE || (e.data && e.data.error === "unsafe"));
}

/**
 * A verb refused as unsafe: say why and offer to send it again with
 * force: true, after an explicit confirmation. Resolves with the forced
 * call's result, or rejects when the user cancels.
 */
export function offerForce(method, params, error) {
  return new Promise((resolve, reject) => {
    const cancel = () => {
      confirmBox.hidden = true;
      fill(confirmBox);
      reject(error);
    };
    const force = () => {
      confirmBox.hidden = true;
      fill(confirmBox);
      hl.call(method, { ...params, force: true }).then(resolve, (e) => {
        toast(`${method}: ${e.message}`, "error");
        reject(e);
      });
    };
    fill(
      confirmBox,
      h("p", h("strong", `${method} refused: `), error.message),
      h("p", "Do it anyway? The safety policy exists to protect the equipment; only force it if you are at the telescope and know the conditions."),
      h("div.buttons",
        h("button.danger", { type: "button", dataset: { action: "force" }, onclick: force }, `Force ${method}`),
        h("button", { type: "button", onclick: cancel }, "Cancel")),
    );
    confirmBox.hidden = false;
    confirmBox.querySelector("button.danger").focus();
  });
}

// Tiny DOM helpers: the panel builds its elements with h() and updates them in
// place, so a live update never disturbs what the user is typing.

/** h("button.primary", {onclick, title}, "Park") → an element. */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name || "div");
  if (classes.length) el.className = classes.join(" ");
  if (attrs !== null && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs); // h("span", "text"): no attributes
    attrs = null;
  }
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (k in el && k !== "list" && typeof v !== "string") el[k] = v;
      else el.setAttribute(k, v === true ? "" : v);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replace the children of el. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

/** A state light: colour and the state's name (never colour alone). */
export function stateBadge(state) {
  const s = state || "Idle";
  return h("span.state", { "data-state": s, title: `state: ${s}` }, s);
}

export function setState(badge, state) {
  const s = state || "Idle";
  if (badge.dataset.state !== s) {
    badge.dataset.state = s;
    badge.textContent = s;
    badge.title = `state: ${s}`;
  }
}

/** A short-lived note at the bottom of the screen (errors and confirmations). */
export function toast(text, kind = "info") {
  let box = $("#toasts");
  if (!box) {
    box = h("div", { id: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  const t = h("div.toast", { "data-kind": kind }, text);
  box.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 8000 : 3500);
}

export function fmtBytes(n) {
  if (!Number.isFinite(n)) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}

export function timeOf(iso) {
  if (!iso) return "";
  const t = iso.replace(/Z$/, "");
  const i = t.indexOf("T");
  return i >= 0 ? t.slice(i + 1, i + 9) : t;
}

// Devices view: every device, its groups as tabs, every property live with its
// state, editable as INDI's Control Panel does it.

import { fill, fmtBytes, h, setState, stateBadge, timeOf, toast } from "./dom.js";
import { api, enc } from "./http.js";
import { formatNumber, isSexagesimal, parseSexagesimal } from "./sexa.js";
import { key } from "./store.js";

const writable = (p) => p.perm === "rw" || p.perm === "wo";

/** Send new values (the stream shows what follows); false when refused. */
async function setProperty(prop, values, card) {
  card.error("");
  try {
    await api("PUT", `/api/v1/devices/${enc(prop.device)}/properties/${enc(prop.name)}`, {
      values,
      wait: false,
    });
    return true;
  } catch (e) {
    card.error(e.message);
    toast(`${prop.device} ${prop.label || prop.name}: ${e.message}`, "error");
    return false;
  }
}

// ------------------------------------------------------------------ elements

// Numbers and texts: the value, a field for the new one, Set (or Enter).
const NUMBER = {
  show: (e) => formatNumber(e.value, e.format),
  attrs: (el) => {
    const sexa = isSexagesimal(el.format);
    return {
      inputmode: sexa ? "text" : "decimal",
      "aria-label": `${el.label || el.name} new value`,
      title: `${el.name}: ${sexa ? "d:m:s or decimal, " : ""}from ${el.min} to ${el.max}`,
    };
  },
  // Checked here first so that a typo gets its message at once.
  read(el, text) {
    const t = text.trim();
    if (!t) return {};
    const v = isSexagesimal(el.format) ? parseSexagesimal(t) : Number(t);
    const name = el.label || el.name;
    if (!Number.isFinite(v)) return { error: `${name}: "${t}" is not a number` };
    if (el.min < el.max && (v < el.min || v > el.max))
      return { error: `${name}: ${t} is outside ${el.min} … ${el.max}` };
    return { value: v };
  },
};

const TEXT = {
  show: (e) => e.value ?? "",
  attrs: (el) => ({ "aria-label": `${el.label || el.name} new text` }),
  read: (el, text) => (text === "" ? {} : { value: text }),
};

function fieldRows(kind) {
  return (prop, card) => {
    const rows = new Map();
    const table = h("div.elements");
    for (const el of prop.elements) {
      const cur = h("output.value", { dataset: { elem: el.name } });
      const input = writable(prop)
        ? h("input", {
            type: "text",
            ...kind.attrs(el),
            dataset: { input: el.name },
            onkeydown: (ev) => ev.key === "Enter" && submit(),
          })
        : null;
      table.append(h("div.row", h("span.label", { title: el.name }, el.label || el.name), cur, input));
      rows.set(el.name, { cur, input, el });
    }
    async function submit() {
      const values = {};
      for (const [name, r] of rows) {
        if (!r.input) continue;
        const { value, error } = kind.read(r.el, r.input.value);
        if (error) return card.error(error);
        if (value !== undefined) values[name] = value;
      }
      if (!Object.keys(values).length) return card.error("type a new value first");
      // Drivers take a number/text vector whole (as KStars sends it): the
      // fields left empty keep their current value.
      for (const [name, r] of rows) if (r.input && !(name in values)) values[name] = r.el.value ?? "";
      if (await setProperty(card.prop, values, card)) {
        for (const r of rows.values()) if (r.input) r.input.value = "";
      }
    }
    return {
      el: table,
      submit: writable(prop) ? submit : null,
      update(p) {
        for (const e of p.elements) {
          const r = rows.get(e.name);
          if (!r) continue;
          r.el = e;
          const text = kind.show(e);
          if (r.cur.textContent !== text) r.cur.textContent = text;
          if (r.input) r.input.placeholder = text;
        }
      },
    };
  };
}

function switchRows(prop, card) {
  const box = h("div.switches", { role: prop.rule === "AnyOfMany" ? "group" : "radiogroup" });
  const controls = new Map();
  const many = prop.rule === "OneOfMany" && prop.elements.length > 5;
  if (many) {
    // A long list (slew rates, filter names...) reads better as a menu.
    const select = h("select", {
      "aria-label": prop.label || prop.name,
      disabled: !writable(prop),
      dataset: { input: prop.name },
      onchange: () => setProperty(card.prop, { [select.value]: true }, card),
    });
    for (const el of prop.elements) select.append(h("option", { value: el.name }, el.label || el.name));
    box.append(select);
    return {
      el: box,
      update(p) {
        const on = p.elements.find((e) => e.value === "On");
        if (on && document.activeElement !== select) select.value = on.name;
      },
    };
  }
  for (const el of prop.elements) {
    let control;
    if (prop.rule === "AnyOfMany") {
      const cb = h("input", {
        type: "checkbox",
        disabled: !writable(prop),
        onchange: () => setProperty(card.prop, { [el.name]: cb.checked }, card),
      });
      control = h("label.check", { dataset: { elem: el.name } }, cb, el.label || el.name);
      control.input = cb;
    } else {
      control = h(
        "button.switch",
        {
          type: "button",
          role: "radio",
          disabled: !writable(prop),
          dataset: { elem: el.name },
          title: el.name,
          onclick: () => {
            const cur = card.prop.elements.find((e) => e.name === el.name);
            const on = cur && cur.value === "On";
            // AtMostOne: pressing the switch that is on turns it off.
            if (on && prop.rule !== "AtMostOne") return;
            setProperty(card.prop, { [el.name]: !on }, card);
          },
        },
        el.label || el.name,
      );
    }
    controls.set(el.name, control);
    box.append(control);
  }
  return {
    el: box,
    update(p) {
      for (const e of p.elements) {
        const c = controls.get(e.name);
        if (!c) continue;
        const on = e.value === "On";
        if (c.input) c.input.checked = on;
        else {
          c.setAttribute("aria-checked", String(on));
          c.classList.toggle("on", on);
        }
      }
    },
  };
}

function lightRows(prop) {
  const box = h("div.lights");
  const lights = new Map();
  for (const el of prop.elements) {
    const b = stateBadge(el.value);
    lights.set(el.name, b);
    box.append(h("span.light", { dataset: { elem: el.name } }, b, el.label || el.name));
  }
  return {
    el: box,
    update(p) {
      for (const e of p.elements) if (lights.has(e.name)) setState(lights.get(e.name), e.value);
    },
  };
}

function blobRows(prop) {
  const box = h("div.elements");
  const rows = new Map();
  const preview = h("div.blob-preview");
  for (const el of prop.elements) {
    const info = h("output.value", { dataset: { elem: el.name } });
    const link = h("a.button", { href: el.url, download: "", hidden: true }, "Download");
    box.append(h("div.row", h("span.label", { title: el.name }, el.label || el.name), info, link));
    rows.set(el.name, { info, link });
  }
  box.append(preview);
  let frameId = null;
  async function showLatestFrame(device) {
    // Frames taken through the imaging API are stored with a stretched preview.
    try {
      const { frames } = await api("GET", `/blobs?device=${enc(device)}`);
      const f = frames && frames[0];
      if (!f || f.id === frameId) return;
      frameId = f.id;
      fill(
        preview,
        h("a", { href: f.url, title: "download the frame" },
          h("img", { src: `${f.preview_jpg_url}?max_size=480`, alt: `preview of frame ${f.id}` })),
      );
    } catch {
      /* no stored frame: the download link is enough */
    }
  }
  return {
    el: box,
    update(p) {
      for (const e of p.elements) {
        const r = rows.get(e.name);
        if (!r) continue;
        r.info.textContent = e.size ? `${e.format || ""} ${fmtBytes(e.size)}` : "no data yet";
        r.link.hidden = !e.size;
        r.link.href = e.url;
      }
      if (p.elements.some((e) => e.size)) showLatestFrame(p.device);
    },
  };
}

const BUILDERS = { Number: fieldRows(NUMBER), Text: fieldRows(TEXT), Switch: switchRows, Light: lightRows, BLOB: blobRows };

function propertyCard(prop) {
  const badge = stateBadge(prop.state);
  const errorLine = h("p.error", { role: "alert", hidden: true });
  const message = h("p.prop-message");
  const card = {
    prop,
    error(text) {
      errorLine.textContent = text;
      errorLine.hidden = !text;
    },
  };
  const body = (BUILDERS[prop.kind] || lightRows)(prop, card);
  const footer = body.submit
    ? h("div.actions", h("button.primary", { type: "button", onclick: body.submit, dataset: { set: prop.name } }, "Set"))
    : null;
  card.el = h(
    "section.prop",
    { dataset: { prop: prop.name, kind: prop.kind }, "aria-label": prop.label || prop.name },
    h(
      "header",
      badge,
      h("h4", prop.label || prop.name),
      h("code.name", prop.name),
      h("span.perm", { title: { ro: "read only", wo: "write only", rw: "read and write" }[prop.perm] }, prop.perm),
    ),
    body.el,
    footer,
    message,
    errorLine,
  );
  card.update = (p) => {
    card.prop = p;
    setState(badge, p.state);
    card.el.dataset.state = p.state;
    message.textContent = p.message || "";
    body.update(p);
  };
  card.update(prop);
  return card;
}

// ------------------------------------------------------------------ the view

export function devicesView(root, store) {
  const list = h("nav.device-list", { "aria-label": "Devices" });
  const detail = h("div.device-detail");
  const logList = h("ol.log", { "aria-live": "off" });
  const onlyThis = h("input", { type: "checkbox", onchange: () => renderLog() });
  const logPane = h(
    "details.messages",
    { open: true },
    h("summary", "Messages"),
    h("label.check", onlyThis, "only this device"),
    logList,
  );
  root.append(h("div.devices", list, h("div.device-main", detail, logPane)));

  let selected = localStorage.getItem("indiws.device");
  const groupOf = JSON.parse(localStorage.getItem("indiws.groups") || "{}");
  let cards = new Map();
  let scheduled = false;

  function connected(device) {
    const c = store.get(device, "CONNECTION");
    if (!c) return null;
    const on = c.elements.find((e) => e.name === "CONNECT");
    return on ? on.value === "On" : null;
  }

  function renderList() {
    const devices = store.devices();
    if (!devices.includes(selected)) selected = devices[0] || null;
    fill(
      list,
      devices.length ? null : h("p.muted", store.indiConnected === false ? `the service cannot reach indiserver at ${store.indiserver}${store.indiError ? ` (${store.indiError})` : ""}` : "no device yet"),
      devices.map((d) => {
        const c = connected(d);
        return h(
          "button.device",
          {
            type: "button",
            dataset: { device: d },
            "aria-current": d === selected ? "true" : null,
            onclick: () => select(d),
          },
          h("span.dot", { "data-on": c === null ? "na" : String(c), "aria-hidden": "true" }),
          h("span", d),
          h("span.sr", c === null ? "" : c ? " (connected)" : " (disconnected)"),
        );
      }),
    );
  }

  function select(device) {
    selected = device;
    localStorage.setItem("indiws.device", device);
    renderList();
    renderDevice();
    renderLog();
  }

  function groups(props) {
    const out = [];
    for (const p of props) if (!out.includes(p.group || "Main")) out.push(p.group || "Main");
    return out;
  }

  // What the user has typed and where the focus is, carried over a rebuild.
  function drafts() {
    const out = [];
    for (const input of detail.querySelectorAll("section.prop input[data-input]")) {
      if (input.value === "" && document.activeElement !== input) continue;
      const prop = input.closest("section.prop").dataset.prop;
      out.push({ prop, elem: input.dataset.input, value: input.value, focus: document.activeElement === input });
    }
    return out;
  }

  function restore(saved) {
    for (const d of saved) {
      const input = detail.querySelector(
        `section.prop[data-prop="${CSS.escape(d.prop)}"] input[data-input="${CSS.escape(d.elem)}"]`,
      );
      if (!input) continue;
      input.value = d.value;
      if (d.focus) input.focus();
    }
  }

  function renderDevice() {
    const saved = drafts();
    cards = new Map();
    if (!selected) return fill(detail, h("p.muted", "Devices appear here as soon as indiserver defines them."));
    const props = store.propertiesOf(selected);
    const gs = groups(props);
    let group = groupOf[selected];
    if (!gs.includes(group)) group = gs[0];
    const info = store.get(selected, "DRIVER_INFO");
    const val = (n) => info && (info.elements.find((e) => e.name === n) || {}).value;
    const c = connected(selected);
    const tabs = h(
      "div.tabs",
      { role: "tablist", "aria-label": `${selected} groups` },
      gs.map((g) =>
        h(
          "button.tab",
          {
            type: "button",
            role: "tab",
            "aria-selected": String(g === group),
            dataset: { group: g },
            onclick: () => {
              groupOf[selected] = g;
              localStorage.setItem("indiws.groups", JSON.stringify(groupOf));
              renderDevice();
            },
          },
          g,
        ),
      ),
    );
    const grid = h("div.props", { role: "tabpanel" });
    for (const p of props) {
      if ((p.group || "Main") !== group) continue;
      const card = propertyCard(p);
      cards.set(key(p.device, p.name), card);
      grid.append(card.el);
    }
    fill(
      detail,
      h(
        "header.device-head",
        h("h2", selected),
        info ? h("span.muted", `${val("DRIVER_EXEC") || ""} ${val("DRIVER_VERSION") ? "v" + val("DRIVER_VERSION") : ""}`) : null,
        c === null
          ? null
          : h(
              "button",
              {
                type: "button",
                dataset: { connect: selected },
                onclick: () => {
                  const p = store.get(selected, "CONNECTION");
                  const card = { error: (t) => t && toast(t, "error") };
                  setProperty(p, c ? { DISCONNECT: true } : { CONNECT: true }, card);
                },
              },
              c ? "Disconnect" : "Connect",
            ),
      ),
      tabs,
      grid,
    );
    restore(saved);
  }

  function logLine(m) {
    return h(
      "li",
      h("time", timeOf(m.timestamp)),
      " ",
      h("strong", m.device || "indiserver"),
      " ",
      h("span", m.message),
    );
  }

  function renderLog() {
    const ms = store.messages.filter((m) => !onlyThis.checked || m.device === selected).slice(-200);
    fill(logList, ms.length ? ms.reverse().map(logLine) : h("li.muted.empty", "No message since this page opened."));
  }

  // Rebuilding the selected device's cards would drop what the user is typing:
  // only its own definitions (a connect, a driver restart) do that.  Other
  // devices' changes only redraw the list.
  const pending = { list: false, device: false };
  function schedule(device = true) {
    pending.list = true;
    pending.device ||= device;
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      const before = selected;
      if (pending.list) renderList();
      if (pending.device || selected !== before) renderDevice();
      pending.list = pending.device = false;
    });
  }

  store.on((ev) => {
    switch (ev.type) {
      case "reset":
      case "link":
        schedule();
        break;
      case "updated": {
        const card = cards.get(key(ev.device, ev.name));
        if (card && card.prop.elements.length === ev.prop.elements.length) card.update(ev.prop);
        else if (ev.device === selected && !card) schedule(cards.size === 0);
        if (ev.name === "CONNECTION") schedule(ev.device === selected);
        break;
      }
      case "defined": {
        // A driver may define a property again (same elements): update it in place.
        const card = cards.get(key(ev.device, ev.name));
        const same = card && card.prop.elements.map((e) => e.name).join() === ev.prop.elements.map((e) => e.name).join();
        if (same) {
          card.update(ev.prop);
          schedule(false);
        } else schedule(ev.device === selected);
        break;
      }
      case "deleted":
        schedule(ev.device === selected);
        break;
      case "message":
        if (!onlyThis.checked || ev.message.device === selected) {
          for (const e of logList.querySelectorAll("li.empty")) e.remove();
          logList.prepend(logLine(ev.message));
          while (logList.children.length > 200) logList.lastChild.remove();
        }
        break;
      default:
        break;
    }
  });
  renderList();
  renderDevice();
  renderLog();
}

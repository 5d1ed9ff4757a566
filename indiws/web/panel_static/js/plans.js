// Plans view: the imaging plans the service runs (/api/v1/plans,
// docs/sequences.md): submit one as YAML, follow the queue, a plan's frames
// and events; pause, resume, abort.

import { fill, h, toast } from "./dom.js";
import { api, enc } from "./http.js";

// A plan's state shown with the panel's state lights (never colour alone).
const LIGHT = {
  queued: "Idle",
  paused: "Idle",
  waiting: "Busy",
  running: "Busy",
  completed: "Ok",
  failed: "Alert",
  aborted: "Alert",
};

function planState(state) {
  return h("span.state", { "data-state": LIGHT[state] || "Idle", dataset: { planState: state }, title: `plan ${state}` }, state);
}

const base = (path) => (path ? String(path).split("/").pop() : "");

export function plansView(root, hl) {
  const nameIn = h("input", { type: "text", value: "plan.yaml", "aria-label": "plan name" });
  const text = h("textarea", {
    rows: 10,
    spellcheck: false,
    "aria-label": "plan (YAML)",
    placeholder: "targets:\n  - name: M42\n    exposures:\n      - {filter: Red, duration: 60, count: 10}",
  });
  const problems = h("ul.problems", { dataset: { card: "plan-problems" } });
  const rows = h("tbody");
  const detail = h("div", { dataset: { card: "plan-detail" } });
  let selected = null;
  let timer = null;
  let pending = null;

  async function submit() {
    fill(problems);
    let resp;
    try {
      resp = await fetch(`/api/v1/plans?name=${enc(nameIn.value || "plan.yaml")}`, {
        method: "POST",
        headers: { "Content-Type": "application/yaml" },
        body: text.value,
        credentials: "same-origin",
      });
    } catch (e) {
      toast(`the service is unreachable: ${e.message}`, "error");
      return;
    }
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const err = data.error || {};
      const list = (err.data && err.data.problems) || [{ line: 0, path: "", message: err.message || resp.status }];
      fill(problems, list.map((p) => h("li", `line ${p.line}: ${p.path ? `${p.path}: ` : ""}${p.message}`)));
      toast("the plan cannot run", "error");
      return;
    }
    selected = data.id;
    toast(`plan ${data.name} queued`);
    refresh();
  }

  async function act(what, id) {
    try {
      await api("POST", `/api/v1/plans/${enc(id)}/${what}`, {});
      toast(`plan ${what}`);
    } catch (e) {
      toast(`${what}: ${e.message}`, "error");
    }
    refresh();
  }

  function renderList(plans) {
    fill(
      rows,
      plans
        .slice()
        .reverse()
        .map((p) =>
          h(
            "tr",
            {
              dataset: { plan: p.id },
              "aria-selected": String(p.id === selected),
              tabindex: 0,
              onclick: () => {
                selected = p.id;
                refresh();
              },
              onkeydown: (e) => {
                if (e.key === "Enter") {
                  selected = p.id;
                  refresh();
                }
              },
            },
            h("td", p.name),
            h("td", planState(p.state)),
            h("td", `${p.frames_done}/${p.frames_total}`),
            h("td", p.message || ""),
          ),
        ),
    );
  }

  function renderDetail(v) {
    if (!v) {
      fill(detail, h("p.muted", "Select a plan to see its frames and events."));
      return;
    }
    const cur = v.current;
    const buttons = h(
      "div.buttons",
      h("button", { type: "button", disabled: !["queued", "running", "waiting"].includes(v.state), onclick: () => act("pause", v.id) }, "Pause"),
      h("button", { type: "button", disabled: v.state !== "paused", onclick: () => act("resume", v.id) }, "Resume"),
      h("button.danger", {
        type: "button",
        disabled: ["completed", "failed", "aborted"].includes(v.state),
        onclick: () => confirm(`Abort plan ${v.name}? What runs at the devices stops.`) && act("abort", v.id),
      }, "Abort"),
    );
    fill(
      detail,
      h("header", h("h3", v.name), planState(v.state), h("span.muted", v.id)),
      h(
        "dl.readouts",
        h("dt", "Frames"), h("dd", `${v.frames_done} of ${v.frames_total} taken${v.frames_failed ? `, ${v.frames_failed} failed or skipped` : ""}`),
        h("dt", "Now"), h("dd", cur ? `${cur.name}: ${cur.state}${cur.time_left != null ? ` (${Number(cur.time_left).toFixed(1)} s left)` : ""}` : v.message || "—"),
        h("dt", "Ends about"), h("dd", v.eta ? new Date(v.eta).toLocaleTimeString() : "—"),
      ),
      buttons,
      h(
        "table.frames",
        h("thead", h("tr", h("th", "#"), h("th", "frame"), h("th", "filter"), h("th", "pier"), h("th", "status"), h("th", "file"))),
        h(
          "tbody",
          v.frames.map((f) =>
            h(
              "tr",
              { dataset: { frame: f.number, status: f.status } },
              h("td", f.number),
              h("td", f.name),
              h("td", f.filter || "—"),
              h("td", f.pier_side || "—"),
              h("td", f.status + (f.error ? `: ${f.error}` : "")),
              h("td", f.blob_id ? h("a", { href: `/blobs/${enc(f.blob_id)}`, title: f.file }, base(f.file)) : ""),
            ),
          ),
        ),
      ),
      h("h4", "Events"),
      h(
        "ol.events",
        { reversed: true },
        v.events
          .slice(-40)
          .reverse()
          .map((e) => h("li", { dataset: { type: e.type } }, h("time", new Date(e.time).toLocaleTimeString()), " ", e.message)),
      ),
    );
  }

  async function refresh() {
    try {
      const plans = await api("GET", "/api/v1/plans");
      if (!selected && plans.length) selected = plans[plans.length - 1].id;
      renderList(plans);
      renderDetail(selected ? await api("GET", `/api/v1/plans/${enc(selected)}?events=40`) : null);
    } catch (e) {
      if (e.code === "unknown_plan") selected = null;
    }
  }

  // The engine's notifications: refresh soon after a plan changes (at most 4 a second).
  hl.listeners.push((method) => {
    if (!timer || !method.startsWith("plan.") || method === "plan.progress" || pending) return;
    pending = setTimeout(() => {
      pending = null;
      refresh();
    }, 250);
  });

  root.append(
    h(
      "div.cards",
      h(
        "section.card",
        { dataset: { card: "plan-submit" } },
        h("header", h("h3", "New plan")),
        h("label.field", h("span", "Name"), nameIn),
        text,
        h("div.buttons", h("button.primary", { type: "button", dataset: { action: "plan-submit" }, onclick: submit }, "Submit")),
        problems,
      ),
      h(
        "section.card",
        { dataset: { card: "plans" } },
        h("header", h("h3", "Plans")),
        h("table.plans", h("thead", h("tr", h("th", "plan"), h("th", "state"), h("th", "frames"), h("th", "note"))), rows),
      ),
      h("section.card.wide", detail),
    ),
  );

  return {
    show() {
      refresh();
      timer = setInterval(refresh, 2000);
    },
    hide() {
      clearInterval(timer);
      timer = null;
    },
  };
}

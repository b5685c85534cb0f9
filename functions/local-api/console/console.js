"use strict";
// The tier console: plain DOM, no framework. Every call goes to
// /console/api/<route>, which answers {status, body} (see src/console.rs).

const STARTER = {
  currency: "USD",
  startDate: "2026-01-01T00:00:00Z",
  trackers: [{ id: "spend12m", measure: "billAmount", period: { months: 12 } }],
  tiers: [
    { name: "Member", earnRate: "1" },
    { name: "Gold", earnRate: "2", upgrade: {
      criteria: [
        { id: "A", kind: "tracker", tracker: "spend12m", min: "1000" },
        { id: "B", kind: "singleOrder", min: "500" }],
      condition: { custom: "A OR B" }, upgradeType: "lazy" } }]
};

const KIND_WORDS = {
  currentPoints: "current points", lifetimePoints: "lifetime points",
  lifetimePurchases: "lifetime purchases", tracker: "tracker", singleOrder: "one order"
};

// ---------- small helpers ----------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function call(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers["content-type"] = "application/json";
  }
  const response = await fetch("/console/api" + path, init);
  return response.json();
}

function enc(s) { return encodeURIComponent(s); }

function announce(text) { document.getElementById("status").textContent = text; }

function show(...nodes) {
  const main = document.getElementById("main");
  main.replaceChildren(...nodes);
  main.focus({ preventScroll: true });
}

function notice(text, isError) {
  return h("p", { class: isError ? "notice error" : "notice", role: isError ? "alert" : null }, text);
}

function errorText(reply) {
  const e = reply.body && reply.body.error;
  return e ? `${e.message} (${e.code})` : `HTTP ${reply.status}`;
}

function when(iso) {
  if (!iso) return "";
  return iso.replace("T", " ").replace(/(\.\d+)?Z$/, "").replace(/:00$/, "") + " UTC";
}

// ---------- JSON positions: where a JSON pointer's value sits in the text ----------

function locate(text, pointer) {
  const want = pointer.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  let i = 0;
  const ws = () => { while (i < text.length && /\s/.test(text[i])) i++; };
  const str = () => { const s = i; i++; while (i < text.length && text[i] !== '"') { if (text[i] === "\\") i++; i++; } i++; return JSON.parse(text.slice(s, i)); };
  function value(path) {
    ws();
    const start = i;
    const matches = path.length === want.length && path.every((p, k) => p === want[k]);
    if (text[i] === "{") {
      i++; ws();
      while (text[i] !== "}" && i < text.length) {
        ws(); const key = str(); ws(); i++; // the colon
        const found = value(path.concat(key)); if (found) return found;
        ws(); if (text[i] === ",") i++; ws();
      }
      i++;
    } else if (text[i] === "[") {
      i++; ws(); let k = 0;
      while (text[i] !== "]" && i < text.length) {
        const found = value(path.concat(String(k++))); if (found) return found;
        ws(); if (text[i] === ",") i++; ws();
      }
      i++;
    } else if (text[i] === '"') {
      str();
    } else {
      while (i < text.length && !/[\s,\]}]/.test(text[i])) i++;
    }
    return matches ? [start, i] : null;
  }
  try { return value([]); } catch (_) { return null; }
}

function valueAt(doc, pointer) {
  return pointer.split("/").slice(1).reduce((v, p) => (v == null ? v : v[p]), doc);
}

// ---------- diff of two configs, path by path ----------

function flatten(v, path, out) {
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 0) out.set(path || "/", JSON.stringify(v));
    for (const k of keys) flatten(v[k], path + "/" + k, out);
  } else {
    out.set(path || "/", JSON.stringify(v));
  }
  return out;
}

function diff(before, after) {
  const a = flatten(before, "", new Map());
  const b = flatten(after, "", new Map());
  const lines = [];
  for (const [path, v] of a) {
    if (!b.has(path)) lines.push({ kind: "removed", text: `- ${path}: ${v}` });
    else if (b.get(path) !== v) lines.push({ kind: "changed", text: `~ ${path}: ${v} \u2192 ${b.get(path)}` });
  }
  for (const [path, v] of b) if (!a.has(path)) lines.push({ kind: "added", text: `+ ${path}: ${v}` });
  return lines;
}

// ---------- the tier ladder ----------

function describeCriterion(c) {
  const op = c.op === "gt" ? ">" : "\u2265";
  const what = c.kind === "tracker" ? `tracker ${c.tracker}` : KIND_WORDS[c.kind] || c.kind;
  const period = c.period ? ` over ${JSON.stringify(c.period).replace(/[{}"]/g, "")}` : "";
  return `${c.id}: ${what} ${op} ${c.min}${period}`;
}

function describeCondition(condition, n) {
  if (condition === "all") return n > 1 ? "all criteria" : "the criterion";
  if (condition && condition.any !== undefined) return `any ${condition.any} of ${n}`;
  if (condition && condition.custom !== undefined) return `custom: ${condition.custom} (read left to right)`;
  return JSON.stringify(condition);
}

function ladder(config) {
  const rungs = (config.tiers || []).map((t, i) => {
    const up = t.upgrade;
    return h("li", { class: "card rung", "data-tier": t.name },
      h("h3", {}, t.name, " ", h("span", { class: "pill" }, `earns ${t.earnRate} per unit`)),
      i === 0 ? h("p", { class: "muted" }, "Base tier: every customer starts here.") : null,
      up ? [
        h("p", {}, `Reached by ${describeCondition(up.condition, (up.criteria || []).length)}; `,
          h("span", { class: "pill" }, `${up.upgradeType} upgrade`)),
        h("ul", {}, (up.criteria || []).map((c) => h("li", {}, describeCriterion(c))))
      ] : null);
  });
  const trackers = (config.trackers || []).map((t) =>
    h("li", {}, `${t.id}: ${t.aggregate || "sum"} of ${t.measure} over ${JSON.stringify(t.period).replace(/[{}"]/g, "")}`,
      t.filter ? ` (only ${JSON.stringify(t.filter).replace(/[{}"]/g, "")})` : ""));
  return h("div", {},
    h("ol", { class: "ladder", "aria-label": "Tiers, base first", id: "ladder", style: "list-style:none;padding:0" }, rungs),
    trackers.length ? h("div", {}, h("h3", {}, "Trackers"), h("ul", {}, trackers)) : null);
}

// ---------- program page ----------

async function programPage(programId) {
  announce(`Loading program ${programId}`);
  const current = await call("GET", `/programs/${enc(programId)}/config`);
  const exists = current.status === 200;
  if (!exists && current.status !== 404) {
    show(notice(`Cannot load program ${programId}: ${errorText(current)}`, true));
    return;
  }
  const config = exists ? current.body.config : STARTER;
  const version = exists ? current.body.version : 0;

  const editor = h("textarea", { id: "config-editor", spellcheck: "false", "aria-describedby": "validation",
    "aria-label": "Program configuration (JSON)" });
  editor.value = JSON.stringify(config, null, 2);
  const validation = h("div", { id: "validation", "aria-live": "polite" });
  const publishResult = h("p", { id: "publish-result", "aria-live": "polite" });
  const publish = h("button", { id: "publish", type: "button" }, exists ? "Publish a new version" : "Create the program");
  const ladderBox = h("div", { id: "ladder-box" }, ladder(config));
  let lastValid = exists;

  async function validate() {
    let doc;
    try {
      doc = JSON.parse(editor.value);
    } catch (e) {
      lastValid = false;
      validation.replaceChildren(h("ul", { class: "problems" }, h("li", {}, h("span", { class: "path" }, "JSON"), ": ", e.message)));
      return;
    }
    const reply = await call("POST", `/programs/${enc(programId)}/config/validate`, editor.value);
    if (reply.status === 200) {
      lastValid = true;
      validation.replaceChildren(h("p", { class: "valid" }, "\u2713 Valid configuration"));
      ladderBox.replaceChildren(ladder(doc));
      return;
    }
    lastValid = false;
    const details = (reply.body.error && reply.body.error.details) || [];
    const problems = details.length ? details : [{ path: "", message: errorText(reply) }];
    validation.replaceChildren(h("ul", { class: "problems", id: "problems" }, problems.map((p) => problemItem(p, doc))));
  }

  function problemItem(p, doc) {
    const items = [h("span", { class: "path" }, p.path || "(whole config)"), ": ", p.message];
    const condition = p.path ? valueAt(doc, p.path) : undefined;
    if (p.position && condition && typeof condition.custom === "string") {
      const text = condition.custom;
      const at = Math.min(p.position - 1, text.length);
      const caret = h("div", { class: "caret", "aria-label": `Expression, problem at character ${p.position}` },
        text.slice(0, at), h("mark", {}, text.slice(at, at + 1) || " "), text.slice(at + 1));
      items.push(caret);
    }
    if (p.path) {
      items.push(" ", h("button", { type: "button", class: "secondary", onclick: () => {
        const where = locate(editor.value, p.path);
        if (where) { editor.focus(); editor.setSelectionRange(where[0], where[1]); }
      } }, "Show in editor"));
    }
    return h("li", { "data-path": p.path || "", "data-code": p.code || "" }, items);
  }

  let timer;
  editor.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(validate, 250); });
  publish.addEventListener("click", async () => {
    publish.disabled = true;
    const reply = await call("PUT", `/programs/${enc(programId)}/config`, editor.value);
    publish.disabled = false;
    if (reply.status === 200) {
      publishResult.replaceChildren(h("span", { class: "valid" }, `Published version ${reply.body.version}.`));
      announce(`Published version ${reply.body.version}`);
      setTimeout(() => programPage(programId), 400);
    } else {
      publishResult.replaceChildren(h("span", { class: "unmet" }, `Not published: ${errorText(reply)}`));
      await validate();
    }
  });

  const versions = h("section", { "aria-labelledby": "versions-h" }, h("h2", { id: "versions-h" }, "Versions"));
  if (version >= 2) {
    const pick = (id, label, chosen) => h("label", {}, label, " ",
      h("select", { id }, Array.from({ length: version }, (_, k) => {
        const o = h("option", { value: k + 1 }, `v${k + 1}`);
        if (k + 1 === chosen) o.selected = true;
        return o;
      })));
    const from = pick("diff-from", "Compare", version - 1);
    const to = pick("diff-to", "with", version);
    const out = h("ul", { class: "diff", id: "diff", "aria-live": "polite" });
    const run = async () => {
      const [a, b] = await Promise.all([from, to].map((l) =>
        call("GET", `/programs/${enc(programId)}/config?version=${l.querySelector("select").value}`)));
      if (a.status !== 200 || b.status !== 200) { out.replaceChildren(h("li", {}, errorText(a.status !== 200 ? a : b))); return; }
      const lines = diff(a.body.config, b.body.config);
      out.replaceChildren(...(lines.length ? lines.map((l) => h("li", { class: l.kind }, l.text)) : [h("li", {}, "No difference.")]));
    };
    versions.append(h("div", { class: "actions" }, from, to, h("button", { type: "button", id: "diff-run", onclick: run }, "Show changes")), out);
    run();
  } else {
    versions.append(h("p", { class: "muted" }, version === 1 ? "Version 1 is the only version so far." : "Not published yet."));
  }

  show(
    h("h1", {}, `Program ${programId}`, " ", h("span", { class: "pill" }, exists ? `version ${version}` : "new")),
    h("section", { "aria-labelledby": "ladder-h" }, h("h2", { id: "ladder-h" }, "Tier ladder"), ladderBox),
    h("section", { "aria-labelledby": "editor-h" }, h("h2", { id: "editor-h" }, "Configuration"),
      h("div", { class: "editor" }, editor, h("div", { class: "card" }, h("h3", {}, "Validation"), validation,
        h("div", { class: "actions" }, publish), publishResult))),
    exists ? whatIfPanel(programId, editor) : null,
    versions);
  announce(`Program ${programId} loaded`);
  validate();
}

// ---------- what-if: a draft replayed over the program's history ----------

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children.flat()) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// Grouped bars, current beside draft, one group per label. Every bar
// carries its numbers (data-*) and a <title>, so the chart reads without
// the picture too; a table of the same figures follows it.
function barChart(id, title, labels, series) {
  const width = Math.max(360, labels.length * 64 + 60), height = 220, left = 40, bottom = 40, top = 12;
  const most = Math.max(1, ...series.flatMap((s) => labels.map((l) => s.values[l] || 0)));
  const band = (width - left - 10) / Math.max(1, labels.length);
  const bar = Math.min(24, (band - 12) / series.length);
  const y = (v) => top + (height - top - bottom) * (1 - v / most);
  const bars = labels.flatMap((label, i) => series.map((s, k) => {
    const v = s.values[label] || 0;
    const x = left + i * band + (band - bar * series.length) / 2 + k * bar;
    return svg("rect", { x, y: y(v), width: bar - 2, height: y(0) - y(v), class: `bar-${s.key}`,
      "data-side": s.key, "data-label": label, "data-value": String(v) },
    svg("title", {}, `${label}, ${s.name}: ${v}`));
  }));
  const ticks = labels.map((label, i) => svg("text", { x: left + i * band + band / 2, y: height - bottom + 16,
    "text-anchor": "middle", class: "tick" }, label));
  const axis = [svg("line", { x1: left, y1: y(0), x2: width - 10, y2: y(0), class: "axis" }),
    svg("text", { x: left - 6, y: y(most) + 4, "text-anchor": "end", class: "tick" }, String(most)),
    svg("text", { x: left - 6, y: y(0) + 4, "text-anchor": "end", class: "tick" }, "0")];
  const key = series.map((s, k) => svg("g", {}, svg("rect", { x: left + k * 110, y: height - 14, width: 10, height: 10, class: `bar-${s.key}` }),
    svg("text", { x: left + k * 110 + 14, y: height - 5, class: "tick" }, s.name)));
  return h("figure", { class: "chart card" }, h("figcaption", {}, title),
    svg("svg", { id, viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": title }, axis, bars, ticks, key));
}

function figuresTable(id, caption, rows) {
  return h("div", { class: "table-wrap" }, h("table", { id },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, ["", "Current", "Draft"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map(([label, a, b]) => h("tr", { "data-row": label }, h("th", { scope: "row" }, label), h("td", {}, a), h("td", {}, b))))));
}

function whatIfReport(r) {
  const sides = [{ key: "current", name: "Current", values: r.current.tiers }, { key: "draft", name: "Draft", values: r.draft.tiers }];
  const ladder = r.draft.ladder.concat(r.current.ladder.filter((t) => !r.draft.ladder.includes(t)));
  const months = Array.from(new Set(Object.keys(r.current.upgradesPerMonth).concat(Object.keys(r.draft.upgradesPerMonth)))).sort();
  const m = r.movers;
  return h("div", { id: "whatif-report" },
    h("p", { id: "whatif-summary", "data-end": r.end }, `${r.customers} customers, ${r.events} events replayed to ${when(r.end)}: `,
      h("strong", {}, `${m.higher} higher`), ", ", h("strong", {}, `${m.lower} lower`), `, ${m.unchanged} unchanged under the draft.`),
    h("div", { class: "grid" },
      barChart("chart-tiers", "Customers per tier", ladder, sides),
      barChart("chart-upgrades", "Upgrades per month", months, [
        { key: "current", name: "Current", values: r.current.upgradesPerMonth },
        { key: "draft", name: "Draft", values: r.draft.upgradesPerMonth }])),
    figuresTable("whatif-points", "Points under each config", [
      ["Points awarded", r.current.pointsAwarded, r.draft.pointsAwarded],
      ["Points taken back", r.current.pointsReversed, r.draft.pointsReversed],
      ["Points outstanding", r.current.pointsOutstanding, r.draft.pointsOutstanding]]),
    m.sample.length ? h("div", {}, h("h3", {}, `Movers (first ${m.sample.length} by customer id)`),
      h("div", { class: "table-wrap" }, h("table", { id: "whatif-movers" },
        h("thead", {}, h("tr", {}, ["Customer", "Moves", "Current tier", "Draft tier"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, m.sample.map((v) => h("tr", { "data-customer": v.customerId },
          h("td", {}, v.customerId), h("td", { class: v.direction === "higher" ? "met" : "unmet" }, v.direction),
          h("td", {}, v.currentTier || "—"), h("td", {}, v.draftTier || "—"))))))) : null);
}

// Asks for a simulation of the editor's draft and follows it to its report.
function whatIfPanel(programId, editor) {
  const out = h("div", { id: "whatif", "aria-live": "polite" });
  const button = h("button", { id: "simulate", type: "button", class: "secondary" }, "Simulate this draft");
  button.addEventListener("click", async () => {
    button.disabled = true;
    out.replaceChildren(h("p", { class: "muted" }, "Replaying the program's history…"));
    const asked = await call("POST", `/programs/${enc(programId)}/simulations`, `{"config": ${editor.value}}`);
    if (asked.status !== 202) {
      button.disabled = false;
      out.replaceChildren(notice(`Not simulated: ${errorText(asked)}`, true));
      return;
    }
    const id = asked.body.simulationId;
    for (;;) {
      const seen = await call("GET", `/programs/${enc(programId)}/simulations/${enc(id)}`);
      const status = seen.body && seen.body.status;
      if (seen.status !== 200 || status === "failed") {
        out.replaceChildren(notice(`Simulation ${id} failed: ${seen.status === 200 ? (seen.body.failureReason || "no reason given") : errorText(seen)}`, true));
        break;
      }
      if (status === "done") {
        out.replaceChildren(whatIfReport(seen.body.report));
        announce("Simulation done");
        break;
      }
      out.replaceChildren(h("p", { class: "muted" }, `Replaying: ${seen.body.progress.customersSeen} customers so far…`));
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
    button.disabled = false;
  });
  return h("section", { "aria-labelledby": "whatif-h" }, h("h2", { id: "whatif-h" }, "What if"),
    h("p", { class: "muted" }, "Replays every stored order, return and redemption under the draft in the editor and under the current version, side by side. Nothing of the live program changes."),
    h("div", { class: "actions" }, button), out);
}

// ---------- customer page ----------

function progressRow(tier, c, programId, customerId) {
  const required = Number(c.required), actual = Number(c.actual);
  const share = required > 0 ? Math.max(0, Math.min(1, actual / required)) : (c.met ? 1 : 0);
  const words = KIND_WORDS[c.kind] || c.kind;
  const more = c.met ? "met" : (c.needs || `${c.remaining} more`);
  return h("div", { class: "progress-row", "data-criterion": c.id },
    h("div", { class: "label" }, h("span", {}, `${c.id} \u00b7 ${words}: ${c.actual} of ${c.required}`),
      h("span", { class: c.met ? "met" : "muted" }, more)),
    h("div", { class: c.met ? "bar done" : "bar", role: "progressbar", "aria-label": `${tier}, criterion ${c.id}`,
      "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(Math.round(share * 100)) },
    h("span", { style: `width:${(share * 100).toFixed(1)}%` })));
}

async function customerPage(programId, customerId) {
  announce(`Loading customer ${customerId}`);
  const [status, orders] = await Promise.all([
    call("GET", `/programs/${enc(programId)}/customers/${enc(customerId)}`),
    call("GET", `/programs/${enc(programId)}/customers/${enc(customerId)}/orders?limit=200`)]);
  if (status.status !== 200) {
    show(h("h1", {}, `Customer ${customerId}`), notice(`Nothing to show: ${errorText(status)}`, status.status !== 404));
    return;
  }
  const s = status.body;
  const why = (tier, orderId) => `#/programs/${enc(programId)}/customers/${enc(customerId)}/why?tier=${enc(tier || "")}` +
    (orderId ? `&order=${enc(orderId)}` : "");
  const balances = h("div", { class: "balances" },
    [["Current points", s.currentPoints], ["Lifetime points", s.lifetimePoints], ["Lifetime purchases", s.lifetimePurchases]]
      .map(([label, v]) => h("div", { class: "card balance" }, h("span", { class: "muted" }, label), h("strong", {}, v))));
  const expiring = s.expiringPoints.length
    ? h("ul", { id: "expiring" }, s.expiringPoints.slice(0, 12).map((e) => h("li", {}, `${e.points} points expire on ${e.on}`)))
    : h("p", { class: "muted" }, "No points due to expire.");
  const progress = s.progress.length
    ? s.progress.map((t) => h("div", { class: "card", "data-tier": t.tier },
      h("h3", {}, t.tier, " ", h("span", { class: t.qualifies ? "met" : "muted" }, t.qualifies ? "qualifies" : "not yet"),
        " ", h("a", { href: why(t.tier) }, `Why not ${t.tier}?`)),
      t.criteria.map((c) => progressRow(t.tier, c, programId, customerId))))
    : [h("p", { class: "muted" }, "In the top tier.")];
  const timeline = s.history.length
    ? h("ol", { class: "timeline", id: "timeline" }, s.history.slice().reverse().map((e) =>
      h("li", { class: /return|retention|downgrad/.test(e.cause) ? "down" : "" },
        h("strong", {}, `${e.from} \u2192 ${e.to}`), " ", h("span", { class: "muted" }, when(e.at)), h("br"), e.cause)))
    : h("p", { class: "muted", id: "timeline" }, "No tier changes yet.");
  let orderList = h("p", { class: "muted" }, "No orders.");
  if (orders.status === 200 && orders.body.orders.length) {
    const latest = orders.body.total > orders.body.orders.length
      ? h("p", { class: "muted" }, `Latest ${orders.body.orders.length} of ${orders.body.total}.`) : null;
    orderList = h("div", {}, h("div", { class: "table-wrap" }, h("table", { id: "orders" },
      h("caption", { class: "visually-hidden" }, "Orders, newest first"),
      h("thead", {}, h("tr", {}, ["Order", "Placed", "Status", "Amount", "Returned", "Points", "Tier", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, orders.body.orders.map((o) => h("tr", { "data-order": o.orderId },
        h("td", {}, o.orderId), h("td", {}, when(o.placedAt)), h("td", {}, o.status),
        h("td", {}, o.amount || ""), h("td", {}, o.returnedAmount && o.returnedAmount !== "0" ? o.returnedAmount : ""),
        h("td", {}, o.pointsAwarded ? (o.pointsReversed && o.pointsReversed !== "0" ? `${o.pointsAwarded} (\u2212${o.pointsReversed})` : o.pointsAwarded) : ""),
        h("td", {}, o.tierBefore ? (o.tierBefore === o.tierAfter ? o.tierAfter : `${o.tierBefore} \u2192 ${o.tierAfter}`) : ""),
        h("td", {}, o.amount ? h("a", { href: why("", o.orderId) }, "Why?") : "")))))), latest);
  }
  show(
    h("h1", {}, `Customer ${customerId}`, " ", h("span", { class: "pill", id: "tier" }, s.tier)),
    h("p", { class: "muted" }, `In ${s.tier} since ${when(s.tierSince)} \u00b7 program `, h("a", { href: `#/programs/${enc(programId)}` }, programId),
      ` \u00b7 as of ${when(s.asOf)}`),
    balances,
    h("section", { "aria-labelledby": "expiring-h" }, h("h2", { id: "expiring-h" }, "Expiring points"), expiring),
    h("section", { "aria-labelledby": "progress-h" }, h("h2", { id: "progress-h" }, "Progress"), h("div", { class: "grid", id: "progress" }, progress)),
    h("section", { "aria-labelledby": "history-h" }, h("h2", { id: "history-h" }, "History"), timeline),
    h("section", { "aria-labelledby": "orders-h" }, h("h2", { id: "orders-h" }, "Orders"), orderList));
  announce(`Customer ${customerId} loaded`);
}

// ---------- why not ----------

async function whyPage(programId, customerId, tier, orderId) {
  let query = [];
  if (tier) query.push(`tier=${enc(tier)}`);
  if (orderId) query.push(`orderId=${enc(orderId)}`);
  const reply = await call("GET", `/programs/${enc(programId)}/customers/${enc(customerId)}/explain${query.length ? "?" + query.join("&") : ""}`);
  const back = h("p", {}, h("a", { href: `#/programs/${enc(programId)}/customers/${enc(customerId)}` }, `\u2190 Customer ${customerId}`));
  if (reply.status !== 200) {
    show(h("h1", {}, "Why not?"), back, notice(errorText(reply), reply.status >= 500));
    return;
  }
  const e = reply.body;
  const heading = e.order ? `Order ${e.order.orderId} and ${e.tier}` : `Why ${customerId} is ${e.qualifies ? "" : "not "}in ${e.tier}`;
  const rows = e.criteria.map((c) => h("tr", { "data-criterion": c.id },
    h("td", {}, c.id), h("td", {}, c.kind === "tracker" ? `tracker ${c.tracker}` : KIND_WORDS[c.kind] || c.kind),
    h("td", {}, `${c.op === "gt" ? ">" : "\u2265"} ${c.required}`), h("td", {}, c.actual),
    h("td", { class: c.met ? "met" : "unmet" }, c.met ? "true" : "false")));
  let order = null;
  if (e.order) {
    const o = e.order;
    const text = {
      heldBefore: `The customer already held ${e.tier} or higher before this order.`,
      met: `This order met ${e.tier}'s condition.`,
      amount: `An order of ${o.smallestAmount} (${o.extraAmount} more than ${o.amount}) would have reached ${e.tier}.`,
      noAmount: `No amount could have reached ${e.tier} with this order:`
    }[o.outcome];
    order = h("section", { "aria-labelledby": "order-h" }, h("h2", { id: "order-h" }, "What the order needed"),
      h("p", { class: "outcome", id: "outcome" }, text),
      o.reasons && o.reasons.length ? h("ul", { id: "reasons" }, o.reasons.map((r) => h("li", {}, r))) : null,
      h("p", { class: "muted" }, `Placed ${when(o.placedAt)} for ${o.amount}; ${o.tierBefore} before, ${o.tierAfter} after; judged under config version ${e.configVersion}.`));
  }
  show(
    h("h1", {}, heading), back,
    h("p", {}, `Customer tier then: `, h("strong", {}, e.customerTier), ` \u00b7 as of ${when(e.asOf)} \u00b7 config version ${e.configVersion}`),
    h("section", { "aria-labelledby": "criteria-h" }, h("h2", { id: "criteria-h" }, "Criteria"),
      h("div", { class: "table-wrap" }, h("table", { id: "criteria" },
        h("thead", {}, h("tr", {}, ["Id", "Measures", "Required", "Actual", "Met"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows)))),
    h("section", { "aria-labelledby": "condition-h" }, h("h2", { id: "condition-h" }, "Condition, left to right"),
      h("ol", { class: "steps", id: "evaluation" }, e.evaluation.map((s) => h("li", {}, s))),
      h("p", { class: e.qualifies ? "met" : "unmet", id: "verdict" }, e.qualifies ? `Qualifies for ${e.tier}.` : `Does not qualify for ${e.tier}.`)),
    order);
  announce(heading);
}

// ---------- routing ----------

function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, search] = hash.split("?");
  const q = new URLSearchParams(search || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  document.getElementById("program-id").value = parts[1] || document.getElementById("program-id").value;
  if (parts[0] === "programs" && parts.length === 2) return programPage(parts[1]);
  if (parts[0] === "programs" && parts[2] === "customers" && parts.length === 4) {
    document.getElementById("customer-id").value = parts[3];
    return customerPage(parts[1], parts[3]);
  }
  if (parts[0] === "programs" && parts[2] === "customers" && parts[4] === "why") {
    document.getElementById("customer-id").value = parts[3];
    return whyPage(parts[1], parts[3], q.get("tier"), q.get("order"));
  }
}

document.getElementById("open").addEventListener("submit", (event) => {
  event.preventDefault();
  const program = document.getElementById("program-id").value.trim();
  const customer = document.getElementById("customer-id").value.trim();
  if (!program) return;
  const wantsCustomer = event.submitter && event.submitter.value === "customer" && customer;
  location.hash = wantsCustomer ? `#/programs/${enc(program)}/customers/${enc(customer)}` : `#/programs/${enc(program)}`;
});
window.addEventListener("hashchange", route);
route();

// The actor tree (/api/actors) and the machine's ffmpeg processes
// (/api/processes), refreshed while the view shows.

import { api, errorText, el, parseTime, clock, duration, millis, bytes, Unauthorized, serverNow } from "./util.js";
import { t, has } from "./i18n.js";
import { outcomeText } from "./util.js";

// The tree's paths, actor kinds and the fields' values are the server's
// data (translate="no"); what this page says about them is in the
// operator's language, the fields' names included when the catalogue
// knows them (field.<name>).

const REFRESH_EVERY = 2000;
const COMMON = new Set(["path", "kind", "state", "started_at", "restarts", "children", "fields"]);

let timer = null;
let visible = false;
let inflight = false;
const closed = new Set(); // paths the operator collapsed
const nodes = new Map(); // path -> {li, summary, ...}

/** setVisible starts or stops the refresh. */
export function setVisible(v) {
  v = v && !document.hidden;
  if (v === visible) return;
  visible = v;
  clearInterval(timer);
  timer = null;
  if (v) {
    refresh();
    timer = setInterval(refresh, REFRESH_EVERY);
  }
}

async function refresh() {
  if (inflight) return;
  inflight = true;
  try {
    const [a, p] = await Promise.all([api("GET", "api/actors"), api("GET", "api/processes")]);
    if (!visible) return;
    const stamp = t("updated", { t: clock(Date.now()) }); // this machine's time: when we looked
    if (a.ok) {
      renderTree(a.data);
      document.getElementById("actors-updated").textContent = stamp;
    } else {
      document.getElementById("actors-updated").textContent = t("actors.load_failed", { why: errorText(a) });
    }
    if (p.ok) {
      renderProcesses(p.data.processes || []);
      document.getElementById("processes-updated").textContent = stamp;
    } else {
      document.getElementById("processes-updated").textContent = t("procs.load_failed", { why: errorText(p) });
    }
  } catch (e) {
    if (!(e instanceof Unauthorized)) document.getElementById("actors-updated").textContent = t("err.unreachable", { why: e.message });
  } finally {
    inflight = false;
  }
}

// ---------------------------------------------------------------- tree

function renderTree(data) {
  const root = data && (data.path !== undefined ? data : data.root || data.tree);
  const box = document.getElementById("actor-tree");
  if (!root) {
    box.textContent = t("actors.no_tree");
    return;
  }
  const seen = new Set();
  let ul = box.querySelector(":scope > ul");
  if (!ul) {
    box.replaceChildren();
    ul = el("ul", { i18n: { "aria-label": "actors.tree.label" } });
    box.append(ul);
  }
  reconcile(ul, [root], "", seen, 1);
  for (const path of [...nodes.keys()]) if (!seen.has(path)) nodes.delete(path);
}

// reconcile makes ul list children in order, reusing the elements of paths
// already shown so open/closed state and focus survive each refresh.
function reconcile(ul, children, parentPath, seen, level) {
  const want = children.map((n) => upsertNode(n, parentPath, seen, level));
  want.forEach((li, i) => {
    if (ul.children[i] !== li) ul.insertBefore(li, ul.children[i] || null);
  });
  while (ul.children.length > want.length) ul.lastElementChild.remove();
}

function upsertNode(n, parentPath, seen, level) {
  const path = n.path || `${parentPath}/?`;
  seen.add(path);
  let v = nodes.get(path);
  const kids = Array.isArray(n.children) ? n.children : [];
  const hasKids = kids.length > 0;
  if (!v || v.hasKids !== hasKids) {
    v = buildNode(path, hasKids);
    nodes.set(path, v);
  }
  v.li.dataset.level = level;
  fillLine(v, n, parentPath);
  if (hasKids) reconcile(v.ul, kids, path, seen, level + 1);
  return v.li;
}

function buildNode(path, hasKids) {
  const line = el("span", { class: "node-line" });
  const li = el("li", { dataset: { path } });
  const v = { li, line, hasKids };
  if (hasKids) {
    const summary = el("summary", {}, line);
    const details = el("details", {}, summary);
    details.open = !closed.has(path);
    details.addEventListener("toggle", () => {
      if (details.open) closed.delete(path);
      else closed.add(path);
    });
    v.ul = el("ul");
    details.append(v.ul);
    li.append(details);
  } else {
    li.append(el("span", { class: "leaf" }, line));
  }
  return v;
}

function fields(n) {
  // Kind-specific fields are flat on the node (or, defensively, under "fields").
  const f = { ...(n.fields || {}) };
  for (const [k, val] of Object.entries(n)) if (!COMMON.has(k)) f[k] = val;
  return f;
}

function fillLine(v, n, parentPath) {
  const f = fields(n);
  const name = parentPath && n.path && n.path.startsWith(`${parentPath}/`) ? n.path.slice(parentPath.length + 1) : n.path || "?";
  const li = v.li;
  li.dataset.kind = n.kind || "";
  li.dataset.state = n.state || "";
  if (f.os_pid !== undefined) li.dataset.osPid = f.os_pid;
  else delete li.dataset.osPid;
  const state = n.state || "?";
  const parts = [
    el("span", { class: "node-name", translate: "no", title: n.path || "" }, name),
    el("span", { class: "kind", translate: "no" }, n.kind || "?"),
    el("span", { class: `state${n.state && n.state !== "running" ? " warn" : ""}`, dataset: { field: "state" }, translate: has(`state.${state}`) ? null : "no" },
      has(`state.${state}`) ? t(`state.${state}`) : state),
  ];
  if (n.restarts) parts.push(el("span", { class: "fact warn", dataset: { field: "restarts" } }, t("fact.restarted", { n: n.restarts })));
  const started = parseTime(n.started_at);
  for (const [field, text, warn, data] of kindFacts(n.kind, f, started)) {
    const long = text.length + (data || "").length > 40;
    parts.push(el("span", { class: `fact${warn ? " warn" : ""}${long ? " long" : ""}`, dataset: { field } },
      text, data !== undefined && text ? " " : null, data !== undefined ? el("span", { translate: "no" }, data) : null));
  }
  if (n.kind === "ffmpeg" && Array.isArray(f.argv)) {
    parts.push(el("code", { class: "argv", title: f.argv.join(" "), translate: "no" }, f.argv.join(" ")));
  }
  v.line.replaceChildren(...parts);
}

// kindFacts are [field, text, warn] for what the operator reads per kind.
function kindFacts(kind, f, started) {
  const out = [];
  const age = started !== null ? duration((serverNow() - started) / 1000) : null;
  switch (kind) {
    case "ffmpeg": {
      out.push(["os_pid", f.os_pid ? t("fact.pid", { pid: f.os_pid }) : t("fact.no_process")]);
      const procStart = parseTime(f.process_started_at) ?? started;
      if (procStart !== null) out.push(["age", t("fact.age", { d: duration((serverNow() - procStart) / 1000) })]);
      const dl = parseTime(f.deadline);
      if (dl !== null) {
        const left = (dl - serverNow()) / 1000;
        out.push(["deadline", left >= 0 ? t("fact.killed_in", { d: duration(left) }) : t("fact.past_deadline", { d: duration(-left) }), left < 0]);
      }
      break;
    }
    case "camera": {
      const held = f.slots_held ?? "?";
      out.push(["slots_held", t("fact.slots", { held, max: f.max_connections ?? "?" }), typeof held === "number" && held > f.max_connections]);
      out.push(["queue_length", t("fact.queue", { n: f.queue_length ?? 0 })]);
      out.push(["failing", f.failing ? t("state.failing") : t("card.state.ok"), !!f.failing]);
      const lc = f.last_capture;
      if (lc && typeof lc === "object" && lc.outcome) out.push(["last_capture", t("fact.last", { outcome: outcomeText(lc.outcome) }), lc.outcome !== "ok"]);
      else if (typeof lc === "string" && lc) out.push(["last_capture", t("fact.last", { outcome: outcomeText(lc) })]);
      break;
    }
    case "lease": {
      if (f.stream) out.push(["stream", t("field.stream"), false, f.stream]);
      const u = parseTime(f.until);
      if (u !== null) out.push(["until", u > serverNow() ? t("card.live.until", { t: clock(u) }) : t("fact.draining")]);
      break;
    }
    case "gateway": {
      out.push(["healthy", f.healthy ? t("go2rtc.healthy") : t("fact.unhealthy"), !f.healthy]);
      if (f.streams !== undefined) out.push(["streams", t("fact.streams", { n: Array.isArray(f.streams) ? f.streams.length : f.streams })]);
      break;
    }
    case "subnet": {
      if (f.cycle !== undefined) out.push(["cycle", t("fact.cycle", { n: f.cycle })]);
      if (f.last_cycle_duration_ms) out.push(["last_cycle_duration_ms", t("fact.last_took", { d: millis(f.last_cycle_duration_ms) })]);
      else out.push(["last_cycle_duration_ms", t("fact.no_cycle")]);
      for (const [k, val] of Object.entries(f)) {
        if (k === "cycle" || k === "last_cycle_duration_ms" || k === "cycle_started_at") continue;
        const fact = genericFact(k, val);
        if (fact) out.push(fact);
      }
      break;
    }
    case "playback": {
      // Which cameras play, by name: the operator's first question here.
      const live = Array.isArray(f.live) ? [...f.live].sort() : [];
      out.push(["live", live.length ? t("fact.playing") : t("fact.nothing_playing"), false, live.length ? live.join(", ") : undefined]);
      if (f.pending) out.push(["pending", t("fact.pending", { n: f.pending })]);
      break;
    }
    default:
      for (const [k, val] of Object.entries(f)) {
        const fact = genericFact(k, val);
        if (fact) out.push(fact);
      }
  }
  if (kind !== "ffmpeg" && age) out.push(["age", t("fact.up", { d: age })]);
  return out;
}

// genericFact is [field, text, warn, data] for a field this page has no
// words for, in the units its name says: 10000 under interval_ms reads
// "interval 10 s", not "interval ms 10000". Lists of names are listed.
// text is the field's name (in the operator's language when the
// catalogue knows it) and what this page says of the value; data, when
// set, is the value as the server wrote it.
function genericFact(k, val) {
  if (val === null || val === "" || val === undefined) return null;
  const warn = k === "error" || (k === "healthy" && val === false);
  const unit = /_(ms|s|bytes|at)$/.exec(k);
  const base = unit ? k.slice(0, -unit[0].length) : k;
  const known = has(`field.${base}`);
  const name = known ? t(`field.${base}`) : "";
  const raw = base.replace(/_/g, " ");
  // A field the catalogue does not know keeps its name as data.
  const fact = (text, data) => (known ? [k, text, warn, data] : [k, "", warn, data === undefined ? `${raw} ${text}`.trim() : `${raw} ${text} ${data}`.trim()]);
  if (Array.isArray(val)) {
    if (!val.every((v) => typeof v === "string" || typeof v === "number")) return fact(t("fact.count", { name, n: val.length }));
    return val.length ? fact(t("fact.list", { name }), val.join(", ")) : fact(t("fact.none", { name }));
  }
  if (typeof val === "object") return null;
  if (typeof val === "boolean") return fact(val ? name : t("fact.not", { name }));
  if (typeof val === "number" && unit) {
    if (unit[1] === "ms") return fact(`${name} ${val >= 60000 ? duration(val / 1000) : millis(val)}`.trim());
    if (unit[1] === "s") return fact(`${name} ${duration(val)}`.trim());
    if (unit[1] === "bytes") return fact(`${name} ${bytes(val)}`.trim());
  }
  if (typeof val === "number") return fact(`${name} ${val}`.trim());
  const p = plain(val);
  return p.time ? fact(`${name} ${p.text}`.trim()) : fact(name, p.text);
}

// plain shows a field value: times as clock times in the operator's zone.
function plain(v) {
  if (typeof v === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(v)) {
    const at = parseTime(v);
    return { time: true, text: at === null ? t("fact.never") : clock(at) };
  }
  return { time: false, text: String(v) };
}

// breakable lets a long actor path wrap after its slashes.
function breakable(path) {
  const out = [];
  path.split("/").forEach((part, i) => {
    if (i > 0) out.push("/", el("wbr"));
    out.push(part);
  });
  return out;
}

// ---------------------------------------------------------------- processes

function renderProcesses(procs) {
  const tbody = document.getElementById("process-list");
  const sorted = [...procs].sort((a, b) => (a.owned === b.owned ? a.os_pid - b.os_pid : a.owned ? 1 : -1));
  if (sorted.length === 0) {
    tbody.replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted", i18n: { text: "procs.none" } })));
    return;
  }
  tbody.replaceChildren(...sorted.map(processRow));
}

function processRow(p) {
  const argv = Array.isArray(p.argv) ? p.argv.join(" ") : String(p.argv || "");
  const owner = p.owned
    ? el("td", { class: "owner", translate: "no" }, ...(p.owner ? breakable(p.owner) : ["—"]))
    : el("td", { class: "owner" }, el("span", { class: "badge bad", i18n: { text: "procs.unowned" } }), " ", el("span", { class: "muted" }, whyUnowned(p)));
  return el("tr", { class: p.owned ? "" : "unowned", dataset: { osPid: p.os_pid, owned: p.owned ? "true" : "false" } },
    el("td", { class: "num", title: t("procs.ppid", { ppid: p.ppid ?? "?", pgid: p.pgid ?? "?" }) }, p.os_pid),
    owner,
    el("td", { translate: "no" }, p.state || "?"),
    el("td", { class: "num" }, duration(p.age_s)),
    el("td", { title: p.run || "", dataset: { i18nRaw: "title" }, i18n: { text: p.this_run ? "procs.run.this" : p.run ? "procs.run.other" : "procs.run.none" } }),
    el("td", {}, el("code", { class: "argv", title: argv, translate: "no" }, argv)));
}

function whyUnowned(p) {
  if (p.this_run) return p.owner ? t("procs.why.gone", { owner: p.owner }) : t("procs.why.this_run");
  if (p.run) return t("procs.why.other_run");
  return t("procs.why.not_ours");
}

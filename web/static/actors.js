// The actor tree (/api/actors) and the machine's ffmpeg processes
// (/api/processes), refreshed while the view shows.

import { api, errorText, el, parseTime, clock, duration, millis, bytes, Unauthorized, serverNow } from "./util.js";

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
    const stamp = `updated ${clock(Date.now())}`; // this machine's time: when we looked
    if (a.ok) {
      renderTree(a.data);
      document.getElementById("actors-updated").textContent = stamp;
    } else {
      document.getElementById("actors-updated").textContent = `Cannot load the tree: ${errorText(a)}`;
    }
    if (p.ok) {
      renderProcesses(p.data.processes || []);
      document.getElementById("processes-updated").textContent = stamp;
    } else {
      document.getElementById("processes-updated").textContent = `Cannot load processes: ${errorText(p)}`;
    }
  } catch (e) {
    if (!(e instanceof Unauthorized)) document.getElementById("actors-updated").textContent = `Cannot reach the server: ${e.message}`;
  } finally {
    inflight = false;
  }
}

// ---------------------------------------------------------------- tree

function renderTree(data) {
  const root = data && (data.path !== undefined ? data : data.root || data.tree);
  const box = document.getElementById("actor-tree");
  if (!root) {
    box.textContent = "The server sent no tree.";
    return;
  }
  const seen = new Set();
  let ul = box.querySelector(":scope > ul");
  if (!ul) {
    box.replaceChildren();
    ul = el("ul", { "aria-label": "Actor supervision tree" });
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
  const parts = [
    el("span", { class: "node-name" }, name),
    el("span", { class: "kind" }, n.kind || "?"),
    el("span", { class: `state${n.state && n.state !== "running" ? " warn" : ""}`, dataset: { field: "state" } }, n.state || "?"),
  ];
  if (n.restarts) parts.push(el("span", { class: "fact warn", dataset: { field: "restarts" } }, `restarted ${n.restarts}×`));
  const started = parseTime(n.started_at);
  for (const [field, text, warn] of kindFacts(n.kind, f, started)) {
    parts.push(el("span", { class: `fact${warn ? " warn" : ""}${text.length > 40 ? " long" : ""}`, dataset: { field } }, text));
  }
  if (n.kind === "ffmpeg" && Array.isArray(f.argv)) {
    parts.push(el("code", { class: "argv", title: f.argv.join(" ") }, f.argv.join(" ")));
  }
  v.line.replaceChildren(...parts);
  v.line.title = n.path || "";
}

// kindFacts are [field, text, warn] for what the operator reads per kind.
function kindFacts(kind, f, started) {
  const out = [];
  const age = started !== null ? duration((serverNow() - started) / 1000) : null;
  switch (kind) {
    case "ffmpeg": {
      out.push(["os_pid", f.os_pid ? `pid ${f.os_pid}` : "no process"]);
      const procStart = parseTime(f.process_started_at) ?? started;
      if (procStart !== null) out.push(["age", `age ${duration((serverNow() - procStart) / 1000)}`]);
      const dl = parseTime(f.deadline);
      if (dl !== null) {
        const left = (dl - serverNow()) / 1000;
        out.push(["deadline", left >= 0 ? `killed in ${duration(left)}` : `past deadline by ${duration(-left)}`, left < 0]);
      }
      break;
    }
    case "camera": {
      const held = f.slots_held ?? "?";
      out.push(["slots_held", `slots ${held}/${f.max_connections ?? "?"}`, typeof held === "number" && held > f.max_connections]);
      out.push(["queue_length", `queue ${f.queue_length ?? 0}`]);
      out.push(["failing", f.failing ? "failing" : "ok", !!f.failing]);
      const lc = f.last_capture;
      if (lc && typeof lc === "object" && lc.outcome) out.push(["last_capture", `last ${lc.outcome}`, lc.outcome !== "ok"]);
      else if (typeof lc === "string" && lc) out.push(["last_capture", `last ${lc}`]);
      break;
    }
    case "lease": {
      if (f.stream) out.push(["stream", `stream ${f.stream}`]);
      const u = parseTime(f.until);
      if (u !== null) out.push(["until", u > serverNow() ? `until ${clock(u)}` : "draining"]);
      break;
    }
    case "gateway": {
      out.push(["healthy", f.healthy ? "healthy" : "unhealthy", !f.healthy]);
      if (f.streams !== undefined) out.push(["streams", `${Array.isArray(f.streams) ? f.streams.length : f.streams} streams`]);
      break;
    }
    case "subnet": {
      if (f.cycle !== undefined) out.push(["cycle", `cycle ${f.cycle}`]);
      if (f.last_cycle_duration_ms) out.push(["last_cycle_duration_ms", `last took ${millis(f.last_cycle_duration_ms)}`]);
      else out.push(["last_cycle_duration_ms", "no cycle ended yet"]);
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
      out.push(["live", live.length ? `playing: ${live.join(", ")}` : "nothing playing"]);
      if (f.pending) out.push(["pending", `${f.pending} waiting for a lease`]);
      break;
    }
    default:
      for (const [k, val] of Object.entries(f)) {
        const fact = genericFact(k, val);
        if (fact) out.push(fact);
      }
  }
  if (kind !== "ffmpeg" && age) out.push(["age", `up ${age}`]);
  return out;
}

// genericFact is [field, text, warn] for a field this page has no words
// for, in the units its name says: 10000 under interval_ms reads
// "interval 10 s", not "interval ms 10000". Lists of names are listed.
function genericFact(k, val) {
  if (val === null || val === "" || val === undefined) return null;
  const warn = k === "error" || (k === "healthy" && val === false);
  const unit = /_(ms|s|bytes|at)$/.exec(k);
  const name = (unit ? k.slice(0, -unit[0].length) : k).replace(/_/g, " ");
  if (Array.isArray(val)) {
    if (!val.every((v) => typeof v === "string" || typeof v === "number")) return [k, `${name}: ${val.length}`];
    return [k, val.length ? `${name}: ${val.join(", ")}` : `${name}: none`];
  }
  if (typeof val === "object") return null;
  if (typeof val === "boolean") return [k, val ? name : `not ${name}`, warn];
  if (typeof val === "number" && unit) {
    if (unit[1] === "ms") return [k, `${name} ${val >= 60000 ? duration(val / 1000) : millis(val)}`, warn];
    if (unit[1] === "s") return [k, `${name} ${duration(val)}`, warn];
    if (unit[1] === "bytes") return [k, `${name} ${bytes(val)}`, warn];
  }
  return [k, `${name} ${plain(val)}`, warn];
}

// plain shows a field value: times as local clock times.
function plain(v) {
  if (typeof v === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(v)) {
    const t = parseTime(v);
    return t === null ? "never" : clock(t);
  }
  return String(v);
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
    tbody.replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No ffmpeg process is running.")));
    return;
  }
  tbody.replaceChildren(...sorted.map(processRow));
}

function processRow(p) {
  const argv = Array.isArray(p.argv) ? p.argv.join(" ") : String(p.argv || "");
  const owner = p.owned
    ? el("td", { class: "owner" }, ...(p.owner ? breakable(p.owner) : ["—"]))
    : el("td", { class: "owner" }, el("span", { class: "badge bad" }, "unowned"), " ", el("span", { class: "muted" }, whyUnowned(p)));
  return el("tr", { class: p.owned ? "" : "unowned", dataset: { osPid: p.os_pid, owned: p.owned ? "true" : "false" } },
    el("td", { class: "num", title: `ppid ${p.ppid ?? "?"}, pgid ${p.pgid ?? "?"}` }, p.os_pid),
    owner,
    el("td", {}, p.state || "?"),
    el("td", { class: "num" }, duration(p.age_s)),
    el("td", { title: p.run || "" }, p.this_run ? "this run" : p.run ? "another run" : "none"),
    el("td", {}, el("code", { class: "argv", title: argv }, argv)));
}

function whyUnowned(p) {
  if (p.this_run) return p.owner ? `(its actor ${p.owner} is gone)` : "(of this run; no actor owns it)";
  if (p.run) return "(tagged by another camvisor run)";
  return "(not started by camvisor)";
}

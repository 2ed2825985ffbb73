// The camera cards: latest frame, health, slots, last capture, and the
// operator's buttons (capture now, watch live, restart).
//
// A card's `live` line is information only. Watch live asks the server,
// which answers and, if it grants a live view, sends a `play` message: that
// message, not this button or /api/cameras, is what shows a player.

import { api, errorText, el, parseTime, clock, ago, millis, bytes, cameraPath, Unauthorized, announce, serverNow, outcomeKind, httpURL } from "./util.js";

const cams = new Map(); // id -> {id, view: {...}, el, refs}
let list, empty, sortSelect;
let configOrder = new Map(); // id -> its place in the configuration
const RESULT_KEEP_OK = 8000; // a result that went well is read, then goes
const RESULT_KEEP_BAD = 60000; // a refusal or failure stays longer
const SORT_KEY = "camvisor.sort";

// A card's state, from worst to best: the order "state" sorts by.
const RANK = { failing: 0, warn: 1, waiting: 2, ok: 3 };

export function init() {
  list = document.getElementById("camera-list");
  empty = document.getElementById("cameras-empty");
  sortSelect = document.getElementById("camera-sort");
  list.addEventListener("click", onClick);
  try {
    const saved = localStorage.getItem(SORT_KEY);
    if (saved && [...sortSelect.options].some((o) => o.value === saved)) sortSelect.value = saved;
  } catch {
    // no storage: the default order
  }
  sortSelect.addEventListener("change", () => {
    try {
      localStorage.setItem(SORT_KEY, sortSelect.value);
    } catch {
      // not kept: fine
    }
    arrange();
  });
}

/** ids lists the cameras known, in configuration order. */
export function ids() {
  return [...cams.keys()].sort((a, b) => (configOrder.get(a) ?? 1e9) - (configOrder.get(b) ?? 1e9));
}

// arrange puts the cards in the chosen order. Cards move only when their
// order changes, so a card under the pointer stays put between changes.
function arrange() {
  const by = sortSelect ? sortSelect.value : "config";
  const place = (id) => configOrder.get(id) ?? 1e9;
  const order = [...cams.values()].sort((a, b) => {
    if (by === "state") {
      const d = RANK[stateOf(a.view)] - RANK[stateOf(b.view)];
      if (d) return d;
    }
    if (by === "name") return a.id.localeCompare(b.id);
    return place(a.id) - place(b.id) || a.id.localeCompare(b.id);
  });
  order.forEach((c, i) => {
    if (list.children[i] !== c.el) list.insertBefore(c.el, list.children[i] || null);
  });
  list.dataset.sort = by;
}

/** frameAt is the time of a camera's latest frame (ms), null before its first. */
export function frameAt(id) {
  const c = cams.get(id);
  return c ? c.view.frameAt : null;
}

/** load reads every camera from /api/cameras. */
export async function load() {
  let res;
  try {
    res = await api("GET", "api/cameras");
  } catch (e) {
    if (!(e instanceof Unauthorized)) empty.textContent = `Cannot load cameras: ${e.message}`;
    throw e;
  }
  if (!res.ok) {
    empty.textContent = `Cannot load cameras: ${errorText(res)}`;
    empty.hidden = false;
    return;
  }
  const seen = new Set();
  for (const c of res.data.cameras || []) {
    seen.add(c.id);
    const last = c.last_capture || null;
    upsert(c.id, {
      subnet: c.subnet,
      url: c.url,
      max: c.max_connections,
      ffmpeg: c.slots_ffmpeg,
      go2rtc: c.slots_go2rtc ?? 0,
      lease: c.slots_lease,
      external: c.slots_external ?? 0,
      queue: c.queue_length,
      failing: c.failing,
      failures: c.consecutive_failures,
      outcome: last ? last.outcome : null,
      at: last ? parseTime(last.at) : null,
      ms: last ? last.duration_ms : null,
      via: last ? last.via : null,
      error: last ? last.error : "",
      liveUntil: c.live ? parseTime(c.live.until) : null,
      frameAt: parseTime(c.frame_at),
      busy: !!c.busy,
      nextProbe: c.breaker && c.breaker.state === "open" ? parseTime(c.breaker.next_probe_at) : null,
    });
  }
  for (const id of [...cams.keys()]) {
    if (!seen.has(id)) {
      cams.get(id).el.remove();
      cams.delete(id);
    }
  }
  configOrder = new Map((res.data.cameras || []).map((c, i) => [c.id, i]));
  arrange();
  empty.textContent = cams.size ? "" : "No camera is configured.";
  empty.hidden = cams.size > 0;
  await loadOwners().catch(() => {});
}

/**
 * loadOwners reads /api/cluster and shows on each card the node that runs
 * the camera, when there are several nodes (a single node owns them all
 * and says nothing). An action on a camera another node runs is forwarded
 * there by this server; its live view plays on that node's dashboard.
 */
export async function loadOwners() {
  const res = await api("GET", "api/cluster");
  if (!res.ok) return;
  const self = res.data.node;
  const urls = new Map((res.data.members || []).map((m) => [m.node, m.url]));
  const clustered = urls.size > 1 || (res.data.cameras || []).some((c) => c.owner !== self);
  for (const c of res.data.cameras || []) {
    if (cams.has(c.id)) upsert(c.id, { clustered, owner: c.owner, ownerURL: urls.get(c.owner) || "", self: c.owner === self });
  }
}

/** onCamera applies a `camera` WebSocket message. */
export function onCamera(m) {
  const patch = {
    subnet: m.subnet,
    max: m.max_connections,
    ffmpeg: m.slots_ffmpeg,
    go2rtc: m.slots_go2rtc ?? 0,
    lease: m.slots_lease,
    external: m.slots_external ?? 0,
    queue: m.queue,
    failing: m.failing,
    failures: m.consecutive_failures,
    busy: !!m.busy,
    nextProbe: m.failing ? parseTime(m.next_probe_at) : null,
  };
  if (m.last_capture_at) {
    Object.assign(patch, {
      outcome: m.last_outcome,
      at: parseTime(m.last_capture_at),
      ms: m.last_capture_ms ?? null,
      via: m.last_via || null,
      error: m.last_error || "",
    });
  }
  if (m.frame_at) patch.frameAt = parseTime(m.frame_at);
  if (Array.isArray(m.recent)) patch.recent = m.recent;
  upsert(m.camera, patch);
  empty.hidden = true;
}

/** setLive records, as text on the card, until when the camera plays. */
export function setLive(id, until) {
  if (cams.has(id)) upsert(id, { liveUntil: until ? parseTime(until) : null });
}

/** tick refreshes the relative times. */
export function tick() {
  for (const c of cams.values()) renderTimes(c);
}

function upsert(id, patch) {
  let c = cams.get(id);
  if (!c) {
    c = { id, view: { max: 0, ffmpeg: 0, go2rtc: 0, lease: 0, external: 0, queue: 0, failing: false, failures: 0, at: null, frameAt: null, recent: [] }, shown: null };
    build(c);
    cams.set(id, c);
    list.append(c.el);
  }
  const before = stateOf(c.view);
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) c.view[k] = v;
  render(c);
  if (stateOf(c.view) !== before || c.el.parentNode !== list) arrange();
}

// stateOf is what a card's badge says, from its facts: failing (the
// server says so), warn (the last capture failed, not failing yet),
// waiting (no capture yet) or ok (the last capture brought a frame).
function stateOf(v) {
  if (v.failing) return "failing";
  if (v.busy) return "warn";
  if (!v.outcome) return "waiting";
  return v.outcome === "ok" ? "ok" : "warn";
}

function build(c) {
  const r = {};
  r.title = el("h3", {}, c.id);
  r.subnet = el("span", { class: "muted" });
  r.status = el("span", { class: "badge", dataset: { role: "status" } });
  r.img = el("img", { dataset: { role: "snapshot" }, alt: `Latest frame from ${c.id}`, decoding: "async" });
  r.nosnap = el("p", { class: "nosnap", dataset: { role: "nosnap" } }, "No frame yet");
  r.img.addEventListener("load", () => {
    r.img.hidden = false;
    r.nosnap.hidden = true;
  });
  r.img.addEventListener("error", () => {
    r.img.hidden = true;
    r.nosnap.hidden = false;
  });
  r.img.hidden = true;
  r.strip = el("div", { class: "strip", dataset: { role: "outcomes" }, role: "img" });
  r.stripText = el("span", { class: "strip-text", dataset: { role: "outcomes-text" }, "aria-hidden": "true" });
  r.pips = el("div", { class: "pips", dataset: { role: "slots" }, role: "img" });
  r.slotsText = el("span", { class: "slots-text", dataset: { role: "slots-text" }, "aria-hidden": "true" });
  r.last = el("dd", { dataset: { role: "last-capture" } });
  r.lastAt = el("dd", { dataset: { role: "last-capture-at" } });
  r.queue = el("dd", { dataset: { role: "queue" } });
  r.errorRow = el("div", { class: "error-row" }, el("dt", {}, "Last error"));
  r.error = el("dd", { class: "error", dataset: { role: "error" } });
  r.errorRow.append(r.error);
  r.liveRow = el("div", {}, el("dt", {}, "Live view"));
  r.live = el("dd", { dataset: { role: "live" } });
  r.liveRow.append(r.live);
  r.ownerRow = el("div", {}, el("dt", {}, "Runs on"));
  r.owner = el("dd", { dataset: { role: "owner" } });
  r.ownerRow.append(r.owner);
  r.ownerRow.hidden = true;
  r.actions = el("div", { class: "actions" },
    el("button", { type: "button", dataset: { action: "capture" } }, "Capture now"),
    el("button", { type: "button", dataset: { action: "live" } }, "Watch live"),
    el("button", { type: "button", class: "danger", dataset: { action: "restart" } }, "Restart…"));
  r.confirm = el("div", { class: "confirm", dataset: { role: "confirm" }, role: "group", "aria-label": `Confirm restart of ${c.id}` },
    el("p", {}, `Restart ${c.id}? Captures in flight are stopped and their ffmpeg processes killed.`),
    el("button", { type: "button", class: "danger", dataset: { action: "restart-confirm" } }, "Restart now"),
    el("button", { type: "button", dataset: { action: "restart-cancel" } }, "Cancel"));
  r.confirm.hidden = true;
  r.result = el("p", { class: "result", dataset: { role: "result" }, role: "status" });
  r.result.hidden = true;
  c.el = el("article", { class: "card", dataset: { camera: c.id }, "aria-label": `Camera ${c.id}` },
    el("header", { class: "card-head" }, r.title, r.subnet, r.status),
    el("div", { class: "snap" }, r.img, r.nosnap),
    el("div", { class: "outcomes" }, r.strip, r.stripText),
    el("div", { class: "slots" }, r.pips, r.slotsText),
    el("dl", { class: "facts" },
      el("div", {}, el("dt", {}, "Last capture"), r.last),
      el("div", {}, el("dt", {}, "At"), r.lastAt),
      el("div", {}, el("dt", {}, "Queue"), r.queue),
      r.ownerRow, r.liveRow, r.errorRow),
    r.actions, r.confirm, r.result);
  c.refs = r;
}

function render(c) {
  const v = c.view;
  const r = c.refs;
  r.subnet.textContent = v.subnet ? `subnet ${v.subnet}` : "";
  const state = stateOf(v);
  r.status.dataset.state = state;
  r.status.textContent =
    state === "failing" ? `failing${v.failures ? ` (${v.failures} in a row)` : ""}`
    : state === "warn" ? (v.busy ? "camera busy" : `last capture ${v.outcome}`)
    : state === "waiting" ? "no capture yet" : "ok";
  r.status.title =
    state === "failing" && v.nextProbe ? `The patrol backs off: next try at ${clock(v.nextProbe)}.`
    : state === "warn" && v.busy ? "The camera answers busy (all its connections taken) cycle after cycle."
    : state === "warn" ? "The last capture failed; the camera counts as failing after a few in a row." : "";
  c.el.dataset.failing = v.failing ? "true" : "false";
  c.el.dataset.state = state;
  c.el.title = v.url ? v.url : "";
  renderPips(c);
  renderStrip(c);
  if (v.outcome) {
    const parts = [v.outcome];
    if (v.ms !== null && v.ms !== undefined) parts.push(millis(v.ms));
    if (v.via && outcomeKind(v.outcome) !== "backoff") parts.push(`via ${v.via}`); // a capture not tried came through nothing
    r.last.textContent = parts.join(" · ");
    r.last.dataset.outcome = v.outcome;
  } else {
    r.last.textContent = "none yet";
    delete r.last.dataset.outcome;
  }
  r.queue.textContent = v.queue ? `${v.queue} waiting` : "empty";
  renderOwner(c);
  r.error.textContent = v.error || "";
  r.errorRow.hidden = !v.error;
  renderTimes(c);
  // Ask for the frame only when the server says there is a new one: a
  // camera that never had one gets no request (and no 404).
  if (v.frameAt && v.frameAt !== c.shown) {
    c.shown = v.frameAt;
    r.img.src = `${cameraPath(c.id, "snapshot.jpg")}?at=${v.frameAt}`;
  }
  if (!v.frameAt) {
    r.img.hidden = true;
    r.nosnap.hidden = false;
    r.nosnap.textContent = v.outcome && v.outcome !== "ok" ? `No frame yet: last capture ${v.outcome}` : "No frame yet";
  }
}

// renderOwner shows which node runs the camera (cluster mode): this one,
// another (a link to its dashboard, where its live view plays), or none
// while it is handed over.
function renderOwner(c) {
  const v = c.view;
  const r = c.refs;
  r.ownerRow.hidden = !v.clustered;
  if (!v.clustered) return;
  c.el.dataset.owner = v.owner || "";
  r.owner.dataset.owner = v.owner || "";
  const url = httpURL(v.ownerURL);
  if (!v.owner) {
    r.owner.replaceChildren("no node (being handed over)");
  } else if (v.self) {
    r.owner.replaceChildren(`${v.owner} (this node)`);
  } else if (url) {
    r.owner.replaceChildren(el("a", { href: url, target: "_blank", rel: "noopener", title: `Open ${v.owner}'s dashboard: its live views play there` }, v.owner),
      " (actions are forwarded)");
  } else {
    r.owner.replaceChildren(`${v.owner} (actions are forwarded)`);
  }
}

// renderStrip draws the last captures as ticks, oldest on the left, each
// coloured by its kind and named in its tooltip; the text beside it counts
// them in words.
function renderStrip(c) {
  const r = c.refs;
  const recent = c.view.recent || [];
  const counts = new Map();
  const ticks = recent.map((t) => {
    const kind = outcomeKind(t.outcome);
    counts.set(t.outcome, (counts.get(t.outcome) || 0) + 1);
    const at = parseTime(t.at);
    const tip = [t.outcome, clock(at)];
    if (typeof t.duration_ms === "number") tip.push(millis(t.duration_ms));
    if (t.via && kind !== "backoff") tip.push(`via ${t.via}`);
    return el("span", { class: `tick ${kind}`, dataset: { outcome: t.outcome, kind }, title: tip.join(" · ") });
  });
  r.strip.replaceChildren(...ticks);
  const words = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([o, n]) => `${n} ${o}`).join(", ");
  const text = recent.length ? `last ${recent.length}: ${words}` : "no capture yet";
  r.strip.setAttribute("aria-label", `Outcomes of the last captures, oldest first: ${text}`);
  r.strip.dataset.count = String(recent.length);
  r.stripText.textContent = text;
}

function renderTimes(c) {
  const v = c.view;
  const r = c.refs;
  r.lastAt.textContent = v.at ? `${clock(v.at)} (${ago(v.at)})` : "—";
  const until = v.liveUntil;
  r.liveRow.hidden = !until;
  if (until) r.live.textContent = until > serverNow() ? `until ${clock(until)}` : "ending";
}

// PIP_KINDS are the connections a camera's budget counts, in pip order:
// [kind, letter, words].
const PIP_KINDS = [
  ["ffmpeg", "F", "ffmpeg"],
  ["go2rtc", "G", "patrol through go2rtc"],
  ["lease", "L", "live"],
  ["external", "X", "not camvisor's"],
];

function renderPips(c) {
  const v = c.view;
  const counts = PIP_KINDS.map(([k]) => v[k] || 0);
  const held = counts.reduce((a, b) => a + b, 0);
  const n = Math.max(v.max, held);
  const pips = [];
  let i = 0;
  PIP_KINDS.forEach(([kind, mark], j) => {
    for (let k = 0; k < counts[j]; k++, i++) {
      const over = i >= v.max;
      pips.push(el("span", { class: `pip ${kind}${over ? " over" : ""}`, dataset: { slot: kind } }, over ? "!" : mark));
    }
  });
  for (; i < n; i++) pips.push(el("span", { class: "pip free", dataset: { slot: "free" } }));
  const refs = c.refs;
  refs.pips.replaceChildren(...pips);
  const parts = PIP_KINDS.map(([, , words], j) => [counts[j], words]).filter(([k], j) => k > 0 || j === 0 || j === 2).map(([k, w]) => `${k} ${w}`);
  const text = `${held} of ${v.max} slots held: ${parts.join(", ")}` + (held > v.max ? " — OVER BUDGET" : "");
  refs.pips.setAttribute("aria-label", text);
  refs.pips.dataset.ffmpeg = v.ffmpeg;
  refs.pips.dataset.go2rtc = v.go2rtc || 0;
  refs.pips.dataset.lease = v.lease;
  refs.pips.dataset.external = v.external || 0;
  refs.pips.dataset.max = v.max;
  refs.slotsText.textContent = text;
  refs.slotsText.classList.toggle("bad", held > v.max);
}

// ---------------------------------------------------------------- actions

function onClick(ev) {
  const b = ev.target.closest("button[data-action]");
  if (!b) return;
  const card = b.closest("[data-camera]");
  const c = card && cams.get(card.dataset.camera);
  if (!c) return;
  switch (b.dataset.action) {
    case "capture":
      return capture(c, b);
    case "live":
      return watchLive(c, b);
    case "restart":
      c.refs.actions.hidden = true;
      c.refs.confirm.hidden = false;
      c.refs.confirm.querySelector("[data-action=restart-cancel]").focus();
      return;
    case "restart-cancel":
      c.refs.confirm.hidden = true;
      c.refs.actions.hidden = false;
      c.refs.actions.querySelector("[data-action=restart]").focus();
      return;
    case "restart-confirm":
      return restart(c);
    case "dismiss":
      return clearResult(c);
  }
}

// result says on the card how an operator's action went, with the time;
// it goes by itself after a while (a failure stays longer), or when the
// operator dismisses it.
function result(c, action, outcome, text) {
  const p = c.refs.result;
  clearTimeout(c.resultTimer);
  p.dataset.action = action;
  p.dataset.outcome = outcome;
  p.hidden = false;
  const dismiss = el("button", { type: "button", class: "quiet dismiss", dataset: { action: "dismiss" }, "aria-label": "Dismiss this message" }, "×");
  p.replaceChildren(el("span", {}, text), " ", el("span", { class: "muted" }, `(${clock(Date.now())})`), " ", dismiss);
  if (outcome === "pending") return;
  c.resultTimer = setTimeout(() => clearResult(c), outcome === "ok" ? RESULT_KEEP_OK : RESULT_KEEP_BAD);
}

function clearResult(c) {
  clearTimeout(c.resultTimer);
  const p = c.refs.result;
  p.hidden = true;
  p.replaceChildren();
  delete p.dataset.outcome;
  delete p.dataset.action;
}

async function capture(c, button) {
  button.disabled = true;
  button.textContent = "Capturing…";
  result(c, "capture", "pending", "Capturing a frame now…");
  try {
    const res = await api("POST", cameraPath(c.id, "capture"));
    if (!res.ok) {
      result(c, "capture", "error", `Capture refused: ${errorText(res)}`);
      return;
    }
    const d = res.data;
    const parts = [`Capture ${d.outcome}`];
    if (d.duration_ms !== undefined) parts.push(`in ${millis(d.duration_ms)}`);
    if (d.via) parts.push(`via ${d.via}`);
    if (d.bytes) parts.push(`(${bytes(d.bytes)})`);
    if (d.os_pid) parts.push(`— ffmpeg pid ${d.os_pid}`);
    let text = parts.join(" ");
    if (d.error) text += `: ${d.error}`;
    result(c, "capture", d.outcome, text);
    document.dispatchEvent(new Event("camvisor:changed"));
    if (d.outcome === "ok") upsert(c.id, { frameAt: Date.now() }); // a new frame: fetch it now, not at the next camera message
  } catch (e) {
    if (!(e instanceof Unauthorized)) result(c, "capture", "error", `Capture failed: ${e.message}`);
  } finally {
    button.disabled = false;
    button.textContent = "Capture now";
  }
}

async function watchLive(c, button) {
  button.disabled = true;
  result(c, "live", "pending", "Asking the server for a live view…");
  try {
    const res = await api("POST", cameraPath(c.id, "live"));
    if (res.ok && res.data && res.data.playing) {
      const until = parseTime(res.data.until);
      result(c, "live", "ok", `Live view granted${until ? ` until ${clock(until)}` : ""}: it shows under “Live now”.`);
      announce(`Live view of ${c.id} granted`);
    } else if (res.status === 409) {
      result(c, "live", "refused", `No live view: ${errorText(res)}`);
    } else {
      result(c, "live", "error", `Live view failed: ${errorText(res)}`);
    }
  } catch (e) {
    if (!(e instanceof Unauthorized)) result(c, "live", "error", `Live view failed: ${e.message}`);
  } finally {
    button.disabled = false;
  }
}

async function restart(c) {
  const r = c.refs;
  for (const b of r.confirm.querySelectorAll("button")) b.disabled = true;
  result(c, "restart", "pending", `Restarting ${c.id}: stopping its processes…`);
  try {
    const res = await api("POST", cameraPath(c.id, "restart"));
    if (!res.ok) {
      result(c, "restart", "error", `Restart failed: ${errorText(res)}`);
      return;
    }
    const killed = res.data.killed || [];
    r.result.dataset.killed = killed.join(",");
    const text = killed.length
      ? `Restarted. Killed ffmpeg pid${killed.length > 1 ? "s" : ""} ${killed.join(", ")}.`
      : "Restarted. No ffmpeg process was running.";
    result(c, "restart", "ok", text);
    announce(`${c.id} restarted`);
    // The new instance starts clean: read its state rather than wait for news.
    load().catch(() => {});
    document.dispatchEvent(new Event("camvisor:changed"));
  } catch (e) {
    if (!(e instanceof Unauthorized)) result(c, "restart", "error", `Restart failed: ${e.message}`);
  } finally {
    for (const b of r.confirm.querySelectorAll("button")) b.disabled = false;
    r.confirm.hidden = true;
    r.actions.hidden = false;
    r.actions.querySelector("[data-action=restart]").focus();
  }
}

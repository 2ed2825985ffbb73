// The camera cards: latest frame, health, slots, last capture, and the
// operator's buttons (capture now, watch live, restart).
//
// A card's `live` line is information only. Watch live asks the server,
// which answers and, if it grants a live view, sends a `play` message: that
// message, not this button or /api/cameras, is what shows a player.

import { api, errorText, el, parseTime, clock, ago, millis, bytes, cameraPath, Unauthorized, announce, serverNow } from "./util.js";

const cams = new Map(); // id -> {id, view: {...}, el, refs}
let list, empty;

export function init() {
  list = document.getElementById("camera-list");
  empty = document.getElementById("cameras-empty");
  list.addEventListener("click", onClick);
}

/** ids lists the cameras known, in display order. */
export function ids() {
  return [...cams.keys()];
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
      lease: c.slots_lease,
      queue: c.queue_length,
      failing: c.failing,
      failures: c.consecutive_failures,
      outcome: last ? last.outcome : null,
      at: last ? parseTime(last.at) : null,
      ms: last ? last.duration_ms : null,
      via: last ? last.via : null,
      error: last ? last.error : "",
      liveUntil: c.live ? parseTime(c.live.until) : null,
    });
  }
  for (const id of [...cams.keys()]) {
    if (!seen.has(id)) {
      cams.get(id).el.remove();
      cams.delete(id);
    }
  }
  // The configuration's order, whatever order live messages created cards in.
  for (const c of res.data.cameras || []) list.append(cams.get(c.id).el);
  empty.textContent = cams.size ? "" : "No camera is configured.";
  empty.hidden = cams.size > 0;
}

/** onCamera applies a `camera` WebSocket message. */
export function onCamera(m) {
  const patch = {
    subnet: m.subnet,
    max: m.max_connections,
    ffmpeg: m.slots_ffmpeg,
    lease: m.slots_lease,
    queue: m.queue,
    failing: m.failing,
    failures: m.consecutive_failures,
  };
  if (m.last_capture_at) {
    const at = parseTime(m.last_capture_at);
    const c = cams.get(m.camera);
    if (!c || c.view.at !== at) patch.via = null; // not in the message: unknown for a new capture
    Object.assign(patch, { outcome: m.last_outcome, at, ms: m.last_capture_ms ?? null, error: m.last_error || "" });
  }
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
    c = { id, view: { max: 0, ffmpeg: 0, lease: 0, queue: 0, failing: false, failures: 0, at: null }, frameAt: undefined };
    build(c);
    cams.set(id, c);
    list.append(c.el);
  }
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) c.view[k] = v;
  render(c);
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
  c.el = el("article", { class: "card", dataset: { camera: c.id }, "aria-label": `Camera ${c.id}` },
    el("header", { class: "card-head" }, r.title, r.subnet, r.status),
    el("div", { class: "snap" }, r.img, r.nosnap),
    el("div", { class: "slots" }, r.pips, r.slotsText),
    el("dl", { class: "facts" },
      el("div", {}, el("dt", {}, "Last capture"), r.last),
      el("div", {}, el("dt", {}, "At"), r.lastAt),
      el("div", {}, el("dt", {}, "Queue"), r.queue),
      r.liveRow, r.errorRow),
    r.actions, r.confirm, r.result);
  c.refs = r;
}

function render(c) {
  const v = c.view;
  const r = c.refs;
  r.subnet.textContent = v.subnet ? `subnet ${v.subnet}` : "";
  r.status.textContent = v.failing ? `failing (${v.failures} in a row)` : "ok";
  r.status.dataset.state = v.failing ? "failing" : "ok";
  c.el.dataset.failing = v.failing ? "true" : "false";
  c.el.title = v.url ? v.url : "";
  renderPips(c);
  if (v.outcome) {
    const parts = [v.outcome];
    if (v.ms !== null && v.ms !== undefined) parts.push(millis(v.ms));
    if (v.via) parts.push(`via ${v.via}`);
    r.last.textContent = parts.join(" · ");
    r.last.dataset.outcome = v.outcome;
  } else {
    r.last.textContent = "none yet";
    delete r.last.dataset.outcome;
  }
  r.queue.textContent = v.queue ? `${v.queue} waiting` : "empty";
  r.error.textContent = v.error || "";
  r.errorRow.hidden = !v.error;
  renderTimes(c);
  // A new frame exists after each good capture: fetch it once.
  if (v.at !== c.frameAt && (v.outcome === "ok" || c.frameAt === undefined)) {
    c.frameAt = v.at;
    r.img.src = `${cameraPath(c.id, "snapshot.jpg")}?at=${v.at ?? 0}`;
  }
}

function renderTimes(c) {
  const v = c.view;
  const r = c.refs;
  r.lastAt.textContent = v.at ? `${clock(v.at)} (${ago(v.at)})` : "—";
  const until = v.liveUntil;
  r.liveRow.hidden = !until;
  if (until) r.live.textContent = until > serverNow() ? `until ${clock(until)}` : "ending";
}

function renderPips(c) {
  const v = c.view;
  const held = v.ffmpeg + v.lease;
  const n = Math.max(v.max, held);
  const pips = [];
  for (let i = 0; i < n; i++) {
    let kind = "free";
    let mark = "";
    if (i < v.ffmpeg) {
      kind = "ffmpeg";
      mark = "F";
    } else if (i < held) {
      kind = "lease";
      mark = "L";
    }
    const over = i >= v.max;
    pips.push(el("span", { class: `pip ${kind}${over ? " over" : ""}`, dataset: { slot: kind } }, over ? "!" : mark));
  }
  const refs = c.refs;
  refs.pips.replaceChildren(...pips);
  const text = `${held} of ${v.max} slots held: ${v.ffmpeg} ffmpeg, ${v.lease} live` + (held > v.max ? " — OVER BUDGET" : "");
  refs.pips.setAttribute("aria-label", text);
  refs.pips.dataset.ffmpeg = v.ffmpeg;
  refs.pips.dataset.lease = v.lease;
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
  }
}

function result(c, action, outcome, text) {
  const p = c.refs.result;
  p.dataset.action = action;
  p.dataset.outcome = outcome;
  p.textContent = text;
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
    if (d.outcome === "ok") {
      c.frameAt = null; // fetch the new frame even if the camera message has not come yet
      c.refs.img.src = `${cameraPath(c.id, "snapshot.jpg")}?op=${Date.now()}`;
    }
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

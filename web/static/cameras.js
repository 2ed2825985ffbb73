// The camera cards: latest frame (with the motion masks drawn over it),
// health, slots, last capture, a pause, and the operator's buttons
// (capture now, watch live, pause or resume, restart).
//
// A card's `live` line is information only. Watch live asks the server,
// which answers and, if it grants a live view, sends a `play` message: that
// message, not this button or /api/cameras, is what shows a player.
//
// A card is titled with the camera's name (cameras[].name, in any script);
// its id, which URLs use, is shown beside it when it differs.

import { api, errorText, el, svg, parseTime, clock, ago, millis, bytes, cameraPath, Unauthorized, announce, serverNow, outcomeKind, outcomeText, viaText, httpURL } from "./util.js";
import { t, mark, translate } from "./i18n.js";

const cams = new Map(); // id -> {id, view: {...}, el, refs}
let list, empty, sortSelect, pauseDialog;
let configOrder = new Map(); // id -> its place in the configuration
const RESULT_KEEP_OK = 8000; // a result that went well is read, then goes
const RESULT_KEEP_BAD = 60000; // a refusal or failure stays longer
const SORT_KEY = "camvisor.sort";

// A card's state, from worst to best: the order "state" sorts by. A
// paused camera is nobody's worry until it runs again: last.
const RANK = { failing: 0, warn: 1, waiting: 2, ok: 3, paused: 4 };

export function init() {
  list = document.getElementById("camera-list");
  empty = document.getElementById("cameras-empty");
  sortSelect = document.getElementById("camera-sort");
  pauseDialog = document.getElementById("pause-dialog");
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
  document.getElementById("pause-form").addEventListener("submit", onPauseSubmit);
  document.getElementById("pause-cancel").addEventListener("click", () => pauseDialog.close());
  pauseDialog.addEventListener("click", (ev) => {
    if (ev.target === pauseDialog) pauseDialog.close();
  });
  window.addEventListener("resize", () => {
    for (const c of cams.values()) placeMasks(c);
  });
  document.addEventListener("camvisor:lang", () => {
    for (const c of cams.values()) {
      translate(c.el);
      render(c);
    }
    if (!empty.hidden && !cams.size) empty.textContent = t("cameras.none");
  });
}

/** ids lists the cameras known, in configuration order. */
export function ids() {
  return [...cams.keys()].sort((a, b) => (configOrder.get(a) ?? 1e9) - (configOrder.get(b) ?? 1e9));
}

/** nameOf is a camera's display name (its id when it has none). */
export function nameOf(id) {
  const c = cams.get(id);
  return (c && c.view.name) || id;
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
    if (by === "name") return nameOf(a.id).localeCompare(nameOf(b.id)) || a.id.localeCompare(b.id);
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
    if (!(e instanceof Unauthorized)) empty.textContent = t("cameras.load_failed", { why: e.message });
    throw e;
  }
  if (!res.ok) {
    empty.textContent = t("cameras.load_failed", { why: errorText(res) });
    empty.hidden = false;
    return;
  }
  const seen = new Set();
  for (const c of res.data.cameras || []) {
    seen.add(c.id);
    const last = c.last_capture || null;
    upsert(c.id, {
      name: c.name || c.id,
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
      pause: c.pause || null,
      masks: (c.motion && c.motion.masks) || [],
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
  empty.textContent = cams.size ? "" : t("cameras.none");
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
  // The camera's state, once its actor said (absent before): paused or not.
  if (m.state) patch.pause = m.pause || null;
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
    c = { id, view: { name: id, max: 0, ffmpeg: 0, go2rtc: 0, lease: 0, external: 0, queue: 0, failing: false, failures: 0, at: null, frameAt: null, recent: [], pause: null, masks: [] }, shown: null };
    build(c);
    cams.set(id, c);
    list.append(c.el);
  }
  const before = stateOf(c.view);
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) c.view[k] = v;
  render(c);
  if (stateOf(c.view) !== before || c.el.parentNode !== list) arrange();
}

// stateOf is what a card's badge says, from its facts: paused (the
// server says so), failing (the server says so), warn (the last capture
// failed, not failing yet), waiting (no capture yet) or ok (the last
// capture brought a frame).
function stateOf(v) {
  if (v.pause) return "paused";
  if (v.failing) return "failing";
  if (v.busy) return "warn";
  if (!v.outcome) return "waiting";
  return v.outcome === "ok" ? "ok" : "warn";
}

function build(c) {
  const r = {};
  r.title = el("h3", {});
  r.id = el("span", { class: "cam-id muted", translate: "no", dataset: { role: "id" } });
  r.subnet = el("span", { class: "muted" });
  r.status = el("span", { class: "badge", dataset: { role: "status" } });
  r.img = el("img", { dataset: { role: "snapshot" }, decoding: "async" });
  r.nosnap = el("p", { class: "nosnap", dataset: { role: "nosnap" } });
  r.masks = svg("svg", { class: "mask-overlay", viewBox: "0 0 1 1", preserveAspectRatio: "none", "aria-hidden": "true", "data-role": "masks" });
  r.img.addEventListener("load", () => {
    r.img.hidden = false;
    r.nosnap.hidden = true;
    placeMasks(c);
  });
  r.img.addEventListener("error", () => {
    r.img.hidden = true;
    r.nosnap.hidden = false;
    placeMasks(c);
  });
  r.img.hidden = true;
  r.snap = el("div", { class: "snap" }, r.img, r.nosnap, r.masks);
  r.maskNote = el("p", { class: "mask-note muted", dataset: { role: "mask-note" } });
  r.strip = el("div", { class: "strip", dataset: { role: "outcomes" }, role: "img" });
  r.stripText = el("span", { class: "strip-text", dataset: { role: "outcomes-text" }, "aria-hidden": "true" });
  r.pips = el("div", { class: "pips", dataset: { role: "slots" }, role: "img" });
  r.slotsText = el("span", { class: "slots-text", dataset: { role: "slots-text" }, "aria-hidden": "true" });
  r.last = el("dd", { dataset: { role: "last-capture" } });
  r.lastAt = el("dd", { dataset: { role: "last-capture-at" } });
  r.queue = el("dd", { dataset: { role: "queue" } });
  r.errorRow = el("div", { class: "error-row" }, el("dt", { i18n: { text: "card.last_error" } }));
  r.error = el("dd", { class: "error", dataset: { role: "error" }, translate: "no" });
  r.errorRow.append(r.error);
  r.liveRow = el("div", {}, el("dt", { i18n: { text: "card.live_view" } }));
  r.live = el("dd", { dataset: { role: "live" } });
  r.liveRow.append(r.live);
  r.ownerRow = el("div", {}, el("dt", { i18n: { text: "card.owner" } }));
  r.owner = el("dd", { dataset: { role: "owner" } });
  r.ownerRow.append(r.owner);
  r.ownerRow.hidden = true;
  r.pausedRow = el("div", { class: "paused-row" }, el("dt", { i18n: { text: "card.paused" } }));
  r.paused = el("dd", { dataset: { role: "pause" } });
  r.pausedRow.append(r.paused);
  r.pauseButton = el("button", { type: "button", dataset: { action: "pause" }, i18n: { text: "card.pause" } });
  r.resumeButton = el("button", { type: "button", dataset: { action: "resume" }, i18n: { text: "card.resume" } });
  r.actions = el("div", { class: "actions" },
    el("button", { type: "button", dataset: { action: "capture" }, i18n: { text: "card.capture" } }),
    el("button", { type: "button", dataset: { action: "live" }, i18n: { text: "card.watch" } }),
    r.pauseButton, r.resumeButton,
    el("button", { type: "button", class: "danger", dataset: { action: "restart" }, i18n: { text: "card.restart" } }));
  r.confirmText = el("p", {});
  r.confirm = el("div", { class: "confirm", dataset: { role: "confirm" }, role: "group" },
    r.confirmText,
    el("button", { type: "button", class: "danger", dataset: { action: "restart-confirm" }, i18n: { text: "card.restart.now" } }),
    el("button", { type: "button", dataset: { action: "restart-cancel" }, i18n: { text: "dialog.cancel" } }));
  r.confirm.hidden = true;
  r.result = el("p", { class: "result", dataset: { role: "result" }, role: "status" });
  r.result.hidden = true;
  c.el = el("article", { class: "card", dataset: { camera: c.id } },
    el("header", { class: "card-head" }, r.title, r.id, r.subnet, r.status),
    r.snap, r.maskNote,
    el("div", { class: "outcomes" }, r.strip, r.stripText),
    el("div", { class: "slots" }, r.pips, r.slotsText),
    el("dl", { class: "facts" },
      el("div", {}, el("dt", { i18n: { text: "card.last_capture" } }), r.last),
      el("div", {}, el("dt", { i18n: { text: "card.at" } }), r.lastAt),
      el("div", {}, el("dt", { i18n: { text: "card.queue" } }), r.queue),
      r.ownerRow, r.pausedRow, r.liveRow, r.errorRow),
    r.actions, r.confirm, r.result);
  c.refs = r;
}

function render(c) {
  const v = c.view;
  const r = c.refs;
  const name = v.name || c.id;
  r.title.textContent = name;
  r.id.textContent = name !== c.id ? c.id : "";
  r.id.hidden = name === c.id;
  mark(c.el, { "aria-label": ["card.label", { name }] });
  mark(r.img, { alt: ["card.frame_alt", { name }] });
  mark(r.confirm, { "aria-label": ["card.restart.label", { name }] });
  r.confirmText.textContent = t("card.restart.confirm", { name });
  r.subnet.textContent = v.subnet ? t("card.subnet", { subnet: v.subnet }) : "";
  const state = stateOf(v);
  r.status.dataset.state = state;
  r.status.textContent =
    state === "paused" ? t(v.pause.disabled ? "card.state.disabled" : "card.state.paused")
    : state === "failing" ? (v.failures ? t("card.state.failing_n", { n: v.failures }) : t("card.state.failing"))
    : state === "warn" ? (v.busy ? t("card.state.busy") : t("card.state.last", { outcome: outcomeText(v.outcome) }))
    : state === "waiting" ? t("card.state.waiting") : t("card.state.ok");
  r.status.title =
    state === "failing" && v.nextProbe ? t("card.title.failing", { t: clock(v.nextProbe) })
    : state === "warn" && v.busy ? t("card.title.busy")
    : state === "warn" ? t("card.title.warn") : "";
  c.el.dataset.failing = v.failing ? "true" : "false";
  c.el.dataset.state = state;
  c.el.dataset.paused = v.pause ? "true" : "false";
  c.el.title = v.url ? v.url : "";
  renderPips(c);
  renderStrip(c);
  renderPause(c);
  renderMasks(c);
  if (v.outcome) {
    const parts = [outcomeText(v.outcome)];
    if (v.ms !== null && v.ms !== undefined) parts.push(millis(v.ms));
    if (v.via && outcomeKind(v.outcome) !== "backoff") parts.push(t("card.via", { via: viaText(v.via) })); // a capture not tried came through nothing
    r.last.textContent = parts.join(" · ");
    r.last.dataset.outcome = v.outcome;
  } else {
    r.last.textContent = t("card.last.none");
    delete r.last.dataset.outcome;
  }
  r.queue.textContent = v.queue ? t("card.queue.n", { n: v.queue }) : t("card.queue.empty");
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
  }
  r.nosnap.textContent = v.outcome && v.outcome !== "ok" ? t("card.nosnap.last", { outcome: outcomeText(v.outcome) }) : t("card.nosnap");
}

// renderPause shows who paused the camera, why and until when, and offers
// Pause… or Resume (neither for a camera the configuration disables).
function renderPause(c) {
  const p = c.view.pause;
  const r = c.refs;
  r.pausedRow.hidden = !p;
  r.pauseButton.hidden = !!p;
  r.resumeButton.hidden = !p || p.disabled;
  if (!p) {
    r.paused.replaceChildren();
    return;
  }
  if (p.disabled) {
    r.paused.replaceChildren(el("span", {}, t("card.disabled")), " ", el("code", { translate: "no" }, "enabled: false"));
    return;
  }
  const until = parseTime(p.until);
  r.paused.replaceChildren(
    el("span", {}, t("card.paused.by")), " ", el("span", { translate: "no", dataset: { role: "pause-by" } }, p.by),
    " · ", el("span", { dataset: { role: "pause-until", until: p.until || "" } }, t("card.paused.until", { t: clock(until) })),
    p.reason ? " · " : null, p.reason ? el("span", { translate: "no", dataset: { role: "pause-reason" } }, p.reason) : null);
}

// renderMasks draws the camera's motion masks over its picture: polygons
// in the picture's relative coordinates, so the operator can check them
// against what the camera shows.
function renderMasks(c) {
  const r = c.refs;
  const masks = c.view.masks || [];
  const key = JSON.stringify(masks);
  if (key !== c.masksDrawn) {
    c.masksDrawn = key;
    r.masks.replaceChildren(...masks.map((p, i) => {
      const points = [];
      for (let j = 0; j + 1 < p.length; j += 2) points.push(`${p[j]},${p[j + 1]}`);
      return svg("polygon", { points: points.join(" "), class: "mask", "vector-effect": "non-scaling-stroke", "data-mask": i });
    }));
  }
  r.masks.dataset.count = String(masks.length);
  r.maskNote.hidden = masks.length === 0;
  r.maskNote.textContent = masks.length ? t("card.masks", { n: masks.length }) : "";
  placeMasks(c);
}

// placeMasks lays the overlay exactly over the picture as shown (scaled
// to fit the frame's box, centred); hidden while there is no picture.
function placeMasks(c) {
  const r = c.refs;
  const img = r.img;
  const shown = !img.hidden && img.complete && img.naturalWidth > 0 && (c.view.masks || []).length > 0;
  r.masks.style.display = shown ? "" : "none";
  if (!shown) return;
  const bw = r.snap.clientWidth;
  const bh = r.snap.clientHeight;
  const scale = Math.min(bw / img.naturalWidth, bh / img.naturalHeight);
  const w = img.naturalWidth * scale;
  const h = img.naturalHeight * scale;
  Object.assign(r.masks.style, { left: `${(bw - w) / 2}px`, top: `${(bh - h) / 2}px`, width: `${w}px`, height: `${h}px` });
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
  const node = el("span", { translate: "no" }, v.owner || "");
  if (!v.owner) {
    r.owner.replaceChildren(t("card.owner.none"));
  } else if (v.self) {
    r.owner.replaceChildren(node, " ", t("card.owner.self"));
  } else if (url) {
    r.owner.replaceChildren(el("a", { href: url, target: "_blank", rel: "noopener", title: t("card.owner.link", { node: v.owner }) }, node),
      " ", t("card.owner.forwarded"));
  } else {
    r.owner.replaceChildren(node, " ", t("card.owner.forwarded"));
  }
}

// renderStrip draws the last captures as ticks, oldest on the left, each
// coloured by its kind and named in its tooltip; the text beside it counts
// them in words.
function renderStrip(c) {
  const r = c.refs;
  const recent = c.view.recent || [];
  const counts = new Map();
  const ticks = recent.map((tk) => {
    const kind = outcomeKind(tk.outcome);
    counts.set(tk.outcome, (counts.get(tk.outcome) || 0) + 1);
    const at = parseTime(tk.at);
    const tip = [outcomeText(tk.outcome), clock(at)];
    if (typeof tk.duration_ms === "number") tip.push(millis(tk.duration_ms));
    if (tk.via && kind !== "backoff") tip.push(t("card.via", { via: viaText(tk.via) }));
    return el("span", { class: `tick ${kind}`, dataset: { outcome: tk.outcome, kind }, title: tip.join(" · ") });
  });
  r.strip.replaceChildren(...ticks);
  const words = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([o, n]) => `${n} ${outcomeText(o)}`).join(", ");
  const text = recent.length ? t("card.strip.last", { n: recent.length, words }) : t("card.strip.none");
  r.strip.setAttribute("aria-label", t("card.strip.label", { text }));
  r.strip.dataset.count = String(recent.length);
  r.stripText.textContent = text;
}

function renderTimes(c) {
  const v = c.view;
  const r = c.refs;
  r.lastAt.textContent = v.at ? `${clock(v.at)} (${ago(v.at)})` : "—";
  const until = v.liveUntil;
  r.liveRow.hidden = !until;
  if (until) r.live.textContent = until > serverNow() ? t("card.live.until", { t: clock(until) }) : t("card.live.ending");
}

// PIP_KINDS are the connections a camera's budget counts, in pip order:
// [kind, letter, words' key].
const PIP_KINDS = [
  ["ffmpeg", "F", "pip.ffmpeg"],
  ["go2rtc", "G", "pip.go2rtc"],
  ["lease", "L", "pip.lease"],
  ["external", "X", "pip.external"],
];

function renderPips(c) {
  const v = c.view;
  const counts = PIP_KINDS.map(([k]) => v[k] || 0);
  const held = counts.reduce((a, b) => a + b, 0);
  const n = Math.max(v.max, held);
  const pips = [];
  let i = 0;
  PIP_KINDS.forEach(([kind, letter], j) => {
    for (let k = 0; k < counts[j]; k++, i++) {
      const over = i >= v.max;
      pips.push(el("span", { class: `pip ${kind}${over ? " over" : ""}`, dataset: { slot: kind } }, over ? "!" : letter));
    }
  });
  for (; i < n; i++) pips.push(el("span", { class: "pip free", dataset: { slot: "free" } }));
  const refs = c.refs;
  refs.pips.replaceChildren(...pips);
  const parts = PIP_KINDS.map(([, , words]) => words).map((w, j) => [counts[j], w]).filter(([k], j) => k > 0 || j === 0 || j === 2)
    .map(([k, w]) => `${k} ${t(w)}`);
  const text = t("card.slots", { held, max: v.max, parts: parts.join(", ") }) + (held > v.max ? t("card.slots.over") : "");
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
    case "pause":
      return openPause(c);
    case "resume":
      return resume(c, b);
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
// operator dismisses it. Its text is written now, in the language shown.
function result(c, action, outcome, text) {
  const p = c.refs.result;
  clearTimeout(c.resultTimer);
  p.dataset.action = action;
  p.dataset.outcome = outcome;
  p.hidden = false;
  const dismiss = el("button", { type: "button", class: "quiet dismiss", dataset: { action: "dismiss" }, i18n: { "aria-label": "card.dismiss" } }, "×");
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
  mark(button, { text: "card.capturing" });
  result(c, "capture", "pending", t("card.capture.pending"));
  try {
    const res = await api("POST", cameraPath(c.id, "capture"));
    if (!res.ok) {
      result(c, "capture", "error", t("card.capture.refused", { why: errorText(res) }));
      return;
    }
    const d = res.data;
    const parts = [t("card.capture.outcome", { outcome: outcomeText(d.outcome) })];
    if (d.duration_ms !== undefined) parts.push(t("card.capture.in", { d: millis(d.duration_ms) }));
    if (d.via) parts.push(t("card.via", { via: viaText(d.via) }));
    if (d.bytes) parts.push(`(${bytes(d.bytes)})`);
    if (d.os_pid) parts.push(t("card.capture.pid", { pid: d.os_pid }));
    let text = parts.join(" ");
    if (d.error) text += `: ${d.error}`;
    result(c, "capture", d.outcome, text);
    document.dispatchEvent(new Event("camvisor:changed"));
    if (d.outcome === "ok") upsert(c.id, { frameAt: Date.now() }); // a new frame: fetch it now, not at the next camera message
  } catch (e) {
    if (!(e instanceof Unauthorized)) result(c, "capture", "error", t("card.capture.failed", { why: e.message }));
  } finally {
    button.disabled = false;
    mark(button, { text: "card.capture" });
  }
}

async function watchLive(c, button) {
  button.disabled = true;
  result(c, "live", "pending", t("card.live.pending"));
  try {
    const res = await api("POST", cameraPath(c.id, "live"));
    if (res.ok && res.data && res.data.playing) {
      const until = parseTime(res.data.until);
      result(c, "live", "ok", until ? t("card.live.granted_until", { t: clock(until) }) : t("card.live.granted"));
      announce(t("card.live.announce", { name: nameOf(c.id) }));
    } else if (res.status === 409) {
      result(c, "live", "refused", t("card.live.refused", { why: errorText(res) }));
    } else {
      result(c, "live", "error", t("card.live.failed", { why: errorText(res) }));
    }
  } catch (e) {
    if (!(e instanceof Unauthorized)) result(c, "live", "error", t("card.live.failed", { why: e.message }));
  } finally {
    button.disabled = false;
  }
}

async function restart(c) {
  const r = c.refs;
  for (const b of r.confirm.querySelectorAll("button")) b.disabled = true;
  result(c, "restart", "pending", t("card.restart.pending", { name: nameOf(c.id) }));
  try {
    const res = await api("POST", cameraPath(c.id, "restart"));
    if (!res.ok) {
      result(c, "restart", "error", t("card.restart.failed", { why: errorText(res) }));
      return;
    }
    const killed = res.data.killed || [];
    r.result.dataset.killed = killed.join(",");
    const text = killed.length ? t("card.restart.killed", { n: killed.length, pids: killed.join(", ") }) : t("card.restart.none");
    result(c, "restart", "ok", text);
    announce(t("card.restart.announce", { name: nameOf(c.id) }));
    // The new instance starts clean: read its state rather than wait for news.
    load().catch(() => {});
    document.dispatchEvent(new Event("camvisor:changed"));
  } catch (e) {
    if (!(e instanceof Unauthorized)) result(c, "restart", "error", t("card.restart.failed", { why: e.message }));
  } finally {
    for (const b of r.confirm.querySelectorAll("button")) b.disabled = false;
    r.confirm.hidden = true;
    r.actions.hidden = false;
    r.actions.querySelector("[data-action=restart]").focus();
  }
}

// ---------------------------------------------------------------- pause

// openPause asks how long and why, in a small dialog.
function openPause(c) {
  pauseDialog.dataset.camera = c.id;
  mark(document.getElementById("pause-dialog-title"), { text: ["pause.title_cam", { name: nameOf(c.id) }] });
  document.getElementById("pause-error").hidden = true;
  document.getElementById("pause-reason").value = "";
  document.getElementById("pause-submit").disabled = false;
  pauseDialog.showModal();
  document.getElementById("pause-for").focus();
}

async function onPauseSubmit(ev) {
  ev.preventDefault();
  const c = cams.get(pauseDialog.dataset.camera);
  if (!c) return;
  const submit = document.getElementById("pause-submit");
  const err = document.getElementById("pause-error");
  const body = { for: document.getElementById("pause-for").value, reason: document.getElementById("pause-reason").value.trim() };
  submit.disabled = true;
  err.hidden = true;
  result(c, "pause", "pending", t("card.pause.pending"));
  try {
    const res = await api("POST", cameraPath(c.id, "pause"), body);
    if (!res.ok) {
      err.textContent = t("card.pause.failed", { why: errorText(res) });
      err.hidden = false;
      result(c, "pause", "error", t("card.pause.failed", { why: errorText(res) }));
      return;
    }
    pauseDialog.close();
    const killed = res.data.killed || [];
    c.refs.result.dataset.killed = killed.join(",");
    const until = parseTime(res.data.pause && res.data.pause.until);
    result(c, "pause", "ok", t("card.pause.done", { t: clock(until) }) + (killed.length ? t("card.pause.killed", { n: killed.length, pids: killed.join(", ") }) : ""));
    announce(t("card.pause.announce", { name: nameOf(c.id) }));
    upsert(c.id, { pause: res.data.pause, ffmpeg: 0, lease: 0, go2rtc: 0, queue: 0 });
    document.dispatchEvent(new Event("camvisor:changed"));
  } catch (e) {
    if (!(e instanceof Unauthorized)) {
      err.textContent = t("card.pause.failed", { why: e.message });
      err.hidden = false;
    }
  } finally {
    submit.disabled = false;
  }
}

async function resume(c, button) {
  button.disabled = true;
  result(c, "resume", "pending", t("card.resume.pending"));
  try {
    const res = await api("POST", cameraPath(c.id, "resume"));
    if (!res.ok) {
      result(c, "resume", "error", t("card.resume.failed", { why: errorText(res) }));
      return;
    }
    result(c, "resume", "ok", t("card.resume.done"));
    announce(t("card.resume.announce", { name: nameOf(c.id) }));
    upsert(c.id, { pause: null });
    document.dispatchEvent(new Event("camvisor:changed"));
  } catch (e) {
    if (!(e instanceof Unauthorized)) result(c, "resume", "error", t("card.resume.failed", { why: e.message }));
  } finally {
    button.disabled = false;
  }
}

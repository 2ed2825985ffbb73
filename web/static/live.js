// The suggest pane: what plays live right now.
//
// Invariant 4 (DESIGN.md): a player exists only because a `play` message
// from the server said so. onPlay is the only function that creates one;
// onStop, and a reconnect that finds a playback no longer live, remove it.
// Nothing here runs on page load, on history or on /api/cameras.
//
// Removing the player matters: go2rtc keeps the camera connection (and the
// server its slot) while a viewer is attached, so a stopped playback's
// iframe is taken out of the page, not hidden.

import { el, parseTime, clock, countdown, httpURL, cameraPath, api, announce, serverNow } from "./util.js";
import { t, mark, translate } from "./i18n.js";
import { nameOf } from "./cameras.js";

document.addEventListener("camvisor:lang", () => {
  for (const p of plays.values()) {
    translate(p.el);
    renderTime(p);
  }
});

const STOP_PATIENCE = 10000; // the server's `stop` is expected within this

const plays = new Map(); // camera -> {until, url, el, refs, confirmed}
let pane, listEl;
let sendWS = () => false;
let frameOf = () => null; // a camera's latest frame time, from the cards

/** setSender gives the pane the WebSocket's send (app.js owns the socket). */
export function setSender(fn) {
  sendWS = fn;
}

/** setFrames tells the pane where to read a camera's latest frame time. */
export function setFrames(fn) {
  frameOf = fn;
}

/**
 * onFrame: a camera has a new frame (its `camera` message said so). A live
 * view without go2rtc shows it: frames are asked for as they come, never
 * polled, and never before a camera has one.
 */
export function onFrame(camera, at) {
  const p = plays.get(camera);
  if (p && !p.url && p.refs.player && at) p.refs.player.show(at);
}

function ensureDOM() {
  if (!pane) {
    pane = document.getElementById("live-pane");
    listEl = document.getElementById("live-list");
  }
}

/** onPlay shows (or extends) a camera's live view, as the server says. */
export function onPlay(m) {
  ensureDOM();
  const cam = m.camera;
  let p = plays.get(cam);
  const url = httpURL(m.player_url || "");
  if (!p) {
    p = { camera: cam };
    build(p);
    plays.set(cam, p);
    listEl.append(p.el);
    announce(t("live.announce.start", { name: nameOf(cam) }));
  }
  p.confirmed = true;
  p.until = parseTime(m.until);
  p.refs.stop.disabled = false;
  mark(p.refs.stop, { text: "live.stop" });
  clearNote(p);
  clearTimeout(p.stopWait);
  p.el.dataset.until = m.until || "";
  p.el.dataset.extended = m.extended ? "true" : "false";
  // The server's reason (a detection's label and score, an operator's
  // request) is data, in its words.
  const why = [];
  if (m.reason) why.push(m.reason);
  if (m.subnet) why.push(m.subnet);
  p.refs.reason.textContent = why.join(" · ");
  if (m.event_id) p.el.dataset.eventId = m.event_id;
  p.refs.extended.hidden = !m.extended;
  document.getElementById("live-extended-note").hidden = ![...plays.values()].some((x) => x.el.dataset.extended === "true");
  if (url !== p.url || !p.refs.player) setPlayer(p, url);
  renderTime(p);
  pane.hidden = false;
}

/** onStop removes a camera's live view: the server says it is over. */
export function onStop(m) {
  const p = plays.get(m.camera);
  if (!p) return;
  remove(p);
  announce(t("live.announce.end", { name: nameOf(m.camera) }) + (m.reason ? `: ${m.reason}` : ""));
}

/** tick counts the remaining time down. */
export function tick() {
  for (const p of plays.values()) renderTime(p);
}

/** beginResync: the WebSocket (re)connected; the server is about to say what plays. */
export function beginResync() {
  for (const p of plays.values()) p.confirmed = false;
}

/** endResync removes players the server did not confirm: they ended meanwhile. */
export function endResync() {
  for (const p of [...plays.values()]) {
    if (!p.confirmed) remove(p);
    else clearNote(p);
  }
}

/** disconnected notes that the server cannot tell us when a playback ends. */
export function disconnected() {
  for (const p of plays.values()) {
    mark(p.refs.note, { text: "live.lost" });
  }
}

// clearNote empties a view's note (and its key: a change of language
// leaves it empty).
function clearNote(p) {
  p.refs.note.removeAttribute("data-i18n");
  p.refs.note.textContent = "";
}

function build(p) {
  const r = {};
  const name = nameOf(p.camera);
  r.title = el("h3", {}, name);
  r.reason = el("span", { class: "muted", dataset: { role: "reason" }, translate: "no" });
  r.extended = el("span", {
    class: "badge", dataset: { role: "extended" }, "aria-describedby": "live-extended-note",
    i18n: { text: "live.extended", title: "live.extended.title" },
  });
  r.remaining = el("span", { class: "remaining", dataset: { role: "remaining" }, "aria-live": "off" });
  r.stop = el("button", { type: "button", class: "danger", dataset: { action: "stop" }, i18n: { text: "live.stop", "aria-label": ["live.stop.label", { name }] } });
  r.stop.addEventListener("click", () => stop(p));
  // Views are small so the cameras stay in sight; one can be made large.
  r.size = el("button", { type: "button", class: "quiet", dataset: { action: "enlarge" }, "aria-pressed": "false", i18n: { text: "live.enlarge", "aria-label": ["live.enlarge.label", { name }] } });
  r.size.addEventListener("click", () => {
    const big = !p.el.classList.contains("big");
    p.el.classList.toggle("big", big);
    r.size.setAttribute("aria-pressed", big ? "true" : "false");
    mark(r.size, { text: big ? "live.shrink" : "live.enlarge" });
  });
  r.screen = el("div", { class: "screen" });
  r.note = el("p", { class: "note", dataset: { role: "note" }, role: "status" });
  p.el = el("article", { class: "live-item", dataset: { camera: p.camera }, i18n: { "aria-label": ["live.label", { name }] } },
    el("header", { class: "live-head" },
      el("div", { class: "who" }, el("div", { class: "who-top" }, r.title, r.extended), r.reason),
      r.remaining, r.size, r.stop),
    r.screen, r.note);
  p.refs = r;
}

function setPlayer(p, url) {
  p.url = url;
  let player;
  if (url) {
    player = el("iframe", {
      src: url,
      i18n: { title: ["live.player.title", { name: nameOf(p.camera) }] },
      dataset: { role: "player" },
      allow: "autoplay; fullscreen",
      referrerpolicy: "no-referrer",
      sandbox: "allow-scripts allow-same-origin",
    });
  } else {
    // No go2rtc: the camera's frames, each as it is taken.
    const img = el("img", { i18n: { alt: ["card.frame_alt", { name: nameOf(p.camera) }] }, dataset: { role: "player-snapshot" } });
    const none = el("p", { class: "nosnap", dataset: { role: "player-nosnap" }, i18n: { text: "live.nosnap" } });
    player = el("div", { class: "snapshots" }, img, none);
    img.hidden = true;
    img.addEventListener("load", () => {
      img.hidden = false;
      none.hidden = true;
    });
    let shown = null;
    player.show = (at) => {
      if (at === shown) return;
      shown = at;
      img.src = `${cameraPath(p.camera, "snapshot.jpg")}?at=${at}`;
    };
    const at = frameOf(p.camera);
    if (at) player.show(at);
  }
  p.refs.player = player;
  p.refs.screen.replaceChildren(player);
}

function renderTime(p) {
  const r = p.refs;
  if (p.until === null) {
    r.remaining.textContent = "";
    return;
  }
  const left = (p.until - serverNow()) / 1000;
  r.remaining.textContent = left > 0 ? t("live.left", { t: countdown(left) }) : t("live.ending");
  r.remaining.title = t("card.live.until", { t: clock(p.until) });
  r.remaining.dataset.seconds = String(Math.max(0, Math.ceil(left)));
}

async function stop(p) {
  const r = p.refs;
  r.stop.disabled = true;
  mark(r.stop, { text: "live.stopping" });
  // The pane goes when the server's `stop` comes, not before.
  if (!sendWS({ type: "stop", camera: p.camera })) {
    try {
      const res = await api("DELETE", cameraPath(p.camera, "live"));
      if (!res.ok) mark(r.note, { text: ["live.stop.failed", { why: (res.data && res.data.error) || res.status }] });
    } catch (e) {
      mark(r.note, { text: ["live.stop.failed", { why: e.message }] });
    }
  }
  clearTimeout(p.stopWait);
  p.stopWait = setTimeout(() => {
    if (plays.get(p.camera) !== p) return;
    r.stop.disabled = false;
    mark(r.stop, { text: "live.stop" });
    mark(r.note, { text: "live.stop.unconfirmed" });
  }, STOP_PATIENCE);
}

function remove(p) {
  clearTimeout(p.stopWait);
  if (p.el.contains(document.activeElement)) document.getElementById("main").focus(); // not lost on <body>
  p.refs.screen.replaceChildren(); // the viewer leaves go2rtc now
  p.el.remove();
  plays.delete(p.camera);
  if (plays.size === 0 && pane) pane.hidden = true;
}

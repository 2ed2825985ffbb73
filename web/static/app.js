// The dashboard's entry point: sign-in, the header, the views and the
// WebSocket that carries everything live.
//
// Invariant 4 (DESIGN.md): live playback starts only when a `play` message
// from the server says so. Loading the page, reconnecting and fetching
// history never start one; live.js is the only place that creates a player,
// and only onPlay calls it.

import { api, errorText, setUnauthorizedHandler, Unauthorized, el, parseTime, duration, clock, announce, setServerClock, serverNow } from "./util.js";
import { t, mark, lang, setLang, translate, LANGUAGES } from "./i18n.js";
import * as cameras from "./cameras.js";
import * as live from "./live.js";
import * as events from "./events.js";
import * as actors from "./actors.js";
import * as charts from "./charts.js";

const $ = (id) => document.getElementById(id);

const VIEWS = ["cameras", "events", "actors", "charts"];
const STATUS_EVERY = 5000;
const CAMERAS_EVERY = 30000; // a full re-read, behind the live `camera` messages

let running = false; // signed in and the app is shown
let statusTimer = null;
let camerasTimer = null;
let tickTimer = null;
let uptimeTimer = null;
let status = null; // last /api/status

// ---------------------------------------------------------------- sign-in

// showLogin shows the sign-in form with a note (not an error: signing out
// or a session that ended went as it should).
function showLogin(note) {
  const wasRunning = running;
  stopApp();
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").hidden = true;
  const n = $("login-note");
  if (note || wasRunning) {
    mark(n, { text: note || "login.session_ended" });
    n.hidden = false;
  }
  $("login-token").focus();
}

async function onLoginSubmit(ev) {
  ev.preventDefault();
  const input = $("login-token");
  const button = $("login-submit");
  const err = $("login-error");
  const token = input.value.trim();
  if (!token) {
    err.textContent = t("login.enter_token");
    err.hidden = false;
    input.focus();
    return;
  }
  button.disabled = true;
  err.hidden = true;
  err.textContent = "";
  $("login-note").hidden = true;
  try {
    const res = await api("POST", "api/login", { token });
    if (res.ok) {
      input.value = "";
      await startApp();
      return;
    }
    if (res.status === 401) {
      const why = errorText(res);
      err.textContent = why === "wrong token" ? t("login.wrong") : t("login.wrong_why", { why });
    } else {
      err.textContent = t("login.failed", { why: errorText(res) });
    }
    err.hidden = false;
    input.select();
    input.focus();
  } catch (e) {
    err.textContent = t("err.unreachable", { why: e.message });
    err.hidden = false;
  } finally {
    button.disabled = false;
  }
}

async function logout() {
  try {
    await api("POST", "api/logout");
  } catch {
    // signing out of a server that is gone still shows the form
  }
  showLogin("login.signed_out");
}

// ---------------------------------------------------------------- app

async function startApp() {
  // Probe first: without a session the login form shows and nothing else runs.
  const sent = Date.now();
  const res = await api("GET", "api/status");
  if (!res.ok) throw new Error(errorText(res));
  if (running) stopApp(); // a second sign-in: start over, not twice
  running = true;
  $("login").hidden = true;
  $("login-error").hidden = true;
  $("login-note").hidden = true;
  $("app").hidden = false;
  applyStatus(res.data, sent);
  showView(viewFromHash(), false);
  connectWS();
  statusTimer = setInterval(refreshStatus, STATUS_EVERY);
  camerasTimer = setInterval(() => cameras.load().catch(() => {}), CAMERAS_EVERY);
  tickTimer = setInterval(tick, 1000);
  scheduleUptime();
  await Promise.allSettled([cameras.load(), events.load(), loadAlerts()]);
  events.setCameras(cameras.ids());
}

function stopApp() {
  running = false;
  clearInterval(statusTimer);
  clearInterval(camerasTimer);
  clearInterval(tickTimer);
  clearTimeout(uptimeTimer);
  statusTimer = camerasTimer = tickTimer = uptimeTimer = null;
  closeWS();
  actors.setVisible(false);
  charts.setVisible(false);
}

function tick() {
  live.tick();
  cameras.tick();
}

// ---------------------------------------------------------------- header

async function refreshStatus() {
  try {
    const sent = Date.now();
    const res = await api("GET", "api/status");
    if (res.ok) applyStatus(res.data, sent);
    else setState("error", errorText(res));
    cameras.loadOwners().catch(() => {}); // who runs each camera, in a cluster
  } catch (e) {
    if (!(e instanceof Unauthorized)) setState("unreachable", e.message);
  }
}

function setState(state, title) {
  const s = $("hdr-state");
  s.textContent = t(`state.${state}`);
  s.dataset.state = state;
  s.title = title || "";
}

// applyStatus shows /api/status, asked at `sent` (this machine's ms).
function applyStatus(s, sent) {
  status = { ...s };
  // The server's clock: its `now`, taken about half-way through the request.
  const now = parseTime(s.now);
  if (now !== null && sent) setServerClock(now + (Date.now() - sent) / 2);
  setState(s.state || "unknown", s.version ? t("hdr.version", { version: s.version, run: s.run || "?" }) : "");
  renderUptime();
  const f = $("hdr-ffmpeg");
  const n = s.ffmpeg_processes ?? 0;
  const budget = s.budget ?? 0;
  f.textContent = `${n} / ${budget}`;
  f.dataset.processes = n;
  f.dataset.budget = budget;
  f.classList.toggle("bad", n > budget);
  f.title = n > budget ? t("hdr.ffmpeg.leak") : t("hdr.ffmpeg.now");
  document.dispatchEvent(new CustomEvent("camvisor:status", { detail: status }));
  if (s.admission) applyAdmission(s.admission);
  const g = s.go2rtc || {};
  const gd = $("hdr-go2rtc");
  gd.textContent = t(!g.enabled ? "go2rtc.off" : g.healthy ? "go2rtc.healthy" : "go2rtc.down");
  gd.dataset.state = !g.enabled ? "off" : g.healthy ? "ok" : "bad";
  // The record's count disagrees with ours (a message missed while away): re-read.
  if (s.alerts_firing !== undefined && s.alerts_firing !== firingCount()) loadAlerts().catch(() => {});
}

// applyAdmission shows the machine-wide admission: running of limit, and
// how many captures wait for a turn.
function applyAdmission(a) {
  const d = $("hdr-admission");
  if (a.limit === null || a.limit === undefined) {
    d.textContent = "–";
    return;
  }
  d.textContent = `${a.running} / ${a.limit}` + (a.waiting ? ` · ${t("adm.waiting", { n: a.waiting })}` : "");
  d.dataset.limit = a.limit;
  d.dataset.running = a.running;
  d.dataset.waiting = a.waiting;
  d.title = t("adm.title", { running: a.running, limit: a.limit, waiting: a.waiting }) +
    (a.uncontended_ms ? t("adm.uncontended", { ms: a.uncontended_ms }) : "");
}

// scheduleUptime redraws the uptime as each of its seconds begins, so it
// never trails the server's by a tick.
function scheduleUptime() {
  clearTimeout(uptimeTimer);
  renderUptime();
  const started = status ? parseTime(status.started_at) : null;
  const wait = started === null ? 1000 : 1000 - ((serverNow() - started) % 1000);
  uptimeTimer = setTimeout(scheduleUptime, wait + 5);
}

// renderUptime counts from the server's start on the server's clock: not
// from a rounded uptime_s that has aged since it was fetched.
function renderUptime() {
  if (!status) return;
  const started = parseTime(status.started_at);
  if (started === null) return;
  const u = $("hdr-uptime");
  u.textContent = duration((serverNow() - started) / 1000);
  u.title = t("hdr.since", { t: clock(started) });
  u.dataset.startedAt = String(started);
}

// ---------------------------------------------------------------- alerts

const alerts = new Map(); // rule|subject -> alert

async function loadAlerts() {
  const res = await api("GET", "api/alerts");
  if (!res.ok) return;
  alerts.clear();
  for (const a of res.data.alerts || []) alerts.set(`${a.rule}|${a.subject}`, a);
  renderAlerts();
}

function onAlert(m) {
  const key = `${m.rule}|${m.subject}`;
  const before = alerts.get(key);
  alerts.set(key, { ...before, ...m });
  if (m.state === "firing" && (!before || before.state !== "firing")) announce(t("alerts.announce", { rule: m.rule, subject: m.subject }));
  renderAlerts();
}

function renderAlertCount(n) {
  const b = $("hdr-alerts");
  b.textContent = String(n);
  b.dataset.count = n;
  b.classList.toggle("bad", n > 0);
  b.setAttribute("aria-label", t("alerts.count", { n }));
}

function firingCount() {
  let n = 0;
  for (const a of alerts.values()) if (a.state === "firing") n++;
  return n;
}

function renderAlerts() {
  const firing = [...alerts.values()].filter((a) => a.state === "firing");
  renderAlertCount(firing.length);
  const list = $("alert-list");
  list.replaceChildren(
    ...firing.map((a) =>
      el("li", { dataset: { rule: a.rule, subject: a.subject } },
        el("strong", { translate: "no" }, a.rule), " ", el("span", {}, t("alerts.on")), " ", el("span", { translate: "no" }, a.subject || "—"),
        a.detail ? el("span", { class: "muted", translate: "no" }, ` — ${a.detail}`) : null,
        " ", el("span", { class: "muted" }, t("alerts.since", { t: clock(parseTime(a.first_seen)) }))),
    ),
  );
  $("alerts").hidden = firing.length === 0;
}

// ---------------------------------------------------------------- views

let currentView = "cameras";

// viewFromHash is the view the address names (#events); any other fragment
// (the skip link's #main) keeps the current one.
function viewFromHash() {
  const v = location.hash.replace(/^#/, "");
  return VIEWS.includes(v) ? v : currentView;
}

function showView(name, focus) {
  currentView = name;
  for (const v of VIEWS) {
    const on = v === name;
    const tab = $(`tab-${v}`);
    tab.setAttribute("aria-selected", on ? "true" : "false");
    tab.tabIndex = on ? 0 : -1;
    $(`view-${v}`).hidden = !on;
  }
  if (focus) $(`tab-${name}`).focus();
  if (running) {
    actors.setVisible(name === "actors");
    charts.setVisible(name === "charts");
    if (name === "events") events.seen();
  }
  document.body.dataset.view = name;
}

function onTabClick(ev) {
  const v = ev.currentTarget.dataset.view;
  if (location.hash !== `#${v}`) history.replaceState(null, "", `#${v}`);
  showView(v, false);
}

function onTabKey(ev) {
  const i = VIEWS.indexOf(ev.currentTarget.dataset.view);
  let j = null;
  if (ev.key === "ArrowRight") j = (i + 1) % VIEWS.length;
  else if (ev.key === "ArrowLeft") j = (i + VIEWS.length - 1) % VIEWS.length;
  else if (ev.key === "Home") j = 0;
  else if (ev.key === "End") j = VIEWS.length - 1;
  if (j === null) return;
  ev.preventDefault();
  history.replaceState(null, "", `#${VIEWS[j]}`);
  showView(VIEWS[j], true);
}

// ---------------------------------------------------------------- WebSocket

let ws = null;
let wsRetry = null;
let wsDelay = 1000;
let pingTimer = null;
let syncing = false; // waiting for the pong that ends the on-connect burst

// setWS shows the WebSocket's state; seconds, when set, is the wait
// before the next try.
function setWS(state, seconds) {
  const d = $("hdr-ws");
  d.dataset.ws = state;
  mark(d, { text: seconds ? ["ws.reconnecting_in", { n: seconds }] : `ws.${state}` });
}

function connectWS() {
  clearTimeout(wsRetry);
  wsRetry = null;
  const url = new URL("ws", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  setWS("connecting");
  const sock = new WebSocket(url);
  ws = sock;
  sock.onopen = () => {
    if (ws !== sock) return;
    wsDelay = 1000;
    setWS("connected");
    // What the server sends on connecting (cameras, what plays now) comes
    // before the pong: players not confirmed by then ended while we were away.
    live.beginResync();
    syncing = true;
    send({ type: "ping" });
    clearInterval(pingTimer);
    pingTimer = setInterval(() => send({ type: "ping" }), 25000);
    cameras.load().catch(() => {});
  };
  sock.onmessage = (ev) => {
    if (ws !== sock) return;
    let m;
    try {
      m = JSON.parse(ev.data);
    } catch {
      return;
    }
    dispatch(m);
  };
  sock.onclose = (ev) => {
    if (ws !== sock) return;
    ws = null;
    clearInterval(pingTimer);
    delete document.body.dataset.synced;
    live.disconnected();
    if (running) retryWS(ev.reason);
  };
}

async function retryWS(reason) {
  // A WebSocket refused for want of a session looks like any other drop:
  // ask the API, which says 401 plainly (and shows the login form).
  try {
    await api("GET", "api/status");
  } catch (e) {
    if (e instanceof Unauthorized) return;
  }
  if (!running) return;
  const delay = Math.round(wsDelay * (0.8 + Math.random() * 0.4));
  wsDelay = Math.min(wsDelay * 2, 30000);
  setWS("reconnecting", Math.ceil(delay / 1000));
  $("hdr-ws").title = reason ? t("ws.closed", { why: reason }) : t("ws.lost");
  wsRetry = setTimeout(connectWS, delay);
}

function closeWS() {
  clearTimeout(wsRetry);
  clearInterval(pingTimer);
  wsRetry = null;
  delete document.body.dataset.synced;
  if (ws) {
    const s = ws;
    ws = null;
    s.close(1000, "signed out");
  }
  setWS("disconnected");
}

/** send writes one message to the server; false when not connected. */
export function send(msg) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(msg));
  return true;
}

function dispatch(m) {
  switch (m.type) {
    case "play":
      live.onPlay(m);
      cameras.setLive(m.camera, m.until);
      break;
    case "stop":
      live.onStop(m);
      cameras.setLive(m.camera, null);
      break;
    case "camera":
      cameras.onCamera(m);
      if (m.frame_at) live.onFrame(m.camera, parseTime(m.frame_at));
      break;
    case "event":
      events.onEvent(m);
      break;
    case "event_updated":
      events.onEventUpdated(m);
      break;
    case "cycle":
      charts.onCycle(m);
      break;
    case "alert":
      onAlert(m);
      break;
    case "reload": // the configuration was reloaded: say so, show the cameras that run now
      lastReload = m;
      renderReload();
      if (m.outcome === "applied" || m.outcome === "incomplete") cameras.load().catch(() => {});
      break;
    case "admission":
      applyAdmission({ ...(status && status.admission), ...m });
      break;
    case "pong":
      if (syncing) {
        syncing = false;
        live.endResync();
        document.body.dataset.synced = "true"; // everything sent on connecting is applied
      }
      break;
  }
}

let lastReload = null; // the last `reload` message, for its notice

// renderReload shows the last reload above the cameras.
function renderReload() {
  const m = lastReload;
  if (!m) return;
  const text = m.outcome === "rejected" ? t("reload.rejected", { error: m.error })
    : t("reload.done", { at: clock(parseTime(m.at)), who: m.who, outcome: t(`reload.outcome.${m.outcome}`) }) +
      ["added", "removed", "changed"].map((k) => (m[k] || []).length ? t(`reload.${k}`, { list: m[k].join(" ") }) : "").join("");
  let n = $("reload-notice");
  if (!n) $("main").prepend((n = el("p", { id: "reload-notice", role: "status" })));
  n.textContent = text;
  n.classList.toggle("bad", m.outcome === "rejected");
}

// ---------------------------------------------------------------- language

// initLanguage fills the header's and the sign-in form's language
// switches and writes the page in the language shown.
function initLanguage() {
  for (const sel of [$("lang-switch"), $("login-lang")]) {
    sel.replaceChildren(...LANGUAGES.map(([code, name]) => el("option", { value: code, lang: code, translate: "no" }, name)));
    sel.value = lang();
    sel.addEventListener("change", () => setLang(sel.value));
  }
  translate(document);
  document.addEventListener("camvisor:lang", () => {
    for (const sel of [$("lang-switch"), $("login-lang")]) sel.value = lang();
    if (status) applyStatus(status, 0);
    renderAlerts();
    renderReload();
  });
}

// ---------------------------------------------------------------- boot

function boot() {
  initLanguage();
  setUnauthorizedHandler(() => showLogin());
  live.setSender(send);
  live.setFrames(cameras.frameAt);
  $("login-form").addEventListener("submit", onLoginSubmit);
  $("logout").addEventListener("click", logout);
  $("hdr-alerts").addEventListener("click", () => {
    const a = $("alerts");
    if (!a.hidden) {
      a.tabIndex = -1;
      a.focus();
    }
  });
  for (const v of VIEWS) {
    const tab = $(`tab-${v}`);
    tab.addEventListener("click", onTabClick);
    tab.addEventListener("keydown", onTabKey);
  }
  window.addEventListener("hashchange", () => showView(viewFromHash(), false));
  document.addEventListener("camvisor:changed", () => running && refreshStatus());
  document.addEventListener("visibilitychange", () => showView(currentView, false));
  cameras.init();
  events.init();
  startApp().catch((e) => {
    if (e instanceof Unauthorized) return; // the login form shows
    $("login").hidden = false;
    const err = $("login-error");
    err.textContent = t("err.unreachable", { why: e.message });
    err.hidden = false;
  });
}

boot();

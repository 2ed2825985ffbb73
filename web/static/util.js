// Shared helpers: the API client, DOM building and the formats every view
// uses. Nothing here starts or stops anything on the server.

/** Unauthorized is thrown by api() after a 401: the login form is showing. */
export class Unauthorized extends Error {}

let onUnauthorized = () => {};

/** setUnauthorizedHandler names what runs when any request answers 401. */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/**
 * api sends one request to this server (same origin, the session cookie
 * rides along) and returns {status, ok, data}; data is the decoded JSON
 * body, or {error: text} for a body that is not JSON. A 401 shows the login
 * form and throws Unauthorized.
 */
export async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  const text = await resp.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { error: text.trim() };
    }
  }
  if (resp.status === 401 && path !== "api/login") {
    onUnauthorized();
    throw new Unauthorized((data && data.error) || "not signed in");
  }
  return { status: resp.status, ok: resp.ok, data };
}

/** errorText is the server's reason for a failed answer. */
export function errorText(res) {
  return (res.data && res.data.error) || `HTTP ${res.status}`;
}

/**
 * el builds an element: el("td", {class: "x", dataset: {camera: id}}, "text", child).
 * Text is always set as text, never parsed as HTML.
 */
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k === "text") e.textContent = v;
    else if (k === "style") e.style.cssText = v; // CSSOM: the content security policy allows no style attribute
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v === true) e.setAttribute(k, "");
    else e.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** svg builds an SVG element with attributes. */
export function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === "text") e.textContent = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

/** parseTime reads an RFC 3339 time; null for empty or the zero time. */
export function parseTime(s) {
  if (!s) return null;
  const t = Date.parse(s);
  if (Number.isNaN(t) || t <= 0) return null;
  return t;
}

// The server's clock, as far as we can tell: times from the server (a
// playback's end, a capture's time, the uptime) are compared with it, not
// with this machine's clock, which may be off.
let skew = 0;

/** setServerClock notes the server's time now (ms), measured by the caller. */
export function setServerClock(serverMs) {
  skew = serverMs - Date.now();
}

/** serverNow is the server's time now, in ms. */
export function serverNow() {
  return Date.now() + skew;
}

const pad = (n) => String(n).padStart(2, "0");

/** clock formats a time as local HH:MM:SS, with the date when not today. */
export function clock(ms) {
  if (ms === null || ms === undefined) return "—";
  const d = new Date(ms);
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return hms;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms}`;
}

/** hhmm formats a time as local HH:MM (chart axes). */
export function hhmm(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** isoLocal is a time as the browser's full local text, for tooltips. */
export function isoLocal(ms) {
  return ms === null ? "" : new Date(ms).toString();
}

/** duration formats seconds for people: 42 s, 3 min 5 s, 2 h 10 min, 3 d 4 h. */
export function duration(sec) {
  if (sec === null || sec === undefined || Number.isNaN(sec)) return "—";
  sec = Math.max(0, Math.floor(sec));
  if (sec < 60) return `${sec} s`;
  const m = Math.floor(sec / 60);
  if (m < 60) return `${m} min ${sec % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** countdown formats the seconds left as m:ss. */
export function countdown(sec) {
  sec = Math.max(0, Math.ceil(sec));
  return `${Math.floor(sec / 60)}:${pad(sec % 60)}`;
}

/** ago is "12 s ago" for a past time. */
export function ago(ms) {
  if (ms === null) return "";
  return `${duration((serverNow() - ms) / 1000)} ago`;
}

/** millis formats a duration in milliseconds: 84 ms, 1.3 s. */
export function millis(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;
}

/** bytes formats a size: 812 B, 14 KB, 1.2 MB. */
export function bytes(n) {
  if (!n) return "0 B";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** httpURL returns u when it is an http(s) URL, else "" (never javascript:). */
export function httpURL(u) {
  if (!u) return "";
  try {
    const p = new URL(u, location.href);
    return p.protocol === "http:" || p.protocol === "https:" ? p.href : "";
  } catch {
    return "";
  }
}

/** cameraPath is the API path of a camera: api/cameras/<id>/<rest>. */
export function cameraPath(id, rest) {
  return `api/cameras/${encodeURIComponent(id)}/${rest}`;
}

/** Distinguishable line colours (Okabe–Ito), for charts and legends. */
export const PALETTE = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#7f6d00", "#8a8a8a"];

/** announce says something to screen readers through the polite region. */
export function announce(text) {
  const r = document.getElementById("announcer");
  if (r) r.textContent = text;
}

/**
 * outcomeKind sorts a capture outcome into the five kinds the outcomes
 * strip colours: ok, timeout, busy (the camera or its slots were busy),
 * backoff (not tried: backing off, skipped, stopped) and failed. Outcomes
 * this page does not know yet are failures: shown, in red, by name.
 */
export function outcomeKind(outcome) {
  const o = String(outcome || "");
  if (o === "ok") return "ok";
  if (o === "timeout") return "timeout";
  if (o === "no_slot" || o.includes("busy")) return "busy";
  if (o === "backoff" || o === "skipped" || o === "stopped" || o === "preempted") return "backoff";
  return "failed";
}

/** OUTCOME_KINDS are the strip's kinds, in legend order, with what each means. */
export const OUTCOME_KINDS = [
  ["ok", "ok", "a frame came back"],
  ["timeout", "timeout", "no frame before the deadline: the process was killed"],
  ["busy", "busy", "no connection free: the camera or its slots were busy"],
  ["backoff", "backoff", "not tried: backing off, skipped at the cycle's deadline, stopped, or preempted by a live view"],
  ["failed", "failed", "ffmpeg exited, was killed, or gave no frame"],
];

// Shared helpers: the API client, DOM building and the formats every view
// uses, in the operator's language and time zone (i18n.js). Nothing here
// starts or stops anything on the server.

import { t, has, mark, dateFormat } from "./i18n.js";

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
    throw new Unauthorized((data && data.error) || t("err.not_signed_in"));
  }
  return { status: resp.status, ok: resp.ok, data };
}

/** errorText is the server's reason for a failed answer. */
export function errorText(res) {
  return (res.data && res.data.error) || t("err.http", { status: res.status });
}

/**
 * el builds an element: el("td", {class: "x", dataset: {camera: id}}, "text", child).
 * Text is always set as text, never parsed as HTML. i18n: {text: key,
 * title: [key, args], ...} gives it texts from the catalogue that follow
 * the language (i18n.js mark).
 */
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "i18n") mark(e, v);
    else if (k === "class") e.className = v;
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

/**
 * clock formats a time in the operator's time zone as HH:MM:SS, with the
 * date when not today, the language's way (Intl.DateTimeFormat).
 */
export function clock(ms) {
  if (ms === null || ms === undefined) return "—";
  const d = new Date(ms);
  const hms = dateFormat("hms", { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }).format(d);
  if (d.toDateString() === new Date().toDateString()) return hms;
  return `${dateFormat("ymd", { year: "numeric", month: "2-digit", day: "2-digit" }).format(d)} ${hms}`;
}

/** hhmm formats a time as HH:MM in the operator's time zone (chart axes). */
export function hhmm(ms) {
  return dateFormat("hm", { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(ms));
}

/** isoLocal is a time in full, with its zone, for tooltips. */
export function isoLocal(ms) {
  if (ms === null) return "";
  return dateFormat("full", { dateStyle: "full", timeStyle: "long" }).format(new Date(ms));
}

/** duration formats seconds for people: 42 s, 3 min 5 s, 2 h 10 min, 3 d 4 h. */
export function duration(sec) {
  if (sec === null || sec === undefined || Number.isNaN(sec)) return "—";
  sec = Math.max(0, Math.floor(sec));
  if (sec < 60) return t("dur.s", { s: sec });
  const m = Math.floor(sec / 60);
  if (m < 60) return t("dur.m", { m, s: sec % 60 });
  const h = Math.floor(m / 60);
  if (h < 24) return t("dur.h", { h, m: m % 60 });
  return t("dur.d", { d: Math.floor(h / 24), h: h % 24 });
}

/** countdown formats the seconds left as m:ss. */
export function countdown(sec) {
  sec = Math.max(0, Math.ceil(sec));
  return `${Math.floor(sec / 60)}:${pad(sec % 60)}`;
}

/** ago is "12 s ago" for a past time. */
export function ago(ms) {
  if (ms === null) return "";
  return t("dur.ago", { d: duration((serverNow() - ms) / 1000) });
}

/** millis formats a duration in milliseconds: 84 ms, 1.3 s. */
export function millis(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return t("unit.ms", { n: Math.round(ms) });
  return t("unit.s", { n: (ms / 1000).toFixed(ms < 10000 ? 1 : 0) });
}

/** bytes formats a size: 812 B, 14 KB, 1.2 MB. */
export function bytes(n) {
  if (!n) return t("unit.b", { n: 0 });
  if (n < 1024) return t("unit.b", { n });
  if (n < 1024 * 1024) return t("unit.kb", { n: Math.round(n / 1024) });
  return t("unit.mb", { n: (n / 1024 / 1024).toFixed(1) });
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
 * backoff (not tried: backing off, skipped, stopped, paused) and failed. Outcomes
 * this page does not know yet are failures: shown, in red, by name.
 */
export function outcomeKind(outcome) {
  const o = String(outcome || "");
  if (o === "ok") return "ok";
  if (o === "timeout") return "timeout";
  if (o === "no_slot" || o.includes("busy")) return "busy";
  if (o === "backoff" || o === "skipped" || o === "stopped" || o === "preempted" || o === "paused") return "backoff";
  return "failed";
}

/**
 * viaText is the path a frame came by (ffmpeg, http, go2rtc, lease,
 * external, stream) in the language shown; one this page does not know is
 * shown as the server wrote it.
 */
export function viaText(via) {
  const key = `via.${via}`;
  return has(key) ? t(key) : String(via || "");
}

/**
 * outcomeText is a capture outcome in the language shown; an outcome this
 * page does not know is shown as the server wrote it.
 */
export function outcomeText(outcome) {
  const key = `outcome.${outcome}`;
  return has(key) ? t(key) : String(outcome || "");
}

// The dashboard's languages. Every string the dashboard shows comes from
// one catalogue per language (i18n/en.js, i18n/ja.js): t(key, args) here,
// or a data-i18n attribute the page's HTML and the views' elements carry,
// which translate() fills. Data (camera ids, paths, a reason an operator
// typed, a server's error text) is not translated; the elements that hold
// only data carry translate="no", and an element whose text is translated
// but whose attribute holds data (a tooltip with a run's id) names that
// attribute in data-i18n-raw.
//
// The language follows the browser's (navigator.languages) until the
// operator picks one with the header's switch, which is kept
// (localStorage). Times are the operator's: Intl.DateTimeFormat in the
// browser's time zone, written the chosen language's way.

import en from "./i18n/en.js";
import ja from "./i18n/ja.js";

/** CATALOGUES are the languages the dashboard speaks, by code. */
export const CATALOGUES = { en, ja };

/** LANGUAGES are the switch's choices: [code, the language's own name]. */
export const LANGUAGES = [
  ["en", "English"],
  ["ja", "日本語"],
];

const KEY = "camvisor.lang";
/** ATTRS are the attributes data-i18n-<attr> fills. */
const ATTRS = ["title", "aria-label", "alt", "placeholder"];

let current = choose();

// choose is the language kept by the switch, else the first of the
// browser's languages the dashboard speaks, else English.
function choose() {
  try {
    const saved = localStorage.getItem(KEY);
    if (saved && CATALOGUES[saved]) return saved;
  } catch {
    // no storage: the browser's language
  }
  for (const l of navigator.languages || [navigator.language || ""]) {
    const base = String(l).toLowerCase().split("-")[0];
    if (CATALOGUES[base]) return base;
  }
  return "en";
}

/** lang is the language shown now. */
export function lang() {
  return current;
}

/**
 * setLang switches the dashboard to code, keeps the choice, translates the
 * page and tells the views (a "camvisor:lang" event) to redraw what they
 * wrote themselves.
 */
export function setLang(code) {
  if (!CATALOGUES[code]) return;
  current = code;
  try {
    localStorage.setItem(KEY, code);
  } catch {
    // not kept: fine for this page
  }
  formats.clear();
  translate(document);
  document.dispatchEvent(new Event("camvisor:lang"));
}

/** has reports whether the catalogue has a text for key. */
export function has(key) {
  return key in en;
}

const plurals = new Map();

/**
 * t is the text of key in the language shown, its {name}s replaced by
 * args' values. A text with plural forms ({one, other}) is chosen by
 * args.n. A key the language lacks falls back to English (a test makes
 * sure none does).
 */
export function t(key, args) {
  let v = CATALOGUES[current][key];
  if (v === undefined) v = en[key];
  if (v === undefined) {
    console.error(`i18n: no text for ${key}`);
    return key;
  }
  if (typeof v === "object") {
    if (!plurals.has(current)) plurals.set(current, new Intl.PluralRules(current));
    v = v[plurals.get(current).select(Number(args && args.n) || 0)] ?? v.other;
  }
  return v.replace(/\{(\w+)\}/g, (m, name) => (args && args[name] !== undefined && args[name] !== null ? String(args[name]) : m));
}

/**
 * mark makes element e carry its texts as keys: data-i18n (its text) and
 * data-i18n-<attr>, each a key or [key, args]; translate() fills them now
 * and at every change of language.
 */
export function mark(e, texts) {
  for (const [attr, spec] of Object.entries(texts)) {
    const [key, args] = Array.isArray(spec) ? spec : [spec, undefined];
    const name = attr === "text" ? "i18n" : `i18n-${attr}`;
    e.setAttribute(`data-${name}`, key);
    if (args) e.setAttribute(`data-${name}-args`, JSON.stringify(args));
    else e.removeAttribute(`data-${name}-args`);
  }
  fill(e);
  return e;
}

// fill writes e's marked texts in the language shown.
function fill(e) {
  const args = (name) => {
    const a = e.getAttribute(`data-${name}-args`);
    return a ? JSON.parse(a) : undefined;
  };
  if (e.hasAttribute("data-i18n")) e.textContent = t(e.getAttribute("data-i18n"), args("i18n"));
  for (const attr of ATTRS) {
    const key = e.getAttribute(`data-i18n-${attr}`);
    if (key) e.setAttribute(attr, t(key, args(`i18n-${attr}`)));
  }
}

/** translate fills every marked element under root (root included). */
export function translate(root) {
  const sel = ["[data-i18n]", ...ATTRS.map((a) => `[data-i18n-${a}]`)].join(",");
  if (root.matches && root.matches(sel)) fill(root);
  for (const e of root.querySelectorAll(sel)) fill(e);
  if (root === document) {
    document.documentElement.lang = current;
    document.title = t("app.title");
  }
}

const formats = new Map();

/** dateFormat is an Intl.DateTimeFormat of the language shown, cached. */
export function dateFormat(name, options) {
  const k = `${current}|${name}`;
  if (!formats.has(k)) formats.set(k, new Intl.DateTimeFormat(current, options));
  return formats.get(k);
}

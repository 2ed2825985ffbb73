// The event log: history from /api/events, live `event` messages on top,
// filters, and a dialog with the frame that opened an event.
//
// History is for reading only: nothing here starts a live view.

import { api, errorText, el, svg, parseTime, clock, isoLocal, Unauthorized } from "./util.js";
import { t, mark } from "./i18n.js";
import { nameOf } from "./cameras.js";

const HISTORY = 200; // rows fetched
const KEEP = 500; // rows kept while live events arrive

let rows, status, filterCamera, filterLabel, dialog;
const labels = new Set();
const cameraIDs = new Set();
let shown = []; // events in the table, newest first
let unseen = 0; // live events while another view shows
let loading = 0;

export function init() {
  rows = document.getElementById("event-list");
  status = document.getElementById("events-status");
  filterCamera = document.getElementById("filter-camera");
  filterLabel = document.getElementById("filter-label");
  dialog = document.getElementById("event-dialog");
  filterCamera.addEventListener("change", () => load());
  filterLabel.addEventListener("change", () => load());
  document.getElementById("events-reload").addEventListener("click", () => load());
  rows.addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr[data-event-id]");
    if (tr) open(shown.find((e) => String(e.id) === tr.dataset.eventId));
  });
  dialog.addEventListener("close", () => {
    document.getElementById("event-dialog-img").removeAttribute("src");
  });
  // A click on the backdrop closes the dialog too.
  dialog.addEventListener("click", (ev) => {
    if (ev.target === dialog) dialog.close();
  });
  document.addEventListener("camvisor:lang", () => {
    fillSelect(filterCamera, cameraIDs, "events.all_cameras", nameOf);
    fillSelect(filterLabel, labels, "events.all_labels");
    for (const tr of rows.querySelectorAll("tr[data-event-id]")) {
      const e = shown.find((x) => String(x.id) === tr.dataset.eventId);
      if (e) tr.replaceWith(row(e, tr.classList.contains("new")));
    }
    renderStatus();
    renderTab();
    if (dialog.open) {
      const e = shown.find((x) => String(x.id) === dialog.dataset.eventId);
      if (e) fillDetails(e);
    }
  });
}

/** setCameras fills the camera filter. */
export function setCameras(ids) {
  for (const id of ids) cameraIDs.add(id);
  fillSelect(filterCamera, cameraIDs, "events.all_cameras", nameOf);
}

/** load reads the history that matches the filters. */
export async function load() {
  const q = new URLSearchParams({ limit: String(HISTORY) });
  if (filterCamera.value) q.set("camera", filterCamera.value);
  if (filterLabel.value) q.set("label", filterLabel.value);
  const mine = ++loading;
  status.textContent = t("events.loading");
  let res;
  try {
    res = await api("GET", `api/events?${q}`);
  } catch (e) {
    if (!(e instanceof Unauthorized)) status.textContent = t("events.load_failed", { why: e.message });
    return;
  }
  if (mine !== loading) return; // a newer filter won
  if (!res.ok) {
    status.textContent = t("events.load_failed", { why: errorText(res) });
    return;
  }
  shown = res.data.events || [];
  for (const e of shown) noteLabels(e);
  rows.replaceChildren(...shown.map((e) => row(e, false)));
  renderStatus();
}

/** onEvent puts a live event on top when it passes the filters. */
export function onEvent(m) {
  noteLabels(m);
  if (filterCamera.value && m.camera !== filterCamera.value) return;
  if (filterLabel.value && m.label !== filterLabel.value) return;
  if (shown.some((e) => e.id === m.id)) return;
  shown.unshift(m);
  rows.prepend(row(m, true));
  while (shown.length > KEEP) {
    shown.pop();
    rows.lastElementChild.remove();
  }
  if (document.body.dataset.view !== "events") {
    unseen++;
    renderTab();
  }
  renderStatus();
}

/**
 * onEventUpdated applies a later detection that joined an event: its row
 * (and its dialog, when open) shows the new count, best score and last
 * sighting.
 */
export function onEventUpdated(m) {
  const e = shown.find((x) => String(x.id) === String(m.id));
  if (!e) return; // not listed (filtered out, or older than the history read)
  e.detections = m.detections;
  e.score = m.score;
  e.last_seen = m.last_seen;
  const tr = rows.querySelector(`tr[data-event-id="${CSS.escape(String(m.id))}"]`);
  if (tr) fillRow(tr, e);
  if (dialog.open && dialog.dataset.eventId === String(m.id)) fillDetails(e);
}

/** seen: the events view is showing. */
export function seen() {
  unseen = 0;
  renderTab();
}

function renderTab() {
  const tab = document.getElementById("tab-events");
  mark(tab, { text: unseen ? ["tabs.events.new", { n: unseen }] : "tabs.events" });
}

function renderStatus() {
  const f = [];
  if (filterCamera.value) f.push(t("events.f.camera", { camera: nameOf(filterCamera.value) }));
  if (filterLabel.value) f.push(t("events.f.label", { label: filterLabel.value }));
  const filters = f.join(", ");
  status.textContent = shown.length
    ? t(f.length ? "events.n.filtered" : "events.n", { n: shown.length, filters })
    : t(f.length ? "events.none.filtered" : "events.none", { filters });
}

function noteLabels(e) {
  let grew = false;
  if (e.label && !labels.has(e.label)) {
    labels.add(e.label);
    grew = true;
  }
  if (e.camera && !cameraIDs.has(e.camera)) {
    cameraIDs.add(e.camera);
    fillSelect(filterCamera, cameraIDs, "events.all_cameras", nameOf);
  }
  if (grew) fillSelect(filterLabel, labels, "events.all_labels");
}

// fillSelect lists values in a filter, after the choice of all (its key);
// show names each value for people.
function fillSelect(sel, values, all, show = (v) => v) {
  const keep = sel.value;
  const opts = [el("option", { value: "", i18n: { text: all } })];
  for (const v of [...values].sort()) opts.push(el("option", { value: v, translate: "no" }, show(v)));
  sel.replaceChildren(...opts);
  sel.value = keep;
}

function row(e, isNew) {
  const at = parseTime(e.at);
  const tr = el("tr", { class: isNew ? "new" : "", dataset: { eventId: e.id, camera: e.camera, label: e.label } },
    el("td", { title: isoLocal(at) }, clock(at)),
    el("td", { translate: "no" }, nameOf(e.camera)),
    el("td", { translate: "no" }, e.label || "—"),
    el("td", { class: "num", dataset: { field: "score" } }),
    el("td", { class: "num", dataset: { field: "detections" } }),
    el("td", {}, el("button", { type: "button", class: "quiet", dataset: { action: "open-event" },
      i18n: { text: "events.view", "aria-label": ["events.view.label", { id: e.id, camera: nameOf(e.camera), label: e.label }] } })));
  fillRow(tr, e);
  return tr;
}

// fillRow writes what a later detection may change: score, count, last seen.
function fillRow(tr, e) {
  tr.querySelector("[data-field=score]").textContent = typeof e.score === "number" ? e.score.toFixed(2) : "—";
  const n = tr.querySelector("[data-field=detections]");
  n.textContent = String(e.detections ?? 1); // a live event is new: its first detection
  const last = parseTime(e.last_seen);
  n.title = last ? t("events.last_seen", { t: clock(last) }) : "";
}

/** open shows an event's frame and details in the dialog. */
function open(e) {
  if (!e) return;
  const img = document.getElementById("event-dialog-img");
  const box = document.getElementById("event-dialog-box");
  mark(document.getElementById("event-dialog-title"), { text: ["event.title_on", { label: e.label || t("event.title"), camera: nameOf(e.camera) }] });
  dialog.dataset.eventId = e.id;
  box.replaceChildren();
  mark(img, { alt: ["event.frame_alt", { id: e.id, camera: nameOf(e.camera) }] });
  img.onload = () => drawBox(img, box, e.box);
  img.src = e.snapshot || `api/events/${e.id}/snapshot.jpg`;
  fillDetails(e);
  dialog.showModal();
}

// fillDetails lists an event's facts in the dialog.
function fillDetails(e) {
  const details = document.getElementById("event-dialog-details");
  const at = parseTime(e.at);
  const last = parseTime(e.last_seen);
  const camera = nameOf(e.camera) + (nameOf(e.camera) !== e.camera ? ` (${e.camera})` : "");
  const facts = [
    ["event.f.event", `#${e.id}`],
    ["event.f.camera", e.subnet ? t("event.camera_subnet", { camera, subnet: e.subnet }) : camera],
    ["event.f.label", e.label || "—"],
    ["event.f.score", typeof e.score === "number" ? e.score.toFixed(3) : "—"],
    ["event.f.opened", `${clock(at)}`],
  ];
  if (last && last !== at) facts.push(["event.f.last_seen", clock(last)]);
  if (e.detections) facts.push(["event.f.detections", String(e.detections)]);
  if (e.detector) facts.push(["event.f.detector", e.detector]);
  if (Array.isArray(e.box)) facts.push(["event.f.box", e.box.join(", ")]);
  details.replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { i18n: { text: k } }), el("dd", k === "event.f.camera" ? {} : { translate: "no" }, v)]));
}

// drawBox outlines the detection on the frame, in the frame's own pixels.
function drawBox(img, overlay, b) {
  const w = img.naturalWidth;
  const h = img.naturalHeight;
  if (!w || !h || !Array.isArray(b) || b.length !== 4 || b[2] <= b[0] || b[3] <= b[1]) return;
  overlay.setAttribute("viewBox", `0 0 ${w} ${h}`);
  overlay.replaceChildren(svg("rect", { x: b[0], y: b[1], width: b[2] - b[0], height: b[3] - b[1], class: "box", "vector-effect": "non-scaling-stroke" }));
}

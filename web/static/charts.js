// Two SVG charts, drawn here (no library), over the data's own span (the
// last hour at most, from the first point on: a young run fills the width):
//  - live ffmpeg processes per camera, each against its max_connections —
//    the picture that shows a process leak at a glance;
//  - cycle duration per subnet against its interval.
// Each series has its own colour and dash; series of equal value are drawn
// a few pixels apart so none hides another. Refreshed every 10 s while the
// view shows; live `cycle` messages are added in between.

import { api, errorText, el, svg, clock, hhmm, millis, duration, parseTime, PALETTE, Unauthorized, serverNow } from "./util.js";
import { t } from "./i18n.js";
import { nameOf } from "./cameras.js";

const REFRESH_EVERY = 10000;
const WINDOW = 60 * 60 * 1000; // the most shown
const MIN_SPAN = 5 * 1000; // the least span drawn: one sample step
const HEIGHT = 240;
const M = { l: 56, r: 70, t: 12, b: 26 }; // margins (right: budget labels)
const STEPS = [5, 10, 15, 30, 60].map((s) => s * 1000); // sample steps the server folds into
/** DASHES are per-series dash patterns, next to the colours: told apart without colour too. */
const DASHES = ["", "9 4", "3 3", "12 4 3 4", "6 6", "2 6", "14 3 3 3 3 3"];
const BUDGET_DASH = "1 4";

let timer = null;
let visible = false;
let samples = [];
let sampleStep = 60000;
let cycles = [];
let inflight = false;
let runStarted = null; // the server's start (ms): how far back to look on a young run
let header = null; // the header's count, for the legend's total
const styles = new Map(); // series name -> {colour, dash}, stable across refreshes
let observer = null;
let redrawQueued = false;

document.addEventListener("camvisor:lang", () => {
  renderTotal();
  if (visible) queueRedraw();
});

document.addEventListener("camvisor:status", (ev) => {
  const s = ev.detail || {};
  runStarted = parseTime(s.started_at);
  header = { processes: s.ffmpeg_processes ?? 0, budget: s.budget ?? 0 };
  renderTotal();
});

/** setVisible starts or stops the refresh. */
export function setVisible(v) {
  v = v && !document.hidden;
  if (v === visible) return;
  visible = v;
  clearInterval(timer);
  timer = null;
  if (v) {
    if (!observer && "ResizeObserver" in window) {
      observer = new ResizeObserver(() => queueRedraw());
      observer.observe(document.getElementById("chart-processes"));
    }
    refresh();
    timer = setInterval(refresh, REFRESH_EVERY);
  }
}

/** onCycle adds a cycle that just ended. */
export function onCycle(m) {
  // Keep the last hour only: the view may stay closed for days.
  if (cycles.length > 500) {
    const from = serverNow() - WINDOW;
    cycles = cycles.filter((c) => Date.parse(c.started_at) >= from);
  }
  cycles.push({ subnet: m.subnet, number: m.number, started_at: m.started_at, duration_ms: m.duration_ms, interval_ms: m.interval_ms, overran: m.overran });
  if (visible) queueRedraw();
}

function queueRedraw() {
  if (redrawQueued) return;
  redrawQueued = true;
  requestAnimationFrame(() => {
    redrawQueued = false;
    if (visible) draw();
  });
}

// stepFor is the sample step for the span the charts will show: about 200
// points across, never finer than the record's 5 s samples.
function stepFor(now) {
  const from = runStarted !== null ? Math.max(runStarted, now - WINDOW) : now - WINDOW;
  const span = Math.max(now - from, MIN_SPAN);
  return STEPS.find((s) => span / s <= 200) || STEPS[STEPS.length - 1];
}

async function refresh() {
  if (inflight) return;
  inflight = true;
  const note = document.getElementById("charts-updated");
  try {
    const step = stepFor(serverNow());
    const [s, c] = await Promise.all([api("GET", `api/samples?since=1h&step=${step / 1000}s`), api("GET", "api/cycles?since=1h")]);
    if (s.ok) {
      samples = s.data.samples || [];
      sampleStep = step;
    }
    if (c.ok) cycles = c.data.cycles || [];
    const errs = [s, c].filter((r) => !r.ok).map(errorText);
    note.textContent = errs.length ? t("charts.load_failed", { why: errs.join("; ") }) : t("updated", { t: clock(Date.now()) });
    if (visible) draw();
  } catch (e) {
    if (!(e instanceof Unauthorized)) note.textContent = t("err.unreachable", { why: e.message });
  } finally {
    inflight = false;
  }
}

function style(name) {
  if (!styles.has(name)) {
    // Each chart counts its own series: its first is solid, its second dashed…
    const i = [...styles.keys()].filter((k) => k.startsWith("subnet:") === name.startsWith("subnet:")).length;
    // Colours and dashes cycle at different lengths: pairs repeat late.
    styles.set(name, { colour: PALETTE[i % PALETTE.length], dash: DASHES[i % DASHES.length] });
  }
  return styles.get(name);
}

function draw() {
  const now = serverNow();
  // One span for both charts, fitted to what they show.
  let first = now;
  for (const s of samples) first = Math.min(first, Date.parse(s.at));
  for (const c of cycles) first = Math.min(first, Date.parse(c.started_at));
  // From the first point on: a young run's points fill the width (a very
  // young one's leave room on the right, never squeezed against it).
  const t0 = Math.max(now - WINDOW, first);
  document.getElementById("charts-title").textContent = now - t0 >= WINDOW - 1000 ? t("charts.last_hour") : t("charts.since", { t: hhmm(t0), d: duration((now - t0) / 1000) });
  drawProcesses(t0, now);
  drawCycles(t0, now);
}

// dodge is series i's vertical offset in pixels, of n: equal values are
// drawn side by side instead of on top of each other.
function dodge(i, n) {
  if (n < 2) return 0;
  const gap = Math.min(4, 16 / (n - 1));
  return (i - (n - 1) / 2) * gap;
}

// ---------------------------------------------------------------- processes

function drawProcesses(t0, now) {
  const byCam = group(samples, (s) => s.camera);
  const box = document.getElementById("chart-processes");
  const legend = document.getElementById("legend-processes");
  if (byCam.size === 0) {
    box.replaceChildren(el("p", { class: "muted", i18n: { text: "charts.procs.none" } }));
    legend.replaceChildren();
    return;
  }
  let top = 1;
  for (const s of samples) top = Math.max(top, s.processes || 0, s.max_connections || 0);
  const frame = axes(box, t0, Math.max(now, t0 + MIN_SPAN), top + 1, (v) => String(v), true);
  const root = frame.svg;
  root.dataset.chart = "processes";
  root.dataset.series = String(byCam.size);
  root.dataset.points = String(samples.length);
  root.dataset.from = String(t0);
  root.dataset.step = String(sampleStep);
  const items = [];
  const summary = [];
  const cams = [...byCam.entries()].sort(([a], [b]) => a.localeCompare(b));
  const labels = [];
  cams.forEach(([cam, pts], i) => {
    const { colour, dash } = style(cam);
    const name = nameOf(cam);
    const off = dodge(i, cams.length);
    const series = pts.map((p) => ({ t: Date.parse(p.at), v: p.processes || 0, budget: p.max_connections || 0 }));
    const last = series[series.length - 1];
    root.append(svg("path", {
      d: line(series, frame, (p) => p.budget, { step: true, off, end: now }), class: "budget", stroke: colour, "stroke-dasharray": BUDGET_DASH,
      "data-camera": cam, "data-line": "budget", "data-offset": off.toFixed(1),
    }));
    root.append(svg("path", {
      d: line(series, frame, (p) => p.v, { step: true, off, end: Math.min(last.t + sampleStep, now) }), class: "series", stroke: colour, "stroke-dasharray": dash || null,
      "data-camera": cam, "data-line": "processes", "data-offset": off.toFixed(1),
    }));
    root.append(svg("circle", { cx: frame.x(last.t), cy: frame.y(last.v) + off, r: 3, fill: colour },
      svg("title", { text: t("charts.procs.point", { name, n: last.v, step: millis(sampleStep), t: clock(last.t) }) })));
    labels.push({ y: frame.y(last.budget) + off, text: `${name} ≤${last.budget}`, colour });
    const peak = Math.max(...series.map((p) => p.v));
    const over = series.some((p) => p.v > p.budget);
    items.push(el("li", { dataset: { camera: cam } },
      swatch(colour, dash),
      el("strong", { translate: "no" }, `${name}:`), ` ${t("charts.procs.item", { step: millis(sampleStep), n: last.v, peak, budget: last.budget })} `,
      swatch(colour, BUDGET_DASH, true),
      over ? el("span", { class: "badge bad", i18n: { text: "charts.over" } }) : null));
    summary.push(`${name}: ${t("charts.procs.summary", { n: last.v, peak, budget: last.budget })}${over ? `, ${t("charts.over")}` : ""}`);
  });
  // Budget labels at the right edge, pushed apart when they would overlap.
  labels.sort((a, b) => a.y - b.y);
  let prev = -Infinity;
  for (const l of labels) {
    const y = Math.max(l.y + 4, prev + 12);
    prev = y;
    root.append(svg("text", { x: frame.right + 4, y, class: "budget-label", fill: l.colour, text: l.text }));
  }
  root.setAttribute("aria-label", t("charts.procs.label", { t: clock(t0), summary: summary.join("; ") }));
  legend.replaceChildren(...items);
  renderTotal();
}

// renderTotal is the legend's line for all cameras: the header's numbers,
// the same instant, so the two never disagree.
function renderTotal() {
  const p = document.getElementById("legend-total");
  if (!p) return;
  if (!header) {
    p.textContent = "";
    return;
  }
  p.textContent = t("charts.total", { n: header.processes, budget: header.budget, step: millis(sampleStep) });
  p.dataset.processes = String(header.processes);
  p.dataset.budget = String(header.budget);
}

// swatch is a short sample of a line's colour and dash, for the legend.
function swatch(colour, dash, thin) {
  return svg("svg", { class: "swatch", width: 28, height: 10, viewBox: "0 0 28 10", "aria-hidden": "true" },
    svg("line", { x1: 1, x2: 27, y1: 5, y2: 5, stroke: colour, "stroke-width": thin ? 1.5 : 2.5, "stroke-dasharray": dash || null }));
}

// ---------------------------------------------------------------- cycles

function drawCycles(t0, now) {
  const bySubnet = group(cycles.filter((c) => Date.parse(c.started_at) >= t0), (c) => c.subnet);
  const box = document.getElementById("chart-cycles");
  const legend = document.getElementById("legend-cycles");
  if (bySubnet.size === 0) {
    box.replaceChildren(el("p", { class: "muted", i18n: { text: "charts.cycles.none" } }));
    legend.replaceChildren();
    return;
  }
  let top = 0.1;
  for (const c of cycles) top = Math.max(top, (c.duration_ms || 0) / 1000, (c.interval_ms || 0) / 1000);
  const frame = axes(box, t0, Math.max(now, t0 + MIN_SPAN), top * 1.1, (v) => `${fmtSeconds(v)}`, false);
  const root = frame.svg;
  root.dataset.chart = "cycles";
  root.dataset.series = String(bySubnet.size);
  root.dataset.points = String(cycles.length);
  const items = [];
  const summary = [];
  const subnets = [...bySubnet.entries()].sort(([a], [b]) => a.localeCompare(b));
  subnets.forEach(([subnet, pts], i) => {
    const { colour, dash } = style(`subnet:${subnet}`);
    const off = dodge(i, subnets.length);
    const series = pts.map((p) => ({ t: Date.parse(p.started_at), v: (p.duration_ms || 0) / 1000, budget: (p.interval_ms || 0) / 1000, over: !!p.overran, n: p.number }));
    root.append(svg("path", { d: line(series, frame, (p) => p.budget, { step: true, off, gap: Infinity, end: now }), class: "budget", stroke: colour, "stroke-dasharray": BUDGET_DASH, "data-subnet": subnet, "data-line": "interval" }));
    root.append(svg("path", { d: line(series, frame, (p) => p.v, { off, gap: Infinity }), class: "series", stroke: colour, "stroke-dasharray": dash || null, "data-subnet": subnet, "data-line": "duration" }));
    for (const p of series) {
      if (series.length <= 120) root.append(svg("circle", { cx: frame.x(p.t), cy: frame.y(p.v) + off, r: 2.5, fill: colour, "data-subnet": subnet, "data-point": "cycle" }));
      if (!p.over) continue;
      root.append(svg("circle", { cx: frame.x(p.t), cy: frame.y(p.v) + off, r: 5, class: "overran", stroke: colour },
        svg("title", { text: t("charts.cycles.overran", { n: p.n, subnet, d: millis(p.v * 1000) }) })));
    }
    const last = series[series.length - 1];
    const overs = series.filter((p) => p.over).length;
    items.push(el("li", { dataset: { subnet } },
      swatch(colour, dash),
      el("strong", { translate: "no" }, `${subnet}:`), ` ${t("charts.cycles.item", { d: millis(last.v * 1000), interval: millis(last.budget * 1000), n: series.length })} `,
      swatch(colour, BUDGET_DASH, true),
      overs ? el("span", { class: "badge bad" }, t("charts.cycles.overs", { n: overs })) : null));
    summary.push(`${subnet} ${t("charts.cycles.summary", { d: millis(last.v * 1000), n: overs })}`);
  });
  root.setAttribute("aria-label", t("charts.cycles.label", { t: clock(t0), summary: summary.join("; ") }));
  legend.replaceChildren(...items);
}

// ---------------------------------------------------------------- drawing

function group(rows, key) {
  const m = new Map();
  for (const r of rows) {
    const k = key(r);
    if (!m.has(k)) m.set(k, []);
    m.get(k).push(r);
  }
  return m;
}

function fmtSeconds(v) {
  if (v === 0) return "0";
  if (v < 1) return t("unit.ms", { n: Math.round(v * 1000) });
  return t("unit.s", { n: Number(v.toFixed(1)) });
}

// TIME_TICKS are the spacings the time axis may use, finest first.
const TIME_TICKS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800].map((s) => s * 1000);

// axes draws the frame of a chart into box: t0..t1 across, 0..top up;
// integer ticks when ints. It returns the svg and the scales.
function axes(box, t0, t1, top, label, ints) {
  const width = Math.max(280, Math.floor(box.clientWidth || 600));
  const w = width - M.l - M.r;
  const h = HEIGHT - M.t - M.b;
  const span = Math.max(t1 - t0, 1);
  const x = (t) => M.l + ((t - t0) / span) * w;
  const y = (v) => M.t + h - (v / top) * h;
  const root = svg("svg", { width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: "img", class: "plot" });
  const grid = svg("g", { class: "grid" });
  for (const v of ticks(top, ints)) {
    grid.append(svg("line", { x1: M.l, x2: M.l + w, y1: y(v), y2: y(v) }));
    grid.append(svg("text", { x: M.l - 6, y: y(v) + 4, "text-anchor": "end", text: label(v) }));
  }
  // About one label per 90 px.
  const step = TIME_TICKS.find((s) => (s / span) * w >= 90) || 3600 * 1000;
  const withSeconds = step < 60000;
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    grid.append(svg("line", { x1: x(t), x2: x(t), y1: M.t, y2: M.t + h, class: "vgrid" }));
    grid.append(svg("text", { x: x(t), y: HEIGHT - 8, "text-anchor": "middle", text: withSeconds ? clock(t) : hhmm(t) }));
  }
  grid.append(svg("line", { x1: M.l, x2: M.l + w, y1: M.t + h, y2: M.t + h, class: "axis" }));
  root.append(grid);
  box.replaceChildren(root);
  return { svg: root, x, y, t0, right: M.l + w };
}

function ticks(top, ints) {
  const out = [];
  if (ints) {
    const step = Math.max(1, Math.ceil(top / 5));
    for (let v = 0; v <= top; v += step) out.push(v);
    return out;
  }
  const raw = top / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  for (let v = 0; v <= top + 1e-9; v += step) out.push(v);
  return out;
}

// line is an SVG path through the points inside the window, off pixels
// down. With step it is a step line: a value holds until the next point
// (a budget changes at a sample, a step's most holds for the step), and
// the last one holds until `end`. Points further apart than gap start a
// new segment.
function line(points, frame, val, { step = false, off = 0, gap = 3 * sampleStep, end = null } = {}) {
  let d = "";
  let prev = null;
  for (const p of points) {
    if (p.t < frame.t0) continue;
    const px = frame.x(p.t).toFixed(1);
    const py = (frame.y(val(p)) + off).toFixed(1);
    if (prev === null || p.t - prev.t > gap) {
      if (prev !== null && step) d += `H${frame.x(Math.min(prev.t + sampleStep, p.t)).toFixed(1)}`;
      d += `M${px},${py}`;
    } else if (step) d += `H${px}V${py}`;
    else d += `L${px},${py}`;
    prev = p;
  }
  if (step && d && end !== null) d += `H${Math.min(frame.x(end), frame.right).toFixed(1)}`;
  return d || "M0,0";
}

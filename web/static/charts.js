// The last hour as two SVG charts, drawn here (no library):
//  - live ffmpeg processes per camera, each against its max_connections —
//    the picture that shows a process leak at a glance;
//  - cycle duration per subnet against its interval.
// Refreshed every 10 s while the view shows; live `cycle` messages are
// added in between.

import { api, errorText, el, svg, clock, hhmm, millis, PALETTE, Unauthorized, serverNow } from "./util.js";

const REFRESH_EVERY = 10000;
const WINDOW = 60 * 60 * 1000;
const HEIGHT = 240;
const M = { l: 56, r: 14, t: 12, b: 26 }; // margins
const GAP = 150 * 1000; // samples (one a minute) further apart than this are not joined

let timer = null;
let visible = false;
let samples = [];
let cycles = [];
let inflight = false;
const colours = new Map(); // series name -> colour, stable across refreshes
let observer = null;
let redrawQueued = false;

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

async function refresh() {
  if (inflight) return;
  inflight = true;
  const note = document.getElementById("charts-updated");
  try {
    const [s, c] = await Promise.all([api("GET", "api/samples?since=1h"), api("GET", "api/cycles?since=1h")]);
    if (s.ok) samples = s.data.samples || [];
    if (c.ok) cycles = c.data.cycles || [];
    const errs = [s, c].filter((r) => !r.ok).map(errorText);
    note.textContent = errs.length ? `Cannot load: ${errs.join("; ")}` : `updated ${clock(Date.now())}`;
    if (visible) draw();
  } catch (e) {
    if (!(e instanceof Unauthorized)) note.textContent = `Cannot reach the server: ${e.message}`;
  } finally {
    inflight = false;
  }
}

function colour(name) {
  if (!colours.has(name)) colours.set(name, PALETTE[colours.size % PALETTE.length]);
  return colours.get(name);
}

function draw() {
  const now = serverNow();
  drawProcesses(now);
  drawCycles(now);
}

// ---------------------------------------------------------------- processes

function drawProcesses(now) {
  const byCam = group(samples, (s) => s.camera);
  const box = document.getElementById("chart-processes");
  const legend = document.getElementById("legend-processes");
  if (byCam.size === 0) {
    box.replaceChildren(el("p", { class: "muted" }, "No process samples in the last hour yet."));
    legend.replaceChildren();
    return;
  }
  let top = 1;
  for (const s of samples) top = Math.max(top, s.processes || 0, s.max_connections || 0);
  const frame = axes(box, now, top + 1, (v) => String(v), true);
  const root = frame.svg;
  root.dataset.chart = "processes";
  root.dataset.series = String(byCam.size);
  root.dataset.points = String(samples.length);
  const items = [];
  const summary = [];
  for (const [cam, pts] of [...byCam.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const c = colour(cam);
    const series = pts.map((p) => ({ t: Date.parse(p.at), v: p.processes || 0, budget: p.max_connections || 0 }));
    root.append(svg("path", { d: line(series, frame, (p) => p.budget, true), class: "budget", stroke: c, "data-camera": cam, "data-line": "budget" }));
    root.append(svg("path", { d: line(series, frame, (p) => p.v, false), class: "series", stroke: c, "data-camera": cam, "data-line": "processes" }));
    const last = series[series.length - 1];
    root.append(svg("circle", { cx: frame.x(last.t), cy: frame.y(last.v), r: 3, fill: c },
      svg("title", { text: `${cam}: ${last.v} at ${clock(last.t)}` })));
    const peak = Math.max(...series.map((p) => p.v));
    const budget = last.budget;
    const over = series.some((p) => p.v > p.budget);
    items.push(el("li", { dataset: { camera: cam } },
      el("span", { class: "swatch", style: `background:${c}` }),
      el("strong", {}, `${cam}:`), ` now ${last.v} · peak ${peak} · budget ${budget}`,
      over ? el("span", { class: "badge bad" }, "over budget") : null));
    summary.push(`${cam} now ${last.v}, peak ${peak}, budget ${budget}${over ? ", over budget" : ""}`);
  }
  root.setAttribute("aria-label", `ffmpeg processes per camera, last hour: ${summary.join("; ")}`);
  legend.replaceChildren(...items);
}

// ---------------------------------------------------------------- cycles

function drawCycles(now) {
  const bySubnet = group(cycles, (c) => c.subnet);
  const box = document.getElementById("chart-cycles");
  const legend = document.getElementById("legend-cycles");
  if (bySubnet.size === 0) {
    box.replaceChildren(el("p", { class: "muted" }, "No cycle in the last hour yet."));
    legend.replaceChildren();
    return;
  }
  let top = 0.1;
  for (const c of cycles) top = Math.max(top, (c.duration_ms || 0) / 1000, (c.interval_ms || 0) / 1000);
  const frame = axes(box, now, top * 1.1, (v) => `${fmtSeconds(v)}`, false);
  const root = frame.svg;
  root.dataset.chart = "cycles";
  root.dataset.series = String(bySubnet.size);
  root.dataset.points = String(cycles.length);
  const items = [];
  const summary = [];
  for (const [subnet, pts] of [...bySubnet.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const c = colour(`subnet:${subnet}`);
    const series = pts.map((p) => ({ t: Date.parse(p.started_at), v: (p.duration_ms || 0) / 1000, budget: (p.interval_ms || 0) / 1000, over: !!p.overran, n: p.number }))
      .filter((p) => p.t >= now - WINDOW);
    if (series.length === 0) continue;
    root.append(svg("path", { d: line(series, frame, (p) => p.budget, true), class: "budget", stroke: c, "data-subnet": subnet, "data-line": "interval" }));
    root.append(svg("path", { d: line(series, frame, (p) => p.v, false, Infinity), class: "series", stroke: c, "data-subnet": subnet, "data-line": "duration" }));
    for (const p of series) {
      if (!p.over) continue;
      root.append(svg("circle", { cx: frame.x(p.t), cy: frame.y(p.v), r: 5, class: "overran", stroke: c },
        svg("title", { text: `cycle ${p.n} of ${subnet} overran: ${millis(p.v * 1000)}` })));
    }
    const last = series[series.length - 1];
    const overs = series.filter((p) => p.over).length;
    items.push(el("li", { dataset: { subnet } },
      el("span", { class: "swatch", style: `background:${c}` }),
      el("strong", {}, `${subnet}:`), ` last ${millis(last.v * 1000)} of ${millis(last.budget * 1000)} · ${series.length} cycles`,
      overs ? el("span", { class: "badge bad" }, `${overs} overran`) : null));
    summary.push(`${subnet} last ${millis(last.v * 1000)}, ${overs} overran`);
  }
  root.setAttribute("aria-label", `Cycle duration per subnet, last hour: ${summary.join("; ")}`);
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
  if (v < 1) return `${Math.round(v * 1000)} ms`;
  return `${Number(v.toFixed(1))} s`;
}

// axes draws the frame of a chart into box: the last hour across, 0..top
// up; integer ticks when ints. It returns the svg and the scales.
function axes(box, now, top, label, ints) {
  const width = Math.max(280, Math.floor(box.clientWidth || 600));
  const w = width - M.l - M.r;
  const h = HEIGHT - M.t - M.b;
  const t0 = now - WINDOW;
  const x = (t) => M.l + ((t - t0) / WINDOW) * w;
  const y = (v) => M.t + h - (v / top) * h;
  const root = svg("svg", { width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: "img", class: "plot" });
  const grid = svg("g", { class: "grid" });
  for (const v of ticks(top, ints)) {
    grid.append(svg("line", { x1: M.l, x2: M.l + w, y1: y(v), y2: y(v) }));
    grid.append(svg("text", { x: M.l - 6, y: y(v) + 4, "text-anchor": "end", text: label(v) }));
  }
  const step = 10 * 60 * 1000;
  for (let t = Math.ceil(t0 / step) * step; t <= now; t += step) {
    grid.append(svg("line", { x1: x(t), x2: x(t), y1: M.t, y2: M.t + h, class: "vgrid" }));
    grid.append(svg("text", { x: x(t), y: HEIGHT - 8, "text-anchor": "middle", text: hhmm(t) }));
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

// line is an SVG path through the points inside the window; step draws a
// step line (a budget changes at a sample, it does not slope); points
// further apart than gap start a new segment.
function line(points, frame, val, step, gap = GAP) {
  let d = "";
  let prev = null;
  for (const p of points) {
    if (p.t < frame.t0) continue;
    const px = frame.x(p.t).toFixed(1);
    const py = frame.y(val(p)).toFixed(1);
    if (prev === null || p.t - prev.t > gap) d += `M${px},${py}`;
    else if (step) d += `H${px}V${py}`;
    else d += `L${px},${py}`;
    prev = p;
  }
  // A budget holds until it changes: carry the last one to the right edge.
  if (step && d) d += `H${frame.right.toFixed(1)}`;
  return d || "M0,0";
}

// leadcal's band chart (ui/band_chart.py): an SVG drawn from the numbers the server sends
// (scoring/export/band_figure.py), redrawn only when they or the width change. Every label is set
// with textContent, never as markup. In the page's DOM (not a shadow root), so the class names carry
// leadcal's prefix.
const SVG = "http://www.w3.org/2000/svg";
const HEIGHT = 480;
const MARGIN = { top: 30, right: 76, bottom: 48, left: 70 };

export default function (component) {
  const { data, parentElement } = component;
  let box = parentElement.querySelector(".lc-band-chart");
  if (!box) {
    box = build();
    parentElement.append(box);
    box.__lcWidth = box.clientWidth;  // the one layout read outside the observer, when the chart is new
  }
  box.__lcData = data;
  const key = JSON.stringify(data);
  if (box.__lcKey !== key) {  // called again with the same numbers: nothing to do, and nothing read from layout
    box.__lcKey = key;
    draw(box);
  }
  if (!box.__lcObserver) {  // the width follows the page's column: redraw when it changes
    box.__lcObserver = new ResizeObserver(([entry]) => {
      const width = Math.round(entry.contentRect.width);
      if (width !== box.__lcWidth) { box.__lcWidth = width; draw(box); }
    });
    box.__lcObserver.observe(box);
  }
  return () => {
    if (box.__lcObserver) box.__lcObserver.disconnect();
    box.__lcObserver = null;
  };
}

function node(tag, attrs, parent) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  if (parent) parent.append(el);
  return el;
}

function html(tag, className, parent) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (parent) parent.append(el);
  return el;
}

function build() {
  const box = html("div", "lc-band-chart");
  box.setAttribute("data-testid", "leadcal-band-chart");
  const svg = node("svg", { role: "group", height: HEIGHT, class: "lc-band-svg" }, box);
  svg.setAttribute("aria-label", "Conversion by score band (the band table has the same numbers)");
  html("div", "lc-band-legend", box);
  const tip = html("div", "lc-band-tip", box);
  tip.setAttribute("role", "tooltip");
  tip.hidden = true;
  svg.addEventListener("pointermove", (e) => {
    const mark = e.target.closest("[data-lc-mark]");
    if (!mark || !mark.__lcTip) { tip.hidden = true; return; }
    tip.replaceChildren(...mark.__lcTip.map(([k, v]) => {
      const row = html("div", "lc-band-tip-row");
      html("span", "lc-band-tip-key", row).textContent = k;
      html("span", "lc-band-tip-value", row).textContent = v;
      return row;
    }));
    tip.hidden = false;
    const room = box.clientWidth - tip.offsetWidth - 4;
    tip.style.left = `${Math.max(0, Math.min(e.offsetX + 14, room))}px`;
    tip.style.top = `${Math.max(0, e.offsetY - tip.offsetHeight - 10)}px`;
  });
  svg.addEventListener("pointerleave", () => { tip.hidden = true; });
  return box;
}

// Ticks at 1, 2 or 5 times a power of ten, from zero to at least ``max`` (``whole``: steps of at least 1).
function ticks(max, count, whole) {
  const top = max > 0 ? max : 1;
  const raw = top / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  let step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * power;
  if (whole) step = Math.max(1, Math.round(step));
  const steps = Math.ceil(top / step - 1e-9);
  const values = Array.from({ length: steps + 1 }, (_, i) => i * step);
  const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return { top: steps * step, values, digits };
}

const whole = (v) => Math.round(v).toLocaleString("en-US");
const pct = (v, digits = 1) => `${v.toFixed(digits)}%`;

function finite(v) { return typeof v === "number" && Number.isFinite(v); }

// Runs of consecutive points where ``ok`` holds: a band without a rate breaks the line.
function runs(points, ok) {
  const out = [];
  let run = [];
  for (const p of points) {
    if (ok(p)) run.push(p); else if (run.length) { out.push(run); run = []; }
  }
  if (run.length) out.push(run);
  return out;
}

// A mark the pointer and screen readers can read: its series and fields as its label, the fields as its tooltip.
function mark(item, series, fields) {
  Object.assign(item.attrs, { "data-lc-mark": "", role: "img",
    "aria-label": [["series", series], ...fields].map(([k, v]) => `${k}: ${v}`).join("; ") });
  item.tip = fields;
  return item;
}

function bandFields(p, unit) {
  const out = [["band", p.band]];
  if (finite(p.rate)) out.push(["conversion (%)", p.rate.toFixed(1)]);
  out.push(["converted", whole(p.conversions)], [`mature ${unit}`, whole(p.leads)]);
  if (finite(p.lo) && finite(p.hi)) out.push(["95% interval", `${pct(p.lo)} to ${pct(p.hi)}`]);
  return out;
}

function draw(box) {
  const d = box.__lcData || {};
  const bands = d.bands || [];
  const approved = d.approved || [];
  const svg = box.querySelector(".lc-band-svg");
  const width = Math.max(box.__lcWidth || 0, 360);
  if (svg.getAttribute("width") !== String(width)) {
    svg.setAttribute("width", width);
    svg.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
  }
  legend(box, d.legend || []);
  render(svg, scene(d, bands, approved, width));
}

// The chart as a flat list of SVG elements to draw, in drawing order: {tag, attrs, text, tip}.
function scene(d, bands, approved, width) {
  const items = [];
  let layer = "axes";  // the chart is drawn in layers (LAYERS), each reconciled on its own
  const item = (tag, attrs, text) => { const it = { tag, attrs, text, layer }; items.push(it); return it; };
  const n = bands.length;
  if (!n) return items;
  const unit = d.unit || "leads";
  const colour = Object.fromEntries((d.legend || []).map((s) => [s.mark, s.colour]));
  const names = Object.fromEntries((d.legend || []).map((s) => [s.mark, s.name]));
  const left = MARGIN.left, right = width - MARGIN.right, top = MARGIN.top, bottom = HEIGHT - MARGIN.bottom;
  const x = (v) => left + ((v + 0.5) / n) * (right - left);
  const rateValues = [...bands, ...approved].flatMap((p) => [p.rate, p.hi, p.lo]).filter(finite);
  const rates = ticks(Math.max(0, ...rateValues), 9, false);
  const leads = ticks(Math.max(0, ...bands.map((b) => b.leads)), 8, true);
  const ry = (v) => bottom - (v / rates.top) * (bottom - top);
  const ly = (v) => bottom - (v / leads.top) * (bottom - top);
  const title = (axis, text, tx, ty, angle) => item("text", { class: "lc-axis-title", "data-axis": axis, x: tx, y: ty,
    "text-anchor": "middle", transform: angle ? `rotate(${angle} ${tx} ${ty})` : "" }, text);

  // the rate axis' grid and ticks (left), the lead axis' ticks (right), the bands (bottom)
  for (const v of rates.values) {
    item("line", { class: "lc-grid", x1: left, x2: right, y1: ry(v), y2: ry(v) });
    item("text", { class: "lc-tick", "data-axis": "conversion rate", x: left - 8, y: ry(v), "text-anchor": "end",
      "dominant-baseline": "middle" }, pct(v, rates.digits));
  }
  title("conversion rate", "conversion rate", 18, (top + bottom) / 2, -90);
  for (const v of leads.values) {
    item("text", { class: "lc-tick", "data-axis": `mature ${unit}`, x: right + 8, y: ly(v),
      "dominant-baseline": "middle" }, whole(v));
  }
  title(`mature ${unit}`, `mature ${unit}`, width - 14, (top + bottom) / 2, 90);
  item("line", { class: "lc-domain", x1: left, x2: right, y1: bottom, y2: bottom });
  bands.forEach((b, i) => item("text", { class: "lc-tick", "data-axis": "score band", x: x(i), y: bottom + 18,
    "text-anchor": "middle" }, b.band));
  title("score band", "score band", (left + right) / 2, HEIGHT - 8, 0);

  // mature leads as bars on the right axis
  layer = "bars";
  for (const b of bands) {
    const y0 = ly(b.leads);
    mark(item("rect", { class: "lc-bar", x: x(b.x0), width: Math.max(0, x(b.x1) - x(b.x0)), y: y0,
      height: Math.max(0, bottom - y0), fill: colour.bar }), names.bar, [["band", b.band], [`mature ${unit}`, whole(b.leads)]]);
  }
  // the draft's 95% interval, shaded
  layer = "interval";
  for (const run of runs(bands, (p) => finite(p.lo) && finite(p.hi))) {
    const upper = run.map((p) => `${x(p.x)},${ry(p.hi)}`);
    const lower = run.slice().reverse().map((p) => `${x(p.x)},${ry(p.lo)}`);
    item("polygon", { class: "lc-interval", points: [...upper, ...lower].join(" "), fill: colour.area, "aria-hidden": "true" });
  }
  // the approved model: whiskers, a dashed line (same cuts) or a dashed step over its own scores
  layer = "approved";
  if (approved.length) {
    const c = colour.approved;
    for (const p of approved) {
      if (finite(p.lo) && finite(p.hi)) {
        item("line", { class: "lc-whisker", x1: x(p.x), x2: x(p.x), y1: ry(p.lo), y2: ry(p.hi), stroke: c, "aria-hidden": "true" });
      }
    }
    if (d.aligned) {
      for (const run of runs(approved, (p) => finite(p.rate))) {
        item("polyline", { class: "lc-approved", points: run.map((p) => `${x(p.x)},${ry(p.rate)}`).join(" "), stroke: c,
          "aria-hidden": "true" });
      }
    } else {
      for (const p of approved.filter((q) => finite(q.rate))) {
        mark(item("line", { class: "lc-approved lc-step", x1: x(p.x0), x2: x(p.x1), y1: ry(p.rate), y2: ry(p.rate),
          stroke: c, "data-x0": p.x0, "data-x1": p.x1 }), names.approved, bandFields(p, unit));
      }
    }
    for (const p of approved.filter((q) => finite(q.rate))) {
      mark(item("path", { class: "lc-diamond", d: diamond(x(p.x), ry(p.rate), 7), fill: c }), names.approved,
        bandFields(p, unit));
    }
  }
  // the draft's conversion, over the approved model's
  layer = "draft";
  for (const run of runs(bands, (p) => finite(p.rate))) {
    item("polyline", { class: "lc-line", points: run.map((p) => `${x(p.x)},${ry(p.rate)}`).join(" "), stroke: colour.line,
      "aria-hidden": "true" });
  }
  for (const p of bands.filter((q) => finite(q.rate))) {
    mark(item("circle", { class: "lc-point", cx: x(p.x), cy: ry(p.rate), r: 5, fill: colour.line }), names.line,
      bandFields(p, unit));
  }
  // thresholds: the draft's solid and labelled above, the approved model's dotted and labelled inside
  layer = "thresholds";
  for (const line of d.lines || []) {
    const c = line.approved ? colour.approved : colour.line;
    const at = x(line.x);
    item("line", { class: line.approved ? "lc-threshold lc-threshold-approved" : "lc-threshold", x1: at, x2: at,
      y1: top, y2: bottom, stroke: c });
    if (line.approved) {
      item("text", { class: "lc-threshold-label lc-approved-label", x: at - 4, y: top + 6, "text-anchor": "end",
        "dominant-baseline": "hanging", style: `fill: ${c}` }, line.label);
    } else {
      item("text", { class: "lc-threshold-label", x: at, y: top - 6, "text-anchor": "middle" }, line.label);
    }
  }
  return items;
}

const LAYERS = ["axes", "bars", "interval", "approved", "draft", "thresholds"];

// Draws ``items`` into ``svg``, layer by layer: where a layer has the same elements as before (a move changes
// numbers, not the chart's make-up) only the attributes and texts that changed are set; else that layer's
// elements are made anew (new ticks on an axis do not remake the marks).
function render(svg, items) {
  if (svg.children.length !== LAYERS.length) {
    svg.replaceChildren(...LAYERS.map((name) => node("g", { "data-layer": name })));
  }
  LAYERS.forEach((name, i) => renderLayer(svg.children[i], items.filter((it) => it.layer === name)));
}

function renderLayer(g, items) {
  const kids = g.children;
  if (kids.length !== items.length || items.some((it, i) => kids[i].localName !== it.tag)) {
    g.replaceChildren(...items.map((it) => {
      const el = node(it.tag, it.attrs);
      if (it.text != null) el.textContent = it.text;
      el.__lcTip = it.tip;
      el.__lcKeys = Object.keys(it.attrs);
      return el;
    }));
    return;
  }
  items.forEach((it, i) => {
    const el = kids[i];
    for (const [k, v] of Object.entries(it.attrs)) {
      if (el.getAttribute(k) !== String(v)) el.setAttribute(k, v);
    }
    for (const k of el.__lcKeys) if (!(k in it.attrs)) el.removeAttribute(k);
    el.__lcKeys = Object.keys(it.attrs);
    if (it.text != null && el.textContent !== it.text) el.textContent = it.text;
    el.__lcTip = it.tip;
  });
}

function diamond(cx, cy, r) {
  return `M${cx},${cy - r}L${cx + r},${cy}L${cx},${cy + r}L${cx - r},${cy}Z`;
}

function legend(box, series) {
  const shape = JSON.stringify(series);
  const el = box.querySelector(".lc-band-legend");
  if (el.dataset.shape === shape) return;
  el.dataset.shape = shape;
  el.replaceChildren(...series.map((s) => {
    const item = html("span", "lc-band-legend-item");
    const swatch = html("span", `lc-swatch lc-swatch-${s.mark}`, item);
    swatch.style.setProperty("--lc-swatch", s.colour);
    swatch.setAttribute("aria-hidden", "true");
    html("span", "lc-band-legend-name", item).textContent = s.name;
    return item;
  }));
}

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
  }
  box.__lcData = data;
  const key = JSON.stringify(data);
  if (box.__lcKey !== key || box.__lcWidth !== box.clientWidth) {
    box.__lcKey = key;
    draw(box);
  }
  if (!box.__lcObserver) {  // the width follows the page's column: redraw when it changes
    box.__lcObserver = new ResizeObserver(() => { if (box.clientWidth !== box.__lcWidth) draw(box); });
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

function mark(el, series, fields, tip) {
  el.setAttribute("data-lc-mark", "");
  el.setAttribute("role", "img");
  el.setAttribute("aria-label", [["series", series], ...fields].map(([k, v]) => `${k}: ${v}`).join("; "));
  el.__lcTip = tip || fields;
  return el;
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
  const width = Math.max(box.clientWidth, 360);
  box.__lcWidth = box.clientWidth;
  svg.setAttribute("width", width);
  svg.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
  legend(box, d.legend || []);
  const n = bands.length;
  if (!n) { svg.replaceChildren(); return; }
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
  const g = node("g");

  // the rate axis' grid and ticks (left), the lead axis' ticks (right), the bands (bottom)
  const rateAxis = node("g", { class: "lc-axis", "data-title": "conversion rate" }, g);
  for (const v of rates.values) {
    node("line", { class: "lc-grid", x1: left, x2: right, y1: ry(v), y2: ry(v) }, rateAxis);
    node("text", { class: "lc-tick", x: left - 8, y: ry(v), "text-anchor": "end", "dominant-baseline": "middle" },
      rateAxis).textContent = pct(v, rates.digits);
  }
  title(rateAxis, "conversion rate", 18, (top + bottom) / 2, -90);
  const leadAxis = node("g", { class: "lc-axis", "data-title": `mature ${unit}` }, g);
  for (const v of leads.values) {
    node("text", { class: "lc-tick", x: right + 8, y: ly(v), "dominant-baseline": "middle" }, leadAxis).textContent = whole(v);
  }
  title(leadAxis, `mature ${unit}`, width - 14, (top + bottom) / 2, 90);
  const bandAxis = node("g", { class: "lc-axis", "data-title": "score band" }, g);
  node("line", { class: "lc-domain", x1: left, x2: right, y1: bottom, y2: bottom }, bandAxis);
  bands.forEach((b, i) => {
    node("text", { class: "lc-tick", x: x(i), y: bottom + 18, "text-anchor": "middle" }, bandAxis).textContent = b.band;
  });
  title(bandAxis, "score band", (left + right) / 2, HEIGHT - 8, 0);

  // mature leads as bars on the right axis
  for (const b of bands) {
    const y0 = ly(b.leads);
    mark(node("rect", { class: "lc-bar", x: x(b.x0), width: Math.max(0, x(b.x1) - x(b.x0)), y: y0,
      height: Math.max(0, bottom - y0), fill: colour.bar }, g),
    names.bar, [["band", b.band], [`mature ${unit}`, whole(b.leads)]]);
  }
  // the draft's 95% interval, shaded
  for (const run of runs(bands, (p) => finite(p.lo) && finite(p.hi))) {
    const upper = run.map((p) => `${x(p.x)},${ry(p.hi)}`);
    const lower = run.slice().reverse().map((p) => `${x(p.x)},${ry(p.lo)}`);
    node("polygon", { class: "lc-interval", points: [...upper, ...lower].join(" "), fill: colour.area,
      "aria-hidden": "true" }, g);
  }
  // the approved model: whiskers, a dashed line (same cuts) or a dashed step over its own scores
  if (approved.length) {
    const c = colour.approved;
    for (const p of approved) {
      if (finite(p.lo) && finite(p.hi)) {
        node("line", { class: "lc-whisker", x1: x(p.x), x2: x(p.x), y1: ry(p.lo), y2: ry(p.hi), stroke: c,
          "aria-hidden": "true" }, g);
      }
    }
    if (d.aligned) {
      for (const run of runs(approved, (p) => finite(p.rate))) {
        node("polyline", { class: "lc-approved", points: run.map((p) => `${x(p.x)},${ry(p.rate)}`).join(" "),
          stroke: c, "aria-hidden": "true" }, g);
      }
    } else {
      for (const p of approved.filter((q) => finite(q.rate))) {
        const step = node("line", { class: "lc-approved lc-step", x1: x(p.x0), x2: x(p.x1), y1: ry(p.rate),
          y2: ry(p.rate), stroke: c, "data-x0": p.x0, "data-x1": p.x1 }, g);
        mark(step, names.approved, bandFields(p, unit));
      }
    }
    for (const p of approved.filter((q) => finite(q.rate))) {
      mark(node("path", { class: "lc-diamond", d: diamond(x(p.x), ry(p.rate), 7), fill: c }, g),
        names.approved, bandFields(p, unit));
    }
  }
  // the draft's conversion, over the approved model's
  for (const run of runs(bands, (p) => finite(p.rate))) {
    node("polyline", { class: "lc-line", points: run.map((p) => `${x(p.x)},${ry(p.rate)}`).join(" "),
      stroke: colour.line, "aria-hidden": "true" }, g);
  }
  for (const p of bands.filter((q) => finite(q.rate))) {
    mark(node("circle", { class: "lc-point", cx: x(p.x), cy: ry(p.rate), r: 5, fill: colour.line }, g),
      names.line, bandFields(p, unit));
  }
  // thresholds: the draft's solid and labelled above, the approved model's dotted and labelled inside
  for (const line of d.lines || []) {
    const c = line.approved ? colour.approved : colour.line;
    const at = x(line.x);
    node("line", { class: line.approved ? "lc-threshold lc-threshold-approved" : "lc-threshold", x1: at, x2: at,
      y1: top, y2: bottom, stroke: c }, g);
    const label = line.approved
      ? node("text", { class: "lc-threshold-label lc-approved-label", x: at - 4, y: top + 6, "text-anchor": "end",
        "dominant-baseline": "hanging", fill: c }, g)
      : node("text", { class: "lc-threshold-label", x: at, y: top - 6, "text-anchor": "middle", fill: c }, g);
    label.textContent = line.label;
  }
  svg.replaceChildren(g);
}

function title(parent, text, x, y, angle) {
  const t = node("text", { class: "lc-axis-title", x, y, "text-anchor": "middle",
    transform: angle ? `rotate(${angle} ${x} ${y})` : "" }, parent);
  t.textContent = text;
  return t;
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

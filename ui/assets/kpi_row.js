// leadcal's KPI rows (ui/kpi_row.py): drawn once, then a move only sets the new figures as text.
// Every string is set with textContent, never as markup. In the page's DOM (not a shadow root), so the
// class names carry leadcal's prefix.
export default function (component) {
  const { data, parentElement } = component;
  const rows = (data && data.rows) || [];
  const shape = JSON.stringify(rows.map((row) => row.map((k) => [k.label, k.help || ""])));
  let box = parentElement.querySelector(".lc-kpis");
  if (!box || box.dataset.shape !== shape) {
    if (box) box.remove();
    box = build(rows);
    box.dataset.shape = shape;
    parentElement.append(box);
  }
  const cards = box.querySelectorAll(".lc-kpi");
  rows.flat().forEach((k, i) => fill(cards[i], k));
}

const ARROWS = { up: "\u2191", down: "\u2193" };

function make(tag, className, parent) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (parent) parent.append(el);
  return el;
}

function build(rows) {
  const box = make("div", "lc-kpis");
  rows.forEach((row) => {
    const line = make("div", "lc-kpi-row", box);
    row.forEach((k) => {
      const card = make("div", "lc-kpi", line);
      card.setAttribute("role", "group");
      card.setAttribute("aria-label", k.label);
      card.setAttribute("data-testid", "leadcal-kpi");
      const label = make("div", "lc-kpi-label", card);
      make("span", "lc-kpi-label-text", label).textContent = k.label;
      if (k.help) {
        window.__leadcalKpiHelp = (window.__leadcalKpiHelp || 0) + 1;  // ids unique in the page
        const id = `lc-kpi-help-${window.__leadcalKpiHelp}`;
        const help = make("span", "lc-kpi-help", label);
        help.tabIndex = 0;
        help.setAttribute("role", "button");
        help.setAttribute("aria-label", `What ${k.label} means`);
        help.setAttribute("aria-describedby", id);
        help.addEventListener("keydown", (e) => { if (e.key === "Escape") help.blur(); });
        make("span", "lc-kpi-help-mark", help).textContent = "?";
        const tip = make("span", "lc-kpi-tip", help);
        tip.id = id;
        tip.setAttribute("role", "tooltip");
        tip.textContent = k.help;
      }
      make("div", "lc-kpi-value", card).setAttribute("data-testid", "leadcal-kpi-value");
      const delta = make("div", "lc-kpi-delta", card);
      delta.setAttribute("data-testid", "leadcal-kpi-delta");
      make("span", "lc-kpi-arrow", delta).setAttribute("aria-hidden", "true");
      make("span", "lc-kpi-delta-text", delta);
    });
  });
  return box;
}

function text(el, value) {  // only what changed: an unchanged figure costs the browser nothing
  if (el.textContent !== value) el.textContent = value;
}

function fill(card, k) {
  text(card.querySelector(".lc-kpi-value"), k.value);
  const delta = card.querySelector(".lc-kpi-delta");
  delta.hidden = k.delta == null;
  const tone = `lc-kpi-delta lc-tone-${k.tone}`;
  if (delta.className !== tone) delta.className = tone;
  text(delta.querySelector(".lc-kpi-arrow"), ARROWS[k.arrow] || "");
  text(delta.querySelector(".lc-kpi-delta-text"), k.delta == null ? "" : k.delta);
}

"""What a slider move costs the browser when the controls and results are one custom component.

    python -m benchmarks.component_probe --moves 15 --tabs 3 --server-ms 20

Where Streamlit is the wall (issue 19): a Calibrate move re-sends every element of the workspace
fragment, and the browser re-renders each one through React (110-150 ms of main thread a move at
1M on the 2-core VM, ~2.5 ms a slider, ~25 ms the band chart), beside a server that scores in
20-40 ms. This probe measures the alternative on the same machine, with the same server time: two
small apps, each one fragment with ten points sliders, seven KPIs with their change and a bar chart
of ten bands, whose numbers change on every move after ``--server-ms`` of work:

- *widgets*: Streamlit's own elements (``st.slider``, ``st.metric``, ``st.vega_lite_chart``), as
  leadcal draws them;
- *component*: one ``st.components.v2`` component drawing native range inputs, the KPIs and an SVG
  chart once, then only setting the new numbers (``textContent``, never markup) on each update.

For each: key press on the first slider to the KPIs changed (the browser's clock), and the page's
main-thread time a move (CDP), medians over the moves after the first, the first move apart, in
``--tabs`` new tabs. Both apps run with leadcal's Streamlit settings (no garbage collection after
a run, quick thread switches). Not the product: a measurement of what a redesign would buy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.browser import Session, free_port, healthy, in_chromium

COMMON = '''
import os, sys, time
import numpy as np
import streamlit as st
sys.setswitchinterval(0.0005)
RULES, KPIS, BANDS = 10, 7, 10
SERVER_S = float(os.environ.get("PROBE_SERVER_MS", "20")) / 1000


def results(points):
    """Numbers that change with every move, after the server's work."""
    time.sleep(SERVER_S)
    rng = np.random.default_rng(int(sum(p * 101 ** i for i, p in enumerate(points))) % 2**32)
    return rng.random(KPIS), rng.random(KPIS) - 0.5, rng.random(BANDS) * 280
'''

WIDGETS = COMMON + '''
@st.fragment
def workspace():
    left, right = st.columns([1.25, 2.3])
    with left:
        points = [st.slider(f"rule_{i}: points", -50, 50, 5, key=f"p{i}", help="Points per event.")
                  for i in range(RULES)]
    kpis, deltas, bars = results(points)
    with right:
        row = st.container(horizontal=True, key="kpis")
        for j in range(KPIS):
            row.metric(f"KPI {j}", f"{kpis[j]:.3f}", f"{deltas[j]:+.3f}", help="What it means.")
        st.vega_lite_chart({"data": {"values": [{"band": b, "leads": float(h)} for b, h in enumerate(bars)]},
                            "mark": "bar", "height": 300,
                            "encoding": {"x": {"field": "band", "type": "ordinal"},
                                         "y": {"field": "leads", "type": "quantitative"}}}, width="stretch")


workspace()
'''

COMPONENT = COMMON + '''
JS = """
export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let box = parentElement.querySelector('.probe');
  if (!box) {  // drawn once; updates only set numbers
    box = document.createElement('div');
    box.className = 'probe';
    const controls = document.createElement('div');
    data.points.forEach((value, i) => {
      const label = document.createElement('label');
      label.textContent = `rule_${i}: points `;
      const input = document.createElement('input');
      Object.assign(input, {type: 'range', min: -50, max: 50, step: 1, value});
      input.setAttribute('aria-label', `rule_${i}: points`);
      const shown = document.createElement('output');
      shown.textContent = value;
      input.addEventListener('input', () => { shown.textContent = input.value; });
      input.addEventListener('change', () => setStateValue(
        'points', [...controls.querySelectorAll('input')].map((x) => Number(x.value))));
      label.append(input, shown);
      controls.append(label);
    });
    const kpis = document.createElement('div');
    kpis.className = 'probe-kpis';
    data.kpis.forEach(() => {
      const k = document.createElement('div');
      k.className = 'probe-kpi';
      for (const part of ['label', 'value', 'delta']) {
        const s = document.createElement('span');
        s.className = part;
        k.append(s);
      }
      kpis.append(k);
    });
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', '0 0 600 300');
    data.bars.forEach((_, b) => {
      const r = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
      r.setAttribute('x', 20 + b * 55);
      r.setAttribute('width', 40);
      svg.append(r);
    });
    box.append(controls, kpis, svg);
    parentElement.append(box);
  }
  box.querySelectorAll('.probe-kpi').forEach((k, j) => {
    k.querySelector('.label').textContent = `KPI ${j}`;
    k.querySelector('.value').textContent = data.kpis[j].toFixed(3);
    k.querySelector('.delta').textContent = (data.deltas[j] >= 0 ? '+' : '') + data.deltas[j].toFixed(3);
  });
  box.querySelectorAll('rect').forEach((r, b) => {
    r.setAttribute('y', 300 - data.bars[b]);
    r.setAttribute('height', data.bars[b]);
  });
}
"""
CSS = (".probe-kpis{display:flex;gap:24px;flex-wrap:wrap}.probe-kpi{display:flex;flex-direction:column}"
       ".probe-kpi .value{font-size:2rem}.probe label{display:block}.probe rect{fill:#1f77b4}")
panel = st.components.v2.component("probe_panel", html="", css=CSS, js=JS, isolate_styles=False)


@st.fragment
def workspace():
    state = st.session_state.get("panel")
    points = list(state["points"]) if state and state.get("points") else [5] * RULES
    kpis, deltas, bars = results(points)
    panel(key="panel", data={"points": points, "kpis": kpis.tolist(), "deltas": deltas.tolist(),
                             "bars": bars.tolist()}, on_points_change=lambda: None)


workspace()
'''

VARIANTS = {"widgets": (WIDGETS, '[data-testid="stSlider"]', '[data-testid="stMetric"]'),
            "component": (COMPONENT, ".probe label", ".probe-kpis")}
"""Each app, the element holding a slider (by its label), and the KPIs' area."""

MARKS = """(kpis) => {
  const m = window.__probe = {key: null, kpi: null};
  document.addEventListener('keydown', () => { m.key = performance.now(); m.kpi = null; }, true);
  new MutationObserver((records) => {
    if (records.some((r) => (r.target.nodeType === 1 ? r.target : r.target.parentElement)?.closest(kpis)))
      m.kpi = performance.now();
  }).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


@dataclass
class Probe:
    """One variant's moves: ms from key to KPIs changed, and of the page's main thread."""

    variant: str
    first_redrawn: list[float]
    first_main_thread: list[float]
    redrawn: list[float]
    main_thread: list[float]

    def line(self) -> str:
        med = statistics.median
        return (f"{self.variant}: KPIs redrawn median {med(self.redrawn):.0f} ms (first moves "
                f"{', '.join(f'{x:.0f}' for x in self.first_redrawn)}), browser main thread median "
                f"{med(self.main_thread):.0f} ms a move (first moves "
                f"{', '.join(f'{x:.0f}' for x in self.first_main_thread)})")


def _start(script: Path, server_ms: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--runner.postScriptGC", "false", "--server.fileWatcherType", "none"],
        env={**os.environ, "PROBE_SERVER_MS": str(server_ms)}, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    if healthy(url, 60):
        return proc, url
    proc.kill()
    raise RuntimeError(f"the probe app ({script.name}) did not start")


def measure(browser, variant: str, moves: int, tabs: int, server_ms: float, work_dir: Path) -> Probe:
    """``moves`` key presses on the first slider in each of ``tabs`` new tabs of a ``variant`` app."""
    source, slider, kpis = VARIANTS[variant]
    script = work_dir / f"probe_{variant}.py"
    script.write_text(source)
    proc, url = _start(script, server_ms)
    result = Probe(variant, [], [], [], [])
    try:
        for tab in range(tabs):
            session = Session(browser, url)
            session.page.goto(url)
            thumb = session.page.locator(slider).filter(has_text="rule_0: points").get_by_role("slider")
            thumb.wait_for(timeout=60_000)
            session.page.locator(kpis).first.wait_for(timeout=60_000)
            session.wait_idle(0, 60)
            session.page.evaluate(MARKS, kpis)
            for i in range(moves):
                thumb.focus()
                before, main = session.finished, session.main_thread_s()
                session.page.keyboard.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
                try:
                    session.wait_idle(before, 60)
                except TimeoutError as exc:
                    raise TimeoutError(f"{variant}, tab {tab + 1}, move {i + 1}: the run did not finish") from exc
                marks = session.page.evaluate("() => window.__probe")
                if marks["kpi"] is None:
                    raise RuntimeError(f"{variant}: a move did not change the KPIs")
                redrawn, thread = marks["kpi"] - marks["key"], 1000 * (session.main_thread_s() - main)
                if i == 0:
                    result.first_redrawn.append(redrawn)
                    result.first_main_thread.append(thread)
                else:
                    result.redrawn.append(redrawn)
                    result.main_thread.append(thread)
            session.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return result


def main(argv: list[str] | None = None, browser=None) -> int:
    """Run both variants; ``browser``: a Playwright browser already open (the test suite's)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=15, help="key presses per tab (the first reported apart)")
    parser.add_argument("--tabs", type=int, default=3, help="new tabs per variant")
    parser.add_argument("--server-ms", type=float, default=20.0, help="the server's work a move, ms")
    args = parser.parse_args(argv)
    return in_chromium(lambda opened: _run(opened, args), browser)


def _run(browser, args) -> int:
    with tempfile.TemporaryDirectory(prefix="leadcal-probe-") as work:
        for variant in VARIANTS:
            print(measure(browser, variant, args.moves, args.tabs, args.server_ms, Path(work)).line(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

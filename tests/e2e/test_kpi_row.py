"""ui/assets/kpi_row.js, the Calibrate page's KPI rows, run in Chromium on the data ui.kpi_row sends: text is
set as text (a currency read from the user's database can hold markup), a move updates the cards in place,
and new labels draw new cards."""

from __future__ import annotations

from dataclasses import asdict

from ui.kpi_metrics import Kpi, kpi
from ui.kpi_row import _ASSETS

RENDER = """async ([source, updates]) => {
  const url = URL.createObjectURL(new Blob([source], {type: "text/javascript"}));
  const draw = (await import(url)).default;
  const root = document.createElement("div");
  document.body.append(root);
  const seen = [];
  let images = 0;
  for (const data of updates) {
    draw({data, parentElement: root});
    images += root.querySelectorAll("img, b").length;
    await new Promise((resolve) => setTimeout(resolve, 50));  // an image's onerror would have run
    const cards = [...root.querySelectorAll(".lc-kpi")];
    cards.forEach((c) => { c.__seen = c.__seen || seen.length + 1; });
    seen.push(cards.map((c) => ({
      label: c.getAttribute("aria-label"),
      value: c.querySelector(".lc-kpi-value").textContent,
      delta: c.querySelector(".lc-kpi-delta").hidden ? null : c.querySelector(".lc-kpi-delta-text").textContent,
      arrow: c.querySelector(".lc-kpi-arrow").textContent,
      tone: c.querySelector(".lc-kpi-delta").className,
      help: c.querySelector("[role=tooltip]")?.textContent ?? null,
      described: c.querySelector(".lc-kpi-help")?.getAttribute("aria-describedby") ?? null,
      drawnAt: c.__seen,
    })));
  }
  return {seen, images, pwned: window.pwned ?? null,
          rows: root.querySelectorAll(".lc-kpi-row").length};
}"""


def _data(rows: list[list[Kpi]]) -> dict:
    return {"rows": [[asdict(k) for k in row] for row in rows]}


def test_the_kpi_rows_draw_text_update_in_place_and_redraw_for_new_labels(browser):
    markup = '<img src=x onerror="window.pwned=1">'
    first = [[kpi("AUC", "0.800", 0.80, 0.80), kpi("MQLs per month", "326", 326, 301, digits=0)],
             [Kpi("Won value ≥ MQL", f"1.2M {markup}", None, help="Won value <b>help</b>")]]
    second = [[kpi("AUC", "0.790", 0.79, 0.80), kpi("MQLs per month", "290", 290, 301, digits=0)],
              [Kpi("Won value ≥ MQL", "1.1M", "approved: 1.2M", help="Won value <b>help</b>")]]
    third = [[kpi("Account AUC", "0.700", 0.70, None)]]
    page = browser.new_page()
    try:
        page.set_content("<html><body></body></html>")
        out = page.evaluate(RENDER, [(_ASSETS / "kpi_row.js").read_text(), [_data(first), _data(second), _data(third)]])
    finally:
        page.close()
    assert out["images"] == 0 and out["pwned"] is None  # markup in a value or a help is shown, never run
    one, two, three = out["seen"]
    assert [(k["label"], k["value"], k["delta"], k["arrow"], k["tone"]) for k in one] == [
        ("AUC", "0.800", "same", "", "lc-kpi-delta lc-tone-gray"),
        ("MQLs per month", "326", "+25", "↑", "lc-kpi-delta lc-tone-green"),  # 326 - 301, up and better
        ("Won value ≥ MQL", f"1.2M {markup}", None, "", "lc-kpi-delta lc-tone-gray")]  # no line under it
    assert one[2]["help"] == "Won value <b>help</b>"
    assert one[0]["help"].startswith("The chance that a lead that converted")  # the glossary's, by label
    described = [k["described"] for k in one]
    assert len(set(described)) == 3 and all(described)  # each help names its own tooltip
    # a move: the same cards (drawn by the first render), new figures; worse is red with its arrow down
    assert [k["drawnAt"] for k in two] == [1, 1, 1]
    assert [(k["value"], k["delta"], k["arrow"], k["tone"]) for k in two] == [
        ("0.790", "-0.010", "↓", "lc-kpi-delta lc-tone-red"),
        ("290", "-11", "↓", "lc-kpi-delta lc-tone-red"),
        ("1.1M", "approved: 1.2M", "", "lc-kpi-delta lc-tone-gray")]
    # other labels (the account view): new cards, one row
    assert [(k["label"], k["value"], k["delta"], k["drawnAt"]) for k in three] == [("Account AUC", "0.700", "same", 3)]
    assert out["rows"] == 1

"""A small run of the browser benchmark (benchmarks/browser.py): it still drives the app, not a timing test.

Asserts what the harness measures is there and consistent (every move redrew the KPIs and
the band chart before the run was over, the results land between the markers), never how
fast it was: timings are for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import json

from benchmarks import browser as bench


def test_browser_benchmark_runs_end_to_end(browser, tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# results\n\nkept\n\n<!-- results-browser:start -->\nOLD\n<!-- results-browser:end -->\n")
    assert bench.main(["--sizes", "2000", "--moves", "2", "--pauses", "2", "--pause-s", "0.5",
                       "--out-dir", str(tmp_path),
                       "--results", str(results)], browser=browser) == 0
    data = json.loads((tmp_path / "browser.json").read_text())
    (size,) = data["results"]
    assert size["leads"] == 2000
    assert set(size["moves"]) == {case.name for case in bench.CASES}
    for name, summary in size["moves"].items():
        assert summary["n"] == 2 and summary["not_redrawn"] == 0, (name, summary)
        for move in summary["raw"]:
            # the chart changed after the key and no later than the run's last change (a KPI may show
            # the same rounded value on 2,000 leads), and "redrawn" is the later of what changed
            assert 0 < move["chart"] <= move["done"], move
            assert move["kpi"] is None or 0 < move["kpi"] <= move["done"], move
            assert move["redrawn"] == max(t for t in (move["kpi"], move["chart"]) if t is not None)
    assert set(size["browser_per_move_ms"]) == set(size["moves"])  # the page's main thread worked on each move
    assert all(ms > 0 for ms in size["browser_per_move_ms"].values())
    assert set(size["pages_s"]) == set(size["pages_paint_s"]) == {title for title, _ in bench.PAGES}
    assert all(0 < size["pages_paint_s"][t] <= size["pages_s"][t] for t in size["pages_s"])
    assert size["restart_s"] > 0
    first = size["restart_first_move"]  # the restart's first key press, a points move, redrew the results
    assert first["redrawn"] is not None and 0 < first["redrawn"] <= first["done"], first
    paused = size["paused_moves"]  # the moves after a pause redrew the results, each
    assert size["pause_s"] == 0.5 and paused["n"] == 2 and paused["not_redrawn"] == 0, paused
    assert all(0 < m["redrawn"] <= m["done"] for m in paused["raw"]), paused
    assert size["cache_entry_s"] > 0  # a first start: the cache entry followed the pause after the moves
    assert size["findings_s"] is None or 0 < size["findings_s"] <= size["cache_entry_s"]
    text = results.read_text()
    assert "kept" in text and "OLD" not in text and "| 2,000 | threshold |" in text
    assert "| 2,000 | 0.5 s | " in text  # the paused moves' row


def test_the_page_finds_script_finished_in_any_message(browser):
    """benchmarks.browser.FINISHES_JS, run in Chromium on real ForwardMsgs serialised by Streamlit's protobuf
    classes: true exactly for a script_finished that ends a run (not one ended early for a rerun, which a
    results-only move's first run is), whatever comes before it (a length-delimited field's length of one or
    two bytes, a hash) and whatever bytes the other messages hold (0x30 in a delta's text)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    def message(**fields) -> ForwardMsg:
        msg = ForwardMsg()
        for path, value in fields.items():
            target = msg
            *parents, leaf = path.split("__")
            for name in parents:
                target = getattr(target, name)
            setattr(target, leaf, value)
        return msg

    msgs = [message(metadata__active_script_hash="d" * 32, script_finished=0),  # a length of one byte
            message(metadata__active_script_hash="0" * 200, script_finished=1),  # two bytes (200 > 127)
            message(hash="a" * 32, metadata__active_script_hash="e62", script_finished=2),
            message(script_finished=0),
            message(hash="b" * 32, script_finished=3),  # a fragment's run ended
            message(script_finished=2),  # ended early for a rerun: the run goes on
            message(hash="0" * 32, metadata__active_script_hash="0" * 40, delta__new_element__markdown__body="0000"),
            message(metadata__active_script_hash="0" * 130, session_status_changed__run_on_save=False),
            message(new_session__page_script_hash="0" * 36)]
    expected = [m.WhichOneof("type") == "script_finished" and m.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN
                for m in msgs]
    assert expected == [True, True, False, True, True, False, False, False, False]  # the cases are what they say
    page = browser.new_page()
    try:
        walk = f"(all) => all.map((bytes) => ({bench.FINISHES_JS.strip()})(new Uint8Array(bytes).buffer))"
        found = page.evaluate(walk, [list(m.SerializeToString()) for m in msgs])
    finally:
        page.close()
    assert found == expected


def test_the_component_probe_times_both_apps(browser, tmp_path):
    """benchmarks/component_probe.py: each variant's app starts, and every key press on its first slider
    changed its KPIs after the key (a move that did not raises); the timings are not asserted."""
    from benchmarks import component_probe as probe

    for variant in probe.VARIANTS:
        result = probe.measure(browser, variant, moves=3, tabs=1, server_ms=5, work_dir=tmp_path)
        assert len(result.first_redrawn) == 1 and len(result.redrawn) == 2, result
        assert all(0 < ms < 60_000 for ms in result.first_redrawn + result.redrawn), result
        assert all(ms > 0 for ms in result.first_main_thread + result.main_thread), result

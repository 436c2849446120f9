"""A background job's wait in the page: the progress bar, and the hidden elements that have the browser
load the results' code while the data loads (ui/jobs.py)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _warm_up_only() -> None:
    from ui.jobs import _browser_warm_up

    _browser_warm_up()


def _wait_for_a_job() -> None:
    import time

    import streamlit as st

    from ui.jobs import Job, wait_with_progress

    def work(progress):
        progress("halfway", 0.5)
        time.sleep(0.6)
        return 42

    st.write(f"result {wait_with_progress(Job(work, 'test-job'), 'Working:')}")


def test_the_warm_up_holds_one_of_each_results_element_and_hides_them():
    at = AppTest.from_function(_warm_up_only).run(timeout=30)
    assert not at.exception
    assert len(at.metric) == 1 and len(at.dataframe) == 1
    assert len(at.get("vega_lite_chart")) == 1
    (style,) = at.get("html")  # a style alone goes to the page's event block: it hides the keyed container
    assert ".st-key-leadcal_browser_warm_up {display: none}" in style.proto.body


def test_after_the_wait_the_result_is_drawn_and_the_warm_up_and_bar_are_gone():
    at = AppTest.from_function(_wait_for_a_job).run(timeout=30)
    assert not at.exception
    assert [m.value for m in at.markdown] == ["result 42"]
    assert len(at.metric) == 0 and len(at.dataframe) == 0 and len(at.get("vega_lite_chart")) == 0
    assert len(at.get("progress")) == 0

"""A background job's wait in the page (ui/jobs.py), and the hidden elements that have a new session's
browser load the results' code while the server works (ui/browser_warm_up.py)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from .kpis_shown import shown_band_charts, shown_kpis


def _warm_up_twice() -> None:
    import streamlit as st

    from ui import browser_warm_up

    browser_warm_up.begin()  # the app's first element; not emptied here, so the test sees what it drew
    st.write("page")


def _wait_for_a_job() -> None:
    import time

    import streamlit as st

    from ui.jobs import Job, wait_with_progress

    def work(progress):
        progress("halfway", 0.5)
        time.sleep(0.6)
        return 42

    st.write(f"result {wait_with_progress(Job(work, 'test-job'), 'Working:')}")


def test_a_sessions_first_run_draws_one_of_each_results_element_hidden_and_later_runs_none():
    at = AppTest.from_function(_warm_up_twice).run(timeout=30)
    assert not at.exception
    assert len(shown_kpis(at)) == 1 and len(at.dataframe) == 1
    assert len(shown_band_charts(at)) == 1
    (style,) = at.get("html")  # a style alone goes to the page's event block: it hides the keyed container
    assert ".st-key-leadcal_browser_warm_up {display: none}" in style.proto.body
    assert [m.value for m in at.markdown] == ["page"]
    at.run(timeout=30)  # the same session again: its browser has the code
    assert len(shown_kpis(at)) == 0 and len(at.dataframe) == 0 and len(shown_band_charts(at)) == 0
    assert [m.value for m in at.markdown] == ["page"]


def test_after_the_wait_the_result_is_drawn_and_the_bar_is_gone():
    at = AppTest.from_function(_wait_for_a_job).run(timeout=30)
    assert not at.exception
    assert [m.value for m in at.markdown] == ["result 42"]
    assert len(at.get("progress")) == 0

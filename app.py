"""leadcal: the calibration meeting's app. `streamlit run app.py`

Opens on the demo database (generated on first start). Set LEADCAL_DB for another
DuckDB file and LEADCAL_STORE for another config store. Listens on this machine only
(.streamlit/config.toml); shared on a network, every page needs a sign-in (ui/auth.py).

This file is both the script Streamlit runs for each browser session (``main``) and, imported by
``streamlit run`` as a module, the server's ASGI app (``app``), whose start-up hook reads the data
before any browser connects (ui/preload.py).
"""

from pathlib import Path

import streamlit as st


def main() -> None:
    """The app's script: one run per browser session and rerun. Its imports are here, not at the top:
    imported as the ASGI app, this file stays light, and the server's start-up hook imports them once
    Streamlit's runtime exists (its caches are then the runtime's)."""
    import streamlit.delta_generator as delta_generator

    # Streamlit's first element of a process asks whether it runs in a REPL through inspect.stack(), which looks up
    # the file of every loaded module (~2,300): 0.2-0.35 s of every start before anything is drawn. It only warns
    # when an app is not run by `streamlit run`, which this one is (tests/test_runtime.py checks the name still does that).
    delta_generator._use_warning_has_been_displayed = True
    # the tab icon is a local file: a ":material/...:" or emoji icon is fetched from a CDN (nothing leaves the machine)
    st.set_page_config(page_title="leadcal", page_icon=str(Path(__file__).parent / "ui" / "assets" / "icon.png"),
                       layout="wide")

    from scoring.base.runtime import freeze_long_lived_objects, quick_thread_switches, tune_numpy_memory
    from scoring.model.kernels import warm_up_in_background
    from ui import auth, browser_warm_up, calibrate_view, sidebar  # noqa: F401  (the first page's, before the freeze)

    freeze_long_lived_objects()  # once per process, after the imports (see scoring/base/runtime.py)
    tune_numpy_memory()  # no huge-page compaction stalls on slider moves (see scoring/base/runtime.py)
    warm_up_in_background()  # once per process: the compiled loops load while the data is read
    quick_thread_switches()  # a rerun's messages leave as they are made (see scoring/base/runtime.py)

    user = auth.gate()  # shared on the network: sign in first (see ui/auth.py); on this machine: nobody signs in
    if auth.needed() and user is None:
        page = st.navigation([st.Page(auth.login_page, title="Sign in", icon=":material/login:")])
        page.run()
        st.stop()

    warm = browser_warm_up.begin()  # a new session's browser loads the results' code while the page works
    try:
        _run_page()
    finally:
        warm.empty()  # the page is drawn: its elements' code is loaded


def _run_page() -> None:
    page = st.navigation([
        st.Page("pages/calibrate.py", title="Calibrate", icon=":material/tune:", default=True),
        st.Page("pages/attributes.py", title="Attributes", icon=":material/insights:"),
        st.Page("pages/configs.py", title="Configs", icon=":material/verified:"),
        st.Page("pages/drift.py", title="Drift", icon=":material/monitoring:"),
        st.Page("pages/abtest.py", title="A/B test", icon=":material/science:"),
        st.Page("pages/data_quality.py", title="Data quality", icon=":material/fact_check:"),
        st.Page("pages/import_data.py", title="Import data", icon=":material/upload_file:"),
    ])
    page.run()  # each page draws the shared sidebar first (ui.sidebar.render)


if __name__ == "__main__":  # Streamlit runs this file as the app's script
    main()
else:  # `streamlit run app.py` imports it and serves this ASGI app: the same file is its script
    from streamlit.starlette import App

    from ui.preload import at_server_start

    app = App(__file__, lifespan=at_server_start)

"""Streamlit glue for the app: cached loaders, session state, controls.

Everything here is about presenting and remembering; every number comes from
``scoring``.
"""

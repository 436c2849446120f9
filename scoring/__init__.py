"""leadcal's scoring domain: config, data source, features, engine, metrics.

Importable without Streamlit, so everything the app shows can be produced, tested and
scheduled from the command line.
"""

__version__ = "0.1.0"

"""Data in: the user's leads read once, read-only, into the features the model scores.

It owns the hardened, read-only DuckDB access, mapping checks and identifier quoting
(``source``), the point-in-time feature extraction (``extract``: narrow DuckDB queries ->
numpy arrays, events kept once), the data-quality counts (``quality``), per-lead features
computed in a warehouse and stored as Parquet (``feature_set``: the reader and the column
contract), extracted features kept on disk for a fast restart (``feature_cache``) and the
deterministic demo database with its documented truth (``demo``).

May import: base, model.
"""

"""Bring your own data: CRM and marketing exports (CSV, Parquet) into a DuckDB file leadcal owns, with a starter model.

It owns reading and profiling the files (``read``: types, dates, missing markers, clean
names), the mapping a person can review and edit (``mapping``), the roles decided from
the values first and the names second (``roles``: which file is the leads, the creation
time, the outcome), joining the files into the lead columns (``plan``), the starter
config with every rule at 0 points (``starter``) and the import itself with its report
(``importer``). It flags post-outcome columns with the analysis' one definition of
leakage and saves the starter model to the registry.

May import: base, model, data, analysis, registry.
"""

"""Exports of a stored version: YAML, SQL for the warehouse, a dbt model, and the HTML report."""

from __future__ import annotations

from ..model.config import dump_config
from ..registry.store import ConfigStore, StoreError

FORMATS = ("yaml", "sql", "html", "dbt", "features-sql", "account-sql")
SUFFIX = {"yaml": "yaml", "sql": "sql", "html": "html", "features-sql": "sql", "account-sql": "sql"}
FOLDER_FORMATS = ("dbt",)
"""Formats written as a folder of files (``render_folder``), not one text."""


def render_folder(store: ConfigStore, name: str, version: int, fmt: str, dialect: str):
    """The files of a folder export of one version (``FOLDER_FORMATS``): a ``DbtExport``."""
    from .dbt import VersionInfo, export_dbt

    if fmt != "dbt":
        raise StoreError(f"--format {fmt} is written as one file, not a folder")
    v = store.get(name, version)
    info = VersionInfo(v.name, v.version, v.author, v.created_at, v.note)
    return export_dbt(store.load(name, version), info, store.approval(name, version), dialect)


def render_export(store: ConfigStore, name: str, version: int, fmt: str, dialect: str, db: str | None) -> str:
    """The text of an export of one version."""
    if fmt in FOLDER_FORMATS:
        raise StoreError(f"--format {fmt} writes a folder of files (render_folder), not one text")
    config = store.load(name, version)
    if fmt == "yaml":
        return dump_config(config)
    if fmt == "sql":
        from .sql import export_sql

        return export_sql(config, dialect)
    if fmt == "account-sql":
        from .sql import export_account_sql

        return export_account_sql(config, dialect)
    if fmt == "features-sql":
        from .features_sql import export_features_sql

        return export_features_sql(config, dialect)
    from ..analysis.evidence import evidence
    from ..model.kpis import default_grid_cuts, fit_engagement_grid, score_histogram
    from .html import render_report

    if not db:
        raise StoreError("--format html needs --db: the report is computed on data")
    found = evidence(config, db)
    scores = found.view.scores
    cuts = [default_grid_cuts(config, p, getattr(scores, p)) for p in ("fit", "engagement")]
    v = store.get(name, version)
    meta = {"name": v.name, "version": v.version, "author": v.author, "created_at": v.created_at,
            "note": v.note, "parent": v.parent}
    return render_report(config, found.result, found.kpis, version=meta, approval=store.approval(name, version),
                         data=found.data.to_dict(), grid=fit_engagement_grid(found.features, scores, *cuts),
                         histogram=score_histogram(scores, found.features))

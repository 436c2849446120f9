"""Exports of a stored version: YAML, SQL for the warehouse, and the HTML report."""

from __future__ import annotations

from .config import dump_config
from .store import ConfigStore, StoreError

FORMATS = ("yaml", "sql", "html")
SUFFIX = {"yaml": "yaml", "sql": "sql", "html": "html"}


def render_export(store: ConfigStore, name: str, version: int, fmt: str, dialect: str, db: str | None) -> str:
    """The text of an export of one version."""
    config = store.load(name, version)
    if fmt == "yaml":
        return dump_config(config)
    if fmt == "sql":
        from .export_sql import export_sql

        return export_sql(config, dialect)
    from .export_html import render_report
    from .kpis import default_grid_cuts, fit_engagement_grid, score_histogram
    from .report import evidence

    if not db:
        raise StoreError("--format html needs --db: the report is computed on data")
    _, data, (view, features) = evidence(config, db)
    cuts = [default_grid_cuts(config, p, getattr(view.scores, p)) for p in ("fit", "engagement")]
    v = store.get(name, version)
    meta = {"name": v.name, "version": v.version, "author": v.author, "created_at": v.created_at,
            "note": v.note, "parent": v.parent}
    return render_report(config, view.result, view.kpis, version=meta, approval=store.approval(name, version),
                         data=data, grid=fit_engagement_grid(features, view.scores, *cuts),
                         histogram=score_histogram(view.scores, features))

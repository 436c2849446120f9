"""Export a stored version as a dbt model: the scoring SQL over ``source()``s, with tests.

Analytics teams deploy SQL through dbt, not by pasting it. The export is a folder that
is both a small dbt project (``dbt build`` runs it with a profile named ``leadcal``) and
a package (``packages.yml``: ``- local: DIR``), or its files can be copied into a project:

    dbt_project.yml
    models/leadcal_<model>.sql     the scoring query (``scoring.export.sql``), materialised
                                   as a table, reading the mapped tables through source()
    models/sources.yml             the source: the mapped table names, quoted as stored,
                                   in schema ``var('leadcal_<model>_schema', target.schema)``
    models/schema.yml              tests: unique, non-null lead id; each score within its
                                   caps; tier one of below_mql, mql, sql; and the version,
                                   approval, rationale and sign-offs in the description
    macros/leadcal_between.sql     the generic test behind "within the caps"

dbt renders every model and YAML value through Jinja, so any ``{`` in text leadcal
writes (a value in the config, a rationale) is written as ``{{ '{' }}``: a category
value can never become template code. The query itself is the one ``export_sql``
renders for the warehouse's dialect, with the user's tables swapped for source() calls.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlglot import exp

from ..base.files import write_text_atomic
from ..model.config import Cap, ScoringConfig
from .sql import build_query, check_exportable, header, render, replace_tables

TEST_MACRO = "leadcal_between"
"""Name of the generic dbt test that checks a column lies within bounds."""

_TEST_SQL = """{% test leadcal_between(model, column_name, min_value=none, max_value=none) %}
{#- leadcal: rows whose column is NULL or outside [min_value, max_value] (a None side is open) -#}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is null
{%- if min_value is not none %} or {{ column_name }} < {{ min_value }}{% endif %}
{%- if max_value is not none %} or {{ column_name }} > {{ max_value }}{% endif %}
{% endtest %}
"""


@dataclass(frozen=True)
class VersionInfo:
    """What the export says about the stored version it comes from."""

    name: str
    version: int
    author: str
    created_at: str
    note: str = ""


@dataclass(frozen=True)
class DbtExport:
    """The files of a dbt export, by path relative to the export folder."""

    model: str
    """The dbt model's name (``leadcal_<model>``)."""
    source: str
    """The dbt source's name (same as the model's)."""
    files: dict[str, str]


def dbt_name(model: str) -> str:
    """A dbt-safe name for a leadcal model: ``leadcal_`` + lower case, '-' as '_'."""
    return "leadcal_" + re.sub(r"[^a-z0-9_]", "_", model.lower())


def jinja_safe(text: str) -> str:
    """Text that Jinja renders back to itself: each ``{`` written as ``{{ '{' }}``."""
    return text.replace("{", "{{ '{' }}")


def _source_tables(config: ScoringConfig) -> dict[str, str]:
    """Logical source table name -> the mapped (stored) table name; one entry per table."""
    src = config.source
    out = {"leads": src.leads.table}
    if src.events is not None:
        out["events"] = src.events.table
    if src.outcome.table is not None and src.outcome.table not in out.values():
        out["outcomes"] = src.outcome.table
    return out


def _model_sql(config: ScoringConfig, dialect: str, source: str, tables: dict[str, str]) -> str:
    """The scoring query with every mapped table read through ``source(...)``."""
    marks = {stored: f"leadcal_src_{uuid.uuid4().hex}" for stored in tables.values()}
    tree = replace_tables(build_query(config),
                          {stored: exp.Table(this=exp.to_identifier(mark)) for stored, mark in marks.items()})
    text = jinja_safe(header(config, dialect) + render(tree, dialect))
    for logical, stored in tables.items():
        text = text.replace(marks[stored], "{{ source('%s', '%s') }}" % (source, logical))
    return "{{ config(materialized='table') }}\n\n" + text + "\n"


def _approval_lines(info: VersionInfo, approval: dict | None) -> list[str]:
    if not approval:
        return [f"NOT APPROVED: version {info.version} of '{info.name}' is a draft "
                f"(saved {info.created_at} by {info.author}); deploy an approved version."]
    who = ", ".join(f"{s.get('name')} ({s.get('role')})" for s in approval.get("signoffs", []))
    return [f"Approved {approval.get('approved_at')} by {approval.get('approved_by')}; signed off by {who}.",
            f"Rationale: {approval.get('rationale')}"]


def _bounds_test(cap: Cap | None) -> list:
    if cap is None or (cap.min is None and cap.max is None):
        return ["not_null"]
    arguments = {k: v for k, v in (("min_value", cap.min), ("max_value", cap.max)) if v is not None}
    return [{TEST_MACRO: {"arguments": arguments}}]


def _schema_yml(config: ScoringConfig, model: str, info: VersionInfo, approval: dict | None) -> str:
    days = f"{float(config.evaluation.scoring_point_days):g}"
    description = "\n".join([
        f"leadcal scoring model '{info.name}', version {info.version}, exported by leadcal.",
        *_approval_lines(info, approval),
        *( [f"Note: {info.note}"] if info.note else [] ),
        f"One row per lead, scored as of its scoring point (creation + {days} days): only events "
        "before it count, decay is measured to it. Built as a table: scores as of the build.",
    ])
    signoffs = [{"name": s.get("name"), "role": s.get("role")} for s in (approval or {}).get("signoffs", [])]
    meta = {"leadcal": {
        "model": info.name, "version": info.version, "approved": bool(approval),
        "approved_at": (approval or {}).get("approved_at"), "signoffs": signoffs,
        "rationale": (approval or {}).get("rationale"),
    }}
    caps = config.caps
    doc = {"version": 2, "models": [{
        "name": model,
        "description": description,
        "config": {"meta": meta},
        "columns": [
            {"name": "lead_id", "description": "The lead's id (the earliest created row of each id).",
             "data_tests": ["unique", "not_null"]},
            {"name": "scored_at", "description": "The scoring point: creation time + "
             f"{days} days.", "data_tests": ["not_null"]},
            {"name": "fit_score", "description": "Points for who the lead is, within the fit caps.",
             "data_tests": _bounds_test(caps.fit)},
            {"name": "engagement_score", "description": "Decayed points for what the lead did, within "
             "the engagement caps.", "data_tests": _bounds_test(caps.engagement)},
            {"name": "score", "description": "fit_score + engagement_score, within the total caps.",
             "data_tests": _bounds_test(caps.total)},
            {"name": "tier", "description": "below_mql, mql or sql by the thresholds of the lead's segment.",
             "data_tests": ["not_null", {"accepted_values": {"arguments": {"values": ["below_mql", "mql", "sql"]}}}]},
        ],
    }]}
    return _yaml(doc)


def _sources_yml(config: ScoringConfig, source: str, tables: dict[str, str]) -> str:
    doc = {"version": 2, "sources": [{
        "name": source,
        "description": f"The tables leadcal model '{config.name}' is mapped to (names as stored).",
        "schema": "{{ var('%s_schema', target.schema) }}" % source,
        "quoting": {"identifier": True},
        "tables": [{"name": logical, "identifier": stored} for logical, stored in tables.items()],
    }]}
    return _yaml(doc, template_keys=("schema",))


def _yaml(doc: dict, template_keys: tuple[str, ...] = ()) -> str:
    """YAML with every string made Jinja-safe, except the templates leadcal writes on purpose."""

    def safe(value, key=None):
        if isinstance(value, dict):
            return {k: safe(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [safe(v) for v in value]
        if isinstance(value, str) and key not in template_keys:
            return jinja_safe(value)
        return value

    return yaml.safe_dump(safe(doc), sort_keys=False, allow_unicode=True, width=100)


def _project_yml(model: str) -> str:
    return _yaml({"name": model, "version": "1.0.0", "config-version": 2, "profile": "leadcal",
                  "model-paths": ["models"], "macro-paths": ["macros"]})


def export_dbt(config: ScoringConfig, info: VersionInfo, approval: dict | None, dialect: str = "duckdb") -> DbtExport:
    """The dbt files of one stored version, for a warehouse speaking ``dialect``."""
    check_exportable(config, dialect)
    model = dbt_name(info.name)
    tables = _source_tables(config)
    files = {
        "dbt_project.yml": _project_yml(model),
        f"models/{model}.sql": _model_sql(config, dialect, model, tables),
        "models/sources.yml": _sources_yml(config, model, tables),
        "models/schema.yml": _schema_yml(config, model, info, approval),
        f"macros/{TEST_MACRO}.sql": _TEST_SQL,
    }
    return DbtExport(model=model, source=model, files=files)


def write_export(export: DbtExport, out: str | Path, overwrite: bool = False) -> Path:
    """Write the export's files under ``out``; never over an existing file unless ``overwrite``.

    A new folder is written next to ``out`` and renamed into place whole, so a failure
    leaves nothing half-written; into an existing folder each file is written whole.
    Raises FileExistsError naming the first file that exists.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder; the dbt export writes a folder")
    if not overwrite:
        for rel in export.files:
            if (out / rel).exists():
                raise FileExistsError(f"{out / rel} exists; leadcal does not overwrite it (pick a new --out)")
    if out.exists():
        for rel, text in export.files.items():
            write_text_atomic(out / rel, text)
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for rel, text in export.files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o777 & ~_umask())
        os.rename(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

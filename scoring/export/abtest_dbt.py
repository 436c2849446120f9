"""A champion vs challenger test as a dbt model: the routing query over ``source()``s, with tests.

The same folder shape as a version's dbt export (``scoring.export.dbt``)::

    dbt_project.yml
    models/leadcal_abtest_<test>.sql   the routing query (``abtest_sql``), as a table
    models/sources.yml                 the mapped tables (both models read the same ones)
    models/schema.yml                  tests: unique, non-null lead id; arm and tiers among
                                       their values; the plan and its sign-offs described

Every ``{`` of text leadcal writes is made Jinja-safe, as in the version export.
"""

from __future__ import annotations

import re
import uuid

from sqlglot import exp

from ..model.config import ScoringConfig
from .abtest_sql import build_test_query
from .dbt import DbtExport, _project_yml, _source_tables, _sources_yml, _yaml, jinja_safe
from .sql import check_exportable, render, replace_tables

TIER_VALUES = ["below_mql", "mql", "sql"]


def dbt_test_name(test: str) -> str:
    """``leadcal_abtest_`` + the test's name in lower case, '-' as '_'."""
    return "leadcal_abtest_" + re.sub(r"[^a-z0-9_]", "_", test.lower())


def export_test_dbt(test: str, champion_ref: str, challenger_ref: str, champion: ScoringConfig,
                    challenger: ScoringConfig, salt: str, share: float, record: dict,
                    dialect: str = "duckdb") -> DbtExport:
    """The dbt files routing the leads of one recorded test, for a warehouse speaking ``dialect``."""
    check_exportable(champion, dialect)
    check_exportable(challenger, dialect)
    model = dbt_test_name(test)
    tables = _source_tables(champion)
    marks = {stored: f"leadcal_src_{uuid.uuid4().hex}" for stored in tables.values()}
    tree = replace_tables(build_test_query(champion, challenger, salt, share),
                          {stored: exp.Table(this=exp.to_identifier(mark)) for stored, mark in marks.items()})
    text = jinja_safe(render(tree, dialect))
    for logical, stored in tables.items():
        text = text.replace(marks[stored], "{{ source('%s', '%s') }}" % (model, logical))
    who = ", ".join(f"{s.get('name')} ({s.get('role')})" for s in record.get("signoffs", []))
    description = "\n".join([
        f"leadcal champion vs challenger test '{test}': champion {champion_ref}, challenger {challenger_ref}; "
        f"{share:.0%} of leads to the challenger by md5('{salt}:' || lead_id), first 8 hex digits.",
        f"Signed off {record.get('created_at')} by {who}. Rationale: {record.get('rationale')}",
        "Act on score and tier (the arm's model); champion_* and challenger_* keep both models for the readout.",
    ])
    accepted = lambda values: {"accepted_values": {"arguments": {"values": values}}}  # noqa: E731
    schema = {"version": 2, "models": [{
        "name": model, "description": description,
        "config": {"meta": {"leadcal": {"test": test, "champion": champion_ref, "challenger": challenger_ref,
                                        "share": share, "salt": salt}}},
        "columns": [
            {"name": "lead_id", "data_tests": ["unique", "not_null"]},
            {"name": "arm", "data_tests": ["not_null", accepted(["champion", "challenger"])]},
            {"name": "tier", "data_tests": ["not_null", accepted(TIER_VALUES)]},
            {"name": "champion_tier", "data_tests": ["not_null", accepted(TIER_VALUES)]},
            {"name": "challenger_tier", "data_tests": ["not_null", accepted(TIER_VALUES)]},
        ],
    }]}
    files = {
        "dbt_project.yml": _project_yml(model),
        f"models/{model}.sql": "{{ config(materialized='table') }}\n\n" + text + "\n",
        "models/sources.yml": _sources_yml(champion, model, tables),
        "models/schema.yml": _yaml(schema),
    }
    return DbtExport(model=model, source=model, files=files)

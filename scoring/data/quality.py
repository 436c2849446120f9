"""Data-quality findings: counted and reported, never fatal, never silently dropped.

Real exports have duplicate ids, events for leads that are not in the leads table,
missing or future timestamps, and conversions dated before the lead existed. The
engine decides what to do with each (documented per finding); this module counts them
(``findings`` holds what it finds) so the report and the app can say so.
"""

from __future__ import annotations

import datetime as dt

from ..model.config import SourceMapping
from ..model.findings import Finding, QualityReport
from .source import Source, quote


def check_quality(source: Source, mapping: SourceMapping, now: dt.datetime,
                  data_end: dt.datetime) -> QualityReport:
    """Count every data problem the feature extraction works around."""
    con = source.con
    leads = mapping.leads
    lt, lid = quote(leads.table), quote(leads.id)
    lcr = quote(leads.created_at) if leads.created_at else None
    report = QualityReport()

    def add(table: str, column: str, count: int | None, problem: str, handling: str) -> None:
        if count:
            report.findings.append(Finding(table, column, int(count), problem, handling))

    if leads.created_at is None:  # no creation times: nothing to count about them
        rows, null_id, distinct = con.execute(
            f"SELECT count(*), count(*) - count({lid}), count(DISTINCT {lid}) FROM {lt}").fetchall()[0]
        null_created = future_created = 0
    else:
        rows, null_id, distinct, null_created, future_created = con.execute(
            f"SELECT count(*), count(*) - count({lid}), count(DISTINCT {lid}), "
            f"count(*) FILTER (WHERE {lcr} IS NULL OR NOT isfinite(CAST({lcr} AS TIMESTAMP))), "  # infinity: no time
            f"count(*) FILTER (WHERE CAST({lcr} AS TIMESTAMP) > $now AND isfinite(CAST({lcr} AS TIMESTAMP))) FROM {lt}",
            {"now": now},
        ).fetchall()[0]
    report.counts[leads.table] = int(rows)
    add(leads.table, leads.id, null_id, "rows without a lead id", "left out")
    add(leads.table, leads.id, rows - null_id - distinct, "duplicate rows of an id",
        "the earliest created row of each id is used" if lcr else "one row of each id is used")
    add(leads.table, leads.created_at, null_created, "leads without a creation time",
        "left out: they cannot be scored at a point in time")
    add(leads.table, leads.created_at, future_created, "leads created in the future",
        "kept; immature")

    if mapping.events is not None:
        ev = mapping.events
        et, eid, ety, eti = quote(ev.table), quote(ev.lead_id), quote(ev.type), quote(ev.time)
        erows, null_lead, null_type, null_time, future, unknown = con.execute(
            f"SELECT count(*), count(*) - count(e.{eid}), count(*) - count(e.{ety}), "
            f"count(*) - count(e.{eti}), count(*) FILTER (WHERE CAST(e.{eti} AS TIMESTAMP) > $end), "
            f"count(*) FILTER (WHERE e.{eid} IS NOT NULL AND l.__id IS NULL) "
            f"FROM {et} e LEFT JOIN (SELECT DISTINCT {lid} AS __id FROM {lt}) l ON e.{eid} = l.__id",
            {"end": data_end},
        ).fetchall()[0]
        report.counts[ev.table] = int(erows)
        add(ev.table, ev.lead_id, null_lead, "events without a lead id", "not counted")
        add(ev.table, ev.lead_id, unknown, "events of lead ids not in the leads table", "not counted")
        add(ev.table, ev.type, null_type, "events without a type", "not counted")
        add(ev.table, ev.time, null_time, "events without a time", "not counted")
        add(ev.table, ev.time, future, f"events dated after the data's end ({data_end:%Y-%m-%d %H:%M})",
            "not counted")

    out = mapping.outcome
    ot = quote(out.table or leads.table)
    if out.table is not None:
        oid = quote(out.lead_id)
        orows, unknown, dupes = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE o.{oid} IS NOT NULL AND l.__id IS NULL), "
            f"count(o.{oid}) - count(DISTINCT o.{oid}) "
            f"FROM {ot} o LEFT JOIN (SELECT DISTINCT {lid} AS __id FROM {lt}) l ON o.{oid} = l.__id"
        ).fetchall()[0]
        report.counts[out.table] = int(orows)
        add(out.table, out.lead_id, unknown, "outcome rows of lead ids not in the leads table",
            "not counted")
        add(out.table, out.lead_id, dupes, "extra outcome rows of a lead",
            "the earliest conversion is used" if out.converted_at else "converted if any row says so")
    if out.converted_at is None or lcr is None:
        return report  # no conversion or creation time: nothing to compare in time
    conv = quote(out.converted_at)
    if out.table is not None:
        oid = quote(out.lead_id)
        join = (f"{ot} o JOIN (SELECT {lid}, min({lcr}) AS {lcr} FROM {lt} GROUP BY {lid}) l "
                f"ON o.{oid} = l.{lid}")
        oconv, lcreated = f"o.{conv}", f"l.{lcr}"
    else:
        join = f"{lt} l"
        oconv, lcreated = f"l.{conv}", f"l.{lcr}"
    before, future = con.execute(
        f"SELECT count(*) FILTER (WHERE CAST({oconv} AS TIMESTAMP) < CAST({lcreated} AS TIMESTAMP)), "
        f"count(*) FILTER (WHERE CAST({oconv} AS TIMESTAMP) > $end) FROM {join}",
        {"end": data_end},
    ).fetchall()[0]
    add(out.table or leads.table, out.converted_at, before, "conversions dated before the lead was created",
        "counted as converted")
    add(out.table or leads.table, out.converted_at, future,
        f"conversions dated after the data's end ({data_end:%Y-%m-%d %H:%M})", "not counted")
    return report

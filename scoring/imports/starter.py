"""The starter config of an import: every rule the data allows, at 0 points.

Part of ``leadcal import`` (see ``scoring.imports.importer``). Generated from the imported
tables, so the calibration page opens on the user's own data in one step:

- each categorical fit column with its values (the 100 most frequent), each at 0 points;
- each numeric fit column binned at its quartiles (edges rounded to two significant
  digits), each bin at 0 points;
- each activity column as an engagement rule per unit, and each event type (the 50 most
  frequent) as an engagement rule per event, at 0 points;
- the usual 0..100 scale: total capped to 0..100, MQL at 40, SQL at 60, bands every 20;
- the evaluation: scored 7 days after creation when there are events (0 without: there is
  nothing to wait for), and an outcome window covering 90% of the observed times to
  convert (30 to 365 days; 90 when no conversion time is known); 99% when the outcome has
  won / lost / open states, where open leads are immature whatever the window, so a short
  window would only count late wins as lost (the conversion rate then matches the closed
  win rate);
- the outcome as imported: a conversion date alone, won / lost / open, or both together
  (open is never counted lost; ``open_lost_after_days`` stays off);
- the source mapping pointing at the imported tables.

It is validated by loading it like any config file before anyone sees it.
"""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import yaml

from ..base.numbers import nice
from ..data.source import quote
from ..model.config import ScoringConfig, config_from_dict, dump_config, normalise_value, parse_config

MAX_VALUES = 100
MAX_EVENT_TYPES = 50
QUANTILES = (0.25, 0.5, 0.75)
WINDOWS = (30, 60, 90, 120, 180, 270, 365)
SCALE = {"caps": {"total": {"min": 0, "max": 100}}, "thresholds": {"mql": 40, "sql": 60},
         "bands": [20, 40, 60, 80]}


def category_values(con: duckdb.DuckDBPyConnection, table: str, column: str) -> tuple[list[str], int]:
    """The values of a column, most frequent first, one spelling per value ignoring case and spaces
    (its most frequent), and how many there are."""
    rows = con.execute(
        f"SELECT trim(CAST({quote(column)} AS VARCHAR)) AS v, count(*) AS n FROM {quote(table)} "
        "WHERE v IS NOT NULL AND v <> '' GROUP BY v"
    ).fetchall()
    return _top_values(rows)


def _unpivoted(table: str, columns: list[str], cast: str) -> str:
    """The columns of a table stacked as (i, x) rows, NULLs left out: one query for many columns.

    On a wide table every query costs time in proportion to its width, so a query per
    column grows as columns squared (a 2,000-column import spent 15 s here).
    """
    text = ", ".join(f'{cast.format(quote(c))} AS "{i}"' for i, c in enumerate(columns))
    names = ", ".join(f'"{i}"' for i in range(len(columns)))
    return f"(SELECT {text} FROM {quote(table)}) UNPIVOT (x FOR i IN ({names}))"


def category_values_of(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> dict[str, tuple[list[str], int]]:
    """``category_values`` of several columns, in one query."""
    if not columns:
        return {}
    rows: list[list[tuple]] = [[] for _ in columns]
    for i, v, n in con.execute(f"SELECT CAST(i AS INTEGER), x, count(*) FROM "
                               f"{_unpivoted(table, columns, 'trim(CAST({} AS VARCHAR))')} WHERE x <> '' "
                               "GROUP BY 1, 2").fetchall():
        rows[i].append((v, n))
    return {c: _top_values(r) for c, r in zip(columns, rows)}


def quantile_bins_of(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> dict[str, list[dict]]:
    """``quantile_bins`` of several columns, in one query."""
    if not columns:
        return {}
    edges: list = [None] * len(columns)
    for i, e in con.execute(f"SELECT CAST(i AS INTEGER), quantile_cont(x, {list(QUANTILES)}) FROM "
                            f"{_unpivoted(table, columns, 'CAST({} AS DOUBLE)')} GROUP BY 1").fetchall():
        edges[i] = e
    return {c: _bins(e) for c, e in zip(columns, edges)}


def _top_values(rows: list[tuple]) -> tuple[list[str], int]:
    groups: dict[str, list] = {}
    for value, n in sorted(rows, key=lambda r: (-r[1], r[0])):
        group = groups.setdefault(normalise_value(value), [value, 0])
        group[1] += n
    ordered = sorted(groups.values(), key=lambda g: (-g[1], g[0]))
    return [g[0] for g in ordered[:MAX_VALUES]], len(ordered)


def quantile_bins(con: duckdb.DuckDBPyConnection, table: str, column: str) -> list[dict]:
    """Bins at the quartiles of a numeric column, each at 0 points."""
    (edges,) = con.execute(
        f"SELECT quantile_cont(CAST({quote(column)} AS DOUBLE), {list(QUANTILES)}) FROM {quote(table)}"
    ).fetchall()[0]
    return _bins(edges)


def _bins(edges: list | None) -> list[dict]:
    cuts: list[float] = []
    for e in edges or []:
        if e is not None and math.isfinite(e):
            v = nice(float(e))
            if not cuts or v > cuts[-1]:
                cuts.append(v)
    if not cuts:
        return [{"points": 0}]
    bins = [{"max": cuts[0], "points": 0}]
    bins += [{"min": lo, "max": hi, "points": 0} for lo, hi in zip(cuts, cuts[1:])]
    bins.append({"min": cuts[-1], "points": 0})
    return bins


def outcome_window(con: duckdb.DuckDBPyConnection, table: str, scoring_point: float,
                   events_table: str | None, now: dt.datetime,
                   outcome_table: dict | None = None, coverage: float = 0.9,
                   shorten: bool = True) -> tuple[int, str | None]:
    """Days after the scoring point covering ``coverage`` of the observed times to convert, and a note.

    Shortened (down to a week) when that window would leave fewer than half the leads
    mature, so the calibration page has outcomes to show; the note says so.
    ``outcome_table``: the conversion dates are in another table (table, lead_id, converted_at).
    ``shorten``: False when maturity does not depend on the window (won / lost / open on the
    leads table: open leads are immature, closed ones mature, whatever the window).
    """
    t = quote(table)
    if outcome_table is not None and outcome_table.get("converted_at"):
        o = outcome_table
        conversions = (f"(SELECT l.created_at, c.converted_at FROM {t} AS l JOIN (SELECT {quote(o['lead_id'])} AS k, "
                       f"min({quote(o['converted_at'])}) AS converted_at FROM {quote(o['table'])} GROUP BY 1) AS c "
                       "ON l.lead_id = c.k)")
    else:
        conversions = t
    (p90,) = con.execute(
        f"SELECT quantile_cont(epoch(converted_at) - epoch(created_at), $q) / 86400 FROM {conversions} "
        "WHERE converted_at >= created_at", {"q": coverage}
    ).fetchall()[0]
    window = 90 if p90 is None else next((w for w in WINDOWS if w >= p90 - scoring_point), WINDOWS[-1])
    times = [f"SELECT max(created_at) AS m FROM {t} WHERE created_at <= $now",
             f"SELECT max(converted_at) FROM {conversions} WHERE converted_at <= $now"]
    if events_table:
        times.append(f"SELECT max(occurred_at) FROM {quote(events_table)} WHERE occurred_at <= $now")
    (end,) = con.execute(f"SELECT max(m) FROM ({' UNION ALL '.join(times)})", {"now": now}).fetchall()[0]

    def mature_share(days: float) -> float:
        (share,) = con.execute(
            f"SELECT avg(CASE WHEN created_at + to_microseconds($us) <= $end THEN 1.0 ELSE 0.0 END) FROM {t} "
            "WHERE created_at IS NOT NULL", {"us": int((scoring_point + days) * 86_400_000_000), "end": end}
        ).fetchall()[0]
        return share or 0.0

    if end is None or not shorten or mature_share(window) >= 0.5:
        return window, None
    shorter = [w for w in (*WINDOWS, 14, 7) if w < window]
    pick = next((w for w in sorted(shorter, reverse=True) if mature_share(w) >= 0.5), None)
    if pick is None:
        return window, (f"outcome window {window} days: fewer than half the leads are old enough for it, so most "
                        "are immature; the data may be too recent to calibrate on")
    return pick, (f"outcome window shortened from {window} to {pick} days so that at least half the leads are "
                  "mature (the data is short); conversions after it count as not converted")


def event_types(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The most frequent event types, one spelling each."""
    rows = con.execute(
        f"SELECT min(event_type), count(*) AS n FROM {quote(table)} WHERE event_type IS NOT NULL "
        "GROUP BY lower(trim(event_type)) ORDER BY n DESC, 1 LIMIT $k", {"k": MAX_EVENT_TYPES}
    ).fetchall()
    return [str(r[0]).strip() for r in rows if str(r[0]).strip()]


def starter_config(con: duckdb.DuckDBPyConnection, *, name: str, description: str, leads_table: str,
                   point_in_time: bool, outcome_mode: str, deal_value: bool, segment: str | None,
                   outcome_table: dict | None = None, account: str | None = None,
                   fit: list[tuple[str, str]], activity: list[str], events_table: str | None,
                   missing_values: list[str], now: dt.datetime) -> tuple[ScoringConfig, dict, list[str]]:
    """The starter config of imported tables, its plain data, and notes on choices made.

    ``fit``: (column, 'categorical' | 'numeric'); ``events_table``: None when events are not
    used (none imported, or no creation times to count them before).
    """
    notes: list[str] = []
    leads = {"table": leads_table, "id": "lead_id", "created_at": "created_at" if point_in_time else None}
    if segment:
        leads["segment"] = segment
    if account:
        leads["account"] = account
    outcome: dict = {"time": {"converted_at": "converted_at"},
                     "states": {"converted_at": None, "converted": "converted"},
                     "states+time": {"converted_at": "converted_at", "converted": "converted"}}[outcome_mode]
    if outcome_table is not None:  # the outcome is another file's table; a lead it does not name has not converted
        outcome = {"table": outcome_table["table"], "lead_id": outcome_table["lead_id"],
                   "converted_at": outcome_table.get("converted_at")}
        if outcome_table.get("converted"):
            outcome["converted"] = outcome_table["converted"]
    elif deal_value:
        outcome["deal_value"] = "deal_value"
    source: dict = {"leads": leads}
    if events_table:
        source["events"] = {"table": events_table, "lead_id": "lead_id", "type": "event_type", "time": "occurred_at"}
    source["outcome"] = outcome
    source["missing_values"] = list(missing_values)
    scoring_point = 7 if events_table else 0
    window = 90
    if outcome_mode != "states":
        states = outcome_mode == "states+time"
        window, note = outcome_window(con, leads_table, scoring_point, events_table, now, outcome_table,
                                      0.99 if states else 0.9, shorten=not states or outcome_table is not None)
        notes += [note] if note else []
    rules = []
    values_of = category_values_of(con, leads_table, [c for c, kind in fit if kind == "categorical"])
    bins_of = quantile_bins_of(con, leads_table, [c for c, kind in fit if kind != "categorical"])
    for column, kind in fit:
        if kind == "categorical":
            values, total = values_of[column]
            if total > len(values):
                notes.append(f"fit '{column}': {total} values; the {len(values)} most frequent are listed, "
                             "the others get the rule's 'other' points")
            rules.append({"type": "categorical", "column": column, "points": {v: 0 for v in values},
                          "other": 0, "missing": 0})
        else:
            rules.append({"type": "numeric", "column": column, "bins": bins_of[column],
                          "other": 0, "missing": 0})
    engagement: list[dict] = [{"column": c, "points": 0} for c in activity]
    labels = {normalise_value(c) for c in activity}
    if events_table:
        for event in event_types(con, events_table):
            rule: dict = {"event": event, "points": 0}
            if normalise_value(event) in labels:
                rule["name"] = f"{event} (event)"
            engagement.append(rule)
    data = {
        "name": name,
        "description": description,
        "source": source,
        "evaluation": {"scoring_point_days": scoring_point, "outcome_window_days": window},
        "decay": {"kind": "none"},
        "fit": rules,
        "engagement": engagement,
        **SCALE,
    }
    if account and point_in_time:  # account scores on: the best lead's score, a month after the first lead
        data["accounts"] = {"method": "max", "scoring_point_days": max(30, scoring_point),
                            "thresholds": dict(SCALE["thresholds"])}
        notes.append(f"accounts: '{account}' is the account key; an account is scored 30 days after its first "
                     "lead by its best lead's score (accounts.method: max, sum or top_k_mean)")
    config = config_from_dict(data, "starter config")
    if parse_config(dump_config(config), "starter config") != config:  # loads back as a file would
        raise ValueError("the starter config does not read back as generated")
    return config, data, notes


def starter_yaml(config: ScoringConfig, data: dict, files: list[str], point_in_time: bool) -> str:
    """The starter config as YAML with a short header saying where it came from.

    Written from the plain data (whole numbers stay whole), checked to load as ``config``.
    """
    header = [
        f"# Starter config generated by `leadcal import` from {', '.join(files)}.",
        "# Every rule is at 0 points: set the points in the calibration meeting (Calibrate page).",
        "# Fit values and numeric bins come from the data; bins are at the quartiles.",
    ]
    if not point_in_time:
        header.append("# No creation times: leads are not scored at a point in time.")
    text = "\n".join(header) + "\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    if parse_config(text, "starter config") != config:
        raise ValueError("the starter config YAML does not read back as generated")
    return text

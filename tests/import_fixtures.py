"""Messy CRM exports written by the tests (no shipped binaries), with what they should import as.

``write_crm(folder, fmt)`` writes a contacts (leads) file, an activities (events) file and
a companies (attributes) file as CSV or Parquet. Every value is text, as exports are, so
the same quirks are in both formats: names with spaces, punctuation and mixed case;
'Select', '', 'N/A', '-' meaning missing; Yes/No, Y/N, TRUE/false booleans; dates as ISO,
M/D/YYYY, with or without a time, with AM/PM, 'Jan 8, 2024' and a UTC 'Z'; numbers with
thousands separators and currency signs; a stage outcome with won, lost and open values;
leads without a creation time. The expected values below are worked out by hand from the
rows, not by the importer.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

CONTACTS_HEADER = ["Contact ID", "Create Date", "Job Title", "Company", "# of Page Views", "Annual Revenue ($)",
                   "Opted In?", "Lifecycle Stage", "Close Date", "Deal Amount", "LeadSource"]
CONTACTS = [
    ["L01", "2024-01-02", "VP", "Acme", "1,234", "$1,200,000", "Yes", "Closed Won", "2/1/2024", "$12,500.00", "Web"],
    ["L02", "1/3/2024", "Manager", "Globex", "12", "N/A", "No", "Closed Lost", "2024-02-10", "", "Event"],
    ["L03", "01/04/2024 14:30", "Select", "acme", "-", "250,000", "Y", "Negotiation", "", "", "web"],
    ["L04", "2024-01-05T09:00:00Z", "vp ", "Initech", "7", "75000", "n", "Closed Won", "2024-01-20 10:00", "1,000",
     "Select"],
    ["L05", "", "Director", "Unknown Co", "0", "", "TRUE", "Closed Lost", "3/1/2024", "", "Web"],
    ["L06", "N/A", "Analyst", "Globex", "3", "10", "false", "Select", "", "", "Partner"],
    ["L07", "Jan 8, 2024", "Manager", "Acme", "5", "3,000,000", "yes", "Closed Lost", "1/30/2024", "", "Event"],
    ["L08", "2024-01-09 08:15:00", "VP", "Initech", "20", "500000", "no", "Closed Won", "03/15/2024 2:30 PM",
     "25,000", "Web"],
    ["L09", "2024-03-20", "Manager", "Globex", "1", "50000", "No", "Negotiation", "", "", "Partner"],
    ["L10", "3/25/2024", "VP", "Acme", "2", "N/A", "Yes", "Closed Lost", "2024-04-01", "", "Web"],
]
ACTIVITIES_HEADER = ["Contact ID", "Activity Type", "Activity Date"]
ACTIVITIES = [
    ["L01", "Demo Request", "2024-01-03"],
    ["L01", "Page View", "1/4/2024 10:00"],
    ["L01", "Page View", "2024-01-20"],          # after L01's scoring point (Jan 9): not counted
    ["L02", "Page View", "2024-01-04"],
    ["L02", "Page View", "not a date"],          # unreadable time: stored as NULL, not counted
    ["L04", "Demo Request", "2024-01-06"],
    ["L04", "Webinar", "1/7/2024"],
    ["L07", "page view", "1/9/2024"],            # type matched ignoring case
    ["L08", "Demo Request", "2024-01-10"],
    ["L08", "Select", "2024-01-11"],             # placeholder type: NULL, not counted
    ["L99", "Page View", "2024-01-05"],          # a lead that is not in the contacts
    ["L09", "Page View", "2024-03-21"],
    ["L10", "Webinar", "2024-03-26"],
    ["L10", "Page View", "2024-04-05"],          # the last moment of the data
]
COMPANIES_HEADER = ["Company Name", "Industry", "Employees"]
COMPANIES = [["Acme", "Software", "1,200"], ["Globex", "Retail", "12,000"], ["Initech", "N/A", "40"]]

T = dt.datetime
# what each contact imports as (by hand): created_at, job_title, page views, revenue, opted in,
# converted (won True, lost False, open None), converted_at, deal value, industry, employees
EXPECTED_LEADS = {
    "L01": (T(2024, 1, 2), "VP", 1234, 1200000, True, True, T(2024, 2, 1), 12500.0, "Software", 1200),
    "L02": (T(2024, 1, 3), "Manager", 12, None, False, False, None, None, "Retail", 12000),
    "L03": (T(2024, 1, 4, 14, 30), None, None, 250000, True, None, None, None, "Software", 1200),
    "L04": (T(2024, 1, 5, 9), "vp", 7, 75000, False, True, T(2024, 1, 20, 10), 1000.0, None, 40),
    "L05": (None, "Director", 0, None, True, False, None, None, None, None),
    "L06": (None, "Analyst", 3, 10, False, None, None, None, "Retail", 12000),
    "L07": (T(2024, 1, 8), "Manager", 5, 3000000, True, False, None, None, "Software", 1200),
    "L08": (T(2024, 1, 9, 8, 15), "VP", 20, 500000, False, True, T(2024, 3, 15, 14, 30), 25000.0, None, 40),
    "L09": (T(2024, 3, 20), "Manager", 1, 50000, False, None, None, None, "Retail", 12000),
    "L10": (T(2024, 3, 25), "VP", 2, None, True, False, None, None, "Software", 1200),
}

# A config with points, to check scores by hand (evaluation fixed: scored 7 days after creation,
# converted within 30 days after that; no decay; data ends 2024-04-05).
POINTS = {
    "evaluation": {"scoring_point_days": 7, "outcome_window_days": 30},
    "decay": {"kind": "none"},
    "fit": [
        {"type": "categorical", "column": "job_title", "points": {"VP": 10, "Manager": 5}, "other": 0, "missing": 0},
        {"type": "categorical", "column": "industry", "points": {"Software": 5}, "other": 0, "missing": 0},
        {"type": "numeric", "column": "employees", "bins": [{"max": 100, "points": 0}, {"min": 100, "points": 3}],
         "other": 0, "missing": 0},
        {"type": "categorical", "column": "opted_in", "points": {"true": 2}, "other": 0, "missing": 0},
    ],
    "engagement": [
        {"column": "number_of_page_views", "points": 0.01, "cap": 5},
        {"event": "Demo Request", "points": 20},
        {"event": "Page View", "points": 1},
        {"event": "Webinar", "points": 5},
    ],
}
# by hand: fit (title + industry + employees + opted in) + page views x 0.01 (cap 5) + events before
# the scoring point (and before a conversion)
EXPECTED_SCORES = {
    "L01": 10 + 5 + 3 + 2 + 5 + 20 + 1,          # Demo Jan 3, Page View Jan 4; Jan 20 is too late
    "L02": 5 + 0 + 3 + 0 + 0.12 + 1,             # Page View Jan 4; the unreadable time does not count
    "L03": 0 + 5 + 3 + 2 + 0,                    # 'Select' title is missing; 'acme' joins Acme
    "L04": 10 + 0 + 0 + 0 + 0.07 + 20 + 5,       # 'vp ' is VP; Initech's industry is 'N/A'
    "L07": 5 + 5 + 3 + 2 + 0.05 + 1,             # 'page view' counts as Page View
    "L08": 10 + 0 + 0 + 0 + 0.2 + 20,            # the 'Select' event type does not count
    "L09": 5 + 0 + 3 + 0 + 0.01 + 1,
    "L10": 10 + 5 + 3 + 2 + 0.02 + 5,
}
# the outcome has three states (stage + close date): won and lost leads are mature whatever their
# age (L10, lost, created Mar 25); open ones (L03, L09: Negotiation) are immature, never lost;
# a win counts when it falls within the window (scoring point + 30 days)
EXPECTED_MATURE = {"L01", "L02", "L04", "L07", "L08", "L10"}
EXPECTED_CONVERTED = {"L01", "L04"}  # L08 won on Mar 15, after its window (Feb 15)


def write_table(path: Path, header: list[str], rows: list[list], fmt: str) -> Path:
    """Write rows (all text, None as empty) as CSV or as a Parquet file of strings."""
    columns = {h: [r[i] for r in rows] for i, h in enumerate(header)}
    if fmt == "parquet":
        pq.write_table(pa.table({h: pa.array(v, pa.string()) for h, v in columns.items()}), path)
    else:
        path.write_text(_csv(header, rows), encoding="utf-8")
    return path


def _csv(header: list[str], rows: list[list]) -> str:
    def cell(v) -> str:
        v = "" if v is None else str(v)
        return '"' + v.replace('"', '""') + '"' if any(ch in v for ch in ',"\n') else v

    return "\n".join(",".join(cell(v) for v in row) for row in [header, *rows]) + "\n"


def write_crm(folder: Path, fmt: str = "csv") -> list[Path]:
    """The contacts, activities and companies files in ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    ext = "parquet" if fmt == "parquet" else "csv"
    return [write_table(folder / f"contacts.{ext}", CONTACTS_HEADER, CONTACTS, fmt),
            write_table(folder / f"activities.{ext}", ACTIVITIES_HEADER, ACTIVITIES, fmt),
            write_table(folder / f"companies.{ext}", COMPANIES_HEADER, COMPANIES, fmt)]


# A flat export: activity counts in columns, no events, no dates; the outcome as Yes/No.
FLAT_HEADER = ["Email", "Job Level", "Country", "Webinars Attended", "Emails Opened", "Converted"]
FLAT = [
    ["a@x.com", "VP", "US", "2", "10", "Yes"],
    ["b@x.com", "Manager", "DE", "0", "3", "No"],
    ["c@x.com", "Select", "US", "1", "0", ""],      # open: immature
    ["d@x.com", "VP", "FR", "1,000", "5", "No"],
    ["e@x.com", "Manager", "us", "3", "-", "yes"],
    ["f@x.com", "", "DE", "0", "1", "N/A"],       # open: immature
]
FLAT_CONVERTED = {"a@x.com": True, "b@x.com": False, "c@x.com": None, "d@x.com": False, "e@x.com": True,
                  "f@x.com": None}


def write_flat(folder: Path, fmt: str = "csv", outcome: list[str] | None = None,
               header: list[str] | None = None) -> Path:
    """The flat export (optionally with another outcome column or header)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [list(r) for r in FLAT]
    if outcome is not None:
        for row, value in zip(rows, outcome):
            row[-1] = value
    ext = "parquet" if fmt == "parquet" else "csv"
    return write_table(folder / f"flat.{ext}", header or FLAT_HEADER, rows, fmt)

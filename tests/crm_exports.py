"""A corpus of realistic CRM and marketing exports, generated (seeded) with a known truth.

Each ``write_*`` function writes the files one tool would export, with its column names,
date formats, stages and placeholders, and returns an ``Export``: the paths and the truth
per lead (when it was created, whether it is won, lost or open, when it was won), plus
what the import must decide on its own (which file is the leads, which column is the
creation time, which columns are filled only after the outcome). The counts a test
expects are worked out here from that truth with the documented rules, never by the
importer.

- ``write_hubspot``: contacts + deals (a contact may have two deals; lifecycle stage and
  deal columns exist only after the outcome); contact create dates as ``2024-03-01 10:22``.
- ``write_salesforce``: leads + opportunities (open / won / lost stages, US dates with
  AM/PM, a sales-filled lead status).
- ``write_pipedrive``: one deals file (status open / won / lost, won and lost times, a lost
  reason only for lost deals, an update time after every other date, a constant currency).
- ``write_pipeline``: a CRM opportunities export (open / won / lost stages, an engage date
  and a close date) with accounts in a second file; product and agent as keys.
- ``write_marketing``: an MQL list and a closed-deals file keyed on the MQL id, whose extra
  columns exist only for won leads; day-first dates (``27/03/2024``).
- ``write_flat``: a lead-scoring case-study export: no dates, a 0/1 outcome, two
  sales-filled status columns that leak the outcome, a per-second activity column, an
  "Activity Score" that is a score, "Do Not Email", constant columns.
- ``write_dates``: one leads file with day-first, month-first or ambiguous dates.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

END = dt.datetime(2025, 6, 30, 18, 0)
START = dt.datetime(2024, 1, 1)


@dataclass
class Export:
    """Files written and the truth behind them."""

    name: str
    files: list[Path]
    leads_file: str
    """File name of the leads (one row per lead)."""
    lead_ids: list[str]
    created: list[dt.datetime | None]
    """Creation time per lead (None: the export has no creation times)."""
    state: list[bool | None]
    """True won, False lost, None open (or, for an outcome file, not named)."""
    won_at: list[dt.datetime | None]
    created_column: str | None
    """The column that is the creation time (None: there is none)."""
    outcome_file: str | None = None
    """The file holding the outcome, when it is not the leads file."""
    named: list[bool] | None = None
    """For an outcome file: whether it names the lead (unnamed leads have not converted)."""
    post_outcome: set[str] = field(default_factory=set)
    """Clean names of leads-table columns filled after the outcome (never fit rules)."""
    not_rules: set[str] = field(default_factory=set)
    account: str | None = None
    """The column the import must propose as the account key (clean name), if any."""
    """Clean names that must not become any rule (ids, constants, free text, dates)."""
    fit_expected: set[str] = field(default_factory=set)
    """Clean names that must be proposed as fit attributes."""
    activity_expected: set[str] = field(default_factory=set)
    """Clean names that must be proposed as engagement (activity) columns."""

    def data_end(self) -> dt.datetime | None:
        """The latest creation or conversion time (what leadcal calls the data's end); None without times."""
        times = [t for t in self.created if t is not None] + [t for t in self.won_at if t is not None]
        return max(times) if times and self.created_column else None

    def expected_counts(self, window_days: float, scoring_point_days: float, data_end: dt.datetime) -> dict:
        """Leads, mature, converted and open leads by the README's rules, from the truth."""
        leads = mature = converted = open_ = 0
        for created, state, won_at, named in zip(self.created, self.state, self.won_at,
                                                 self.named or [True] * len(self.state)):
            if self.created_column is not None and created is None:
                continue  # no creation time: not scored
            leads += 1
            end = None if created is None else created + dt.timedelta(days=scoring_point_days + window_days)
            if self.outcome_file is not None and not named:  # not named: not converted, by the window
                mature += end is not None and end <= data_end
                continue
            if self.state_only_dates:  # a date alone: converted within the window; mature once it passed
                is_mature = end <= data_end
                mature += is_mature
                converted += is_mature and won_at is not None and won_at < end
                continue
            if state is None:
                open_ += 1
                continue
            mature += 1
            if state and (won_at is None or end is None or won_at < end):
                converted += 1
        return {"leads": leads, "mature": mature, "converted": converted,
                "open": None if self.state_only_dates else open_}

    state_only_dates: bool = False
    """The outcome is a conversion date alone (no won / lost / open states)."""


# --------------------------------------------------------------------------- helpers


def _write(path: Path, header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows([["" if v is None else v for v in r] for r in rows])
    return path


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _created(rng: np.random.Generator, n: int, start: dt.datetime = START, end: dt.datetime = END) -> list:
    span = (end - start).total_seconds()
    secs = np.sort(rng.uniform(0, span * 0.97, n))
    return [start + dt.timedelta(minutes=int(s // 60)) for s in secs]  # whole minutes, as exports write them


def _pick(rng: np.random.Generator, values: list, n: int, p=None) -> np.ndarray:
    return np.asarray(values, dtype=object)[rng.choice(len(values), n, p=p)]


def _outcome_times(rng, created: list[dt.datetime], will_win: np.ndarray, lost_chance: float = 1.0):
    """A deal's state at END: wins close 5-120 days after creation, losses 10-150 days; later ones are open."""
    n = len(created)
    win_days = 5 + rng.gamma(2.0, 20.0, n).clip(0, 115)
    lose_days = 10 + rng.gamma(2.0, 25.0, n).clip(0, 140)
    state, won_at, closed_at = [], [], []
    for i in range(n):
        if will_win[i]:
            t = created[i] + dt.timedelta(minutes=int(win_days[i] * 1440))
            ok = t <= END
            state.append(True if ok else None)
            won_at.append(t if ok else None)
            closed_at.append(t if ok else None)
        else:
            t = created[i] + dt.timedelta(minutes=int(lose_days[i] * 1440))
            ok = t <= END and rng.random() < lost_chance
            state.append(False if ok else None)
            won_at.append(None)
            closed_at.append(t if ok else None)
    return state, won_at, closed_at


def _us(t: dt.datetime | None, seconds: bool = False) -> str | None:
    if t is None:
        return None
    hour = t.hour % 12 or 12
    return f"{t.month}/{t.day}/{t.year} {hour}:{t.minute:02d} {'AM' if t.hour < 12 else 'PM'}"


# --------------------------------------------------------------------------- HubSpot


def write_hubspot(folder: Path, n: int = 2000, seed: int = 11) -> Export:
    """contacts.csv + deals.csv as HubSpot exports them."""
    rng = np.random.default_rng(seed)
    created = _created(rng, n)
    ids = [str(v) for v in rng.choice(np.arange(100_000, 999_999), n, replace=False)]
    industry = _pick(rng, ["Computer Software", "Financial Services", "Retail", "Hospital & Health Care",
                           "Marketing and Advertising", "Education Management", "Construction"], n)
    source = _pick(rng, ["ORGANIC_SEARCH", "PAID_SEARCH", "EMAIL_MARKETING", "SOCIAL_MEDIA", "REFERRALS",
                         "DIRECT_TRAFFIC", "OFFLINE"], n)
    title = _pick(rng, ["CEO", "VP Marketing", "Marketing Manager", "Director of Sales", "Analyst", "Intern",
                        "Head of Growth", "Consultant"], n)
    employees = np.round(np.exp(rng.normal(4.5, 1.5, n))).astype(int) + 1
    pageviews = rng.poisson(np.exp(rng.normal(1.2, 0.9, n)))
    sessions = np.maximum(pageviews // 2, rng.poisson(1.0, n))
    do_not_email = rng.random(n) < 0.15
    owner = _pick(rng, ["Ann Lee", "Bo Chan", "Cy Diaz", "Di Evans"], n)
    logit = (-1.2 + np.isin(title, ["CEO", "VP Marketing", "Director of Sales", "Head of Growth"]) * 1.0
             - np.isin(title, ["Intern"]) * 1.5 + (industry == "Computer Software") * 0.7
             + np.log1p(pageviews) * 0.6 + (source == "REFERRALS") * 0.8 - (source == "SOCIAL_MEDIA") * 0.6
             - do_not_email * 0.5)
    has_deal = rng.random(n) < _sigmoid(logit + 0.3)
    will_win = rng.random(n) < _sigmoid(logit)
    state, won_at, closed_at = _outcome_times(rng, created, will_win)
    contacts, deals = [], []
    deal_no = 1
    lifecycle = []
    for i in range(n):
        if has_deal[i]:
            stage = {True: "closedwon", False: "closedlost", None: str(rng.choice(
                ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "contractsent"]))}[state[i]]
            deal_created = created[i] + dt.timedelta(days=float(rng.uniform(0.5, 4)))
            close = closed_at[i] or (END + dt.timedelta(days=30))  # open deals carry an expected close date
            if state[i] is True and rng.random() < 0.15:  # an earlier lost deal of the same contact
                deals.append([f"D{deal_no:06d}", ids[i], f"Deal {deal_no}", "closedlost",
                              deal_created.strftime("%Y-%m-%d %H:%M"), deal_created.strftime("%Y-%m-%d %H:%M"),
                              f"{rng.integers(1, 30) * 500}", str(owner[i])])
                deal_no += 1
            deals.append([f"D{deal_no:06d}", ids[i], f"Deal {deal_no}", stage,
                          deal_created.strftime("%Y-%m-%d %H:%M"), close.strftime("%Y-%m-%d %H:%M"),
                          f"{rng.integers(1, 60) * 500}", str(owner[i])])
            deal_no += 1
        else:
            state[i], won_at[i] = None, None  # no deal: not named by the deals file
        lifecycle.append({True: "customer", False: "opportunity", None: "opportunity"}[state[i]]
                         if has_deal[i] else str(rng.choice(["lead", "marketingqualifiedlead", "subscriber"])))
        modified = max(created[i], closed_at[i] or created[i]) + dt.timedelta(days=float(rng.uniform(1, 20)))
        contacts.append([ids[i], f"First{i}", f"Last{i}", f"person{i}@example{i % 97}.com",
                         created[i].strftime("%Y-%m-%d %H:%M"), str(title[i]), str(industry[i]),
                         str(employees[i]) if rng.random() > 0.05 else "", str(source[i]), str(pageviews[i]),
                         str(sessions[i]), "true" if do_not_email[i] else "false", lifecycle[i], str(owner[i]),
                         min(modified, END).strftime("%Y-%m-%d %H:%M"), "United States"])
    folder.mkdir(parents=True, exist_ok=True)
    files = [
        _write(folder / "contacts.csv", ["Record ID", "First Name", "Last Name", "Email", "Create Date",
                                         "Job Title", "Industry", "Number of Employees", "Original Source",
                                         "Number of Pageviews", "Number of Sessions", "Do Not Email",
                                         "Lifecycle Stage", "Contact owner", "Last Modified Date",
                                         "Country/Region"], contacts),
        _write(folder / "deals.csv", ["Deal ID", "Associated Contact ID", "Deal Name", "Deal Stage", "Create Date",
                                      "Close Date", "Amount", "Deal owner"], deals),
    ]
    return Export("hubspot", files, "contacts.csv", ids, created, state, won_at, "Create Date",
                  outcome_file="deals.csv", named=list(map(bool, has_deal)),
                  post_outcome={"lifecycle_stage"},
                  not_rules={"record_id", "first_name", "last_name", "email", "create_date", "last_modified_date",
                             "country_region"},
                  fit_expected={"job_title", "industry", "number_of_employees", "original_source", "do_not_email",
                                "contact_owner"},
                  activity_expected={"number_of_pageviews", "number_of_sessions"})


# --------------------------------------------------------------------------- Salesforce


def write_salesforce(folder: Path, n: int = 2400, seed: int = 12) -> Export:
    """leads.csv + opportunities.csv as a Salesforce report exports them (US dates, AM/PM)."""
    rng = np.random.default_rng(seed)
    created = _created(rng, n)
    ids = [f"00Q5e0000{i:06X}" for i in rng.choice(np.arange(0x100000, 0xFFFFFF), n, replace=False)]
    lead_source = _pick(rng, ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Trade Show",
                              "Other"], n)
    industry = _pick(rng, ["Technology", "Finance", "Healthcare", "Manufacturing", "Retail", "Education"], n)
    rating = _pick(rng, ["Hot", "Warm", "Cold"], n, p=[0.2, 0.4, 0.4])
    revenue = np.round(np.exp(rng.normal(15, 1.5, n)), -3)
    employees = np.round(np.exp(rng.normal(5, 1.4, n))).astype(int) + 1
    email_opens = rng.poisson(np.exp(rng.normal(1.0, 0.8, n)))
    logit = (-0.8 + (rating == "Hot") * 1.2 - (rating == "Cold") * 0.8 + (lead_source == "Partner Referral") * 0.9
             - (lead_source == "Purchased List") * 1.0 + 0.35 * (np.log10(revenue) - 6.5) + np.log1p(email_opens) * 0.4)
    has_opp = rng.random(n) < _sigmoid(logit + 0.8)
    will_win = rng.random(n) < _sigmoid(logit + 0.6)
    state, won_at, closed_at = _outcome_times(rng, created, will_win)
    leads, opps = [], []
    open_stages = ["Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review"]
    for i in range(n):
        if won_at[i] is not None:  # the export writes the close date without a time
            won_at[i] = won_at[i].replace(hour=0, minute=0)
        if has_opp[i]:
            stage = {True: "Closed Won", False: "Closed Lost", None: str(rng.choice(open_stages))}[state[i]]
            close = closed_at[i] or END + dt.timedelta(days=45)
            opps.append([f"0065e{i:08d}", ids[i], f"Opportunity {i}", stage, _us(close).split(" ")[0],
                         _us(created[i] + dt.timedelta(days=1)), f"${rng.integers(5, 200) * 1000:,}",
                         {"Closed Won": "100", "Closed Lost": "0"}.get(stage, str(rng.choice([10, 20, 50, 75]))),
                         "New Business"])
            status = "Qualified"
        else:
            state[i], won_at[i] = None, None
            status = str(rng.choice(["Open", "Contacted", "Unqualified"], p=[0.2, 0.3, 0.5]))
        leads.append([ids[i], f"Lead {i}", f"Company {i % 500}", _us(created[i]), str(lead_source[i]),
                      str(industry[i]), str(rating[i]), f"${revenue[i]:,.0f}", str(employees[i]), str(email_opens[i]),
                      status, "Select" if rng.random() < 0.03 else str(rng.choice(["CA", "NY", "TX", "WA"]))])
    folder.mkdir(parents=True, exist_ok=True)
    files = [
        _write(folder / "leads.csv", ["Lead ID", "Full Name", "Company / Account", "Created Date", "Lead Source",
                                      "Industry", "Rating", "Annual Revenue", "No. of Employees", "Email Opens",
                                      "Lead Status", "State/Province"], leads),
        _write(folder / "opportunities.csv", ["Opportunity ID", "Lead ID", "Opportunity Name", "Stage",
                                              "Close Date", "Created Date", "Amount", "Probability (%)", "Type"], opps),
    ]
    return Export("salesforce", files, "leads.csv", ids, created, state, won_at, "Created Date",
                  outcome_file="opportunities.csv", named=list(map(bool, has_opp)),
                  post_outcome={"lead_status"},
                  not_rules={"lead_id", "full_name", "company_account", "created_date"}, account="company_account",
                  fit_expected={"lead_source", "industry", "rating", "annual_revenue", "no_of_employees",
                                "state_province"},
                  activity_expected={"email_opens"})


# --------------------------------------------------------------------------- Pipedrive


def write_pipedrive(folder: Path, n: int = 2000, seed: int = 13) -> Export:
    """One deals.csv as Pipedrive exports it: open / won / lost status, won and lost times."""
    rng = np.random.default_rng(seed)
    created = _created(rng, n)
    source = _pick(rng, ["Website", "Referral", "Cold call", "LinkedIn", "Event"], n)
    industry = _pick(rng, ["SaaS", "Agency", "E-commerce", "Consulting", "Manufacturing"], n)
    employees = np.round(np.exp(rng.normal(3.8, 1.3, n))).astype(int) + 1
    activities = rng.poisson(np.exp(rng.normal(1.5, 0.7, n)))
    emails = rng.poisson(np.exp(rng.normal(1.0, 0.9, n)))
    owner = _pick(rng, ["Alex", "Sam", "Kim"], n)
    logit = (-0.6 + (source == "Referral") * 1.0 - (source == "Cold call") * 0.9 + (industry == "SaaS") * 0.5
             + 0.25 * np.log(employees) - 0.9 + np.log1p(activities) * 0.5)
    will_win = rng.random(n) < _sigmoid(logit)
    state, won_at, closed_at = _outcome_times(rng, created, will_win)
    rows = []
    for i in range(n):
        status = {True: "won", False: "lost", None: "open"}[state[i]]
        stage = str(rng.choice(["Qualified", "Contact Made", "Demo Scheduled", "Proposal Made",
                                "Negotiations Started"]))
        fmt = "%Y-%m-%d %H:%M:%S"
        lost_at = closed_at[i] if state[i] is False else None
        update = (closed_at[i] or created[i]) + dt.timedelta(days=float(rng.uniform(0.5, 10)))
        rows.append([str(1000 + i), f"{industry[i]} deal {i}", f"Org {i % 700}", f"{rng.integers(1, 90) * 250}",
                     "USD", status, stage, created[i].strftime(fmt), won_at[i].strftime(fmt) if won_at[i] else "",
                     lost_at.strftime(fmt) if lost_at else "",
                     str(rng.choice(["Price", "Competitor", "No budget", "Timing"])) if state[i] is False else "",
                     str(owner[i]), str(source[i]), str(activities[i]), str(emails[i]),
                     min(update, END).strftime(fmt), str(industry[i]), str(employees[i])])
    folder.mkdir(parents=True, exist_ok=True)
    files = [_write(folder / "deals.csv", [
        "Deal - ID", "Deal - Title", "Deal - Organization", "Deal - Value", "Deal - Currency", "Deal - Status",
        "Deal - Stage", "Deal - Deal created", "Deal - Won time", "Deal - Lost time", "Deal - Lost reason",
        "Deal - Owner", "Deal - Source", "Deal - Total activities", "Deal - Email messages count",
        "Deal - Update time", "Organization - Industry", "Organization - Number of employees"], rows)]
    return Export("pipedrive", files, "deals.csv", [str(1000 + i) for i in range(n)], created, state, won_at,
                  "Deal - Deal created",
                  post_outcome={"deal_lost_reason"},
                  not_rules={"deal_id", "deal_title", "deal_organization", "deal_currency", "deal_deal_created",
                             "deal_won_time", "deal_lost_time", "deal_update_time"},
                  fit_expected={"deal_source", "organization_industry", "organization_number_of_employees",
                                "deal_owner", "deal_stage"},
                  activity_expected={"deal_total_activities", "deal_email_messages_count"}, account="deal_organization")


# --------------------------------------------------------------------------- CRM opportunities pipeline


def write_pipeline(folder: Path, n: int = 2400, seed: int = 17) -> Export:
    """sales_pipeline.csv (one row per opportunity: Prospecting / Engaging / Won / Lost, an engage date on every
    row and a close date on closed ones, product, agent and account as keys) + accounts.csv + products.csv.

    The issue's first export: 'engage_date' is the creation time only by its values (filled on every row,
    always before the close date); open deals must not count as lost; product and agent are attributes."""
    rng = np.random.default_rng(seed)
    created = [t.replace(hour=0, minute=0) for t in _created(rng, n)]
    accounts = [f"Account {i:03d}" for i in range(80)]
    sector = {a: str(rng.choice(["software", "retail", "medical", "finance", "services"])) for a in accounts}
    employees = {a: int(np.exp(rng.normal(6, 1.2))) + 1 for a in accounts}
    products = ["GTX Basic", "GTX Pro", "MG Special", "MG Advanced", "GTK 500"]
    agents = [f"Agent {c}" for c in "ABCDEFGHIJ"]
    account = _pick(rng, accounts, n)
    product = _pick(rng, products, n)
    agent = _pick(rng, agents, n)
    logit = (0.5 + (product == "GTK 500") * -1.0 + (product == "MG Special") * 0.6
             + np.array([{"software": 0.6, "retail": -0.4}.get(sector[a], 0.0) for a in account])
             + np.array([0.3 * (ord(g[-1]) % 3 - 1) for g in agent]))
    will_win = rng.random(n) < _sigmoid(logit)
    state, won_at, closed_at = _outcome_times(rng, created, will_win)
    rows = []
    for i in range(n):
        won_at[i] = won_at[i].replace(hour=0, minute=0) if won_at[i] else None  # written as dates
        stage = {True: "Won", False: "Lost", None: str(rng.choice(["Prospecting", "Engaging"]))}[state[i]]
        close = closed_at[i].strftime("%Y-%m-%d") if closed_at[i] else ""
        value = str(int(rng.integers(500, 6000))) if state[i] is True else ("0" if state[i] is False else "")
        rows.append([f"{rng.integers(0, 36**8):08X}{i:04d}", str(agent[i]), str(product[i]), str(account[i]),
                     stage, created[i].strftime("%Y-%m-%d"), close, value])
    folder.mkdir(parents=True, exist_ok=True)
    files = [
        _write(folder / "sales_pipeline.csv", ["opportunity_id", "sales_agent", "product", "account", "deal_stage",
                                               "engage_date", "close_date", "close_value"], rows),
        _write(folder / "accounts.csv", ["account", "sector", "employees", "office_location"],
               [[a, sector[a], str(employees[a]), "United States"] for a in accounts]),
    ]
    return Export("pipeline", files, "sales_pipeline.csv", [r[0] for r in rows], created, state, won_at,
                  "engage_date", not_rules={"opportunity_id", "engage_date", "close_date", "office_location"},
                  fit_expected={"sales_agent", "product", "sector", "employees"}, account="account")


# --------------------------------------------------------------------------- marketing automation


def write_marketing(folder: Path, n: int = 3000, seed: int = 14) -> Export:
    """mql_list.csv (day-first dates) + closed_deals.csv keyed on the MQL id, extra columns only for won leads."""
    rng = np.random.default_rng(seed)
    created = [t.replace(hour=0, minute=0) for t in _created(rng, n)]  # written as dates (27/03/2024)
    ids = ["".join(rng.choice(list("0123456789abcdef"), 32)) for _ in range(n)]
    origin = _pick(rng, ["organic_search", "paid_search", "social", "email", "direct_traffic", "referral",
                         "unknown"], n)
    landing = [f"{rng.integers(0, 10**12):012x}" for _ in range(n)]  # near-unique page ids: never a rule
    logit = (-2.3 + (origin == "paid_search") * 0.6 + (origin == "referral") * 0.9 - (origin == "social") * 0.7
             + (origin == "organic_search") * 0.4)
    will_win = rng.random(n) < _sigmoid(logit)
    won_at = []
    for i in range(n):
        t = created[i] + dt.timedelta(minutes=int((3 + rng.gamma(2.0, 15.0)) * 1440))
        won_at.append(t if will_win[i] and t <= END else None)
    mqls, deals = [], []
    for i in range(n):
        mqls.append([ids[i], created[i].strftime("%d/%m/%Y"), landing[i], str(origin[i])])
        if won_at[i] is not None:
            deals.append([ids[i], f"{rng.integers(0, 10**12):012x}", f"sdr{rng.integers(0, 30)}",
                          f"sr{rng.integers(0, 20)}", won_at[i].strftime("%Y-%m-%d %H:%M:%S"),
                          str(rng.choice(["pet", "car_accessories", "home_decor", "health_beauty"])),
                          str(rng.choice(["online_big", "online_medium", "industry", "offline"])),
                          str(rng.choice(["cat", "eagle", "wolf", "shark"])), str(rng.choice(["reseller",
                                                                                               "manufacturer"])),
                          str(rng.integers(0, 5_000_000))])
    folder.mkdir(parents=True, exist_ok=True)
    files = [
        _write(folder / "mql_list.csv", ["mql_id", "first_contact_date", "landing_page_id", "origin"], mqls),
        _write(folder / "closed_deals.csv", ["mql_id", "seller_id", "sdr_id", "sr_id", "won_date",
                                             "business_segment", "lead_type", "lead_behaviour_profile",
                                             "business_type", "declared_monthly_revenue"], deals),
    ]
    named = [t is not None for t in won_at]
    return Export("marketing", files, "mql_list.csv", ids, created, [True if t else None for t in won_at], won_at,
                  "first_contact_date", outcome_file="closed_deals.csv", named=named, state_only_dates=True,
                  not_rules={"mql_id", "landing_page_id", "first_contact_date"}, fit_expected={"origin"})


# --------------------------------------------------------------------------- flat case-study export

TAGS_WON = ["Will revert after reading the email", "Closed by Horizzon", "Lost to EINS", "Busy"]
TAGS_LOST = ["Ringing", "Interested in other courses", "switched off", "Already a student", "invalid number",
             "Not doing further education"]


def write_flat(folder: Path, n: int = 3000, seed: int = 15) -> Export:
    """leads.csv of a lead-scoring case study: no dates, a 0/1 outcome, sales-filled columns that leak it."""
    rng = np.random.default_rng(seed)
    origin = _pick(rng, ["Landing Page Submission", "API", "Lead Add Form", "Lead Import"], n,
                   p=[0.5, 0.35, 0.1, 0.05])
    source = _pick(rng, ["Google", "Direct Traffic", "Olark Chat", "Organic Search", "Reference", "Welingak Website",
                         "Referral Sites"], n)
    occupation = _pick(rng, ["Unemployed", "Working Professional", "Student", "Select", "Other"], n,
                       p=[0.55, 0.15, 0.05, 0.2, 0.05])
    do_not_email = rng.random(n) < 0.08
    visits = rng.poisson(np.exp(rng.normal(1.0, 0.7, n)))
    seconds = np.where(visits > 0, np.round(np.exp(rng.normal(5.6, 1.0, n))), 0).astype(int)
    per_visit = np.where(visits > 0, np.round(rng.gamma(2.0, 1.2, n), 2), 0.0)
    activity_score = rng.integers(7, 19, n)  # a score in 7..18, never a count
    last_activity = _pick(rng, ["Email Opened", "SMS Sent", "Olark Chat Conversation", "Page Visited on Website",
                                "Converted to Lead", "Email Bounced", "Email Link Clicked", "Form Submitted on "
                                "Website"], n)
    logit = (-1.0 + 0.0011 * seconds + (occupation == "Working Professional") * 2.0 - (occupation == "Student") * 0.5
             + (origin == "Lead Add Form") * 2.0 - (source == "Olark Chat") * 0.7 + (source == "Reference") * 1.2
             + (last_activity == "SMS Sent") * 1.3 - (last_activity == "Email Bounced") * 1.2 - do_not_email * 0.9
             + 0.08 * (activity_score - 12))
    converted = rng.random(n) < _sigmoid(logit)
    rows = []
    for i in range(n):
        # sales fill 'Tags' after the call (nearly always one that tells the outcome) and 'Lead Quality' for some
        if rng.random() < 0.6:
            tag = str(rng.choice(TAGS_WON if (converted[i] ^ (rng.random() < 0.05)) else TAGS_LOST))
        else:
            tag = ""
        quality = ""
        if rng.random() < 0.45:
            good = converted[i] ^ (rng.random() < 0.12)
            quality = str(rng.choice(["High in Relevance", "Might be"] if good else ["Not Sure", "Worst",
                                                                                    "Low in Relevance"]))
        rows.append([f"{rng.integers(0, 16**8):08x}-{i:04x}-4a1b-9c2d-{rng.integers(0, 16**12):012x}",
                     str(660000 + i * 7), str(origin[i]), str(source[i]), "Yes" if do_not_email[i] else "No",
                     "No", "1" if converted[i] else "0", str(visits[i]) if rng.random() > 0.015 else "",
                     str(seconds[i]), f"{per_visit[i]:g}", str(last_activity[i]), "India", str(occupation[i]),
                     tag, quality, str(activity_score[i]) if rng.random() > 0.3 else "", "No", "No",
                     f"Note {i}: called on day {rng.integers(1, 30)}, asked about {rng.choice(['fees', 'dates'])}"])
    folder.mkdir(parents=True, exist_ok=True)
    files = [_write(folder / "leads.csv", [
        "Prospect ID", "Lead Number", "Lead Origin", "Lead Source", "Do Not Email", "Do Not Call", "Converted",
        "TotalVisits", "Total Time Spent on Website", "Page Views Per Visit", "Last Activity", "Country",
        "What is your current occupation", "Tags", "Lead Quality", "Asymmetrique Activity Score", "Magazine",
        "Receive More Updates About Our Courses", "Sales Notes"], rows)]
    return Export("flat", files, "leads.csv", [r[0] for r in rows], [None] * n, [bool(c) for c in converted],
                  [None] * n, None, post_outcome={"tags", "lead_quality"},
                  not_rules={"prospect_id", "lead_number", "country", "magazine", "do_not_call",
                             "receive_more_updates_about_our_courses", "sales_notes"},
                  fit_expected={"lead_origin", "lead_source", "do_not_email", "last_activity",
                                "what_is_your_current_occupation", "asymmetrique_activity_score",
                                "page_views_per_visit"},
                  activity_expected={"total_visits", "total_time_spent_on_website"})


# --------------------------------------------------------------------------- date orders


def write_dates(folder: Path, order: str, n: int = 400, seed: int = 16) -> Export:
    """leads.csv with 'Date Created' written day-first, month-first, or ambiguously (every day <= 12)."""
    rng = np.random.default_rng(seed)
    created = [t.replace(hour=0, minute=0) for t in _created(rng, n)]
    if order == "ambiguous":  # every day of the month at most 12: both orders read every value
        created = [t.replace(day=min(t.day, 12)) for t in created]
    converted = rng.random(n) < 0.3
    rows = []
    for i in range(n):
        t = created[i]
        text = f"{t.day:02d}/{t.month:02d}/{t.year}" if order != "month" else f"{t.month}/{t.day}/{t.year}"
        rows.append([f"P{i:05d}", text, str(rng.choice(["A", "B", "C"])), "Yes" if converted[i] else "No"])
    files = [_write(folder / "leads.csv", ["Person ID", "Date Created", "Tier", "Converted"], rows)]
    return Export(f"dates-{order}", files, "leads.csv", [r[0] for r in rows], created,
                  [bool(c) for c in converted], [None] * n, "Date Created")


WRITERS = {"hubspot": write_hubspot, "salesforce": write_salesforce, "pipedrive": write_pipedrive,
           "pipeline": write_pipeline, "marketing": write_marketing, "flat": write_flat}

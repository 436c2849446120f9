"""Deterministic demo DuckDB generator for leadcal.

Why it exists: the calibration meeting, the tests and the benchmarks need a realistic
lead database that anyone can rebuild bit-for-bit (``leadcal demo`` / ``generate``),
with a *known* truth, so that we can check that leadcal recovers it instead of
arguing from screenshots. The data looks like a messy CRM/marketing-automation export
(``''`` and ``'Select'`` meaning missing, NULL company sizes and countries) and has a
drift in its last three months.

Tables (names and types are part of the app's default mapping; do not rename):

- ``leads(lead_id BIGINT, created_at TIMESTAMP, segment VARCHAR, seniority VARCHAR,
  department VARCHAR, company_size INTEGER, industry VARCHAR, country VARCHAR,
  email_domain_type VARCHAR, channel VARCHAR, company VARCHAR)`` - ``lead_id`` 1..N in
  creation order; ``company`` is the account key (see "Accounts" below);
- ``events(lead_id BIGINT, event_type VARCHAR, occurred_at TIMESTAMP)`` - occurred_at in
  ``[created_at - 30 d, min(created_at + 120 d, DEMO_END)]``;
- ``outcomes(lead_id BIGINT, stage VARCHAR, converted_at TIMESTAMP, deal_value DOUBLE)`` -
  one row per lead, stage ``won`` / ``lost`` / ``open``.

Truth
-----
Everything below is also in the machine-readable dict :data:`TRUTH`.

Generation order (so engagement never leaks the outcome): lead attributes -> a latent
*intent* ``z ~ N(0, 1)`` (lowered for job seekers, students and ``social_ads`` leads)
-> events drawn from intent -> conversion drawn from a logistic model of the fit
attributes and of the early events -> the stage seen at ``DEMO_END``. Events are never
generated because of a conversion.

Conversion: ``P(convert) = sigmoid(logit)`` with ::

    logit = intercept
          + seniority[s] * seniority_segment_multiplier[segment]
          + email_domain_type[e] + industry[i] + channel[c]
          + company_size_per_log10 * (log10(true company size) - log10(50))
          + sum over event types k of  weight[segment][k] * transform_k(S_k)

``S_k`` is the *decayed* count of the lead's own type-k events that occurred before
``created_at + 14 days`` (the ad-driven events of item 5 do not count): each event
counts ``0.5 ** (age / 14 days)`` where the age is measured back from the scoring point
``created_at + 7 days`` (events between day 7 and day 14 count 1). ``transform_k`` is
``min(S, cap)`` for most types and ``log2(1 + S)`` (diminishing returns) for
``pricing_page_view``. The fit terms use the *true* seniority and company size, also
where the export shows them as missing. Department and country have no effect.

What this makes true and measurable:

1. Strong positive signals: demo_request (strongest), trial_signup, pricing_page_view
   (repeated views add, with diminishing returns), competitor_comparison_download.
   Moderate: webinar_attended, email_click. Weak: whitepaper_download. email_open has
   no effect (weight 0, and its rate does not depend on intent).
2. Negative: careers_page_view (job seekers), unsubscribe, free e-mail domains, students.
   Positive fit: C-level / VP / Director, larger companies, Software and Financial
   Services (slightly).
3. Recency: besides the decayed truth, high-intent leads' early events cluster in the
   days just before the scoring point, while low-intent leads' events are spread out;
   anonymous pre-form visits (up to 30 days before created_at) carry little intent.
   An exponential decay with half-life 14-30 days beats no decay.
4. Segments differ: in Enterprise demo_request and seniority weigh more and
   trial_signup less; in SMB trial_signup is the strongest signal.
5. Drift: from ``DRIFT_START`` (the last three calendar months) the new ``social_ads``
   channel brings about 35% of the leads (ramping from 10% to 60%). Half of them use
   free e-mail domains, their intent is lower and their channel term negative, so they
   convert several times less. On top of their own engagement they get ad-driven
   events that carry no intent: the ad's lead magnet (a whitepaper_download at
   created_at), a nurture burst of email opens, more whitepapers, and retargeting
   clicks onto the pricing page - mostly in their first days. So a score that counts
   opens, whitepapers and pricing views shifts up (PSI of the default config's score,
   last 3 months vs first 6 months, is about 0.15) while conversion per band drops.
6. Messy values: ~6% of seniority is '' or 'Select', ~4% NULL company_size, ~1% NULL
   country.

Accounts: each lead belongs to a company (``company``, ``'Company 0001234'``), drawn from
its own random stream after everything above (so no other column depends on it). Leads
are taken in creation order in windows of about 21 days; each window has about one
company per 5 leads. An *engaged* lead (intent above 1.0, about 16% of leads) goes to one
of the first sixth of its window's companies, every other lead to any of them. So a few
companies gather several engaged contacts (about 5 engaged of about 9 contacts) and those
convert more: their contacts' intent drives both their engagement and their conversions.
Nothing else about a company changes a lead's chance. About 1% of leads have no company
(NULL) and 1% an empty one (''). About 200,000 companies at 1M leads.

Deal values: every lead gets a value drawn around its segment's median (lognormal,
sigma 0.7; ``deal_value_median``); only won leads show it.

Stages at ``DEMO_END``: a would-be converter converts ``1 + Gamma(2.5, 16 d)`` days after
creation (scale 22 d in Enterprise, at most 150 d): ``won`` if that is on or before
DEMO_END, else ``open``. A non-converter is declared ``lost`` ``60 + Exp(15 d)`` days
after creation (at most 150 d): ``lost`` if that is on or before DEMO_END, else
``open``. So every lead older than 150 days is settled, and every lead younger than
60 days that has not converted is open. About 8-9% of mature leads are won.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from .routing import challenger_mask

__all__ = ["DEMO_END", "DEMO_TEST", "DRIFT_START", "EVENT_TYPES", "TRUTH", "generate"]

DEMO_END: datetime = datetime(2026, 6, 30, 23, 59, 59)
"""Fixed end of the demo data (never the wall clock, so rebuilds are identical)."""

DRIFT_START: datetime = datetime(2026, 4, 1)
"""First instant of the last three calendar months, when ``social_ads`` starts."""

MIN_LEADS = 100
MAX_LEADS = 20_000_000
MIN_MONTHS = 4
MAX_MONTHS = 120

_DAY = 86_400  # seconds
_CHUNK_LEADS = 200_000  # leads generated and inserted per chunk (bounds peak memory)

# --- categorical vocabularies (order = code) ------------------------------------------
SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
SENIORITIES = ("C-level", "VP", "Director", "Manager", "Individual Contributor", "Student")
DEPARTMENTS = ("Sales", "Marketing", "IT", "Finance", "Operations", "HR", "Other")
INDUSTRIES = ("Software", "Financial Services", "Healthcare", "Manufacturing", "Retail",
              "Education", "Public Sector", "Other")
COUNTRIES = ("US", "GB", "DE", "FR", "NL", "CA", "AU", "IN", "BR", "ES")
EMAIL_DOMAIN_TYPES = ("business", "free", "education")
CHANNELS = ("organic_search", "paid_search", "referral", "events", "partner", "social_ads")
EVENT_TYPES = ("pricing_page_view", "demo_request", "trial_signup", "webinar_attended",
               "whitepaper_download", "competitor_comparison_download", "email_open",
               "email_click", "careers_page_view", "unsubscribe")
STAGES = ("won", "lost", "open")

_P_SEGMENT = (0.55, 0.30, 0.15)
_P_SENIORITY = (0.05, 0.07, 0.13, 0.25, 0.44, 0.06)
_P_DEPARTMENT = (0.20, 0.25, 0.18, 0.08, 0.12, 0.05, 0.12)
_P_INDUSTRY = (0.25, 0.12, 0.10, 0.13, 0.10, 0.08, 0.07, 0.15)
_P_COUNTRY = (0.38, 0.12, 0.10, 0.07, 0.05, 0.07, 0.05, 0.08, 0.04, 0.04)
_P_CHANNEL = (0.30, 0.25, 0.15, 0.15, 0.15)  # before the drift (no social_ads)
_P_EMAIL_DEFAULT = (0.72, 0.22, 0.06)
_P_EMAIL_STUDENT = (0.10, 0.45, 0.45)
_P_EMAIL_SOCIAL = (0.45, 0.50, 0.05)
_P_SOCIAL_RAMP = (0.10, 0.60)  # social_ads share at DRIFT_START and at DEMO_END (~35% overall)
_P_SENIORITY_MISSING = 0.06  # half '' and half 'Select'
_P_SIZE_NULL = 0.04
_P_COUNTRY_NULL = 0.01
_P_JOB_SEEKER = 0.03
_SOCIAL_INTENT_SHIFT = -0.3
_GROWTH = 0.5  # lead volume at the end is 1.5x the volume at the start

# Event rates: expected count per lead in the windows pre [-30 d, 0), early [0, 14 d)
# and late [14 d, 120 d), times exp(beta * intent) (pre-form visits use beta_pre).
#            type: (pre, early, late, beta)
_RATES = {
    "pricing_page_view": (0.60, 0.45, 0.50, 0.9),
    "demo_request": (0.00, 0.07, 0.05, 1.3),
    "trial_signup": (0.00, 0.07, 0.04, 1.1),
    "webinar_attended": (0.00, 0.12, 0.25, 0.4),
    "whitepaper_download": (0.30, 0.25, 0.40, 0.3),
    "competitor_comparison_download": (0.04, 0.08, 0.05, 1.2),
    "email_open": (0.00, 2.00, 3.60, 0.0),
    "email_click": (0.00, 0.35, 0.60, 0.4),
    "careers_page_view": (0.01, 0.01, 0.02, 0.0),
    "unsubscribe": (0.00, 0.03, 0.10, -0.7),
}
_BETA_PRE = 0.2
_JOB_SEEKER_CAREERS = (0.8, 1.0, 0.6)  # extra careers_page_view rate for job seekers
_TRIAL_SEGMENT_RATE = (1.6, 1.0, 0.4)  # SMB leads start trials, Enterprise leads rarely
# Ad-driven events of a social_ads lead, on top of its own (organic) ones: the nurture
# burst, retargeting ads that land on the pricing page and the ad's lead magnet
# (a whitepaper downloaded at created_at). Expected counts in [0, 14 d) (a burst with a
# 3-day mean) and in [14 d, 120 d). They carry no intent: the truth ignores them.
_AD_EVENTS = {"email_open": (8.0, 6.0), "whitepaper_download": (1.5, 1.0),
              "pricing_page_view": (4.0, 1.0)}
_AD_BURST_DAYS = 3.0
_EMAIL_TYPES = ("email_open", "email_click")  # suppressed after an unsubscribe

_MID = {"demo_request": 2.2, "trial_signup": 1.6, "pricing_page_view": 0.8,
        "competitor_comparison_download": 1.4, "webinar_attended": 0.6, "email_click": 0.4,
        "whitepaper_download": 0.15, "email_open": 0.0, "careers_page_view": -1.5,
        "unsubscribe": -1.5}

TRUTH: dict = {
    "description": "Latent logistic conversion model of scoring.data.demo (see module docstring).",
    "demo_end": DEMO_END.isoformat(),
    "drift_start": DRIFT_START.isoformat(),
    "scoring_point_days": 7,
    "engagement_window_days": 14,
    "decay": {"kind": "exponential", "half_life_days": 14.0, "reference_days": 7},
    "intercept": -5.05,
    "engagement_weights": {
        "SMB": {**_MID, "demo_request": 1.5, "trial_signup": 2.4},
        "Mid-Market": dict(_MID),
        "Enterprise": {**_MID, "demo_request": 3.0, "trial_signup": 0.4},
    },
    "engagement_transform": {
        "pricing_page_view": {"kind": "log2_1p"},
        "demo_request": {"kind": "min", "cap": 1.0},
        "trial_signup": {"kind": "min", "cap": 1.0},
        "competitor_comparison_download": {"kind": "min", "cap": 1.0},
        "webinar_attended": {"kind": "min", "cap": 2.0},
        "email_click": {"kind": "min", "cap": 3.0},
        "whitepaper_download": {"kind": "min", "cap": 3.0},
        "email_open": {"kind": "min", "cap": 10.0},
        "careers_page_view": {"kind": "min", "cap": 1.0},
        "unsubscribe": {"kind": "min", "cap": 1.0},
    },
    "fit": {
        "seniority": {"C-level": 0.9, "VP": 0.8, "Director": 0.6, "Manager": 0.25,
                      "Individual Contributor": 0.0, "Student": -2.0},
        "seniority_segment_multiplier": {"SMB": 0.5, "Mid-Market": 1.0, "Enterprise": 2.0},
        "email_domain_type": {"business": 0.0, "free": -1.5, "education": -0.7},
        "industry": {"Software": 0.3, "Financial Services": 0.2, "Healthcare": 0.0,
                     "Manufacturing": 0.0, "Retail": 0.0, "Education": 0.0,
                     "Public Sector": 0.0, "Other": 0.0},
        "channel": {"organic_search": 0.0, "paid_search": -0.1, "referral": 0.4,
                    "events": 0.2, "partner": 0.3, "social_ads": -1.0},
        "company_size_per_log10": 0.3,
        "company_size_center": 50,
        "no_effect": ["department", "country"],
    },
    "signals": {
        "strong_positive": ["demo_request", "trial_signup", "pricing_page_view",
                            "competitor_comparison_download"],
        "moderate_positive": ["webinar_attended", "email_click"],
        "weak_positive": ["whitepaper_download"],
        "none": ["email_open"],
        "negative": ["careers_page_view", "unsubscribe"],
    },
    "drift": {"channel": "social_ads", "start": DRIFT_START.isoformat(),
              "share_of_new_leads": 0.35, "share_ramp": list(_P_SOCIAL_RAMP),
              "ad_driven_events": {k: {"first_14_days": v[0], "days_14_to_120": v[1]}
                                   for k, v in _AD_EVENTS.items()},
              "ad_driven_burst_mean_days": _AD_BURST_DAYS,
              "lead_magnet_event": "whitepaper_download",
              "ad_driven_events_count_in_truth": False,
              "free_email_share": _P_EMAIL_SOCIAL[1], "intent_shift": _SOCIAL_INTENT_SHIFT},
    "intent": {"job_seeker_share": _P_JOB_SEEKER, "job_seeker_shift": -1.5,
               "student_shift": -0.8, "social_ads_shift": _SOCIAL_INTENT_SHIFT},
    "messy": {"seniority_missing_share": _P_SENIORITY_MISSING,
              "seniority_missing_values": ["", "Select"],
              "company_size_null_share": _P_SIZE_NULL, "country_null_share": _P_COUNTRY_NULL},
    "segment_shares": dict(zip(SEGMENTS, _P_SEGMENT)),
    "deal_value_median": {"SMB": 6_000.0, "Mid-Market": 25_000.0, "Enterprise": 110_000.0},
    "accounts": {"column": "company", "window_days": 21, "leads_per_company": 5, "engaged_intent": 1.0,
                 "engaged_companies_share": 1 / 6, "no_company_share": 0.01, "empty_company_share": 0.01,
                 "effect": "none beyond the contacts' own intent: several engaged contacts convert more"},
    "conversion_delay_days": {"min": 1, "max": 150, "gamma_shape": 2.5,
                              "gamma_scale": {"SMB": 16.0, "Mid-Market": 16.0,
                                              "Enterprise": 22.0}},
    "lost_after_days": {"min": 60, "mean_extra": 15, "max": 150},
    "expected_mature_conversion": [0.06, 0.10],
}
"""Machine-readable truth of the generator; tests elsewhere check leadcal recovers it."""

DEMO_TEST: dict = {"salt": "demo-test", "share": 0.5, "start": "2025-10-01"}
"""The champion vs challenger test ``generate(test_effect=...)`` plays out: from ``start`` (the last nine
months), leads the routing hash (``scoring.data.routing``, this salt and share) sends to the challenger
convert with ``test_effect`` added to the log-odds of their conversion; nothing else changes."""

_T = copy.deepcopy(TRUTH)  # what the generator uses: editing TRUTH cannot change the data


# --------------------------------------------------------------------------------------
def generate(path: str | Path, leads: int = 50_000, seed: int = 7, months: int = 18,
             progress: Callable[[str], None] | None = None, drift: bool = True,
             test_effect: float | None = None) -> dict:
    """Write a new demo DuckDB file at ``path`` and return a summary of it.

    The data is a pure function of ``(leads, seed, months)`` so the demo, the tests and
    the benchmarks can be rebuilt identically. The file is written next to ``path`` under
    a temporary name and moved into place only when complete, so an interrupted run
    never leaves a half-written database (and an existing file stays untouched).
    Returns ``{"path", "leads", "events", "conversions", "start", "end", "seed"}``.
    ``drift=False`` leaves out the ``social_ads`` channel: a stable population, for
    checking that drift monitoring stays quiet when nothing changed. ``test_effect`` plays out the
    champion vs challenger test ``DEMO_TEST`` with that true effect on the log-odds of conversion
    (0.0: a test with no effect); None (the default) leaves the data exactly as without it.
    """
    leads, seed, months = _check_args(leads, seed, months)
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"demo database path {str(target)!r} is a directory, expected a file")
    target.parent.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _msg: None)

    start = _months_before(DEMO_END, months)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                    dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # DuckDB must create the file itself; we only reserved a unique name
    try:
        summary = _write(tmp, leads, seed, start, say, drift, test_effect)
        stale_wal = Path(str(target) + ".wal")
        if stale_wal.exists():  # a WAL of the file we replace would corrupt the new one
            stale_wal.unlink()
        os.replace(tmp, target)
    except BaseException:
        for leftover in (tmp, Path(str(tmp) + ".wal")):
            try:
                leftover.unlink()
            except FileNotFoundError:
                pass
        raise
    say(f"wrote {target.name}")
    summary.update(path=str(target), leads=leads, start=start, end=DEMO_END, seed=seed)
    return summary


def _ddl_columns() -> dict[str, set[str]]:
    """Table -> column names, as the current generator writes them."""
    import re

    return {m.group(1): {c.split()[0] for c in m.group(2).replace("\n", " ").split(",")}
            for m in re.finditer(r"CREATE TABLE (\w+) \((.*?)\);", _DDL, re.S)}


def is_current(path: str | Path) -> bool:
    """True when the demo file at ``path`` has every table and column this version's generator writes.

    A demo database made by an older leadcal lacks columns the shipped default config now maps
    (the account key ``company``); the app generates it again instead of showing a mapping error.
    Opened as every connection of the app is (``connect_read_only``): a connection with DuckDB's
    default configuration was refused while the app's own was open (the extraction, the checks
    after the first view), and the demo then read as outdated and was generated again under them.
    """
    from .source import SourceError, connect_read_only

    try:
        con = connect_read_only(path)
    except SourceError:
        return False
    try:
        rows = con.execute("SELECT table_name, column_name FROM information_schema.columns").fetchall()
    finally:
        con.close()
    have: dict[str, set[str]] = {}
    for table, column in rows:
        have.setdefault(table, set()).add(column)
    return all(cols <= have.get(table, set()) for table, cols in _ddl_columns().items())


def _check_args(leads: int, seed: int, months: int) -> tuple[int, int, int]:
    """Reject arguments that would give a useless or unbounded demo, with a clear message."""
    for name, value in (("leads", leads), ("seed", seed), ("months", months)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer, got {value!r}")
    if not MIN_LEADS <= leads <= MAX_LEADS:
        raise ValueError(f"leads must be between {MIN_LEADS:,} and {MAX_LEADS:,}, got {leads:,}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if not MIN_MONTHS <= months <= MAX_MONTHS:
        raise ValueError(f"months must be between {MIN_MONTHS} and {MAX_MONTHS} (the last 3 "
                         f"months are the drift period), got {months}")
    return int(leads), int(seed), int(months)


def _months_before(end: datetime, months: int) -> datetime:
    """First instant of the calendar month ``months - 1`` months before ``end``'s month."""
    index = end.year * 12 + (end.month - 1) - (months - 1)
    return datetime(index // 12, index % 12 + 1, 1)


def _epoch(ts: datetime) -> int:
    return int((ts - datetime(1970, 1, 1)).total_seconds())


_DDL = """
CREATE TABLE leads (lead_id BIGINT, created_at TIMESTAMP, segment VARCHAR,
    seniority VARCHAR, department VARCHAR, company_size INTEGER, industry VARCHAR,
    country VARCHAR, email_domain_type VARCHAR, channel VARCHAR, company VARCHAR);
CREATE TABLE events (lead_id BIGINT, event_type VARCHAR, occurred_at TIMESTAMP);
CREATE TABLE outcomes (lead_id BIGINT, stage VARCHAR, converted_at TIMESTAMP,
    deal_value DOUBLE);
"""


def _write(tmp: Path, n: int, seed: int, start: datetime, say: Callable[[str], None],
           drift: bool = True, test_effect: float | None = None) -> dict:
    """Generate all chunks into a fresh DuckDB file at ``tmp``; return the counts."""
    created = _creation_times(n, seed, _epoch(start), _epoch(DEMO_END))
    n_events = n_won = 0
    con = duckdb.connect(str(tmp))
    try:
        con.execute(_DDL)
        for chunk, lo in enumerate(range(0, n, _CHUNK_LEADS)):
            hi = min(lo + _CHUNK_LEADS, n)
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(chunk + 1,)))
            tables = _chunk(rng, lo, created[lo:hi], drift, test_effect,
                            accounts=np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(chunk + 1, 22))))
            for name in ("leads", "events", "outcomes"):
                con.register("_demo_chunk", tables[name])
                con.execute(f"INSERT INTO {name} SELECT * FROM _demo_chunk")
                con.unregister("_demo_chunk")
            n_events += tables["events"].num_rows
            n_won += tables["n_won"]
            say(f"generated {hi:,}/{n:,} leads, {n_events:,} events")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return {"events": n_events, "conversions": n_won}


def _creation_times(n: int, seed: int, start: int, end: int) -> np.ndarray:
    """Sorted creation times (epoch seconds) with a mild linear growth in volume."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    r = rng.random(n)
    g = _GROWTH
    u = (np.sqrt(1.0 + 2.0 * g * (1.0 + g / 2.0) * r) - 1.0) / g  # inverse CDF of 1 + g*u
    span = end - start + 1
    times = start + np.minimum((u * span).astype(np.int64), span - 1)
    times.sort()
    return times


def _dict_array(codes: np.ndarray, values: tuple[str, ...],
                null: np.ndarray | None = None) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int8), mask=null),
                                          pa.array(values, type=pa.string()))


def _timestamps(seconds: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    micros = (seconds.astype(np.int64) * 1_000_000).view("datetime64[us]")
    return pa.array(micros, type=pa.timestamp("us"), mask=null)


def _choice(rng: np.random.Generator, probs, size: int) -> np.ndarray:
    """Vectorised categorical draw (codes into ``probs``)."""
    cdf = np.cumsum(probs)
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int8)


def _choice_rows(rng: np.random.Generator, prob_rows: np.ndarray) -> np.ndarray:
    """Categorical draw with one probability row per lead."""
    cdf = np.cumsum(prob_rows, axis=1)
    cdf[:, -1] = 1.0
    return (rng.random(len(prob_rows))[:, None] >= cdf).sum(axis=1).astype(np.int8)


def _chunk(rng: np.random.Generator, offset: int, created: np.ndarray, with_drift: bool = True,
           test_effect: float | None = None, accounts: np.random.Generator | None = None) -> dict:
    """Leads, their events and outcomes for one chunk of consecutive lead ids.

    ``accounts`` draws the companies (its own stream: every other column is as without it)."""
    n = len(created)
    lead_id = np.arange(offset + 1, offset + n + 1, dtype=np.int64)
    drift = (created >= _epoch(DRIFT_START)) & with_drift

    # ---- fit attributes ----
    segment = _choice(rng, _P_SEGMENT, n)
    size = _company_size(rng, segment)
    seniority = _choice(rng, _P_SENIORITY, n)
    student = seniority == SENIORITIES.index("Student")
    department = _choice(rng, _P_DEPARTMENT, n)
    industry = _choice(rng, _P_INDUSTRY, n)
    country = _choice(rng, _P_COUNTRY, n)
    channel = _choice(rng, _P_CHANNEL, n)
    drift_span = _epoch(DEMO_END) - _epoch(DRIFT_START)
    ramp = np.clip((created - _epoch(DRIFT_START)) / drift_span, 0.0, 1.0)
    p_social = _P_SOCIAL_RAMP[0] + (_P_SOCIAL_RAMP[1] - _P_SOCIAL_RAMP[0]) * ramp
    social = drift & (rng.random(n) < p_social)
    channel[social] = CHANNELS.index("social_ads")
    email_probs = np.empty((n, 3))
    email_probs[:] = _P_EMAIL_DEFAULT
    email_probs[social] = _P_EMAIL_SOCIAL
    email_probs[student] = _P_EMAIL_STUDENT
    email = _choice_rows(rng, email_probs)
    job_seeker = rng.random(n) < np.where(student, 3 * _P_JOB_SEEKER, _P_JOB_SEEKER)
    intent_cfg = _T["intent"]
    intent = (rng.standard_normal(n) + intent_cfg["job_seeker_shift"] * job_seeker
              + intent_cfg["student_shift"] * student
              + intent_cfg["social_ads_shift"] * social)

    # ---- messy export values (the truth keeps using the real ones) ----
    r = rng.random(n)
    sen_missing = r < _P_SENIORITY_MISSING
    sen_codes = seniority.copy()
    sen_codes[sen_missing] = np.where(r[sen_missing] < _P_SENIORITY_MISSING / 2,
                                      len(SENIORITIES), len(SENIORITIES) + 1)
    size_null = rng.random(n) < _P_SIZE_NULL
    country_null = rng.random(n) < _P_COUNTRY_NULL

    # ---- events and the engagement that counts ----
    ev_idx, ev_t, ev_type, decayed = _events(rng, intent, segment, social, job_seeker)

    # ---- conversion from the truth ----
    fit = _T["fit"]
    seg_names = np.array(SEGMENTS)
    sen_w = np.array([fit["seniority"][s] for s in SENIORITIES])[seniority]
    sen_mult = np.array([fit["seniority_segment_multiplier"][s] for s in SEGMENTS])[segment]
    logit = (_T["intercept"] + sen_w * sen_mult
             + np.array([fit["email_domain_type"][e] for e in EMAIL_DOMAIN_TYPES])[email]
             + np.array([fit["industry"][i] for i in INDUSTRIES])[industry]
             + np.array([fit["channel"][c] for c in CHANNELS])[channel]
             + fit["company_size_per_log10"]
             * (np.log10(size) - np.log10(fit["company_size_center"])))
    for k, etype in enumerate(EVENT_TYPES):
        tf = _T["engagement_transform"][etype]
        s = decayed[k]
        value = np.log2(1.0 + s) if tf["kind"] == "log2_1p" else np.minimum(s, tf["cap"])
        weights = np.array([_T["engagement_weights"][seg][etype] for seg in seg_names])
        logit += weights[segment] * value
    if test_effect is not None:  # the champion vs challenger test: no extra draw, so 0.0 changes nothing
        test_start = _epoch(datetime.fromisoformat(DEMO_TEST["start"]))
        routed = challenger_mask(lead_id, DEMO_TEST["salt"], DEMO_TEST["share"])
        logit = logit + float(test_effect) * ((created >= test_start) & routed)
    converts = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))

    delay_cfg = _T["conversion_delay_days"]
    scale = np.array([delay_cfg["gamma_scale"][s] for s in SEGMENTS])[segment]
    conv_days = np.minimum(1.0 + rng.gamma(delay_cfg["gamma_shape"], 1.0, n) * scale,
                           delay_cfg["max"])
    lost_cfg = _T["lost_after_days"]
    lost_days = np.minimum(lost_cfg["min"] + rng.exponential(lost_cfg["mean_extra"], n),
                           lost_cfg["max"])
    end = _epoch(DEMO_END)
    conv_at = created + (conv_days * _DAY).astype(np.int64)
    won = converts & (conv_at <= end)
    lost = ~converts & (created + (lost_days * _DAY).astype(np.int64) <= end)
    stage = np.full(n, STAGES.index("open"), dtype=np.int8)
    stage[won] = STAGES.index("won")
    stage[lost] = STAGES.index("lost")
    median = np.array([_T["deal_value_median"][s] for s in SEGMENTS])[segment]
    deal = np.round(median * np.exp(0.7 * rng.standard_normal(n)), 2)

    # ---- to arrow ----
    leads = pa.table({
        "lead_id": lead_id,
        "created_at": _timestamps(created),
        "segment": _dict_array(segment, SEGMENTS),
        "seniority": _dict_array(sen_codes, SENIORITIES + ("", "Select")),
        "department": _dict_array(department, DEPARTMENTS),
        "company_size": pa.array(size.astype(np.int32), mask=size_null),
        "industry": _dict_array(industry, INDUSTRIES),
        "country": _dict_array(country, COUNTRIES, null=country_null),
        "email_domain_type": _dict_array(email, EMAIL_DOMAIN_TYPES),
        "channel": _dict_array(channel, CHANNELS),
        "company": _companies(accounts or np.random.default_rng(offset), offset, created, intent),
    })
    occurred = created[ev_idx] + ev_t
    keep = occurred <= end  # events after DEMO_END have not happened yet
    events = pa.table({
        "lead_id": lead_id[ev_idx[keep]],
        "event_type": _dict_array(ev_type[keep], EVENT_TYPES),
        "occurred_at": _timestamps(occurred[keep]),
    })
    outcomes = pa.table({
        "lead_id": lead_id,
        "stage": _dict_array(stage, STAGES),
        "converted_at": _timestamps(conv_at, null=~won),
        "deal_value": pa.array(deal, mask=~won),
    })
    return {"leads": leads, "events": events, "outcomes": outcomes, "n_won": int(won.sum())}


def _companies(rng: np.random.Generator, offset: int, created: np.ndarray, intent: np.ndarray) -> pa.Array:
    """The company of each lead of a chunk (see "Accounts" in the module doc); numbers unique across chunks."""
    cfg = _T["accounts"]
    n = len(created)
    span_days = max(1.0, (float(created[-1]) - float(created[0])) / _DAY) if n else 1.0
    per_window = max(10, int(round(cfg["window_days"] * n / span_days)))
    companies = max(2, per_window // cfg["leads_per_company"])
    engaged_companies = max(1, int(companies * cfg["engaged_companies_share"]))
    window = np.arange(n) // per_window
    engaged = intent > cfg["engaged_intent"]
    local = np.where(engaged, rng.integers(0, engaged_companies, n), rng.integers(0, companies, n))
    number = offset + window * companies + local  # < offset + n: unique across chunks
    used, codes = np.unique(number, return_inverse=True)
    names = np.char.add("Company ", np.char.zfill(used.astype(str), 7)).astype(object)
    r = rng.random(n)
    empty = (r >= cfg["no_company_share"]) & (r < cfg["no_company_share"] + cfg["empty_company_share"])
    names = np.append(names, "")
    codes = np.where(empty, len(used), codes)
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32), mask=r < cfg["no_company_share"]),
                                          pa.array(names, type=pa.string())).cast(pa.string())


def _company_size(rng: np.random.Generator, segment: np.ndarray) -> np.ndarray:
    """True employee count, lognormal-ish and inside the segment's range."""
    n = len(segment)
    z = rng.standard_normal(n)
    smb = np.clip(np.exp(np.log(35.0) + 1.0 * z), 1, 199)
    mid = np.clip(np.exp(np.log(600.0) + 0.6 * z), 200, 1999)
    ent = np.clip(2000.0 * np.exp(np.abs(1.2 * z)), 2000, 500_000)
    size = np.select([segment == 0, segment == 1], [smb, mid], ent)
    return np.round(size).astype(np.int64)


def _events(rng: np.random.Generator, intent: np.ndarray, segment: np.ndarray,
            social: np.ndarray, job_seeker: np.ndarray):
    """All events of a chunk (also those after DEMO_END) and the decayed early counts.

    Returns ``(lead index, seconds since created_at, type code, decayed)`` sorted by lead
    and time, where ``decayed[k]`` is the truth's decayed count of the lead's organic
    type-``k`` events (ad-driven events of social_ads leads do not count).
    """
    n = len(intent)
    hot = 1.0 / (1.0 + np.exp(-1.2 * intent))  # share of early events near the scoring point
    parts: list[tuple[np.ndarray, np.ndarray, int, int]] = []  # (idx, days, type, organic)

    def draw(lam: np.ndarray) -> np.ndarray:
        return np.repeat(np.arange(n, dtype=np.int64), rng.poisson(lam))

    for k, etype in enumerate(EVENT_TYPES):
        pre, early, late, beta = _RATES[etype]
        mult = np.array(_TRIAL_SEGMENT_RATE)[segment] if etype == "trial_signup" else 1.0
        lams = [pre * np.exp(_BETA_PRE * intent), early * np.exp(beta * intent) * mult,
                late * np.exp(beta * intent) * mult]
        if etype == "careers_page_view":
            lams = [lam + job_seeker * extra for lam, extra in zip(lams, _JOB_SEEKER_CAREERS)]
        for window, lam in enumerate(lams):
            if not np.any(lam):
                continue
            idx = draw(lam)
            u = rng.random(len(idx))
            if window == 0:  # anonymous visits before the form fill
                days = -30.0 + 30.0 * u
            elif window == 1 and etype == "email_open":  # opens follow the send schedule
                days = 14.0 * u
            elif window == 1:  # first 14 days; high intent clusters just before day 7
                near = np.clip(6.0 + 1.5 * rng.standard_normal(len(idx)), 0.0, 13.999)
                days = np.where(rng.random(len(idx)) < hot[idx], near, 14.0 * u)
            else:  # later nurture, thinning out
                days = 14.0 + 106.0 * u ** 1.5
            parts.append((idx, days, k, 1))

    # ad-driven engagement of social_ads leads (no intent behind it)
    social_f = social.astype(np.float64)
    for etype, (early, late) in _AD_EVENTS.items():
        k = EVENT_TYPES.index(etype)
        idx = draw(early * social_f)
        u = rng.random(len(idx))  # truncated exponential burst inside [0, 14 d)
        days = -_AD_BURST_DAYS * np.log1p(-u * (1.0 - np.exp(-14.0 / _AD_BURST_DAYS)))
        parts.append((idx, np.minimum(days, 13.999), k, 0))
        idx = draw(late * social_f)
        parts.append((idx, 14.0 + 106.0 * rng.random(len(idx)) ** 1.5, k, 0))
    magnet = np.flatnonzero(social)
    parts.append((magnet, np.zeros(len(magnet)), EVENT_TYPES.index("whitepaper_download"), 0))

    # one sortable int64 key per event: lead | seconds since created_at - 30 d | organic | type
    key = np.concatenate([
        (idx << 29) | ((np.floor(days * _DAY).astype(np.int64) + 30 * _DAY) << 5)
        | (organic << 4) | k
        for idx, days, k, organic in parts])
    key.sort()
    idx = key >> 29
    t = ((key >> 5) & ((1 << 24) - 1)) - 30 * _DAY  # t + 30 d < 150 d < 2**24 s
    organic = ((key >> 4) & 1).astype(bool)
    etype = (key & 15).astype(np.int8)

    # an unsubscribed lead gets no more e-mail engagement
    unsub = np.flatnonzero(etype == EVENT_TYPES.index("unsubscribe"))
    if len(unsub):
        leads_u, first = np.unique(idx[unsub], return_index=True)
        first_unsub = np.full(n, np.iinfo(np.int64).max)
        first_unsub[leads_u] = t[unsub[first]]
        is_email = np.isin(etype, [EVENT_TYPES.index(e) for e in _EMAIL_TYPES])
        keep = ~(is_email & (t > first_unsub[idx]))
        idx, t, etype, organic = idx[keep], t[keep], etype[keep], organic[keep]

    decay = _T["decay"]
    counted = organic & (t < _T["engagement_window_days"] * _DAY)
    age_days = np.maximum(0.0, decay["reference_days"] - t[counted] / _DAY)
    w = 0.5 ** (age_days / decay["half_life_days"])
    idx_w, type_w = idx[counted], etype[counted]
    decayed = [np.bincount(idx_w[type_w == k], weights=w[type_w == k], minlength=n)
               for k in range(len(EVENT_TYPES))]
    return idx, t, etype, decayed

"""Account scores: B2B teams sell to companies, so each account gets a score from its leads' scores.

The account key is a mapped column of the leads (``source.leads.account``), coded like any
category (trimmed text; the missing markers mean no account). How an account is scored is
``config.accounts`` (``AccountScoring``): the max, the capped sum or the top-k mean of its
leads' scores, with its own MQA / SQA thresholds and bands.

Point in time, at account level: an account is scored ``accounts.scoring_point_days`` after
its first lead was created. A lead counts only when its own scoring point is at or before
the account's, so every event behind the account score happened before the account's
scoring point, and a lead created after it never counts. The account converts when any of
its leads (counted or not) wins before the account's scoring point + the outcome window (a
win without a date: when that lead was created before then); it is mature when that moment
is at or before the data's end.

Which leads count and where each account's groups are is computed once per feature set
(``account_index``: one sort); a slider move gathers the lead scores in that order and
reduces them per account in one compiled pass (``kernels.group_scores``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .config import AccountScoring, ScoringConfig, Thresholds
from .engine import Scores, band_index
from .features import DAY_US, Features
from .kernels import account_leads, group_rows, group_scores
from .kpis import Rate, monthly_volume_from_months
from .metrics import BandRow, Tiers, band_table, gini, separation, tier_table

METHODS = {"max": 0, "sum": 1, "top_k_mean": 2}


@dataclass(frozen=True, eq=False)
class AccountIndex:
    """The accounts of a feature set and which leads count for each (see the module doc)."""

    ids: np.ndarray
    """The account key of each account (object), in account order."""
    first_created: np.ndarray
    scoring_at: np.ndarray
    """datetime64[us]: first lead's creation + ``accounts.scoring_point_days``."""
    converted: np.ndarray
    mature: np.ndarray
    order: np.ndarray
    """Rows of the counted leads, grouped by account (account order, then lead order)."""
    starts: np.ndarray
    """``order[starts[a]:starts[a + 1]]`` are account ``a``'s counted leads."""
    account_of: np.ndarray
    """Per lead: its account's position, -1 without an account."""
    counted: np.ndarray
    """Per lead: whether it counts for its account's score."""

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def months(self) -> np.ndarray:
        """Calendar month of each account's scoring point (months since 1970), computed once."""
        found = self.__dict__.get("_months")
        if found is None:
            found = self.__dict__["_months"] = self.scoring_at.astype("datetime64[M]").astype(np.int64)
        return found


NO_TIMES = ("no account view: these features carry no conversion times (a warehouse feature set), and an "
            "account converts by when its leads converted")


@dataclass(frozen=True)
class NoAccounts:
    """Why there is no account view for data the model maps accounts on."""

    reason: str
    available: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def accounts_unavailable(config: ScoringConfig, features: Features) -> NoAccounts | None:
    """Why the account view cannot be computed on ``features`` (None when it can)."""
    if features.converted_at is None and config.source.outcome.converted_at is not None:
        return NoAccounts(NO_TIMES)
    return None


def account_index(config: ScoringConfig, features: Features) -> AccountIndex:
    """The accounts of ``features`` under ``config.accounts`` (kept in ``features.cache``)."""
    acc = _settings(config)
    missing = accounts_unavailable(config, features)
    if missing is not None:
        raise ValueError(missing.reason)
    column = config.source.leads.account
    key = ("accounts", column, float(acc.scoring_point_days), float(config.evaluation.outcome_window_days))
    cached = features.cache.get(key)
    if cached is None:
        cached = features.cache[key] = _index(features, column, acc, float(config.evaluation.outcome_window_days))
    return cached


def _settings(config: ScoringConfig) -> AccountScoring:
    if config.accounts is None or config.source.leads.account is None:
        raise ValueError("this model scores no accounts: map an account key (source.leads.account) and add "
                         "an 'accounts' section")
    return config.accounts


def _days(days: float) -> np.timedelta64:
    return np.timedelta64(int(round(days * DAY_US)), "us")


def _index(features: Features, column: str, acc: AccountScoring, window_days: float) -> AccountIndex:
    cat = features.categorical[column]
    codes = cat.codes
    counts = np.bincount(codes[codes >= 0], minlength=len(cat.categories))
    grouped = group_rows(codes, np.concatenate([[0], np.cumsum(counts)]),  # by account, then lead
                         np.empty(int(counts.sum()), dtype=np.int64))  # (= creation) order
    present = np.flatnonzero(counts)
    lut = np.full(len(cat.categories), -1, dtype=np.int64)
    lut[present] = np.arange(present.size)
    first = (np.cumsum(counts) - counts)[present]  # each account's first (earliest) lead in ``grouped``
    first_created = features.created_at[grouped[first]] if present.size else features.created_at[:0]
    scoring_at = first_created + _days(acc.scoring_point_days)
    end = scoring_at + _days(window_days)
    if present.size == 0:  # no lead has an account
        scoring_at = end = np.full(1, np.datetime64("NaT"), dtype="datetime64[us]")[:0]
    n = features.n
    account_of, counted, hit = np.empty(n, dtype=np.int64), np.empty(n, dtype=bool), np.empty(n, dtype=bool)
    account_leads(codes, lut, _us(features.scoring_at), _us(scoring_at), _us(_win_times(features)), _us(end),
                  account_of, counted, hit)
    order = grouped[counted[grouped]]
    starts = np.concatenate([[0], np.cumsum(np.bincount(account_of[order], minlength=present.size))])
    converted = np.bincount(account_of[hit], minlength=present.size) > 0
    mature = end <= np.datetime64(features.data_end, "us")
    return AccountIndex(ids=cat.categories[present], first_created=first_created, scoring_at=scoring_at,
                        converted=converted, mature=mature, order=order, starts=starts.astype(np.int64),
                        account_of=account_of, counted=counted)


def _us(times: np.ndarray) -> np.ndarray:
    """datetime64 as int64 microseconds (NaT: ``kernels.NAT``), for the compiled pass."""
    return np.ascontiguousarray(times.astype("datetime64[us]", copy=False)).view(np.int64)


def _win_times(features: Features) -> np.ndarray:
    """When each lead won (NaT: not won); a win without a date at the lead's creation."""
    when = features.converted_at
    if when is None:
        when = np.full(features.n, np.datetime64("NaT"), dtype="datetime64[us]")
    undated = features.converted & np.isnat(when)
    if undated.any():
        when = when.copy()
        when[undated] = features.created_at[undated]
    return when


@dataclass
class AccountScores:
    """One score per account (``AccountIndex`` order), its band and tier (0 below MQA, 1 MQA, 2 SQA)."""

    total: np.ndarray
    band: np.ndarray
    tier: np.ndarray


def account_scores(config: ScoringConfig, features: Features, lead_total: np.ndarray,
                   index: AccountIndex | None = None) -> AccountScores:
    """The account scores from the leads' total scores (a gather and one compiled pass)."""
    acc = _settings(config)
    index = index or account_index(config, features)
    values = np.ascontiguousarray(lead_total[index.order], dtype=np.float64)
    cap = math.inf if acc.cap is None else float(acc.cap)
    total = group_scores(values, index.starts, METHODS[acc.method], int(acc.k), cap, np.empty(index.n))
    th = acc.thresholds
    tier = (total >= th.mql).astype(np.int8) + (total >= th.sql)
    return AccountScores(total=total, band=band_index(total, account_bands(config)), tier=tier)


def account_bands(config: ScoringConfig) -> list[float]:
    """The account score bands: ``accounts.bands``, else the model's."""
    acc = _settings(config)
    return list(acc.bands) if acc.bands is not None else list(config.bands)


@dataclass(frozen=True)
class AccountResult:
    """The account view of one model: the band table, tiers and KPIs at account level."""

    method: str
    accounts: int
    mature_accounts: int
    immature_accounts: int
    converted_accounts: int
    conversion_rate: float | None
    leads_counted: int
    """Leads whose scoring point is at or before their account's: the ones behind the scores."""
    leads_after: int
    """Leads of an account scored after the account's scoring point: never counted."""
    leads_without_account: int
    auc: float | None
    gini: float | None
    mqa: Rate
    """Conversion of the mature accounts at or above MQA."""
    sqa: Rate
    capture_at_mqa: float | None
    """Share of all converted (mature) accounts at or above MQA."""
    mqa_per_month: float | None
    bands: list[BandRow]
    tiers: Tiers
    """below MQA, MQA, SQA (named as the lead tiers)."""
    thresholds: Thresholds
    """MQA (``mql``) and SQA (``sql``)."""

    def to_dict(self) -> dict:
        out = asdict(self)
        out["bands"] = [b.to_dict() for b in self.bands]
        out["tiers"] = self.tiers.to_dict()
        out["mqa"], out["sqa"] = self.mqa.to_dict(), self.sqa.to_dict()
        out["thresholds"] = {"mqa": self.thresholds.mql, "sqa": self.thresholds.sql}
        return out


def account_result(config: ScoringConfig, features: Features, scores: Scores | np.ndarray,
                   acc: AccountScores | None = None) -> AccountResult:
    """The account band table, tiers and KPIs of a model's lead scores (``acc``: their account scores, if known)."""
    index = account_index(config, features)
    lead_total = scores.total if isinstance(scores, Scores) else scores
    acc = acc or account_scores(config, features, lead_total, index)
    mature, conv = index.mature, index.converted
    bands = band_table(acc.total, acc.band, conv, mature, account_bands(config))
    tiers = tier_table(acc.tier, conv, mature)
    a, _ = separation(acc.total[mature], conv[mature])
    conversions = int(np.count_nonzero(conv & mature))
    n_mature = int(np.count_nonzero(mature))
    above = (acc.tier >= 1) & mature
    with_account = index.account_of >= 0
    months = monthly_volume_from_months(index.months, acc.tier >= 1) if index.n else None
    return AccountResult(
        method=config.accounts.method,
        accounts=index.n,
        mature_accounts=n_mature,
        immature_accounts=index.n - n_mature,
        converted_accounts=conversions,
        conversion_rate=conversions / n_mature if n_mature else None,
        leads_counted=int(np.count_nonzero(index.counted)),
        leads_after=int(np.count_nonzero(with_account & ~index.counted)),
        leads_without_account=int(np.count_nonzero(~with_account)),
        auc=None if math.isnan(a) else a,
        gini=None if math.isnan(a) else gini(a),
        mqa=Rate.of(int(np.count_nonzero(above & conv)), int(np.count_nonzero(above))),
        sqa=Rate.of(int(np.count_nonzero((acc.tier >= 2) & mature & conv)),
                    int(np.count_nonzero((acc.tier >= 2) & mature))),
        capture_at_mqa=int(np.count_nonzero(above & conv)) / conversions if conversions else None,
        mqa_per_month=months,
        bands=bands,
        tiers=tiers,
        thresholds=config.accounts.thresholds,
    )


@dataclass(frozen=True)
class AccountLead:
    """One lead of an account, as the drill-down lists it."""

    lead_id: object
    created_at: str
    scoring_at: str
    score: float
    counted: bool
    """Scored at or before the account's scoring point."""
    converted: bool
    mature: bool

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AccountDrill:
    """An account with its score and every one of its leads."""

    account: str
    scoring_at: str
    score: float | None
    converted: bool
    mature: bool
    leads: list[AccountLead]

    def to_dict(self) -> dict:
        return {**asdict(self), "leads": [lead.to_dict() for lead in self.leads]}


def account_drill(config: ScoringConfig, features: Features, scores: Scores, account: str,
                  acc: AccountScores | None = None) -> AccountDrill | None:
    """The leads of one account (by its key) with their scores and whether they count; None if unknown."""
    index = account_index(config, features)
    found = np.flatnonzero(index.ids == account)
    if found.size == 0:
        return None
    a = int(found[0])
    acc = acc or account_scores(config, features, scores.total, index)
    rows = np.flatnonzero(index.account_of == a)
    columns = zip(features.lead_id[rows].tolist(), _when(features.created_at[rows]), _when(features.scoring_at[rows]),
                  scores.total[rows].tolist(), index.counted[rows].tolist(), features.converted[rows].tolist(),
                  features.mature[rows].tolist())
    leads = [AccountLead(*values) for values in columns]  # one account's leads, a handful
    total = float(acc.total[a])
    return AccountDrill(account=str(account), scoring_at=_when(index.scoring_at[a:a + 1])[0],
                        score=None if math.isnan(total) else total, converted=bool(index.converted[a]),
                        mature=bool(index.mature[a]), leads=leads)


def _when(times: np.ndarray) -> list[str]:
    return [t.replace("T", " ") for t in np.datetime_as_string(times, unit="s").tolist()]


def top_accounts(config: ScoringConfig, features: Features, scores: Scores, n: int = 50,
                 acc: AccountScores | None = None) -> list[str]:
    """The keys of the ``n`` best-scored accounts (for the drill-down's picker)."""
    index = account_index(config, features)
    acc = acc or account_scores(config, features, scores.total, index)
    n = min(n, index.n)
    if n == 0:
        return []
    best = np.argpartition(-np.nan_to_num(acc.total, nan=-np.inf), n - 1)[:n]
    best = best[np.argsort(-acc.total[best], kind="stable")]
    return [str(x) for x in index.ids[best]]

"""The leads behind a number on screen: a band, a tier, a mover group, a grid cell.

The VP points at a number and asks "which leads are these?". ``select`` finds them with
the same definitions the tables use (a band and a tier by the model's score; movers across
the MQL or SQL line as ``kpis.movers`` counts them; a grid cell by the cuts of
``kpis.fit_engagement_grid``), so the list's counts equal the table's. ``drill_table``
turns them into the rows a rep follows up: id, the display columns of the data, draft and
approved score and tier, outcome, conversion date and deal value, sorted and paged in
numpy (no query: the details are read once, ``scoring.data.details``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..data.details import LeadDetails
from ..model.config import ScoringConfig
from ..model.engine import TIERS, Scores
from ..model.features import Features
from ..model.kpis import outcome_status
from ..model.metrics import band_bounds, band_label, total_bounds

KINDS = ("band", "tier", "moved", "cell")
MOVER_GROUPS = ("MQL up", "MQL down", "SQL up", "SQL down")
CELLS = tuple(f + str(e) for f in "ABC" for e in (1, 2, 3))


class DrillError(ValueError):
    """A selection that names no group of the tables (an unknown band, tier, mover group or cell)."""


@dataclass(frozen=True)
class Selection:
    """Which number's leads: ``kind`` band / tier / moved / cell, its ``value`` as the tables label it,
    and under which model a band or tier is read (``draft`` or ``approved``)."""

    kind: str
    value: str
    model: str = "draft"

    def describe(self) -> str:
        """The selection in words, for titles and the CLI."""
        if self.kind == "band":
            return f"band {self.value} ({self.model})"
        if self.kind == "tier":
            return f"tier {self.value} ({self.model})"
        if self.kind == "moved":
            return f"moved {self.value.split()[1]} across {self.value.split()[0]} (approved -> draft)"
        return f"grid cell {self.value}"


def _dash(text: str) -> str:
    return re.sub(r"\s+", "", text.replace("–", "-").replace("—", "-"))


def band_labels(config: ScoringConfig) -> list[str]:
    """The band labels of a config, lowest first (as the band table shows them)."""
    return [band_label(lo, hi) for lo, hi in band_bounds(config.bands, *total_bounds(config))]


def band_range(config: ScoringConfig, value: str) -> tuple[int, int]:
    """The first and last band a label names: one band's label (``60-70``, ``60–70``, ``< 10``, ``>=90``),
    or a range between two of the band table's edges spanning several bands (``60-80``)."""
    labels = band_labels(config)
    wanted = _dash(value)
    for i, label in enumerate(labels):
        if _dash(label) == wanted:
            return i, i
    edges = [e for pair in band_bounds(config.bands, *total_bounds(config)) for e in pair]
    edges = sorted({e for e in edges if e is not None})
    m = re.fullmatch(r"(-?[0-9.]+)-(-?[0-9.]+)", wanted)
    if m:
        lo, hi = float(m.group(1)), float(m.group(2))
        cuts = list(config.bands)
        if lo < hi and lo in edges and hi in edges:
            first = 0 if lo not in cuts else cuts.index(lo) + 1
            last = len(cuts) if hi not in cuts else cuts.index(hi)
            return first, last
    example = f", e.g. {edges[-3]:g}-{edges[-1]:g}" if len(edges) >= 3 else ""
    raise DrillError(f"band {value!r}: the bands of {config.name} are {', '.join(labels)} "
                     f"(or a range between two of their edges{example})")


def band_number(config: ScoringConfig, value: str) -> int:
    """The one band a label names; DrillError when none does."""
    first, last = band_range(config, value)
    if first != last:
        raise DrillError(f"band {value!r} spans several bands")
    return first


def normalise(selection: Selection) -> Selection:
    """The selection with its value spelt as the tables spell it; DrillError for an unknown kind or value."""
    kind, value = selection.kind, selection.value.strip()
    if selection.model not in ("draft", "approved"):
        raise DrillError(f"model {selection.model!r}: use draft or approved")
    if kind == "tier":
        v = value.lower().replace(" ", "_").replace("-", "_")
        if v not in TIERS:
            raise DrillError(f"tier {value!r}: use one of {', '.join(TIERS)}")
        return Selection(kind, v, selection.model)
    if kind == "moved":
        parts = value.upper().split()
        v = " ".join(parts) if len(parts) == 2 else f"MQL {value.upper()}"
        v = v[:4] + v[4:].lower()
        if v not in MOVER_GROUPS:
            raise DrillError(f"mover group {value!r}: use one of {', '.join(MOVER_GROUPS)}")
        return Selection(kind, v, selection.model)
    if kind == "cell":
        if value.upper() not in CELLS:
            raise DrillError(f"grid cell {value!r}: use one of {', '.join(CELLS)}")
        return Selection(kind, value.upper(), selection.model)
    if kind == "band":
        return Selection(kind, value, selection.model)
    raise DrillError(f"selection {kind!r}: use one of {', '.join(KINDS)}")


def select(selection: Selection, draft: ScoringConfig, approved: ScoringConfig, draft_scores: Scores,
           approved_scores: Scores, grid_cuts: tuple[tuple[float, float], tuple[float, float]] | None = None,
           ) -> np.ndarray:
    """The rows (positions in the features, ascending) of the leads behind the selected number.

    ``grid_cuts``: (fit cuts, engagement cuts) of the grid shown (``CalibrationView.grid_cuts``).
    """
    sel = normalise(selection)
    config, scores = (draft, draft_scores) if sel.model == "draft" else (approved, approved_scores)
    if sel.kind == "band":
        first, last = band_range(config, sel.value)
        return np.flatnonzero((scores.band >= first) & (scores.band <= last))
    if sel.kind == "tier":
        return np.flatnonzero(scores.tier == TIERS.index(sel.value))
    if sel.kind == "moved":  # as kpis.movers: from the approved model's tier to the draft's
        line, direction = sel.value.split()
        level = 1 if line == "MQL" else 2
        before, after = approved_scores.tier >= level, draft_scores.tier >= level
        return np.flatnonzero(~before & after if direction == "up" else before & ~after)
    if grid_cuts is None:
        raise DrillError("a grid cell needs the grid's cut points")
    (f0, f1), (e0, e1) = grid_cuts
    fit_level = 2 - (draft_scores.fit >= f0).astype(np.int8) - (draft_scores.fit >= f1)
    eng_level = 2 - (draft_scores.engagement >= e0).astype(np.int8) - (draft_scores.engagement >= e1)
    f, e = "ABC".index(sel.value[0]), int(sel.value[1]) - 1
    return np.flatnonzero((fit_level == f) & (eng_level == e))


@dataclass(frozen=True)
class DrillCounts:
    """How many leads a selection holds, counted as the tables count them."""

    leads: int
    """Every lead (mature or not): the movers' and the grid's ``leads``."""
    mature: int
    """The band table's ``leads``."""
    conversions: int
    immature: int

    def to_dict(self) -> dict:
        return {"leads": self.leads, "mature": self.mature, "conversions": self.conversions,
                "immature": self.immature}


def counts(features: Features, rows: np.ndarray) -> DrillCounts:
    """Leads, mature leads, conversions and immature leads among ``rows``."""
    status = np.bincount(outcome_status(features)[rows], minlength=3)
    return DrillCounts(int(rows.size), int(status[1] + status[2]), int(status[2]), int(status[0]))


SORTS = ("draft score", "approved score", "change", "deal value", "conversion date", "created")


@dataclass(frozen=True)
class DrillTable:
    """One page of the leads behind a number, sorted; ``table`` has the columns a rep reads."""

    selection: Selection
    counts: DrillCounts
    table: pa.Table
    offset: int
    """Position of the page's first lead in the sorted list."""
    rows: np.ndarray
    """Positions in the features of the page's leads (to explain one)."""
    details: LeadDetails | None = None
    """The page's lead details (display columns, conversion date, deal value), aligned with ``rows``."""

    @property
    def pages(self) -> int:
        """Pages of this size in the whole list."""
        size = max(self.table.num_rows, 1)
        return max(1, -(-self.counts.leads // size))


def _outcome_text(features: Features, rows: np.ndarray) -> np.ndarray:
    status = outcome_status(features)[rows]
    text = np.array(["immature", "not converted", "converted"], dtype=object)[status]
    if features.open is not None:
        text[(status == 0) & features.open[rows]] = "open"
    return text


def _sort_key(by: str, rows: np.ndarray, features: Features, draft: Scores, approved: Scores,
              details: LeadDetails | None) -> np.ndarray:
    if by == "draft score":
        return draft.total[rows]
    if by == "approved score":
        return approved.total[rows]
    if by == "change":
        return draft.total[rows] - approved.total[rows]
    if by == "deal value":
        return np.nan_to_num(details.deal_value[rows], nan=-np.inf) if details is not None else np.zeros(rows.size)
    if by == "conversion date":
        if details is None:
            return np.zeros(rows.size)
        t = details.converted_at[rows].astype(np.int64).astype(np.float64)
        t[np.isnat(details.converted_at[rows])] = -np.inf
        return t
    if by == "created":
        return features.created_at[rows].astype(np.int64).astype(np.float64)
    raise DrillError(f"sort {by!r}: use one of {', '.join(SORTS)}")


def _first(key: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` rows with the smallest keys, in order of (key, row): a partition, then a sort of those only
    (sorting a 900,000-lead tier to show 200 of them took 100 ms)."""
    if k < rows.size // 4:
        cut = np.partition(key, k - 1)[k - 1] if k else -np.inf
        keep = key <= cut  # every lead tied with the k-th: the order among ties is by row, as for the whole list
        key, rows = key[keep], rows[keep]
    return rows[np.lexsort((rows, key))][:k]


def needs_all_details(sort: str) -> bool:
    """Whether sorting by ``sort`` needs the details of every lead (else those of the page do)."""
    return sort in ("deal value", "conversion date")


def drill_table(selection: Selection, rows: np.ndarray, features: Features, draft: Scores, approved: Scores,
                details: LeadDetails | Callable[[np.ndarray], LeadDetails] | None = None, sort: str = "draft score",
                descending: bool = True, offset: int = 0, limit: int | None = 500) -> DrillTable:
    """The leads at ``rows`` as a table, sorted (ties by lead position) and one page of it.

    ``details``: of every lead (``read_details``), or a function reading those of the page's leads
    (enough unless ``needs_all_details(sort)``).

    Columns: ``lead_id``, the display columns, ``draft_score``, ``draft_tier``, ``approved_score``,
    ``approved_tier``, ``change``, ``mature``, ``outcome`` (converted / not converted / immature /
    open), ``converted_at``, ``deal_value``.
    """
    full = details if details is None or isinstance(details, LeadDetails) else None
    if needs_all_details(sort) and details is not None and full is None:
        raise DrillError(f"sorting by {sort} needs the details of every lead")
    key = _sort_key(sort, rows, features, draft, approved, full)
    key = -key if descending else key
    stop = rows.size if limit is None else min(rows.size, offset + limit)
    page = _first(key, rows, stop)[offset:stop]
    if details is not None and full is None:
        details = details(page)
    tiers = np.array(TIERS, dtype=object)
    cols: dict[str, pa.Array] = {"lead_id": pa.array(features.lead_id[page])}
    shown = None if details is None else details.take(page)
    if shown is not None:
        for name, values in shown.columns.items():
            cols[name] = pa.array(values, type=pa.string())
    cols |= {
        "draft_score": pa.array(draft.total[page]),
        "draft_tier": pa.array(tiers[draft.tier[page]], type=pa.string()),
        "approved_score": pa.array(approved.total[page]),
        "approved_tier": pa.array(tiers[approved.tier[page]], type=pa.string()),
        "change": pa.array(draft.total[page] - approved.total[page]),
        "mature": pa.array(features.mature[page]),
        "outcome": pa.array(_outcome_text(features, page), type=pa.string()),
    }
    if shown is not None:
        conv = shown.converted_at
        cols["converted_at"] = pa.array(conv, mask=np.isnat(conv))
        deal = shown.deal_value
        cols["deal_value"] = pa.array(deal, mask=np.isnan(deal))
    return DrillTable(normalise(selection), counts(features, rows), pa.table(cols), offset, page, shown)

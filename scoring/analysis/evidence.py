"""What an approval records: the calibration result and KPIs of a config on a database, and the data's fingerprint.

The same numbers the Calibrate page shows (``calibrate.model_view``), so the record says
what the approvers saw; the HTML export renders them too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..data.extract import extract_features
from ..data.source import open_source
from ..model.config import ScoringConfig
from ..model.features import Features
from ..model.kpis import Kpis, outcome_facts
from .calibrate import ModelView, model_view
from .report import CalibrationResult


@dataclass(frozen=True)
class DataFingerprint:
    """What data a result was computed on: the file, its row counts and date range."""

    path: str
    size_bytes: int
    modified: str
    """The file's modification time (UTC, ISO 8601)."""
    rows: dict[str, int]
    """Rows per table."""
    leads_scored: int
    first_lead: str | None
    last_lead: str | None
    data_end: str

    def to_dict(self) -> dict:
        """The form recorded with an approval (``data``)."""
        return asdict(self)


def data_fingerprint(path: str, features: Features) -> DataFingerprint:
    """What data a result was computed on: file, row counts, date range."""
    p = Path(path)
    st = p.stat()
    facts = outcome_facts(features)
    return DataFingerprint(
        path=str(p.resolve()),
        size_bytes=st.st_size,
        modified=dt.datetime.fromtimestamp(st.st_mtime, dt.timezone.utc).isoformat(timespec="seconds"),
        rows=dict(features.quality.complete_report().counts),
        leads_scored=int(features.n),
        first_lead=facts.first_lead,
        last_lead=facts.last_lead,
        data_end=features.data_end.isoformat(sep=" "),
    )


@dataclass(frozen=True)
class Evidence:
    """A config's calibration result and KPIs on a database, the data's fingerprint, and the view and
    features they came from (the HTML export draws its charts from them)."""

    result: CalibrationResult
    kpis: Kpis
    data: DataFingerprint
    view: ModelView = field(repr=False)
    features: Features = field(repr=False)

    def to_dict(self) -> dict:
        """The calibration an approval records: ``{"result": ..., "kpis": ...}``."""
        return {"result": self.result.to_dict(), "kpis": self.kpis.to_dict()}


def evidence(config: ScoringConfig, db: str) -> Evidence:
    """The calibration result and KPIs of a config on a database, and the data's fingerprint.

    Recorded with an approval, so the record says what the approvers saw.
    """
    with open_source(db) as source:
        features = extract_features(source, config)
    view = model_view(config, features)
    return Evidence(view.result, view.kpis, data_fingerprint(db, features), view, features)

"""What an approval records: the calibration result and KPIs of a config on a database, and the data's fingerprint.

The same numbers the Calibrate page shows (``calibrate.model_view``), so the record says
what the approvers saw; the HTML export renders them too.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..data.extract import extract_features
from ..data.source import open_source
from ..model.config import ScoringConfig
from ..model.features import Features
from ..model.kpis import outcome_facts
from .calibrate import ModelView, model_view


def data_fingerprint(path: str, features: Features) -> dict:
    """What data a result was computed on: file, row counts, date range."""
    p = Path(path)
    st = p.stat()
    return {
        "path": str(p.resolve()),
        "size_bytes": st.st_size,
        "modified": dt.datetime.fromtimestamp(st.st_mtime, dt.timezone.utc).isoformat(timespec="seconds"),
        "rows": dict(features.quality.counts),
        "leads_scored": int(features.n),
        "first_lead": outcome_facts(features)["first_lead"],
        "last_lead": outcome_facts(features)["last_lead"],
        "data_end": features.data_end.isoformat(sep=" "),
    }


def evidence(config: ScoringConfig, db: str) -> tuple[dict, dict, tuple[ModelView, Features]]:
    """The calibration result and KPIs of a config on a database, the data's fingerprint, and the view and
    features they came from (the HTML export draws its charts from them).

    Recorded with an approval, so the record says what the approvers saw.
    """
    with open_source(db) as source:
        features = extract_features(source, config)
    view = model_view(config, features)
    return {"result": view.result, "kpis": view.kpis}, data_fingerprint(db, features), (view, features)

"""Data-quality findings: what leadcal worked around in the data, carried with the features.

Real exports have duplicate ids, events for leads that are not in the leads table,
missing or future timestamps, and conversions dated before the lead existed. Each
finding says where, how many rows, and what leadcal does about it, so the report and the
app can say so. Counting them is ``scoring.data.quality``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Finding:
    """One kind of problem: where, how many rows, and what leadcal does about it."""

    table: str
    column: str
    count: int
    problem: str
    handling: str

    def message(self) -> str:
        """One line for people."""
        return f"{self.table}.{self.column}: {self.count:,} {self.problem} ({self.handling})"

    def to_dict(self) -> dict:
        """The JSON form (``quality.findings[]``)."""
        return asdict(self)


@dataclass
class QualityReport:
    """All findings of one data source; empty when the data is clean."""

    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    """Row counts per table, for context and fingerprints."""

    def messages(self) -> list[str]:
        """One line per finding."""
        return [f.message() for f in self.findings]

    def to_dict(self) -> dict:
        """Stable JSON form."""
        return {
            "rows": dict(self.counts),
            "findings": [f.to_dict() for f in self.findings],
        }

"""Data-quality findings: what leadcal worked around in the data, carried with the features.

Real exports have duplicate ids, events for leads that are not in the leads table,
missing or future timestamps, and conversions dated before the lead existed. Each
finding says where, how many rows, and what leadcal does about it, so the report and the
app can say so. Counting them is ``scoring.data.quality``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
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
    """All findings of one data source; empty when the data is clean.

    A report can be *pending* (``QualityReport.pending()``): the app shows a new database's
    first view before the checks' table scans have run (six seconds of a 10M-lead first
    load) and fills the report in afterwards (``complete`` or ``give_up``). Whatever reads
    findings for people or records (``messages``, ``to_dict``, ``complete_report``, pickling)
    waits for that; ``checked`` tells without waiting.
    """

    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    """Row counts per table, for context and fingerprints."""
    error: str | None = None
    """Why the checks could not run (the findings are then unknown, not zero)."""
    _ready: threading.Event | None = field(default=None, repr=False, compare=False)
    _start: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def pending(cls, start: Callable[[], None] | None = None) -> QualityReport:
        """A report whose checks still run; filled in by ``complete`` or ``give_up``. ``start``
        (idempotent) is called by whoever waits first, so checks held back are never waited for unstarted."""
        return cls(_ready=threading.Event(), _start=start)

    @property
    def checked(self) -> bool:
        """True once the findings are known (or the checks gave up): reading them will not wait."""
        return self._ready is None or self._ready.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the checks are done; False when ``timeout`` passed first."""
        if self._ready is None or self._ready.is_set():
            return True
        if self._start is not None:
            self._start()
        return self._ready.wait(timeout)

    def complete(self, found: QualityReport) -> None:
        """Fill a pending report with what the checks found (then readers go on)."""
        self.counts.update(found.counts)
        self.findings[:] = found.findings
        self._release()

    def give_up(self, error: str) -> None:
        """The checks could not run: say why instead of reporting no findings."""
        self.error = error
        self._release()

    def _release(self) -> None:
        if self._ready is not None:
            self._ready.set()

    def complete_report(self) -> QualityReport:
        """This report once its checks are done (it waits for them)."""
        self.wait()
        return self

    def messages(self) -> list[str]:
        """One line per finding (or why there are none to tell)."""
        self.wait()
        if self.error is not None:
            return [f"the data-quality checks could not run: {self.error}"]
        return [f.message() for f in self.findings]

    def to_dict(self) -> dict:
        """Stable JSON form."""
        self.wait()
        out = {
            "rows": dict(self.counts),
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.error is not None:
            out["error"] = self.error
        return out

    def __getstate__(self) -> dict:
        """Pickled (Streamlit's data cache) once the checks are done, without the thread's event."""
        self.wait()
        return {**self.__dict__, "_ready": None, "_start": None}

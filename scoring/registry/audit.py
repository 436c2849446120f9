"""The audit trail and approval records in readable form: who, as what, when (local time).

The store keeps machine-readable JSON (UTC timestamps, sign-offs as lists of objects);
the meeting reads names, roles and local times, never raw Python or JSON text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


def local_time(stamp: Any) -> str:
    """An ISO timestamp as local time to the minute ('2026-03-04 14:05'); other text as it is."""
    if not stamp:
        return ""
    try:
        when = dt.datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp)
    if when.tzinfo is not None:
        when = when.astimezone()
    return when.strftime("%Y-%m-%d %H:%M")


def signers(signoffs: Any) -> str:
    """Sign-offs as 'Ann Lee (sales), Bo Chan (marketing)'."""
    if not isinstance(signoffs, list):
        return ""
    return ", ".join(f"{s.get('name', '')} ({s.get('role', '')})" for s in signoffs if isinstance(s, dict))


@dataclass(frozen=True)
class AuditRow:
    """One audit entry as the meeting reads it."""

    when: str
    """Local time, to the minute."""
    action: str
    who: str
    version: str
    """``NAME@VERSION``, or empty."""
    details: str


def _details(entry: dict) -> str:
    action = entry.get("action")
    if action == "approve":
        return "signed by " + signers(entry.get("signoffs")) if entry.get("signoffs") else ""
    if action == "abtest":
        return (f"test {entry.get('test')}: champion vs challenger {entry.get('challenger')}, signed by "
                + signers(entry.get("signoffs")))
    if action == "save":
        return f"started from {entry['parent']}" if entry.get("parent") else ""
    if action == "export":
        fmt = str(entry.get("format") or "").upper()
        dialect = f" ({entry['dialect']})" if entry.get("dialect") else ""
        out = entry.get("out")
        return f"{fmt}{dialect}" + ("" if out in (None, "download") else f" to {out}") + \
            (" downloaded" if out == "download" else "")
    known = {"at", "action", "by", "model", "version"}
    return ", ".join(f"{k}: {v}" for k, v in entry.items() if k not in known and v not in (None, ""))


def audit_rows(entries: list[dict]) -> list[AuditRow]:
    """Audit entries, newest first, in words."""
    rows = []
    for entry in reversed(entries):
        model, version = entry.get("model"), entry.get("version")
        rows.append(AuditRow(when=local_time(entry.get("at")), action=str(entry.get("action", "")),
                             who=str(entry.get("by") or ""),
                             version=f"{model}@{version}" if model and version else str(model or ""),
                             details=_details(entry)))
    return rows

"""A readable diff of two configs: what changed, in the meeting's words.

Rules are matched by what they score (column or event label), not by position, so
reordering rules is not a change and a changed point value reads as
``engagement 'demo_request' points: 20 -> 25``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .config import ScoringConfig


@dataclass(frozen=True)
class Change:
    """One changed setting or rule part: what, how (added / removed / changed), before and after."""

    what: str
    """E.g. ``engagement 'demo_request' points`` or ``thresholds.mql``."""
    change: str
    before: Any
    after: Any

    def to_dict(self) -> dict:
        """The row of `leadcal configs diff --format json`."""
        return asdict(self)


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value


def _rule_key(kind: str, rule: dict) -> str:
    if kind == "fit":
        return f"fit '{rule['column']}'"
    if rule.get("name"):
        return f"engagement '{rule['name']}'"
    label = rule.get("column") or rule.get("event")
    # the same event set in another order or case is the same rule
    label = "+".join(sorted(str(e).strip().casefold() for e in label)) if isinstance(label, list) else label
    return f"engagement '{label}'"


def _rules(kind: str, rules: list[dict], prefix: str) -> dict[str, dict]:
    return {prefix + _rule_key(kind, r): r for r in rules}


def _sections(config: ScoringConfig) -> dict[str, Any]:
    data = config.model_dump(mode="json", exclude_none=True)
    out: dict[str, Any] = {}
    for key in ("name", "description", "source", "evaluation", "decay", "caps", "thresholds"):
        if key in data:
            _flatten(data[key], key, out)
    out["bands"] = data["bands"]
    for kind in ("fit", "engagement"):
        out.update(_rules(kind, data[kind], ""))
    if data.get("segments"):
        out["segments order"] = [seg["name"] for seg in data["segments"]]  # first match wins
    for seg in data.get("segments", []):
        prefix = f"segment '{seg['name']}' "
        _flatten(seg["filter"], prefix + "filter", out)
        if "thresholds" in seg:
            _flatten(seg["thresholds"], prefix + "thresholds", out)
        for kind in ("fit", "engagement"):
            if kind in seg:
                out.update(_rules(kind, seg[kind], prefix))
    return out


def _rule_changes(name: str, old: dict, new: dict) -> list[Change]:
    flat_old: dict[str, Any] = {}
    flat_new: dict[str, Any] = {}
    _flatten({k: v for k, v in old.items()}, "", flat_old)
    _flatten({k: v for k, v in new.items()}, "", flat_new)
    rows = []
    for key in list(dict.fromkeys([*flat_old, *flat_new])):
        a, b = flat_old.get(key), flat_new.get(key)
        if a != b:
            rows.append(Change(f"{name} {key}", _kind(a, b), a, b))
    return rows


def _kind(a: Any, b: Any) -> str:
    if a is None:
        return "added"
    if b is None:
        return "removed"
    return "changed"


def config_diff(before: ScoringConfig, after: ScoringConfig) -> list[Change]:
    """What changed from ``before`` to ``after``, one ``Change`` per setting or rule part."""
    old, new = _sections(before), _sections(after)
    rows: list[Change] = []
    for key in list(dict.fromkeys([*old, *new])):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if key == "segments order" and sorted(a or []) != sorted(b or []):
            continue  # segments added or removed: their own rows say so
        if isinstance(a, dict) and isinstance(b, dict):
            rows.extend(_rule_changes(key, a, b))
        elif isinstance(a, dict) or isinstance(b, dict):
            rows.append(Change(key, _kind(a, b), _short(a), _short(b)))
        else:
            rows.append(Change(key, _kind(a, b), a, b))
    return rows


def _short(rule: dict | None) -> str | None:
    if rule is None:
        return None
    parts = [f"{k}: {v}" for k, v in rule.items() if k not in ("type", "column", "event", "name")]
    return ", ".join(parts)

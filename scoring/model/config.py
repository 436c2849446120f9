"""The scoring model config: typed, validated, YAML in and out.

A config is what the calibration meeting argues about and what production runs, so
every mistake in it must be caught before it is used, with a message that names the
YAML path (``engagement[2].points``) and what is wrong. Unknown keys are errors: a
typo must never silently do nothing.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ..base.errors import ProblemsError
from ..base.yamlsafe import YamlError, dump_yaml, load_yaml

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .\-]{0,127}$")
"""Allowed table and column names: letters, digits, spaces, '_', '.', '-' (quoted in SQL)."""

DEFAULT_MISSING_VALUES = ["", "Select", "N/A", "NA", "-", "null", "NULL", "None", "n/a"]


class ConfigError(ProblemsError):
    """A config failed to load; ``problems`` holds one message per mistake."""

    topic = "in the config"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False, frozen=False)


def _check_identifier(value: str | None) -> str | None:
    if value is not None and not IDENTIFIER.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a usable table or column name "
            "(letters, digits, spaces, '_', '.', '-'; must start with a letter or '_')"
        )
    return value


Identifier = Annotated[str, Field(min_length=1, max_length=128)]


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {str(value).lower()} (YAML reads yes/no, on/off and "
                         "true/false as true or false)")
    if isinstance(value, float):
        _finite(value)  # before range checks, so .nan is not reported as out of range
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number (not .nan or .inf)")
    return value


Number = Annotated[float, BeforeValidator(_not_bool), AfterValidator(_finite)]
"""A finite number; a YAML boolean (``points: yes``) is refused, not read as 1."""


def _one_line_name(value: str | None) -> str | None:
    if value is not None and (value != value.strip() or any(ord(ch) < 32 for ch in value)):
        raise ValueError(f"{value!r}: a name is one line without leading or trailing spaces")
    return value


Name = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_one_line_name)]
"""A label (model, rule or segment name): exactly what was typed, on one line."""


# --------------------------------------------------------------------------- decay


class NoDecay(_Model):
    """Every event counts fully, however old."""

    kind: Literal["none"] = "none"


class ExponentialDecay(_Model):
    """An event's weight halves every ``half_life_days`` before the scoring point."""

    kind: Literal["exponential"] = "exponential"
    half_life_days: Number = Field(gt=0, le=3650)
    """Days after which an event counts half."""


class LinearDecay(_Model):
    """An event's weight falls linearly from 1 to 0 over ``lifespan_days``."""

    kind: Literal["linear"] = "linear"
    lifespan_days: Number = Field(gt=0, le=3650)
    """Days after which an event counts nothing."""


class WindowDecay(_Model):
    """Only events in the last ``days`` before the scoring point count (fully)."""

    kind: Literal["window"] = "window"
    days: Number = Field(gt=0, le=3650)
    """Length of the window in days."""


Decay = Annotated[
    Union[NoDecay, ExponentialDecay, LinearDecay, WindowDecay], Field(discriminator="kind")
]


def decay_key(decay: NoDecay | ExponentialDecay | LinearDecay | WindowDecay) -> tuple:
    """A hashable key of a decay, so rules with the same decay share one feature."""
    if isinstance(decay, ExponentialDecay):
        return ("exponential", float(decay.half_life_days))
    if isinstance(decay, LinearDecay):
        return ("linear", float(decay.lifespan_days))
    if isinstance(decay, WindowDecay):
        return ("window", float(decay.days))
    return ("none",)


# --------------------------------------------------------------------------- fit rules


class CategoricalFit(_Model):
    """Points for the values of a categorical lead column (explicit / fit data)."""

    type: Literal["categorical"] = "categorical"
    column: Identifier
    """Column of the leads table."""
    points: dict[str, Number] = Field(default_factory=dict)
    """Value -> points. Matched case-insensitively after trimming spaces."""
    other: Number = 0
    """Points for a value not listed in ``points``."""
    missing: Number = 0
    """Points when the value is missing (NULL or one of ``source.missing_values``)."""

    _v_column = field_validator("column")(_check_identifier)

    @field_validator("points")
    @classmethod
    def _unique_values(cls, points: dict[str, float]) -> dict[str, float]:
        seen: dict[str, str] = {}
        for value in points:
            key = normalise_value(value)
            if key in seen:
                raise ValueError(
                    f"values {seen[key]!r} and {value!r} are the same after ignoring case "
                    "and spaces; keep one"
                )
            seen[key] = value
        for value, pts in points.items():
            if not math.isfinite(pts):
                raise ValueError(f"points for {value!r} must be a finite number")
        return points


class NumericBin(_Model):
    """A half-open range ``[min, max)`` of a numeric column and its points."""

    min: Number | None = None
    """Lower bound, inclusive; omit for no lower bound."""
    max: Number | None = None
    """Upper bound, exclusive; omit for no upper bound."""
    points: Number
    """Points for a value in this range."""

    @model_validator(mode="after")
    def _ordered(self) -> "NumericBin":
        if self.min is not None and self.max is not None and not self.min < self.max:
            raise ValueError(f"min ({self.min:g}) must be below max ({self.max:g})")
        return self


class NumericFit(_Model):
    """Points for ranges of a numeric lead column (e.g. company size)."""

    type: Literal["numeric"] = "numeric"
    column: Identifier
    """Column of the leads table."""
    bins: list[NumericBin] = Field(min_length=1)
    """Ranges, in increasing order, not overlapping."""
    other: Number = 0
    """Points for a value outside every range."""
    missing: Number = 0
    """Points when the value is missing."""

    _v_column = field_validator("column")(_check_identifier)

    @field_validator("bins")
    @classmethod
    def _no_overlap(cls, bins: list[NumericBin]) -> list[NumericBin]:
        for i in range(1, len(bins)):
            prev, cur = bins[i - 1], bins[i]
            if prev.max is None or cur.min is None or cur.min < prev.max:
                raise ValueError(
                    f"bins {i - 1} and {i} overlap or are out of order: each bin's min must be "
                    "at or above the previous bin's max"
                )
        return bins

    def edges(self) -> tuple[list[float], list[float]]:
        """Lower and upper bounds as floats (-inf/+inf for open ends)."""
        lows = [(-math.inf if b.min is None else b.min) for b in self.bins]
        highs = [(math.inf if b.max is None else b.max) for b in self.bins]
        return lows, highs


FitRule = Annotated[Union[CategoricalFit, NumericFit], Field(discriminator="type")]


# --------------------------------------------------------------------------- engagement


class EngagementRule(_Model):
    """Points per event (implicit data) or per unit of a numeric activity column."""

    name: Name | None = None
    """Label shown in the app; defaults to the event type or column."""
    event: str | list[str] | None = None
    """Event type(s) this rule counts. Give ``event`` or ``column``, not both."""
    column: Identifier | None = None
    """A numeric activity column of the leads table (e.g. a count); no decay applies."""
    points: Number
    """Points per event (after decay) or per unit; negative for bad signs."""
    cap: Number | None = Field(default=None, gt=0)
    """The most this rule can add (or take away, for negative points)."""
    decay: Decay | None = None
    """Overrides the model's default decay for this rule."""

    _v_column = field_validator("column")(_check_identifier)

    @field_validator("event")
    @classmethod
    def _events(cls, event: str | list[str] | None) -> str | list[str] | None:
        values = [event] if isinstance(event, str) else (event or [])
        if event is not None and (not values or any(not str(v).strip() for v in values)):
            raise ValueError("event types must be non-empty strings")
        if len(set(values)) != len(values):
            raise ValueError("an event type is listed twice")
        return event

    @field_validator("points")
    @classmethod
    def _finite(cls, points: float) -> float:
        if not math.isfinite(points):
            raise ValueError("must be a finite number")
        return points

    @model_validator(mode="after")
    def _one_source(self) -> "EngagementRule":
        if (self.event is None) == (self.column is None):
            raise ValueError("give exactly one of 'event' (event types) or 'column' (activity column)")
        if self.column is not None and self.decay is not None:
            raise ValueError("an activity column has no timestamps, so it cannot decay; remove 'decay'")
        return self

    @property
    def events(self) -> list[str]:
        """The event types as a list (empty for a column rule)."""
        if self.event is None:
            return []
        return [self.event] if isinstance(self.event, str) else list(self.event)

    @property
    def label(self) -> str:
        """A readable name of the rule."""
        if self.name:
            return self.name
        return self.column if self.column else "+".join(self.events)


# --------------------------------------------------------------------------- caps, thresholds


class Cap(_Model):
    """Bounds for a part of the score; either side may be omitted."""

    min: Number | None = None
    """Lowest value the part can take."""
    max: Number | None = None
    """Highest value the part can take."""

    @model_validator(mode="after")
    def _ordered(self) -> "Cap":
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")
        return self


class Caps(_Model):
    """Caps on the fit part, the engagement part and the total score."""

    fit: Cap | None = None
    """Bounds of the fit score."""
    engagement: Cap | None = None
    """Bounds of the engagement score."""
    total: Cap | None = None
    """Bounds of the total score (e.g. 0..100)."""


class Thresholds(_Model):
    """Where a lead becomes marketing-qualified (MQL) and sales-ready (SQL)."""

    mql: Number
    """Score at or above which a lead is an MQL."""
    sql: Number
    """Score at or above which a lead is sales-ready; above ``mql``."""

    @model_validator(mode="after")
    def _ordered(self) -> "Thresholds":
        if not self.mql < self.sql:
            raise ValueError(f"mql ({self.mql:g}) must be below sql ({self.sql:g})")
        return self


class Evaluation(_Model):
    """When a lead is scored and how long we wait to see whether it converted."""

    scoring_point_days: Number = Field(default=7, ge=0, le=3650)
    """Days after creation at which a lead is scored; only earlier events count."""
    outcome_window_days: Number = Field(default=90, gt=0, le=3650)
    """Days after the scoring point within which a conversion counts."""
    currency: str | None = Field(default=None, min_length=1, max_length=8, pattern=r"^[^\s<>&]+$")
    """How won revenue is written: a code (``EUR``) or a symbol (``£``); omitted, plain numbers."""


# --------------------------------------------------------------------------- segments


class SegmentFilter(_Model):
    """Which leads a segment covers: a column's values or a numeric range (no free SQL)."""

    column: Identifier
    """Column of the leads table."""
    values: list[str] | None = None
    """Matching values (case-insensitive)."""
    min: Number | None = None
    """Lower bound, inclusive."""
    max: Number | None = None
    """Upper bound, exclusive."""

    _v_column = field_validator("column")(_check_identifier)

    @model_validator(mode="after")
    def _one_kind(self) -> "SegmentFilter":
        has_range = self.min is not None or self.max is not None
        if (self.values is not None) == has_range:
            raise ValueError("give either 'values' or a range ('min' and/or 'max')")
        if self.values is not None and not self.values:
            raise ValueError("'values' must list at least one value")
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"min ({self.min:g}) must be below max ({self.max:g})")
        return self


class Segment(_Model):
    """A group of leads with its own rules; the first matching segment wins."""

    name: Name
    """Shown in the app and reports."""
    filter: SegmentFilter
    """Which leads belong to it."""
    fit: list[FitRule] | None = None
    """Fit rules for this segment; omit to use the model's."""
    engagement: list[EngagementRule] | None = None
    """Engagement rules for this segment; omit to use the model's."""
    thresholds: Thresholds | None = None
    """Thresholds for this segment; omit to use the model's."""


# --------------------------------------------------------------------------- accounts


class AccountScoring(_Model):
    """How an account's score comes from its leads' scores, and its own MQA / SQA thresholds.

    An account is scored ``scoring_point_days`` after its first lead was created. Only leads
    whose own scoring point is at or before that moment count (so no event after the account's
    scoring point ever does); a lead created later never counts. The account converts when any
    of its leads converts before the account's scoring point + the outcome window.
    """

    method: Literal["max", "sum", "top_k_mean"] = "max"
    """``max``: the best lead's score; ``sum``: the leads' scores added up (capped by ``cap``);
    ``top_k_mean``: the mean of the ``k`` best leads' scores (of all of them when fewer)."""
    cap: Number | None = None
    """Highest account score for ``sum`` (ignored by the other methods)."""
    k: int = Field(default=3, ge=1, le=100)
    """How many of the best leads ``top_k_mean`` averages."""
    scoring_point_days: Number = Field(default=30, ge=0, le=3650)
    """Days after the account's first lead was created at which the account is scored."""
    thresholds: Thresholds = Field(default_factory=lambda: Thresholds(mql=40, sql=60))
    """MQA (``mql``) and SQA (``sql``): account score at or above which an account is marketing- /
    sales-qualified."""
    bands: list[Number] | None = None
    """Cut points of the account score bands; omitted, the model's ``bands``."""

    @field_validator("bands")
    @classmethod
    def _increasing(cls, bands: list[float] | None) -> list[float] | None:
        if bands is not None and (not bands or any(not math.isfinite(b) for b in bands)
                                  or any(not lo < hi for lo, hi in zip(bands, bands[1:]))):
            raise ValueError("band cut points must be finite and strictly increasing")
        return bands


# --------------------------------------------------------------------------- source mapping


class LeadsTable(_Model):
    """Where the leads are: one row per lead."""

    table: Identifier = "leads"
    """Table or view name."""
    id: Identifier = "lead_id"
    """Lead id column."""
    created_at: Identifier | None = "created_at"
    """Creation time column; null when the data has none (then nothing is scored at a
    point in time: every recorded activity counts, and there are no cohorts)."""
    segment: Identifier | None = None
    """Optional column the app can filter on (e.g. SMB / Enterprise)."""
    account: Identifier | None = None
    """Optional account key: the company (name or id) each lead belongs to, for account scores."""

    _v = field_validator("table", "id", "created_at", "segment", "account")(_check_identifier)


class EventsTable(_Model):
    """Where the events are: one row per event (page view, demo request, ...)."""

    table: Identifier = "events"
    """Table or view name."""
    lead_id: Identifier = "lead_id"
    """Lead id column."""
    type: Identifier = "event_type"
    """Event type column."""
    time: Identifier = "occurred_at"
    """Event time column."""

    _v = field_validator("table", "lead_id", "type", "time")(_check_identifier)


class OutcomeTable(_Model):
    """Where the outcome is: won, lost or open, and when it converted; optionally a deal value.

    Three forms: a conversion time alone (``converted_at``: converted within the window or
    not; open and lost cannot be told apart), a yes/no column alone (``converted``: true
    won, false lost, NULL open), or both together (won with its date when known, lost,
    open). An open lead is never counted lost, whatever its age, unless
    ``open_lost_after_days`` says otherwise (off by default).
    """

    table: Identifier | None = None
    """Table name; omit when the columns are on the leads table."""
    lead_id: Identifier = "lead_id"
    """Lead id column (ignored when the outcome is on the leads table)."""
    converted_at: Identifier | None = "converted_at"
    """Conversion time column; NULL means not converted (yet). With ``converted`` it is the
    date of a win (a won lead without one counts as converted, its time unknown)."""
    converted: Identifier | None = None
    """A yes/no column: true won, false lost, NULL still open (immature, never lost). Alone, for
    data that records the outcome but not when it happened; with ``converted_at``, the state of
    every lead while the date places the wins in the outcome window."""
    deal_value: Identifier | None = None
    """Optional deal value column."""
    open_lost_after_days: float | None = Field(default=None, gt=0, le=3650)
    """Off (null) by default. A number N counts a lead still open N days after its creation as
    lost: an explicit choice for pipelines where stale deals are dead, shown in every report."""

    _v = field_validator("table", "lead_id", "converted_at", "converted", "deal_value")(_check_identifier)

    @model_validator(mode="before")
    @classmethod
    def _flag_alone(cls, data: Any) -> Any:
        # a yes/no column given without a conversion time means just that (the default
        # 'converted_at' column name only applies when no outcome column is named)
        if isinstance(data, dict) and data.get("converted") is not None and "converted_at" not in data:
            data = {**data, "converted_at": None}
        return data

    @model_validator(mode="after")
    def _some_outcome(self) -> "OutcomeTable":
        if self.converted_at is None and self.converted is None:
            raise ValueError("give 'converted_at' (a time), 'converted' (a yes/no column), or both")
        if self.open_lost_after_days is not None and self.converted is None:
            raise ValueError("open_lost_after_days needs 'converted' (a yes/no column with NULL for open): "
                             "with a conversion time alone, open and lost leads cannot be told apart")
        return self

    @property
    def states(self) -> bool:
        """Whether the outcome has three states (won, lost, open) rather than a time alone."""
        return self.converted is not None


class SourceMapping(_Model):
    """Table and column names of the user's data (the user's names, not ours)."""

    leads: LeadsTable = Field(default_factory=LeadsTable)
    """The leads table."""
    events: EventsTable | None = None
    """The events table; omit when there are no events."""
    outcome: OutcomeTable = Field(default_factory=OutcomeTable)
    """Where conversions are recorded."""
    missing_values: list[str] = Field(default_factory=lambda: list(DEFAULT_MISSING_VALUES))
    """Text values that mean 'missing' in categorical columns (besides NULL)."""

    @model_validator(mode="after")
    def _time_needed(self) -> "SourceMapping":
        if self.leads.created_at is None:
            if self.events is not None:
                raise ValueError("events need leads.created_at: without a creation time there is no "
                                 "scoring point to count events before")
            if self.outcome.converted is None:
                raise ValueError("without leads.created_at the outcome must be a yes/no column "
                                 "(outcome.converted): a conversion window needs a creation time")
            if self.outcome.open_lost_after_days is not None:
                raise ValueError("outcome.open_lost_after_days needs leads.created_at: without a creation "
                                 "time a lead has no age")
        return self

    @property
    def point_in_time(self) -> bool:
        """Whether leads are scored as of a point in time (they have a creation time)."""
        return self.leads.created_at is not None


# --------------------------------------------------------------------------- the model


class ScoringConfig(_Model):
    """A whole lead-scoring model: rules, decay, caps, thresholds, bands, data mapping."""

    name: Name = "default"
    """The model's name."""
    description: str | None = None
    """A line on what the model is for."""
    source: SourceMapping = Field(default_factory=SourceMapping)
    """Where the data lives."""
    evaluation: Evaluation = Field(default_factory=Evaluation)
    """Scoring point and outcome window of the backtest."""
    decay: Decay = Field(default_factory=NoDecay)
    """Default decay of engagement; a rule may override it."""
    fit: list[FitRule] = Field(default_factory=list)
    """Fit (explicit) rules: who the lead is."""
    engagement: list[EngagementRule] = Field(default_factory=list)
    """Engagement (implicit) rules: what the lead did."""
    caps: Caps = Field(default_factory=Caps)
    """Bounds on the fit, engagement and total score."""
    thresholds: Thresholds
    """MQL and SQL thresholds."""
    bands: list[Number] = Field(min_length=1)
    """Cut points of the score bands to report, increasing (e.g. [20, 40, 60, 80])."""
    segments: list[Segment] = Field(default_factory=list)
    """Optional segments with their own rules; leads in none use the model's rules."""
    accounts: AccountScoring | None = None
    """Account scores from the leads' scores (needs ``source.leads.account``); omit for leads only."""

    @field_validator("bands")
    @classmethod
    def _increasing(cls, bands: list[float]) -> list[float]:
        if any(not math.isfinite(b) for b in bands):
            raise ValueError("band cut points must be finite numbers")
        if any(not lo < hi for lo, hi in zip(bands, bands[1:])):
            raise ValueError("band cut points must be strictly increasing")
        return bands

    @model_validator(mode="after")
    def _unique_names(self) -> "ScoringConfig":
        problems = []
        for where, rules in self.rule_sets():
            dupes = _repeated(r.label for r in rules["engagement"])
            if dupes:
                problems.append(f"{where}engagement: rule names must be unique, repeated: {dupes}")
            dupes = _repeated(r.column for r in rules["fit"])
            if dupes:
                problems.append(f"{where}fit: a column has two fit rules: {dupes}")
        names = [s.name for s in self.segments]
        if len(set(names)) != len(names):
            problems.append("segments: segment names must be unique")
        if self.accounts is not None:
            if self.source.leads.account is None:
                problems.append("accounts: account scores need an account key on the leads "
                                "(source.leads.account, e.g. a company or company id column)")
            if not self.source.point_in_time:
                problems.append("accounts: account scores need creation times (source.leads.created_at): "
                                "an account is scored at a point in time")
            if self.accounts.scoring_point_days < self.evaluation.scoring_point_days:
                problems.append(f"accounts.scoring_point_days ({self.accounts.scoring_point_days:g}) must be at "
                                f"least evaluation.scoring_point_days ({self.evaluation.scoring_point_days:g}): "
                                "else not even the account's first lead is scored by then")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def rule_sets(self) -> list[tuple[str, dict[str, list]]]:
        """(prefix, {'fit': rules, 'engagement': rules}) for the model and each segment."""
        out: list[tuple[str, dict[str, list]]] = [("", {"fit": self.fit, "engagement": self.engagement})]
        for i, seg in enumerate(self.segments):
            out.append(
                (
                    f"segments[{i}].",
                    {
                        "fit": self.fit if seg.fit is None else seg.fit,
                        "engagement": self.engagement if seg.engagement is None else seg.engagement,
                    },
                )
            )
        return out

    def rule_decay(self, rule: EngagementRule) -> Any:
        """The decay that applies to a rule (its own, else the model's)."""
        return rule.decay if rule.decay is not None else self.decay


# --------------------------------------------------------------------------- helpers


def _repeated(items: Any) -> list:
    """The items that occur more than once, sorted (one pass: a config may have thousands of rules)."""
    from collections import Counter

    return sorted(x for x, n in Counter(items).items() if n > 1)


def normalise_value(value: Any) -> str:
    """The form categorical values are compared in: trimmed, case-folded."""
    return str(value).strip().casefold()


def _loc_to_path(loc: tuple, data: Any) -> str:
    """Turn a pydantic error location into a YAML path like ``engagement[2].points``.

    Discriminated unions add the tag (e.g. 'exponential') to the location; it is not a
    key of the user's YAML, so it is skipped by walking the data alongside.
    """
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
            node = node[item] if isinstance(node, list) and -len(node) <= item < len(node) else None
            continue
        if isinstance(node, dict) and item not in node and item in {
            node.get("kind"),
            node.get("type"),
        }:
            continue  # union tag
        if item in {"function-after", "function-before"} or str(item).startswith("function-"):
            continue
        parts.append(("." if parts else "") + str(item))
        node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def _message(err: dict) -> str:
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        return "unknown key (check the spelling; unknown keys are not allowed)"
    if err["type"] == "missing":
        return "required, but missing"
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if err["type"] == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return f"{ctx.get('tag')!r} is not one of {ctx.get('expected_tags')}"
    if err["type"] == "union_tag_not_found":
        return "required, but missing"
    if err["type"] == "string_type":
        got = err.get("input")
        shown = str(got).lower() if isinstance(got, bool) else repr(got)
        return f"expected text, got {shown}; put the value in quotes (YAML reads some words and numbers " \
               "as other types)"
    return msg


def format_errors(exc: ValidationError, data: Any) -> list[str]:
    """Every validation error as 'path: problem', in file order."""
    out = []
    for err in exc.errors():
        path = _loc_to_path(tuple(err["loc"]), data)
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            tag = str(err.get("ctx", {}).get("discriminator", "")).strip("'")
            path = f"{path}.{tag}" if tag else path
        message = _message(err)
        if path == "(top level)" and re.match(r"^[a-z_\[\]0-9.]+: ", message):
            out.extend(message.split("; "))  # model-level checks name their own paths
            continue
        out.append(f"{path}: {message}")
    return out


def config_from_dict(data: Any, source: str = "config") -> ScoringConfig:
    """Validate plain data into a config; raises ConfigError listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError(source, ["(top level): expected a mapping of keys to values"])
    try:
        return ScoringConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, format_errors(exc, data)) from None


def parse_config(text: str, source: str = "config") -> ScoringConfig:
    """Parse YAML text into a config."""
    try:
        data = load_yaml(text)
    except YamlError as exc:
        raise ConfigError(source, [str(exc)]) from None
    return config_from_dict(data, source)


def load_config(path: str | Path) -> ScoringConfig:
    """Read and validate a YAML config file."""
    path = Path(path)
    if path.exists() and not path.is_file():  # a directory, or a FIFO that would block for ever
        raise ConfigError(str(path), ["is not a regular file (a directory, pipe or device)"])
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [f"cannot read the file ({exc})"]) from None
    return parse_config(text, str(path))


def config_to_dict(config: ScoringConfig) -> dict:
    """Plain data of a config: only the keys that were given, so YAML round-trips exactly."""
    return config.model_dump(mode="json", exclude_unset=True)


def dump_config(config: ScoringConfig) -> str:
    """YAML text of a config, keys in model order."""
    return dump_yaml(config_to_dict(config))


def save_config(config: ScoringConfig, path: str | Path, overwrite: bool = False) -> Path:
    """Write a config as YAML atomically; never overwrites unless asked.

    The text is re-validated before writing, so a file on disk is always loadable.
    """
    import os
    import tempfile

    path = Path(path)
    text = dump_config(config)
    parse_config(text, str(path))
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; choose another name")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if path appeared meanwhile: no lost update
            os.unlink(tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path

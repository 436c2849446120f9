"""Routing in production: one SQL query that scores every lead with both models of a test and picks its arm.

The champion's and the challenger's scoring queries (``scoring.export.sql``, each
exactly the engine's scores) run side by side on the same leads; each lead's arm comes
from ``scoring.data.routing``'s hash, written with functions every dialect has:
``lower(substring(md5(salt || ':' || cast(lead_id as text)), 1, 8)) < 'cut-off'``
(BigQuery's MD5 gives bytes: sqlglot renders it ``TO_HEX(MD5(...))``). The output has
both scores, the arm and the score and tier that apply (the arm's model's), so the
CRM can act on ``tier`` while the test keeps both.
"""

from __future__ import annotations

import re

from sqlglot import exp

from ..data.routing import HEX_DIGITS, check_salt, cutoff_hex
from ..model.config import ScoringConfig
from .sql import build_query, check_exportable, render

_TEXT = exp.DataType.build("TEXT")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


def bucket_text(lead_id: exp.Expression, salt: str) -> exp.Expression:
    """The lead's routing bucket as 8 lowercase hex digits, in SQL."""
    text = exp.Concat(expressions=[exp.Literal.string(check_salt(salt)), exp.Literal.string(":"),
                                   exp.cast(lead_id, _TEXT)])
    return exp.Lower(this=exp.Substring(this=exp.MD5(this=text), start=exp.Literal.number(1),
                                        length=exp.Literal.number(HEX_DIGITS)))


def build_test_query(champion: ScoringConfig, challenger: ScoringConfig, salt: str, share: float) -> exp.Select:
    """The routing query as a sqlglot tree (render with ``export_test_sql``)."""
    ctes: list[tuple[str, exp.Expression]] = []
    for arm, config in (("champion", champion), ("challenger", challenger)):
        named, final = _renamed(build_query(config), arm)
        ctes.extend(named)
        ctes.append((f"leadcal_{arm}", final))
    a = exp.to_table("leadcal_champion")
    b = exp.to_table("leadcal_challenger")
    to_challenger = exp.LT(this=bucket_text(exp.column("lead_id", "leadcal_champion"), salt),
                           expression=exp.Literal.string(cutoff_hex(share)))
    arm = exp.Case(ifs=[exp.If(this=to_challenger, true=exp.Literal.string("challenger"))],
                   default=exp.Literal.string("champion"))
    joined = (
        exp.select(
            exp.column("lead_id", "leadcal_champion").as_("lead_id"),
            arm.as_("arm"),
            exp.column("scored_at", "leadcal_champion").as_("champion_scored_at"),
            exp.column("score", "leadcal_champion").as_("champion_score"),
            exp.column("tier", "leadcal_champion").as_("champion_tier"),
            exp.column("scored_at", "leadcal_challenger").as_("challenger_scored_at"),
            exp.column("score", "leadcal_challenger").as_("challenger_score"),
            exp.column("tier", "leadcal_challenger").as_("challenger_tier"),
        )
        .from_(a)
        .join(b, on=exp.EQ(this=exp.column("lead_id", "leadcal_champion"),
                           expression=exp.column("lead_id", "leadcal_challenger")), join_type="inner")
    )

    def applied(column: str) -> exp.Expression:
        return exp.Case(ifs=[exp.If(this=exp.EQ(this=exp.column("arm"), expression=exp.Literal.string("challenger")),
                                    true=exp.column(f"challenger_{column}"))],
                        default=exp.column(f"champion_{column}"))

    query = exp.select(
        exp.column("lead_id"), exp.column("arm"), applied("scored_at").as_("scored_at"),
        applied("score").as_("score"), applied("tier").as_("tier"),
        exp.column("champion_score"), exp.column("champion_tier"),
        exp.column("challenger_score"), exp.column("challenger_tier"),
    ).from_(exp.to_table("leadcal_routed"))
    for name, cte in ctes + [("leadcal_routed", joined)]:
        query = query.with_(name, as_=cte)
    return query


def _renamed(query: exp.Select, arm: str) -> tuple[list[tuple[str, exp.Expression]], exp.Select]:
    """The scoring query's CTEs under names of their own (``leadcal_<arm>_...``) and its final SELECT.

    Both models' CTEs go into one WITH at the top (Spark hoists nested CTEs there anyway, where
    two models' ``leadcal_leads`` would collide). CTE references are the only unquoted table
    names in the tree (the user's tables are quoted), so nothing of the user's is renamed.
    """
    with_ = query.args["with_"]
    names = {cte.alias: f"leadcal_{arm}_{cte.alias.removeprefix('leadcal_')}" for cte in with_.expressions}

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and not node.this.args.get("quoted") and node.name in names:
            new = exp.to_table(names[node.name])
            if node.args.get("alias") is not None:
                new.set("alias", node.args["alias"].copy())
            return new
        return node

    renamed = [(names[cte.alias], cte.this.transform(swap)) for cte in with_.expressions]
    final = query.copy()
    final.set("with_", None)
    return renamed, final.transform(swap)


def export_test_sql(test: str, champion_ref: str, challenger_ref: str, champion: ScoringConfig,
                    challenger: ScoringConfig, salt: str, share: float, dialect: str = "duckdb") -> str:
    """One SELECT routing every lead of the test, in ``dialect``.

    Columns: ``lead_id, arm, scored_at, score, tier, champion_score, champion_tier,
    challenger_score, challenger_tier``.
    """
    check_exportable(champion, dialect)
    check_exportable(challenger, dialect)
    lines = [
        f"leadcal champion vs challenger test '{_UNPRINTABLE.sub('?', test)}' - generated by leadcal for {dialect}; "
        "do not edit by hand.",
        f"champion {_UNPRINTABLE.sub('?', champion_ref)}, challenger {_UNPRINTABLE.sub('?', challenger_ref)}: "
        f"{share:.0%} of leads to the challenger,",
        f"by lower(substring(md5('{salt}:' || lead_id as text), 1, {HEX_DIGITS})) < '{cutoff_hex(share)}' "
        "(same arm on every run, in every engine).",
        "One row per lead: lead_id; arm; scored_at, score and tier of the arm's model (act on these);",
        "champion_score, champion_tier, challenger_score, challenger_tier: both models, for the readout.",
    ]
    header = "".join(f"-- {line}\n" for line in lines)
    return header + render(build_test_query(champion, challenger, salt, share), dialect) + "\n"

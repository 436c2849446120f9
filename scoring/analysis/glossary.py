"""Every figure and column in the meeting's words: one sentence each.

Shared by the app (help icons, the glossary page) and the HTML report, so a term means
the same thing everywhere. Written for a sales VP, not a statistician.
"""

from __future__ import annotations

HELP: dict[str, str] = {
    # KPIs
    "AUC": "The chance that a lead that converted scores above one that did not: 0.5 is a coin flip, "
           "1.0 a perfect ranking.",
    "Gini": "The same ranking power as AUC on a 0-to-1 scale (2 × AUC − 1): 0 is random, 1 is perfect.",
    "KS": "The largest gap between the score distributions of converted and other leads: the further "
          "apart, the better the score separates them.",
    "MQLs per month": "How many leads a month would have reached the MQL threshold: the volume marketing "
                      "hands over.",
    "MQL conversion": "The share of mature leads at or above the MQL threshold that converted.",
    "SQL conversion": "The share of mature leads at or above the SQL threshold that converted, against the "
                      "target range in Meeting settings.",
    "Conversions ≥ MQL": "Of all leads that converted, the share that scored at or above the MQL threshold: "
                         "how many future customers the MQL line catches.",
    "Won revenue ≥ MQL": "Of all won deal value (mature leads), the share won from leads that scored at or above "
                         "the MQL threshold: how much of the money the MQL line catches.",
    "Account AUC": "The chance that an account that converted scores above one that did not (accounts whose "
                   "outcome window has passed).",
    "MQAs per month": "Accounts a month reaching the MQA threshold by their scoring point.",
    "MQA conversion": "Of the mature accounts at or above MQA, the share where any lead converted within the window.",
    "Conversions ≥ MQA": "Of all converted accounts, the share that scored at or above MQA.",
    "won value": "The deal value won from the mature leads of this band (deals without a value are left out "
                 "and counted separately).",
    "revenue capture": "The share of all won deal value that came from this band or higher.",
    "value-weighted AUC": "The AUC with every won deal weighted by its value: the chance that a unit of won "
                          "revenue was scored above a lead that did not convert.",
    "days to conversion": "The median days from the lead's creation (or from its scoring point) to the won "
                          "deal, over won deals with a known date: a threshold also changes how fast deals close.",
    # band table
    "band": "A range of scores, e.g. 40–50 means at least 40 and below 50.",
    "leads": "Mature leads in the band: leads whose outcome window has passed, so we know whether they "
             "converted.",
    "conversions": "Mature leads in the band that converted within the outcome window.",
    "rate": "Conversion rate: conversions divided by mature leads.",
    "ci_low": "Lower end of the 95% interval of the rate: with this few leads the true rate is very likely "
              "above it.",
    "ci_high": "Upper end of the 95% interval of the rate: the true rate is very likely below it.",
    "lift": "How many times the overall conversion rate the band converts at (2.0 = twice as likely).",
    "share": "The band's share of all mature leads.",
    "capture": "The share of all conversions that scored in this band or higher.",
    "immature": "Leads still inside their outcome window: shown, never counted as lost.",
    "small": "Fewer than 30 mature leads: the rate is too noisy to act on.",
    # movers and grid
    "line": "Which threshold the leads cross: MQL or SQL.",
    "direction": "Up: below the line under the approved model, at or above it under the draft; down: the "
                 "other way round.",
    "mature": "Of those leads, the ones whose outcome window has passed.",
    "grid": "Leads split by fit (who they are, A best) and engagement (what they did, 1 most): each cell's "
            "conversion rate and size.",
    # attributes
    "WoE": "Weight of evidence: how much likelier (positive) or less likely (negative) a lead with this value "
           "is to convert than the average lead, on a log scale.",
    "IV": "Information value: how strongly an attribute separates converting from other leads "
          "(below 0.02 nothing, 0.02–0.1 weak, 0.1–0.3 medium, above 0.3 strong).",
    "IV part": "This value's share of the attribute's information value.",
    "PSI": "Population stability index: how far a cohort's scores moved from the reference period "
           "(below 0.1 stable, 0.1–0.25 investigate, 0.25 or more shifted).",
    "hold-out AUC": "AUC on the latest leads, which the suggestion never saw: the honest test.",
    "train AUC": "AUC on the earlier leads the suggestion was fitted on.",
    "Brier score": "The average squared gap between the predicted chance and what happened: lower is better.",
    # controls
    "category value": "A value of the column as it appears in the data.",
    "value leads": "Leads with this value (all leads, mature or not).",
    "value points": "Points a lead with this value gets; blank means the rule's 'other values' points.",
    "bin min": "Lower end of the range (included); blank: no lower end.",
    "bin max": "Upper end of the range (not included); blank: no upper end.",
    "fit other": "Points for a value the table does not list.",
    "fit missing": "Points when the value is empty or a placeholder such as 'Select' or 'N/A'.",
    "decay": "How older engagement counts less: half-life halves an event's points every N days, lifespan "
             "fades it to nothing over N days, a window counts only the last N days.",
    "caps": "The lowest and highest the fit part, the engagement part and the total score can be.",
    "bands": "Where one score band ends and the next begins, e.g. 20, 40, 60, 80.",
    "scoring point": "Each lead is scored this many days after it was created; only earlier activity counts.",
    "outcome window": "A lead counts as converted if it converted within this many days after its scoring "
                      "point.",
}
"""Term -> one sentence. Keys are the labels and column names the app shows."""

GLOSSARY_ORDER = ("AUC", "Gini", "KS", "MQLs per month", "MQL conversion", "SQL conversion", "Conversions ≥ MQL",
                  "Won revenue ≥ MQL", "won value", "revenue capture", "value-weighted AUC", "days to conversion",
                  "band", "leads", "conversions", "rate", "ci_low", "ci_high", "lift", "share", "capture",
                  "immature", "small", "grid", "WoE", "IV", "PSI", "hold-out AUC", "Brier score", "decay",
                  "scoring point", "outcome window")
"""The terms of the glossary, in reading order."""

TITLES = {"ci_low": "95% interval, low", "ci_high": "95% interval, high", "small": "< 30 leads",
          "grid": "Fit × engagement grid", "band": "Score band", "leads": "Mature leads"}
"""How a term is titled in the glossary when its key is a column name."""


def glossary() -> list[tuple[str, str]]:
    """(term, explanation) pairs in reading order."""
    return [(TITLES.get(term, term), HELP[term]) for term in GLOSSARY_ORDER]

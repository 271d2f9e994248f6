"""Stage → forecast category and flags, and the stage lists shipped as defaults.

Categories a deal can be reported in. `Unqualified` is not a CRM category: an open deal in a
stage before the SAL/SAO point is reported there whatever its category says (the rule is
`sales.query.report_category_sql`).
"""

from __future__ import annotations

from dataclasses import dataclass

PIPELINE, BEST_CASE, COMMIT, CLOSED, OMITTED = "Pipeline", "Best Case", "Commit", "Closed", "Omitted"
UNQUALIFIED = "Unqualified"
# The values a deal's forecast_category takes (the CRM's ForecastCategoryName, mapped).
FORECAST_CATEGORIES = (PIPELINE, BEST_CASE, COMMIT, CLOSED, OMITTED)
# Order used by every roll-up, table and chart: closed first, then nearest to closing.
REPORT_CATEGORIES = (CLOSED, COMMIT, BEST_CASE, PIPELINE, UNQUALIFIED, OMITTED)
# Open, qualified deals: the in-blood board, forecast movement, the SMB method's rated terms.
OPEN_CATEGORIES = (COMMIT, BEST_CASE, PIPELINE)
# The open deals a forecast counts as able to close in the period: enterprise and remaining
# coverage, and the upside (what the in-blood number leaves out of them).
FORECASTABLE_CATEGORIES = (COMMIT, BEST_CASE)
# What a roll-up's Total adds up (won and open, qualified); Unqualified and Omitted stand apart.
TOTAL_CATEGORIES = (CLOSED, *OPEN_CATEGORIES)
# Each counted category as a column of a table (closed means closed won).
CATEGORY_COLUMNS = {CLOSED: "closed_won", COMMIT: "commit", BEST_CASE: "best_case",
                    PIPELINE: "pipeline"}


@dataclass(frozen=True)
class Stage:
    """One row of stage_map."""

    stage: str
    sort_order: int
    forecast_category: str
    qualified: bool
    closed: bool
    won: bool
    redlining: bool = False


def _stage_list(rows: list[tuple]) -> list[Stage]:
    return [Stage(name, order, *flags) for order, (name, *flags) in enumerate(rows)]


# (stage, category, qualified, closed, won, redlining)
HANDBOOK_STAGES = _stage_list([
    ("00-Pre Opportunity", OMITTED, False, False, False, False),
    ("0-Pending Acceptance", PIPELINE, False, False, False, False),
    ("1-Discovery", PIPELINE, True, False, False, False),
    ("2-Scoping", PIPELINE, True, False, False, False),
    ("3-Technical Evaluation", BEST_CASE, True, False, False, False),
    ("4-Proposal", COMMIT, True, False, False, False),
    ("5-Negotiating", COMMIT, True, False, False, True),
    ("6-Awaiting Signature", COMMIT, True, False, False, True),
    ("7-Closed Won", CLOSED, True, True, True, False),
    ("8-Closed Lost", OMITTED, True, True, False, False),
    ("9-Unqualified", OMITTED, False, True, False, False),
    ("10-Duplicate", OMITTED, False, True, False, False),
])

GENERIC_STAGES = _stage_list([
    ("Prospecting", PIPELINE, False, False, False, False),
    ("Qualification", PIPELINE, True, False, False, False),
    ("Discovery", PIPELINE, True, False, False, False),
    ("Solution Design", BEST_CASE, True, False, False, False),
    ("Proposal", COMMIT, True, False, False, False),
    ("Negotiation", COMMIT, True, False, False, True),
    ("Closed Won", CLOSED, True, True, True, False),
    ("Closed Lost", OMITTED, True, True, False, False),
])

# Salesforce's default sales process. The org's own ForecastCategoryName wins at import; these
# categories are for rows that arrive without one, by the stage's position in the process.
SALESFORCE_STAGES = _stage_list([
    ("Prospecting", PIPELINE, False, False, False, False),
    ("Qualification", PIPELINE, True, False, False, False),
    ("Needs Analysis", PIPELINE, True, False, False, False),
    ("Value Proposition", PIPELINE, True, False, False, False),
    ("Id. Decision Makers", PIPELINE, True, False, False, False),
    ("Perception Analysis", BEST_CASE, True, False, False, False),
    ("Proposal/Price Quote", BEST_CASE, True, False, False, False),
    ("Negotiation/Review", COMMIT, True, False, False, True),
    ("Closed Won", CLOSED, True, True, True, False),
    ("Closed Lost", OMITTED, True, True, False, False),
])


def default_stage_map() -> list[Stage]:
    """The shipped stage_map: every default list, each stage once (the first list wins).

    Sort orders are kept distinct across lists so the handbook stages sort first.
    """
    seen: dict[str, Stage] = {}
    offset = 0
    for stage_list in (HANDBOOK_STAGES, GENERIC_STAGES, SALESFORCE_STAGES):
        for stage in stage_list:
            if stage.stage not in seen:
                seen[stage.stage] = Stage(stage.stage, offset + stage.sort_order,
                                          stage.forecast_category, stage.qualified,
                                          stage.closed, stage.won, stage.redlining)
        offset += 100
    return list(seen.values())

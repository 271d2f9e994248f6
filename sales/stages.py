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
# A deal whose stage the stage map does not list (a CRM's new stage, before an analyst maps
# it) reads as a qualified, open, not won, not redlining stage: each flag's SQL default.
_FLAG_DEFAULTS = {"qualified": "true", "closed": "false", "won": "false", "redlining": "false"}


def stage_flag_sql(flag: str, stage: str = "m") -> str:
    """SQL for one stage-map flag of the stage_map alias `stage`, its default when the stage
    is not mapped (the alias comes from a left join)."""
    return f"coalesce({stage}.{flag}, {_FLAG_DEFAULTS[flag]})"


def closed_lost_sql(stage: str = "m") -> str:
    """SQL true for a closed stage that is not won (a lost, unqualified or duplicate deal); an
    unmapped stage or a won flag not set is not won, as `stage_flag_sql` reads them."""
    return f"({stage_flag_sql('closed', stage)} and not {stage_flag_sql('won', stage)})"


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
    probability: float | None = None  # % chance the CRM gives a deal in this stage (0-100)


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


# The shipped stage probabilities (% of a deal's amount the stage-weighted forecast counts),
# per stage list. Salesforce's are the default sales process's own; the handbook's and the
# generic list's follow the same shape (a stage past the buyer's yes near 90%, closed 100/0).
# A CRM that exports its own probability per deal sets the stage's (sales.probabilities).
HANDBOOK_PROBABILITIES = {
    "00-Pre Opportunity": 0, "0-Pending Acceptance": 5, "1-Discovery": 10, "2-Scoping": 20,
    "3-Technical Evaluation": 40, "4-Proposal": 60, "5-Negotiating": 75,
    "6-Awaiting Signature": 90, "7-Closed Won": 100, "8-Closed Lost": 0, "9-Unqualified": 0,
    "10-Duplicate": 0,
}
GENERIC_PROBABILITIES = {
    "Prospecting": 10, "Qualification": 20, "Discovery": 25, "Solution Design": 40,
    "Proposal": 60, "Negotiation": 80, "Closed Won": 100, "Closed Lost": 0,
}
SALESFORCE_PROBABILITIES = {
    "Prospecting": 10, "Qualification": 10, "Needs Analysis": 20, "Value Proposition": 50,
    "Id. Decision Makers": 60, "Perception Analysis": 70, "Proposal/Price Quote": 75,
    "Negotiation/Review": 90, "Closed Won": 100, "Closed Lost": 0,
}
# A stage with no probability of its own (added by an import or a mapping file without one)
# counts at its forecast category's.
CATEGORY_PROBABILITIES = {COMMIT: 70.0, BEST_CASE: 40.0, PIPELINE: 15.0, CLOSED: 100.0,
                          OMITTED: 0.0}
STAGE_LISTS = ((HANDBOOK_STAGES, HANDBOOK_PROBABILITIES), (GENERIC_STAGES, GENERIC_PROBABILITIES),
                (SALESFORCE_STAGES, SALESFORCE_PROBABILITIES))


def default_stage_map() -> list[Stage]:
    """The shipped stage_map: every default list, each stage once (the first list wins, its
    probability with it).

    Sort orders are kept distinct across lists so the handbook stages sort first.
    """
    seen: dict[str, Stage] = {}
    offset = 0
    for stage_list, probabilities in STAGE_LISTS:
        for stage in stage_list:
            if stage.stage not in seen:
                seen[stage.stage] = Stage(stage.stage, offset + stage.sort_order,
                                          stage.forecast_category, stage.qualified,
                                          stage.closed, stage.won, stage.redlining,
                                          float(probabilities[stage.stage]))
        offset += 100
    return list(seen.values())

"""The forecast call as a file: its headline numbers, lead pipeline and follow-ups, in the
order the call runs, for the CSV/XLSX the Forecast call page exports (through sales.export)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from sales.callprep import CallPrep, Forecast
from sales.followups import FollowUpCounts
from sales.lead_statuses import LEAD_GROUPS
from sales.leads import LeadPipeline
from sales.view import View


def call_summary_frame(view: View, last_call: date, now: Forecast, then: Forecast,
                       change: dict[str, float], prep: CallPrep, leads: LeadPipeline,
                       follow_ups: FollowUpCounts) -> pd.DataFrame:
    """One row per number the call reviews: part of the call, measure, value (numbers as
    numbers, so the sheet adds up). Grain: the view's call."""
    rows: list[tuple[str, str, object]] = [
        ("Call", "Period", view.period.label),
        ("Call", "As of", view.as_of.isoformat()),
        ("Call", "Last call", last_call.isoformat()),
        ("Call", "Filters", view.filters.scope_key() or "none"),
        ("Forecast", "In-blood number now", now.number),
        ("Forecast", "In-blood number at the last call", then.number),
        ("Forecast", "Change in the in-blood number", change["in_blood"]),
        ("Forecast", "Upside now", now.upside),
        ("Forecast", "Upside at the last call", then.upside),
        ("Forecast", "Closed won to date", prep.closed_won_now.amount),
        ("Forecast", "Target", prep.target),
        ("Closed since the last call", "Won", prep.won_since.amount),
        ("Closed since the last call", "Lost", prep.lost_since.amount),
    ]
    if leads.shown:
        rows += [("Lead pipeline", "MQLs in the period", leads.mql),
                 ("Lead pipeline", "MQLs since the last call", leads.mql_since),
                 *(("Lead pipeline", f"MQLs now {group}", leads.now.get(group, 0))
                   for group in LEAD_GROUPS),
                 ("Lead pipeline", "Pipeline from the period's MQLs (amount)",
                  leads.pipeline.amount),
                 ("Lead pipeline", "Pipeline from the period's MQLs (deals)",
                  leads.pipeline.count),
                 *(("Lead pipeline", f"Recycled or junked: {reason}", count)
                   for reason, count in leads.reasons.items())]
    else:
        rows.append(("Lead pipeline", "No leads", leads.note))
    rows += [("Follow-ups", "Open", follow_ups.open), ("Follow-ups", "Overdue", follow_ups.overdue),
             ("Follow-ups", "Closed since the last call", follow_ups.closed_since)]
    return pd.DataFrame(rows, columns=["part", "measure", "value"])

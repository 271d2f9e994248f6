"""The track record of past calls: how far saved calls and the default rules were from what
finally closed, by week of the period, over the completed periods before the view's."""

from __future__ import annotations

import duckdb

from sales.accuracy import accuracy, accuracy_by_week, week_of
from sales.inblood import DEFAULT_RULES
from sales.inblood_history import SAVED_CALL
from sales.records import records
from sales.settings import Settings
from sales.view import View


def track_record(con: duckdb.DuckDBPyConnection, view: View, settings: Settings
                 ) -> dict:
    """The accuracy of past calls (`sales.accuracy`): per week of the period, how far saved
    calls and the default rules were from what closed, over the completed periods before the
    view's; and which week of the period as-of is in. As the report's `accuracy` keys."""
    table = accuracy(con, view, settings)
    by_week = accuracy_by_week(table)
    for source in (SAVED_CALL, DEFAULT_RULES):
        if source not in by_week:
            by_week[source] = float("nan")
    return {"periods": sorted(set(table["period"])) if len(table) else [],
            "week_now": week_of(view.period, view.as_of) if view.as_of >= view.period.start
            else None,
            "by_week": records(by_week, {"week": "week", SAVED_CALL: "saved_call",
                                         DEFAULT_RULES: "default_rules"})}

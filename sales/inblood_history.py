"""The in-blood number as it stood before as-of: at the same point of past periods (was this
call better or worse than the last ones at this moment?) and week by week this period (how
did the call move?)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import duckdb
import pandas as pd

from sales.backtest import rules_by_snapshot, week_of
from sales.calls import call_history
from sales.inblood import DEFAULT_RULES, InBlood, in_blood
from sales.periods import Period
from sales.query import snapshot_dates, snapshot_on_or_before
from sales.rollup import closed_won
from sales.settings import Settings
from sales.targets import target_for_view
from sales.view import View

# Past periods the call is compared with at the same point: the last four quarters.
SAME_POINT_PERIODS = 4
SAVED_CALL = "saved call"


@dataclass(frozen=True)
class SamePoint:
    """A past period seen as many days in as as-of is into the view's period. Grain: one
    period. `in_blood` is None where no snapshot reaches back to that day."""

    period: Period
    as_of: date
    snapshot_date: date | None
    target: float | None
    closed_won: float  # what the period finally closed, as of the view's as-of
    in_blood: InBlood | None

    def as_report(self) -> dict[str, object]:
        """One row of the report's `same_point` key."""
        then = self.in_blood
        return {"period": self.period.label, "as_of": self.as_of.isoformat(),
                "snapshot_date": self.snapshot_date.isoformat() if self.snapshot_date
                else None,
                "target": self.target, "closed_won": self.closed_won,
                "number": then.number if then else None,
                "upside": then.upside if then else None,
                "range_high": then.range_high if then else None,
                "source": then.source if then else None}


def same_point(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
               use_saved_call: bool = True, n: int = SAME_POINT_PERIODS) -> list[SamePoint]:
    """The in-blood number of each of the `n` periods before the view's at the same point
    (`Period.same_offset`), as the report would have said then, with each period's target and
    what it finally closed. Grain: one per past period, oldest first."""
    dates = snapshot_dates(con)
    found = []
    for period in view.period.previous(n):
        day = period.same_offset(view.as_of, view.period)
        before_history = bool(dates) and day < dates[0]  # no picture of that day
        snapshot = None if before_history else snapshot_on_or_before(con, day)
        then = None if before_history else in_blood(
            con, replace(view, period=period, as_of=day), settings, use_saved_call)
        found.append(SamePoint(period, day, snapshot,
                               target_for_view(con, period, view.filters).amount,
                               closed_won(con, replace(view, period=period)).amount, then))
    return found


def weekly(con: duckdb.DuckDBPyConnection, view: View, settings: Settings
           ) -> pd.DataFrame:
    """How the in-blood number moved week by week in the view's period up to as-of: the last
    call saved in each week (its number and upside, `sales.calls.call_history`), and the
    default rules at the last snapshot of each week (`sales.backtest.rules_by_snapshot`).
    Grain: one row per (week of the period, source), in week order; columns week, date,
    source, number, upside, range_high."""
    rows = []
    calls = call_history(con, view)
    for call in calls[calls["call_date"] <= view.as_of].itertuples(index=False):
        rows.append((week_of(view.period, call.call_date), call.call_date, SAVED_CALL,
                     float(call.in_blood), float(call.upside)))
    rules = rules_by_snapshot(con, view, settings)
    for snap in rules[rules["snapshot_date"] <= view.as_of].to_dict("records"):
        day = snap["snapshot_date"]
        rows.append((week_of(view.period, day), day, DEFAULT_RULES, float(snap["in_blood"]),
                     float(snap["upside"])))
    frame = pd.DataFrame(rows, columns=["week", "date", "source", "number", "upside"])
    frame = (frame.sort_values(["week", "source", "date"], kind="stable")
             .drop_duplicates(["week", "source"], keep="last"))
    frame["range_high"] = frame["number"] + frame["upside"]
    return frame

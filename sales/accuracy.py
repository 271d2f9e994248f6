"""Forecast accuracy: every saved call's in-blood number, and the default rules' number at every
weekly snapshot, against what actually closed won in completed periods, by week of the period.

This is what makes a forecast credible to a board: "our week-3 call is usually within 10%".
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from sales.calls import call_history
from sales.inblood import default_includes
from sales.periods import Period, period_containing
from sales.rollup import closed_won, rollup_at
from sales.settings import Settings
from sales.stages import CATEGORY_COLUMNS, CLOSED, OPEN_CATEGORIES
from sales.view import View

# How many completed periods the accuracy view looks back over.
ACCURACY_PERIODS = 4


def completed_periods(as_of: date, kind: str, fy_start_month: int,
                      n: int = ACCURACY_PERIODS) -> list[Period]:
    """The n periods of a kind that ended before `as_of`, oldest first."""
    return period_containing(as_of, kind, fy_start_month).previous(n)


def week_of(period: Period, day: date) -> int:
    """Week of the period a date falls in, 1 for its first seven days."""
    return (day - period.start).days // 7 + 1


def rules_by_snapshot(con: duckdb.DuckDBPyConnection, view: View,
                      settings: Settings) -> pd.DataFrame:
    """The default rules' in-blood number at each snapshot inside the period.

    Grain: one row per snapshot date in the period: closed won then (closed_won), the open
    category amounts then (commit, best_case, pipeline), and in_blood = closed won + the
    categories the rules include."""
    days = [r[0] for r in con.cursor().execute(
        "select snapshot_date from snapshot_dates where snapshot_date between ? and ? "
        "order by 1", [view.period.start, view.period.end]).fetchall()]
    frame = rollup_at(con, view, days).rename(columns={"day": "snapshot_date",
                                                       **CATEGORY_COLUMNS})
    included = default_includes(settings)
    frame["in_blood"] = frame[CATEGORY_COLUMNS[CLOSED]] + sum(
        frame[CATEGORY_COLUMNS[c]] for c in OPEN_CATEGORIES if included[c])
    return frame[["snapshot_date", *CATEGORY_COLUMNS.values(), "in_blood"]]


def accuracy(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
             n: int = ACCURACY_PERIODS) -> pd.DataFrame:
    """Saved calls and default rules against the outcome, for the n completed periods before
    the view's (same kind, same filters).

    Grain: one row per (period, source, date): source 'saved call' or 'default rules', week of
    the period, the in-blood number then, the actual closed won, and the ratio (1.0 = exact).
    """
    rows = []
    for period in completed_periods(view.as_of, view.period.kind, view.period.fy_start_month, n):
        past = View(period, view.as_of, view.filters)
        actual = closed_won(con, past).amount
        calls = call_history(con, past)
        for call in calls.itertuples(index=False):
            rows.append((period.label, "saved call", call.call_date,
                         week_of(period, call.call_date), float(call.in_blood), actual))
        for snap in rules_by_snapshot(con, past, settings).itertuples(index=False):
            rows.append((period.label, "default rules", snap.snapshot_date,
                         week_of(period, snap.snapshot_date), float(snap.in_blood), actual))
    frame = pd.DataFrame(rows, columns=["period", "source", "date", "week", "in_blood", "actual"])
    frame["ratio"] = frame["in_blood"] / frame["actual"].where(frame["actual"] != 0)
    return frame


def accuracy_by_week(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute error by week of the period for each source, over the periods shown.

    Grain: one row per week; columns per source ('saved call', 'default rules') hold the mean
    of |in_blood / actual − 1| (0.08 = 8% off on average)."""
    if frame.empty:
        return pd.DataFrame(columns=["week"])
    errors = frame.assign(error=(frame["ratio"] - 1).abs())
    table = errors.pivot_table(index="week", columns="source", values="error", aggfunc="mean")
    table.columns.name = None
    return table.reset_index()

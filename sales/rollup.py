"""Forecast-category roll-up (SPEC item 1): amount and count per category for a period."""

from __future__ import annotations

import duckdb
import pandas as pd

from sales.query import GROUP_COLUMNS, deals_sql, snapshot_on_or_before
from sales.stages import REPORT_CATEGORIES
from sales.view import ZERO, Measure, View


def _in_period_sql(view: View, snapshot) -> tuple[str, list]:
    deals, params = deals_sql(snapshot, view.filters)
    sql = f"select * from ({deals}) d where d.close_date between ? and ?"  # noqa: S608
    return sql, params + [view.period.start, view.period.end]


def deals_in_period(con: duckdb.DuckDBPyConnection, view: View) -> tuple[str, list]:
    """SQL (and parameters) for the deals closing in the view's period, as of its date.

    Grain: one row per opportunity with close_date in the period at the as-of state.
    """
    return _in_period_sql(view, snapshot_on_or_before(con, view.as_of))


def category_rollup(con: duckdb.DuckDBPyConnection, view: View) -> dict[str, Measure]:
    """Closed (won), Commit, Best Case, Pipeline, Unqualified and Omitted for the period.

    Grain: one Measure per report category; categories without deals are zero.
    """
    deals, params = deals_in_period(con, view)
    rows = con.cursor().execute(
        f"select category, coalesce(sum(amount), 0), count(*) from ({deals}) group by 1",  # noqa: S608
        params,
    ).fetchall()
    result = {category: ZERO for category in REPORT_CATEGORIES}
    for category, amount, count in rows:
        result[category] = result.get(category, ZERO) + Measure(float(amount), int(count))
    return result


def rollup_by(con: duckdb.DuckDBPyConnection, view: View, dimension: str) -> pd.DataFrame:
    """Category × dimension for the period.

    Grain: one row per (dimension value, category) with amount and count; missing values
    of the dimension read '(none)'.
    """
    if dimension not in GROUP_COLUMNS:
        raise ValueError(f"cannot group by {dimension!r}; choose one of {', '.join(GROUP_COLUMNS)}")
    deals, params = deals_in_period(con, view)
    return con.cursor().execute(
        f"""select coalesce(cast({dimension} as varchar), '(none)') as {dimension},
                   category, coalesce(sum(amount), 0)::double as amount, count(*) as count
            from ({deals}) group by 1, 2 order by 1, 2""",  # noqa: S608 - allow-listed
        params,
    ).df()


FORECAST_TOTAL = "Total"  # Closed + Commit + Best Case + Pipeline; Unqualified and Omitted apart
TOTAL_ROW = "Total"


def pivot(frame: pd.DataFrame, dimension: str, measure: str = "amount") -> pd.DataFrame:
    """A `rollup_by` frame as dimension × category with totals.

    Grain: one row per dimension value plus a final Total row. Columns: the dimension, Closed,
    Commit, Best Case, Pipeline, Total (of those four), then Unqualified and Omitted, which are
    shown apart and never enter the total.
    """
    if measure not in ("amount", "count"):
        raise ValueError("measure is 'amount' or 'count'")
    table = (frame.pivot_table(index=dimension, columns="category", values=measure,
                               aggfunc="sum", fill_value=0)
             .reindex(columns=list(REPORT_CATEGORIES), fill_value=0))
    table.insert(4, FORECAST_TOTAL, table[["Closed", "Commit", "Best Case", "Pipeline"]].sum(axis=1))
    table = table.sort_values(FORECAST_TOTAL, ascending=False, kind="stable")
    table.loc[TOTAL_ROW] = table.sum(axis=0)
    table.columns.name = None
    return table.reset_index(names=dimension)

"""Forecast-category roll-up (SPEC item 1): amount and count per category for a period."""

from __future__ import annotations

import duckdb
import pandas as pd

from sales.query import GROUP_COLUMNS, REPORT_CATEGORY_SQL, deals_sql, state_key
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
    return _in_period_sql(view, state_key(con, view.as_of))


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


def rollup_at(con: duckdb.DuckDBPyConnection, view: View, days: list) -> pd.DataFrame:
    """The category roll-up of the view's period as it stood on each of several dates.

    Grain: one row per requested date, one column per report category (amounts).

    Computed without joining dates to the history: a history row counts on day D when
    valid_from <= D < valid_to, so the amount standing on D is the sum of its rows' amounts
    entering on or before D minus those leaving on or before D — a running sum over a few
    hundred distinct change dates, however many deals there are.
    """
    columns = list(REPORT_CATEGORIES)
    if not days:
        return pd.DataFrame(columns=["day", *columns])
    condition, filter_params = view.filters.where()
    wanted = ", ".join("(?::date)" for _ in days)
    frame = con.cursor().execute(
        f"""with rows as (
                select s.valid_from, s.valid_to, s.amount, {REPORT_CATEGORY_SQL} as category
                from opportunity_history s
                left join opportunities o using (opportunity_id)
                left join stage_map m on m.stage = s.stage
                where s.close_date between ? and ? {"and " + condition if condition else ""}),
            events as (
                select valid_from as day, category, amount from rows
                union all
                select valid_to, category, -amount from rows where valid_to is not null),
            running as (
                select day, category,
                       sum(sum(amount)) over (partition by category order by day) as level
                from events group by day, category),
            wanted(day) as (values {wanted})
            select w.day, r.category, arg_max(r.level, r.day)::double as amount
            from wanted w join running r on r.day <= w.day
            group by w.day, r.category""",  # noqa: S608 - allow-listed filter columns
        [view.period.start, view.period.end, *filter_params, *days]).df()
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    wanted_days = list(dict.fromkeys(pd.Timestamp(d).date() for d in days))
    table = (frame.pivot_table(index="day", columns="category", values="amount", aggfunc="sum")
             .reindex(index=wanted_days, columns=columns).fillna(0.0))
    table.index.name, table.columns.name = "day", None
    return table.reset_index()

"""Category roll-up (docs/metrics.md#1-category-roll-up): amount and count per category for a period, and
closed won in a period, the one definition every page and report reads."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from sales.query import GROUP_DIMENSIONS, KNOWN_DEALS, deals_sql, report_category_sql, state_key
from sales.sql import Sql, rows_sql, sql
from sales.stages import CLOSED, REPORT_CATEGORIES, TOTAL_CATEGORIES
from sales.view import ZERO, Measure, View


def deals_in_period(con: duckdb.DuckDBPyConnection, view: View) -> Sql:
    """The deals closing in the view's period, as of its date (`$period_start`, `$period_end`).

    Grain: one row per opportunity with close_date in the period at the as-of state.
    """
    deals = deals_sql(state_key(con, view.as_of), view.filters)
    return sql(f"select * from ({deals}) d where d.close_date between $period_start and $period_end",  # noqa: S608
               deals, **view.bounds())


def category_rollup(con: duckdb.DuckDBPyConnection, view: View) -> dict[str, Measure]:
    """Closed (won), Commit, Best Case, Pipeline, Unqualified and Omitted for the period.

    Grain: one Measure per report category; categories without deals are zero.
    """
    deals = deals_in_period(con, view)
    rows = con.cursor().execute(*sql(
        f"select category, coalesce(sum(amount), 0), count(*) from ({deals}) group by 1",  # noqa: S608
        deals)).fetchall()
    result = {category: ZERO for category in REPORT_CATEGORIES}
    for category, amount, count in rows:
        result[category] = result.get(category, ZERO) + Measure(float(amount), int(count))
    return result


def closed_won(con: duckdb.DuckDBPyConnection, view: View) -> Measure:
    """Closed won in the view's period as of its date: won deals with close_date in it (the
    Closed of docs/metrics.md#1-category-roll-up; an actual, once the period is over)."""
    deals = deals_in_period(con, view)
    amount, count = con.cursor().execute(*sql(
        f"select coalesce(sum(amount), 0), count(*) from ({deals}) where category = $closed",  # noqa: S608
        deals, closed=CLOSED)).fetchall()[0]
    return Measure(float(amount), int(count))


def rollup_by(con: duckdb.DuckDBPyConnection, view: View, dimension: str) -> pd.DataFrame:
    """Category × dimension for the period.

    Grain: one row per (dimension value, category) with amount and count; missing values
    of the dimension read '(none)'.
    """
    if dimension not in GROUP_DIMENSIONS:
        raise ValueError(f"cannot group by {dimension!r}; choose one of {', '.join(GROUP_DIMENSIONS)}")
    deals = deals_in_period(con, view)
    return con.cursor().execute(*sql(
        f"""select coalesce(cast({dimension} as varchar), '(none)') as {dimension},
                   category, coalesce(sum(amount), 0)::double as amount, count(*) as count
            from ({deals}) group by 1, 2 order by 1, 2""",  # noqa: S608 - allow-listed
        deals)).df()


FORECAST_TOTAL = "Total"  # Closed + Commit + Best Case + Pipeline; Unqualified and Omitted apart
TOTAL_ROW = "Total"


def pivot(frame: pd.DataFrame, dimension: str, measure: str = "amount") -> pd.DataFrame:
    """A `rollup_by` frame as dimension × category with totals.

    Grain: one row per dimension value plus a final Total row. Columns: the dimension, Closed,
    Commit, Best Case, Pipeline, Total (of those four: TOTAL_CATEGORIES), then Unqualified
    and Omitted, which are shown apart and never enter the total.
    """
    if measure not in ("amount", "count"):
        raise ValueError("measure is 'amount' or 'count'")
    table = (frame.pivot_table(index=dimension, columns="category", values=measure,
                               aggfunc="sum", fill_value=0)
             .reindex(columns=list(REPORT_CATEGORIES), fill_value=0))
    table.insert(len(TOTAL_CATEGORIES), FORECAST_TOTAL, table[list(TOTAL_CATEGORIES)].sum(axis=1))
    table = table.sort_values(FORECAST_TOTAL, ascending=False, kind="stable")
    table.loc[TOTAL_ROW] = table.sum(axis=0)
    table.columns.name = None
    return table.reset_index(names=dimension)


def rollup_at(con: duckdb.DuckDBPyConnection, view: View, days: list[date]) -> pd.DataFrame:
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
    condition = view.filters.condition(owner="s.owner")
    wanted = rows_sql("wanted_days", [{"day": day} for day in days])
    frame = con.cursor().execute(*sql(
        f"""with rows as (
                select s.valid_from, s.valid_to, s.amount, {report_category_sql()} as category
                from opportunity_history s
                left join {KNOWN_DEALS} o using (opportunity_id)
                left join stage_map m on m.stage = s.stage
                where s.close_date between $period_start and $period_end and {condition}),
            events as (
                select valid_from as day, category, amount from rows
                union all
                select valid_to, category, -amount from rows where valid_to is not null),
            running as (
                select day, category,
                       sum(sum(amount)) over (partition by category order by day) as level
                from events group by day, category),
            wanted as (select day::date as day from {wanted})
            select w.day, r.category, arg_max(r.level, r.day)::double as amount
            from wanted w join running r on r.day <= w.day
            group by w.day, r.category""",  # noqa: S608 - allow-listed filter columns
        condition, wanted, **view.bounds())).df()
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    wanted_days = list(dict.fromkeys(pd.Timestamp(d).date() for d in days))
    table = (frame.pivot_table(index="day", columns="category", values="amount", aggfunc="sum")
             .reindex(index=wanted_days, columns=columns).fillna(0.0))
    table.index.name, table.columns.name = "day", None
    return table.reset_index()

"""Pipeline generated (docs/metrics.md#10-pipeline-generated): the deals that became qualified
in a window — on their sales_accepted_date at their amount, or without one on the first snapshot
that saw them in a qualified stage, at their amount then — "net qualified pipeline created".

Three windows are read at once: since the last call, the fiscal quarter to date, and the
view's period (up to as-of), each through the view's filters, deals as they stand at as-of.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd
import pyarrow as pa

from sales.movement import window
from sales.periods import QUARTER, Period, period_containing
from sales.query import KNOWN_DEALS, deals_sql, state_key
from sales.sql import Sql, rows_sql, sql
from sales.view import Measure, View

# The name held first-qualified deals are registered under for one query.
_FIRST_SEEN = "generated_first_qualified"


@dataclass(frozen=True)
class Generated:
    """Pipeline generated since the last call, in the quarter to date and in the view's period.
    Grain: the three windows, through the view's filters."""

    since_start: date  # exclusive: deals qualified after the last call's date
    since: Measure
    quarter_start: date  # inclusive, up to as-of
    quarter: Measure
    period: Measure  # the view's period, up to as-of

    def as_report(self) -> dict[str, object]:
        """The report's `pipeline_generated` keys: the period's amount and count, and the two
        windows the forecast call shows."""
        return {**self.period.as_report(),
                "since_last_call": {"after": self.since_start.isoformat(),
                                    **self.since.as_report()},
                "quarter_to_date": {"from": self.quarter_start.isoformat(),
                                    **self.quarter.as_report()}}


def generated_windows(con: duckdb.DuckDBPyConnection, view: View, since: date | None
                      ) -> tuple[date, date]:
    """Pipeline generated counts deals qualified after `since_start` (the last call's date) and
    from `quarter_start` (the first day of the fiscal quarter holding as-of)."""
    win = window(con, view.as_of, since)
    since_start = win.since or (since if since is not None else view.as_of)
    quarter_start = period_containing(view.as_of, QUARTER, view.period.fy_start_month).start
    return since_start, quarter_start


def earliest_window(con: duckdb.DuckDBPyConnection, view: View, since: date | None) -> date:
    """The first day any of the three windows reaches back to (what `first_qualified` reads
    from)."""
    return _earliest(view, *generated_windows(con, view, since))


def _earliest(view: View, since_start: date, quarter_start: date) -> date:
    return min(since_start + timedelta(days=1), quarter_start, view.period.start)


def first_qualified_sql(first: date, as_of: date) -> Sql:
    """Deals without an acceptance date whose first snapshot in a qualified stage falls between
    `first` and `as_of`: when, and at what amount. Filter-free, so a caller may hold it while
    the filters change (`pipeline_generated` takes it as an Arrow table).

    Grain: one row per such opportunity. Columns: opportunity_id, qualified_on, amount."""
    return sql(f"""select h.opportunity_id, min(h.valid_from) as qualified_on,
                          arg_min(h.amount, h.valid_from) as amount
                   from opportunity_history h
                   join stage_map m on m.stage = h.stage and m.qualified
                   where h.valid_from <= $as_of
                     and h.opportunity_id in (select opportunity_id from {KNOWN_DEALS}
                                              where sales_accepted_date is null)
                   group by h.opportunity_id
                   having min(h.valid_from) >= $first""",  # noqa: S608 - fixed SQL
               as_of=as_of, first=first)


def first_qualified(con: duckdb.DuckDBPyConnection, first: date, as_of: date) -> pa.Table:
    query = first_qualified_sql(first, as_of)
    return con.cursor().sql(query.text, params=dict(query.params)).to_arrow_table()


def pipeline_generated(con: duckdb.DuckDBPyConnection, view: View, since: date | None,
                       first_seen: pa.Table | None = None) -> Generated:
    """Deals that became qualified after the last call, since the start of the fiscal quarter
    holding as-of, and in the view's period, up to as-of: by amount and count.

    `first_seen` is `first_qualified` from `earliest_window`, when the caller holds it.
    Grain: the three windows; deals as they stand at as-of, through the view's filters.
    """
    since_start, quarter_start = generated_windows(con, view, since)
    first = _earliest(view, since_start, quarter_start)
    windows = {"since_start": since_start, "quarter_start": quarter_start,
               "period_start": view.period.start, "period_end": min(view.period.end, view.as_of)}
    with _qualified(con, view, first, first_seen) as (cur, qualified):
        row = cur.execute(*sql(
            f"""select coalesce(sum(amount) filter (where qualified_on > $since_start), 0)::double,
                       count(*) filter (where qualified_on > $since_start),
                       coalesce(sum(amount) filter (where qualified_on >= $quarter_start), 0)::double,
                       count(*) filter (where qualified_on >= $quarter_start),
                       coalesce(sum(amount) filter (where qualified_on between $period_start
                                                                     and $period_end), 0)::double,
                       count(*) filter (where qualified_on between $period_start and $period_end)
                from {qualified} q""",  # noqa: S608 - fixed SQL; values are bound
            qualified, **windows)).fetchall()[0]
    return Generated(since_start, Measure(row[0], int(row[1])), quarter_start,
                     Measure(row[2], int(row[3])), Measure(row[4], int(row[5])))


def generated_by_period(con: duckdb.DuckDBPyConnection, view: View, periods: list[Period],
                        first_seen: pa.Table | None = None) -> pd.DataFrame:
    """Pipeline generated in each of several periods (a trend), by the rule of
    `pipeline_generated`: deals as they stand at as-of through the view's filters, counted in
    the period they became qualified, up to as-of. `first_seen` is `first_qualified` from the
    first period's start, when the caller holds it.

    Grain: one row per period, in the order given. Columns: period, amount, count."""
    inline = rows_sql("generated_periods", [{"ord": i, "period": p.label, "p_start": p.start,
                                             "p_end": p.end} for i, p in enumerate(periods)])
    with _qualified(con, view, periods[0].start, first_seen) as (cur, qualified):
        frame = cur.execute(*sql(
            f"""select p.period, coalesce(sum(q.amount), 0)::double as amount,
                       count(q.qualified_on) as count
                from {inline} p left join {qualified} q
                  on q.qualified_on between p.p_start and least(p.p_end, $as_of)
                group by p.ord, p.period order by p.ord""",  # noqa: S608 - fixed SQL
            inline, qualified, as_of=view.as_of)).df()
    return frame


@contextmanager
def _qualified(con: duckdb.DuckDBPyConnection, view: View, first: date,
               first_seen: pa.Table | None) -> Iterator[tuple[duckdb.DuckDBPyConnection, Sql]]:
    """A cursor, and the deals (as they stand at as-of, through the view's filters) that became
    qualified from `first` up to as-of as a relation of (qualified_on, amount): accepted on
    their sales-accepted date, or without one, first seen in a qualified stage. `first_seen` is
    `first_qualified` from `first`, when the caller holds it."""
    deals = deals_sql(state_key(con, view.as_of), view.filters)
    cur = con.cursor()
    if first_seen is None:
        computed = first_qualified_sql(first, view.as_of)
        seen = sql(f"({computed})", computed)
    else:
        cur.register(_FIRST_SEEN, first_seen)
        seen = sql(_FIRST_SEEN)
    # The view's deals are read twice, each read narrowed by its own use (the acceptance dates
    # in the window; the first-seen deals' ids): materialised once for both, as DuckDB does a
    # CTE used twice, they were every deal in the view (a 1M-row scan kept whole: 31 ms, 5 ms
    # read twice).
    qualified = sql(
        f"""(with deals as not materialized (
                select opportunity_id, sales_accepted_date, amount from ({deals}) d)
            select sales_accepted_date as qualified_on, amount from deals
            where sales_accepted_date between $first and $as_of
            union all
            select f.qualified_on, f.amount
            from {seen} f semi join deals d using (opportunity_id))""",  # noqa: S608 - fixed SQL
        deals, seen, first=first, as_of=view.as_of)
    try:
        yield cur, qualified
    finally:
        if first_seen is not None:
            cur.unregister(_FIRST_SEEN)
        cur.close()

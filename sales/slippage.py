"""What a deal's history says about it: push count and slips
(docs/metrics.md#6-slippage-adjusted-close-rate), days in its current stage.

Both read the change rows of `opportunity_history` up to a date: for a given set of deals (a
list of the top N costs one scan however large the database), or for every deal open at that
date, which the app holds per snapshot for the in-blood board and the key deals.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pyarrow as pa

from sales.periods import Period, fiscal_quarter_sql
from sales.query import DESCRIPTIVE_FILTERS, KNOWN_DEALS, snapshot_dates
from sales.snapshots import standing_sql
from sales.sql import Sql, sql
from sales.stages import stage_flag_sql
from sales.view import Filters


def history_facts_sql(ids: list[str] | str | None, as_of: date, fy_start_month: int) -> Sql:
    """Push count and the date a deal entered its current stage, from the history up to
    `as_of`: for the deals `ids` (a short list: bound as values, which reads faster than a join
    for a page of deals; or the text of a query of our own selecting opportunity_id), or with
    `ids` None for every deal open at `as_of` (what a caller holds for the in-blood board and
    the key deals: ~160,000 rows at a million deals).

    Grain: one row per such deal that has history. Columns: opportunity_id, push_count (times
    the close date moved to a later fiscal quarter), entered_stage (first snapshot date of the
    unbroken run in its latest stage; the first snapshot that saw it when it never changed).
    """
    if ids is None:
        chosen = sql(f"""opportunity_id in (
                            select h.opportunity_id from opportunity_history h
                            left join stage_map m using (stage)
                            where {standing_sql("$facts_day", "h")}
                              and not {stage_flag_sql('closed')})""")  # noqa: S608
    elif isinstance(ids, str):
        chosen = sql(f"opportunity_id in ({ids})")
    else:
        chosen = sql("list_contains($fact_ids, opportunity_id)", fact_ids=list(ids))
    quarter = fiscal_quarter_sql("close_date", fy_start_month)
    return sql(f"""
        select * from (
            with hist as (
                select opportunity_id, valid_from, stage, {quarter} as quarter
                from opportunity_history
                where valid_from <= $facts_day and {chosen}),
            ordered as (
                select *, lag(quarter) over w as prev_quarter,
                       last_value(stage) over (partition by opportunity_id order by valid_from
                           rows between unbounded preceding and unbounded following) as last_stage
                from hist window w as (partition by opportunity_id order by valid_from)),
            runs as (
                select opportunity_id,
                       count(*) filter (where quarter > prev_quarter) as push_count,
                       max(valid_from) filter (where stage <> last_stage) as left_other
                from ordered group by 1)
            select r.opportunity_id, r.push_count,
                   min(o.valid_from) filter (where r.left_other is null
                                             or o.valid_from > r.left_other) as entered_stage
            from runs r join ordered o using (opportunity_id)
            group by r.opportunity_id, r.push_count)
    """, chosen, facts_day=as_of)  # noqa: S608 - fixed SQL; values are bound


def open_deal_facts(con: duckdb.DuckDBPyConnection, snapshot: date | None,
                    fy_start_month: int) -> pa.Table:
    """`history_facts_sql` for every deal open at the snapshot, read into an Arrow table for a
    cache to hold (empty without snapshots)."""
    query = history_facts_sql(None, snapshot or date.min, fy_start_month)
    return con.cursor().sql(query.text, params=dict(query.params)).to_arrow_table()


def slips_cube_sql(con: duckdb.DuckDBPyConnection, periods: list[Period], as_of: date
                   ) -> Sql | None:
    """The slips out of each period (docs/metrics.md#6-slippage-adjusted-close-rate) for every
    view at once: a deal slipped out of Q if it was open, qualified and due in Q at some
    snapshot within Q, and at Q's end — or at as-of for a period still running — is still open
    with a close date after Q. It counts once per period, at its amount (and with its owner) in
    the last snapshot within Q that had it due there. None when no period has a snapshot to
    read.

    Grain: one row per (period, segment, region, team, type, channel, owner). Columns: those,
    slipped_count, slipped_amount. One scan per period with its dates as constants: faster than
    a range join of the history with all of them.
    """
    dates = snapshot_dates(con)
    parts = []
    for i, p in enumerate(periods):
        inside = [s for s in dates if p.start <= s <= min(p.end, as_of)]
        end = max((s for s in dates if s <= min(p.end, as_of)), default=None)
        if not inside or end is None:
            continue
        parts.append(sql(f"""
            select $slip_{i}_period as period, s.opportunity_id,
                   arg_max(s.amount, s.valid_from) as amount,
                   arg_max(s.owner, s.valid_from) as owner
            from opportunity_history s left join stage_map m on m.stage = s.stage
            where {standing_sql(f"$slip_{i}_first", "s", until=f"$slip_{i}_last")}
              and {stage_flag_sql('qualified')} and not {stage_flag_sql('closed')}
              and s.close_date between $slip_{i}_start and $slip_{i}_end
              and s.opportunity_id in (
                  select e.opportunity_id from opportunity_history e
                  left join stage_map em on em.stage = e.stage
                  where {standing_sql(f"$slip_{i}_at", "e")}
                    and not coalesce(em.closed, false) and e.close_date > $slip_{i}_end)
            group by s.opportunity_id""", **{  # noqa: S608 - fixed SQL; values are bound
            f"slip_{i}_period": p.label, f"slip_{i}_last": inside[-1],
            f"slip_{i}_first": inside[0], f"slip_{i}_start": p.start, f"slip_{i}_end": p.end,
            f"slip_{i}_at": end}))
    if not parts:
        return None
    dimensions = ", ".join(f"o.{c}" for c in DESCRIPTIVE_FILTERS)
    return sql(f"""
        select x.period, {dimensions}, x.owner, count(*) as slipped_count,
               coalesce(sum(x.amount), 0)::double as slipped_amount
        from ({" union all ".join(p.text for p in parts)}) x
        left join {KNOWN_DEALS} o using (opportunity_id)
        group by all""", *parts)  # noqa: S608 - fixed SQL; values are bound


def slips_cube(con: duckdb.DuckDBPyConnection, periods: list[Period] | tuple[Period, ...],
               as_of: date) -> pa.Table | None:
    """`slips_cube_sql` read into an Arrow table for a cache to hold."""
    found = slips_cube_sql(con, list(periods), as_of)
    if found is None:
        return None
    return con.cursor().sql(found.text, params=dict(found.params)).to_arrow_table()


def slipped_by_period(con: duckdb.DuckDBPyConnection, periods: list[Period], as_of: date,
                      filters: Filters = Filters(), cube: pa.Table | None = None
                      ) -> pd.DataFrame:
    """Slips out of each period through the view's filters (`slips_cube`; pass it when held).

    Grain: one row per period, in order. Columns: period, slipped_count, slipped_amount.
    """
    if cube is None:
        cube = slips_cube(con, periods, as_of)
    frame = pd.DataFrame({"period": [p.label for p in periods]})
    rows = cube.to_pandas() if cube is not None else pd.DataFrame(
        columns=["period", *DESCRIPTIVE_FILTERS, "owner", "slipped_count", "slipped_amount"])
    sums = filters.keep(rows).groupby("period")[["slipped_count", "slipped_amount"]].sum()
    frame = frame.merge(sums, left_on="period", right_index=True, how="left")
    frame["slipped_count"] = frame["slipped_count"].fillna(0).astype(int)
    frame["slipped_amount"] = frame["slipped_amount"].fillna(0.0).astype(float)
    return frame

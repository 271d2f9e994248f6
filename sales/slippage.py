"""What a deal's history says about it: push count (SPEC item 6) and days in its current stage.

Both read the change rows of `opportunity_history` up to a date: for a given set of deals (a
list of the top N costs one scan however large the database), or for every deal open at that
date, which the app holds per snapshot for the in-blood board and the key deals.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa


def fiscal_quarter_sql(column: str, fy_start_month: int) -> str:
    """A number that grows by one per fiscal quarter (push counting compares them)."""
    return f"((year({column}) * 12 + month({column}) - 1 - {int(fy_start_month) - 1}) // 3)"


def history_facts_sql(ids: list[str] | str | None, as_of: date, fy_start_month: int
                      ) -> tuple[str, list]:
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
        chosen = """select h.opportunity_id from opportunity_history h
                    left join stage_map m using (stage)
                    where h.valid_from <= ? and (h.valid_to is null or h.valid_to > ?)
                      and not coalesce(m.closed, false)"""
        chosen_params = [as_of, as_of]
    elif isinstance(ids, str):
        chosen, chosen_params = ids, []
    else:
        chosen, chosen_params = ", ".join("?" * len(ids)) or "null", list(ids)
    quarter = fiscal_quarter_sql("close_date", fy_start_month)
    sql = f"""
        select * from (
            with hist as (
                select opportunity_id, valid_from, stage, {quarter} as quarter
                from opportunity_history
                where valid_from <= ? and opportunity_id in ({chosen})),
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
    """  # noqa: S608 - fixed SQL and placeholders only
    return sql, [as_of, *chosen_params]


def open_deal_facts(con: duckdb.DuckDBPyConnection, snapshot: date | None,
                    fy_start_month: int) -> pa.Table:
    """`history_facts_sql` for every deal open at the snapshot, read into an Arrow table for a
    cache to hold (empty without snapshots)."""
    sql, params = history_facts_sql(None, snapshot or date.min, fy_start_month)
    return con.cursor().sql(sql, params=params).to_arrow_table()

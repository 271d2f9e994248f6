"""Recording snapshots into the change-based history (see sales.schema).

A snapshot is the full picture at its date. Recording one after the latest only closes the
rows that changed and opens their successors; recording the latest date again first takes its
picture back out (exact, as the intervals are canonical) and appends the new one; recording one
before the latest re-derives the history from every picture. Either way the stored intervals
always equal the pictures taken.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

STATE_COLUMNS = ("opportunity_id", "stage", "forecast_category", "amount", "close_date", "owner")
_TRACKED = ("stage", "forecast_category", "amount", "close_date", "owner")
_CHANGED = " or ".join(f"h.{c} is distinct from n.{c}" for c in _TRACKED)
# True when a row carries the same state as the row before it in window `w`: history keeps one
# row per stretch of unchanged state, so consecutive equal states are folded into one.
SAME_STATE_AS_PREVIOUS = "\n and ".join(
    f"lag({c}) over w is not distinct from {c}" for c in _TRACKED)


def record_snapshot(con: duckdb.DuckDBPyConnection, snapshot_date: date, state: pd.DataFrame) -> None:
    """Make `state` (one row per opportunity, STATE_COLUMNS) the picture at `snapshot_date`,
    replacing any picture already taken that day. Run inside the caller's transaction."""
    missing = [c for c in STATE_COLUMNS if c not in state.columns]
    if missing:
        raise ValueError(f"snapshot state is missing columns: {', '.join(missing)}")
    con.register("new_state_frame", state[list(STATE_COLUMNS)])
    try:
        con.execute("""create or replace temp table new_state as
                       select opportunity_id::varchar as opportunity_id, stage::varchar as stage,
                              forecast_category::varchar as forecast_category,
                              amount::decimal(18, 2) as amount, close_date::date as close_date,
                              owner::varchar as owner
                       from new_state_frame""")
    finally:
        con.unregister("new_state_frame")
    latest = con.execute("select max(snapshot_date) from snapshot_dates").fetchone()[0]
    if latest is not None and snapshot_date == latest:
        unrecord_latest(con, latest)  # a new export of the same day: replace it, cheaply
        _append(con, snapshot_date)
    elif latest is None or snapshot_date > latest:
        _append(con, snapshot_date)
    else:
        _rebuild_with(con, snapshot_date)
    con.execute("insert or ignore into snapshot_dates values (?)", [snapshot_date])
    con.execute("drop table new_state")


def unrecord_latest(con: duckdb.DuckDBPyConnection, latest: date) -> None:
    """Take the latest picture back out of the change-based history, exactly as if it had never
    been recorded: rows that began at `latest` go, rows that ended there reopen. Exact because
    the intervals are canonical; re-deriving every interval from every picture would give the
    same, slowly on a large history."""
    con.execute("delete from opportunity_history where valid_from = ?", [latest])
    con.execute("update opportunity_history set valid_to = null where valid_to = ?", [latest])
    con.execute("delete from snapshot_dates where snapshot_date = ?", [latest])


def _append(con: duckdb.DuckDBPyConnection, day: date) -> None:
    # Close current rows whose deal vanished or changed, then open rows for what is new.
    con.execute(f"""
        update opportunity_history h set valid_to = ?
        where h.valid_to is null and not exists (
            select 1 from new_state n
            where n.opportunity_id = h.opportunity_id and not ({_CHANGED}))
    """, [day])  # noqa: S608 - column names are constants
    con.execute("""
        insert into opportunity_history
        select n.opportunity_id, ?, null, n.stage, n.forecast_category, n.amount, n.close_date,
               n.owner
        from new_state n
        where not exists (select 1 from opportunity_history h
                          where h.opportunity_id = n.opportunity_id and h.valid_to is null)
    """, [day])  # noqa: S608


def _rebuild_with(con: duckdb.DuckDBPyConnection, day: date) -> None:
    """Re-derive every interval from all pictures, with `day`'s picture replaced by new_state.

    A run is a stretch of consecutive snapshots with the same state; it ends at the next
    snapshot date (exclusive), or stays open (null) when it reaches the latest snapshot.
    """
    columns = ", ".join(STATE_COLUMNS)
    con.execute(f"""
        create or replace temp table rebuilt_history as
        with dates as (
            select snapshot_date, row_number() over (order by snapshot_date) as idx,
                   lead(snapshot_date) over (order by snapshot_date) as next_date
            from (select snapshot_date from snapshot_dates union select ?::date)
        ),
        pictures as (
            select snapshot_date, {columns} from opportunity_snapshots where snapshot_date <> ?
            union all
            select ?::date, {columns} from new_state
        ),
        marked as (
            select p.*, d.idx, d.next_date,
                   case when lag(d.idx) over w = d.idx - 1 and {SAME_STATE_AS_PREVIOUS}
                        then 0 else 1 end as starts_run
            from pictures p join dates d using (snapshot_date)
            window w as (partition by opportunity_id order by snapshot_date)
        ),
        runs as (
            select *, sum(starts_run) over (partition by opportunity_id order by snapshot_date)
                      as run
            from marked
        )
        select opportunity_id, min(snapshot_date) as valid_from,
               arg_max_null(next_date, snapshot_date) as valid_to,
               any_value(stage) as stage, any_value(forecast_category) as forecast_category,
               any_value(amount) as amount, any_value(close_date) as close_date,
               any_value(owner) as owner
        from runs group by opportunity_id, run
    """, [day, day, day])  # noqa: S608 - column names are constants
    con.execute("delete from opportunity_history")
    con.execute("insert into opportunity_history select * from rebuilt_history order by "
                "opportunity_id, valid_from")
    con.execute("drop table rebuilt_history")

"""Lead snapshots, stored as changes like the opportunities' (see sales.snapshots).

`lead_history` holds one row per stretch of time a lead kept the same status, owner,
conversion and reason; `lead_snapshot_dates` the dates a full leads export was recorded. The
state of the leads as of a date is the latest lead snapshot on or before it (none before the
first: no lead existed yet; without any lead snapshot, the `leads` table, which keeps every lead
ever seen as the latest export describing it had it).
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from sales.sql import Sql, sql

# The state a lead snapshot records, and the part of it that changes.
LEAD_STATE_COLUMNS = ("lead_id", "status", "owner", "converted_opportunity_id", "converted_date",
                      "status_reason")
_TRACKED = LEAD_STATE_COLUMNS[1:]
_CHANGED = " or ".join(f"h.{c} is distinct from n.{c}" for c in _TRACKED)
_SAME_AS_PREVIOUS = " and ".join(f"lag({c}) over w is not distinct from {c}" for c in _TRACKED)


def record_lead_snapshot(con: duckdb.DuckDBPyConnection, day: date, state: pd.DataFrame) -> None:
    """Make `state` (one row per lead, LEAD_STATE_COLUMNS) the leads' picture at `day`,
    replacing one already taken that day. Run inside the caller's transaction."""
    con.register("new_lead_frame", state[list(LEAD_STATE_COLUMNS)])
    try:
        con.execute("""create or replace temp table new_lead_state as
                       select lead_id::varchar as lead_id, status::varchar as status,
                              owner::varchar as owner,
                              converted_opportunity_id::varchar as converted_opportunity_id,
                              converted_date::date as converted_date,
                              status_reason::varchar as status_reason
                       from new_lead_frame""")
    finally:
        con.unregister("new_lead_frame")
    latest = con.execute("select max(snapshot_date) from lead_snapshot_dates").fetchall()[0][0]
    if latest is not None and day == latest:
        # The same day again: take that picture back out (exact, the intervals are canonical).
        con.execute("delete from lead_history where valid_from = ?", [latest])
        con.execute("update lead_history set valid_to = null where valid_to = ?", [latest])
        con.execute("delete from lead_snapshot_dates where snapshot_date = ?", [latest])
        _append(con, day)
    elif latest is None or day > latest:
        _append(con, day)
    else:
        _rebuild_with(con, day)
    con.execute("insert or ignore into lead_snapshot_dates values (?)", [day])
    con.execute("drop table new_lead_state")


def _append(con: duckdb.DuckDBPyConnection, day: date) -> None:
    con.execute(f"""
        update lead_history h set valid_to = ?
        where h.valid_to is null and not exists (
            select 1 from new_lead_state n where n.lead_id = h.lead_id and not ({_CHANGED}))
    """, [day])  # noqa: S608 - column names are constants
    con.execute("""
        insert into lead_history
        select n.lead_id, ?, null, n.status, n.owner, n.converted_opportunity_id,
               n.converted_date, n.status_reason
        from new_lead_state n
        where not exists (select 1 from lead_history h
                          where h.lead_id = n.lead_id and h.valid_to is null)
    """, [day])


def _rebuild_with(con: duckdb.DuckDBPyConnection, day: date) -> None:
    """An export dated before the latest lead snapshot: re-derive every interval from every
    picture, with `day`'s replaced by the new state."""
    columns = ", ".join(LEAD_STATE_COLUMNS)
    con.execute(f"""
        create or replace temp table rebuilt_lead_history as
        with dates as (
            select snapshot_date, row_number() over (order by snapshot_date) as idx,
                   lead(snapshot_date) over (order by snapshot_date) as next_date
            from (select snapshot_date from lead_snapshot_dates union select ?::date)
        ),
        pictures as (
            select d.snapshot_date, {', '.join('h.' + c for c in LEAD_STATE_COLUMNS)}
            from lead_snapshot_dates d join lead_history h
              on h.valid_from <= d.snapshot_date
             and (h.valid_to is null or d.snapshot_date < h.valid_to)
            where d.snapshot_date <> ?
            union all
            select ?::date, {columns} from new_lead_state
        ),
        marked as (
            select p.*, d.idx, d.next_date,
                   case when lag(d.idx) over w = d.idx - 1 and {_SAME_AS_PREVIOUS}
                        then 0 else 1 end as starts_run
            from pictures p join dates d using (snapshot_date)
            window w as (partition by lead_id order by snapshot_date)
        ),
        runs as (
            select *, sum(starts_run) over (partition by lead_id order by snapshot_date) as run
            from marked
        )
        select lead_id, min(snapshot_date) as valid_from,
               arg_max_null(next_date, snapshot_date) as valid_to,
               any_value(status) as status, any_value(owner) as owner,
               any_value(converted_opportunity_id) as converted_opportunity_id,
               any_value(converted_date) as converted_date,
               any_value(status_reason) as status_reason
        from runs group by lead_id, run
    """, [day, day, day])  # noqa: S608 - column names are constants
    con.execute("delete from lead_history")
    con.execute("insert into lead_history select * from rebuilt_lead_history "
                "order by lead_id, valid_from")
    con.execute("drop table rebuilt_lead_history")


def lead_snapshot_on_or_before(con: duckdb.DuckDBPyConnection, as_of: date) -> date | None:
    """The lead snapshot that fixes "the leads as of `as_of`"; None without any lead snapshot;
    the day before the first one when `as_of` is earlier (no lead existed yet)."""
    first, chosen = con.cursor().execute(
        "select min(snapshot_date), max(snapshot_date) filter (where snapshot_date <= ?) "
        "from lead_snapshot_dates", [as_of]).fetchall()[0]
    if first is None:
        return None
    return chosen if chosen is not None else date.fromordinal(first.toordinal() - 1)


def lead_state_key(con: duckdb.DuckDBPyConnection, as_of: date) -> date | None:
    """What `leads_sql` reads for "the leads as of `as_of`": the lead snapshot on or before it,
    or None (the `leads` table) when no lead snapshot was ever recorded. The table keeps every
    lead ever seen, so with snapshots the current state is the latest snapshot, not the table."""
    return lead_snapshot_on_or_before(con, as_of)


def leads_sql(snapshot: date | None) -> Sql:
    """Leads as of a lead snapshot (None: the current `leads` table), with their status group
    and the lead's descriptive fields. Grain: one row per lead that exists at the snapshot.

    Columns: lead_id, created_date, mql_date, accepted_date, lead_source, account_employees,
    segment, region (descriptive, as the latest export had them), status, owner,
    converted_opportunity_id, converted_date, status_reason (the state), status_group (from
    lead_status_map; a converted lead is qualified whatever its status), accepted_status."""
    def columns(state: str) -> str:
        return f"""l.lead_id, l.created_date, l.mql_date, l.accepted_date, l.lead_source,
            l.account_employees, l.segment, l.region, {state}.status, {state}.owner,
            {state}.converted_opportunity_id, {state}.converted_date, {state}.status_reason,
            case when {state}.converted_opportunity_id is not null then 'qualified'
                 else coalesce(m.status_group, 'open') end as status_group,
            coalesce(m.accepted, false) as accepted_status"""

    if snapshot is None:
        return sql(f"""select {columns("l")}
                       from leads l left join lead_status_map m on m.status = l.status""")  # noqa: S608
    return sql(f"""select {columns("s")}
                   from lead_history s join leads l using (lead_id)
                   left join lead_status_map m on m.status = s.status
                   where s.valid_from <= $lead_day
                     and (s.valid_to is null or s.valid_to > $lead_day)""",  # noqa: S608
               lead_day=snapshot)

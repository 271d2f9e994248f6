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

from sales.snapshots import History, record_staged, standing_sql
from sales.sql import Sql, sql

# The state a lead snapshot records, and the part of it that changes.
LEAD_STATE_COLUMNS = ("lead_id", "status", "owner", "converted_opportunity_id", "converted_date",
                      "status_reason")
LEAD_HISTORY = History("lead_history", "lead_snapshot_dates", "new_lead_state",
                       LEAD_STATE_COLUMNS)


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
    record_staged(con, LEAD_HISTORY, day)


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
                   where {standing_sql("$lead_day", "s")}""",  # noqa: S608
               lead_day=snapshot)

"""Recording snapshots into the change-based history (see sales.schema).

A snapshot is the full picture at its date. Recording one after the latest only closes the
rows that changed and opens their successors; recording the latest date again first takes its
picture back out (exact, as the intervals are canonical) and appends the new one; recording one
before the latest re-derives the history from every picture. Either way the stored intervals
always equal the pictures taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from sales.settings import load_settings

STATE_COLUMNS = ("opportunity_id", "stage", "forecast_category", "amount", "close_date", "owner")
# What the CRM holds of the amount (docs/data-model.md#currencies): history keeps them beside
# the converted `amount`, so the movement can tell a rate's change from the deal's own. A
# picture without them is in the corporate currency.
CURRENCY_COLUMNS = ("amount_original", "currency")


def standing_sql(day: str, row: str = "", until: str | None = None) -> str:
    """SQL true for a history row (alias `row`, none for bare columns) standing on `day` (an
    SQL expression: a bound parameter or a column): valid_from <= day < valid_to, where a null
    valid_to is a row still standing today. With `until`, standing on any day from `day` to
    `until`."""
    at = f"{row}." if row else ""
    last = until or day
    return f"({at}valid_from <= {last} and ({at}valid_to is null or {at}valid_to > {day}))"


@dataclass(frozen=True)
class History:
    """A change-based history: its table, the dates its pictures were taken, the temp table a
    new picture is staged in and the state a picture holds (the key first). Names are this
    package's constants (`OPPORTUNITY_HISTORY`, `sales.lead_snapshots.LEAD_HISTORY`), never
    input: they are pasted into SQL."""

    table: str
    dates: str
    staged: str
    columns: tuple[str, ...]

    @property
    def key(self) -> str:
        return self.columns[0]

    @property
    def tracked(self) -> tuple[str, ...]:
        return self.columns[1:]

    @property
    def same_as_previous(self) -> str:
        """SQL true when a row carries the same state as the row before it in window `w`:
        history keeps one row per stretch of unchanged state, so equal states fold into one."""
        return "\n and ".join(f"lag({c}) over w is not distinct from {c}" for c in self.tracked)


OPPORTUNITY_HISTORY = History("opportunity_history", "snapshot_dates", "new_state",
                              STATE_COLUMNS + CURRENCY_COLUMNS)
SAME_STATE_AS_PREVIOUS = OPPORTUNITY_HISTORY.same_as_previous


def record_snapshot(con: duckdb.DuckDBPyConnection, snapshot_date: date, state: pd.DataFrame) -> None:
    """Make `state` (one row per opportunity, STATE_COLUMNS) the picture at `snapshot_date`,
    replacing any picture already taken that day. Run inside the caller's transaction."""
    missing = [c for c in STATE_COLUMNS if c not in state.columns]
    if missing:
        raise ValueError(f"snapshot state is missing columns: {', '.join(missing)}")
    state = with_currency(con, state)
    con.register("new_state_frame", state[list(OPPORTUNITY_HISTORY.columns)])
    try:
        con.execute("""create or replace temp table new_state as
                       select opportunity_id::varchar as opportunity_id, stage::varchar as stage,
                              forecast_category::varchar as forecast_category,
                              amount::decimal(18, 2) as amount, close_date::date as close_date,
                              owner::varchar as owner,
                              amount_original::decimal(18, 2) as amount_original,
                              currency::varchar as currency
                       from new_state_frame""")
    finally:
        con.unregister("new_state_frame")
    record_staged(con, OPPORTUNITY_HISTORY, snapshot_date)


def with_currency(con: duckdb.DuckDBPyConnection, state: pd.DataFrame) -> pd.DataFrame:
    """`state` with CURRENCY_COLUMNS: a picture without them (or rows without a currency) is
    in the corporate currency, its original amount the amount."""
    if all(c in state.columns for c in CURRENCY_COLUMNS) and state["currency"].notna().all():
        return state
    state = state.copy()
    corporate = load_settings(con).corporate_currency
    if "currency" not in state.columns:
        state["currency"] = None
    if "amount_original" not in state.columns:
        state["amount_original"] = None
    bare = state["currency"].isna()
    state["amount_original"] = state["amount_original"].astype(object).where(
        ~bare, state["amount"])
    state["currency"] = state["currency"].astype(object).where(~bare, corporate)
    return state


def record_staged(con: duckdb.DuckDBPyConnection, history: History, day: date) -> None:
    """Make the picture staged in `history.staged` the one at `day` and drop the staging
    table: after the latest picture, close what changed and open its successors; on the
    latest date again, take that picture back out first; before it, re-derive every interval."""
    latest = con.execute(f"select max(snapshot_date) from {history.dates}").fetchone()[0]  # noqa: S608
    if latest is not None and day == latest:
        unrecord_latest(con, latest, history)  # a new export of the same day: replace it
        _append(con, history, day)
    elif latest is None or day > latest:
        _append(con, history, day)
    else:
        _rebuild_with(con, history, day)
    con.execute(f"insert or ignore into {history.dates} values (?)", [day])  # noqa: S608
    con.execute(f"drop table {history.staged}")


def unrecord_latest(con: duckdb.DuckDBPyConnection, latest: date,
                    history: History = OPPORTUNITY_HISTORY) -> None:
    """Take the latest picture back out of the change-based history, exactly as if it had never
    been recorded: rows that began at `latest` go, rows that ended there reopen. Exact because
    the intervals are canonical; re-deriving every interval from every picture would give the
    same, slowly on a large history."""
    con.execute(f"delete from {history.table} where valid_from = ?", [latest])  # noqa: S608
    con.execute(f"update {history.table} set valid_to = null where valid_to = ?",  # noqa: S608
                [latest])
    con.execute(f"delete from {history.dates} where snapshot_date = ?", [latest])  # noqa: S608


def _append(con: duckdb.DuckDBPyConnection, history: History, day: date) -> None:
    # Close current rows whose key vanished or changed, then open rows for what is new.
    key = history.key
    changed = " or ".join(f"h.{c} is distinct from n.{c}" for c in history.tracked)
    con.execute(f"""
        update {history.table} h set valid_to = ?
        where h.valid_to is null and not exists (
            select 1 from {history.staged} n
            where n.{key} = h.{key} and not ({changed}))
    """, [day])  # noqa: S608 - names are constants
    con.execute(f"""
        insert into {history.table}
        select n.{key}, ?, null, {", ".join(f"n.{c}" for c in history.tracked)}
        from {history.staged} n
        where not exists (select 1 from {history.table} h
                          where h.{key} = n.{key} and h.valid_to is null)
    """, [day])  # noqa: S608 - names are constants


def _rebuild_with(con: duckdb.DuckDBPyConnection, history: History, day: date) -> None:
    """Re-derive every interval from all pictures, with `day`'s picture replaced by the staged
    one.

    A run is a stretch of consecutive snapshots with the same state; it ends at the next
    snapshot date (exclusive), or stays open (null) when it reaches the latest snapshot.
    """
    key, columns = history.key, ", ".join(history.columns)
    rebuilt = f"rebuilt_{history.table}"
    con.execute(f"""
        create or replace temp table {rebuilt} as
        with dates as (
            select snapshot_date, row_number() over (order by snapshot_date) as idx,
                   lead(snapshot_date) over (order by snapshot_date) as next_date
            from (select snapshot_date from {history.dates} union select ?::date)
        ),
        pictures as (
            select d.snapshot_date, {", ".join(f"h.{c}" for c in history.columns)}
            from {history.dates} d join {history.table} h on {standing_sql("d.snapshot_date", "h")}
            where d.snapshot_date <> ?
            union all
            select ?::date, {columns} from {history.staged}
        ),
        marked as (
            select p.*, d.idx, d.next_date,
                   case when lag(d.idx) over w = d.idx - 1 and {history.same_as_previous}
                        then 0 else 1 end as starts_run
            from pictures p join dates d using (snapshot_date)
            window w as (partition by {key} order by snapshot_date)
        ),
        runs as (
            select *, sum(starts_run) over (partition by {key} order by snapshot_date) as run
            from marked
        )
        select {key}, min(snapshot_date) as valid_from,
               arg_max_null(next_date, snapshot_date) as valid_to,
               {", ".join(f"any_value({c}) as {c}" for c in history.tracked)}
        from runs group by {key}, run
    """, [day, day, day])  # noqa: S608 - names are constants
    con.execute(f"delete from {history.table}")  # noqa: S608
    con.execute(f"insert into {history.table} select * from {rebuilt} "  # noqa: S608
                f"order by {key}, valid_from")
    con.execute(f"drop table {rebuilt}")

"""Saved forecast calls: saving one, the period's history, what changed between two, and the
deals a call decided on that have left the board since.

Calls are append-only: saving never updates or deletes an earlier call, so two sessions saving
for the same period each keep their own, and an import (which copies the file and keys
decisions by opportunity id) keeps them all.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from sales import audit
from sales.inblood import Change, board_sql
from sales.query import KNOWN_DEALS, deals_sql, latest_snapshot, state_key
from sales.rollup import closed_won, rollup_at
from sales.settings import Settings
from sales.sql import sql
from sales.stages import CLOSED, FORECASTABLE_CATEGORIES, OMITTED, OPEN_CATEGORIES, UNQUALIFIED
from sales.view import View

MAX_NAME_LENGTH = 120
MAX_NOTE_LENGTH = 2_000

# What a saved call committed to, summed over its decisions (alias x): the amount it included,
# its upside (the Commit and Best Case it left out), how many deals it decided and included.
CALL_TOTALS = sql("""coalesce(sum(x.amount) filter (where x.included), 0)::double as included,
       coalesce(sum(x.amount) filter (where not x.included
                and list_contains($forecastable, x.forecast_category)), 0)::double as upside,
       count(x.opportunity_id) as deals,
       count(*) filter (where x.included) as included_deals""",
                  forecastable=list(FORECASTABLE_CATEGORIES))


def save_call(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
              start_call_id: int | None, changes: dict[str, Change], saved_by: str,
              note: str = "", saved_at: datetime | None = None,
              closed_won: float | None = None) -> int:
    """Record the board as it stands (its starting decisions plus `changes`) as a new call for
    the view's period and filter scope; returns the new call_id. Run inside a write
    transaction: the call and all its decisions land together or not at all."""
    saved_by = (saved_by or "").strip()
    if not saved_by:
        raise ValueError("say who is saving the call (a name, or sign in)")
    if len(saved_by) > MAX_NAME_LENGTH or len(note or "") > MAX_NOTE_LENGTH:
        raise ValueError(f"name up to {MAX_NAME_LENGTH} and note up to {MAX_NOTE_LENGTH} "
                         "characters")
    call_id = con.execute(
        """insert into forecast_calls (period, call_date, saved_at, saved_by, note, scope,
                                       closed_won)
           values (?, ?, ?, ?, ?, ?, ?) returning call_id""",
        [view.period.label, view.as_of, saved_at or datetime.now().replace(microsecond=0),
         saved_by, (note or "").strip(), view.filters.scope_key(), closed_won],
    ).fetchall()[0][0]
    frame = pd.DataFrame(
        [(i, c.included, c.reason) for i, c in changes.items()],
        columns=["opportunity_id", "included", "reason"],
    ).astype({"opportunity_id": "string", "included": "bool", "reason": "string"})
    board = board_sql(con, view, settings, start_call_id)
    con.register("call_changes", frame)
    try:
        con.execute(*sql(
            f"""insert into forecast_call_decisions
                select $new_call_id, b.opportunity_id, coalesce(c.included, b.start_included),
                       nullif(coalesce(c.reason, b.start_reason), ''), b.amount, b.category
                from ({board}) b left join call_changes c using (opportunity_id)""",  # noqa: S608
            board, new_call_id=call_id))
    finally:
        con.unregister("call_changes")
    included = con.execute("select coalesce(sum(amount) filter (where included), 0)::double "
                           "from forecast_call_decisions where call_id = ?", [call_id]
                           ).fetchall()[0][0]
    in_blood = f"; in-blood {included + closed_won:,.0f}" if closed_won is not None else ""
    audit.record(con, saved_by, audit.SAVED_CALL,
                 f"call {call_id} for {view.period.label} "
                 f"({view.filters.scope_key() or 'whole company'}){in_blood}")
    return int(call_id)


def call_history(con: duckdb.DuckDBPyConnection, view: View) -> pd.DataFrame:
    """Every call saved for the period and filter scope, oldest first, with the in-blood number
    and upside it committed to. Grain: one row per call.

    In-blood at a call = closed won as of the call date + the amounts it included.
    """
    calls = con.cursor().execute(*sql(
        f"""select c.call_id, c.call_date, c.saved_at, c.saved_by, c.note,
                   c.closed_won::double as saved_closed_won, {CALL_TOTALS}
            from forecast_calls c left join forecast_call_decisions x using (call_id)
            where c.period = $period and c.scope = $scope
            group by all order by c.saved_at, c.call_id""",  # noqa: S608 - fixed SQL
        CALL_TOTALS, period=view.period.label, scope=view.filters.scope_key())).df()
    calls["call_date"] = pd.to_datetime(calls["call_date"]).dt.date
    missing = calls["saved_closed_won"].isna()
    calls["closed_won"] = calls.pop("saved_closed_won")
    if missing.any():  # calls saved without the figure (older files, generated data)
        calls.loc[missing, "closed_won"] = _closed_won_on(
            con, view, list(calls.loc[missing, "call_date"]))
    calls["in_blood"] = calls["closed_won"] + calls["included"]
    return calls


def _closed_won_on(con: duckdb.DuckDBPyConnection, view: View, days: list) -> list[float]:
    """Closed won in the period as it stood on each day (the current table without history)."""
    if latest_snapshot(con) is None:
        now = closed_won(con, view).amount
        return [now for _ in days]
    if not days:
        return []
    closed = rollup_at(con, view, days).set_index("day")[CLOSED]
    return [float(closed[day]) for day in days]


def call_diff(con: duckdb.DuckDBPyConnection, before: int, after: int) -> pd.DataFrame:
    """Deals whose decision flipped, or whose amount or category moved, between two calls.

    Grain: one row per opportunity in either call that differs; `change` says how."""
    return con.cursor().execute(
        """with a as (select * from forecast_call_decisions where call_id = ?),
                b as (select * from forecast_call_decisions where call_id = ?)
           select coalesce(b.opportunity_id, a.opportunity_id) as opportunity_id,
                  o.account_name, o.owner,
                  case when a.opportunity_id is null then 'new in the later call'
                       when b.opportunity_id is null then 'gone from the later call'
                       when a.included <> b.included then
                            case when b.included then 'now included' else 'now excluded' end
                       when a.forecast_category <> b.forecast_category then 'category moved'
                       else 'amount moved' end as change,
                  a.included as included_before, b.included as included_after,
                  a.forecast_category as category_before, b.forecast_category as category_after,
                  a.amount::double as amount_before, b.amount::double as amount_after,
                  b.reason as reason
           from a full join b using (opportunity_id)
           left join known_opportunities o
                  on o.opportunity_id = coalesce(b.opportunity_id, a.opportunity_id)
           where a.opportunity_id is null or b.opportunity_id is null
              or a.included <> b.included or a.amount is distinct from b.amount
              or a.forecast_category is distinct from b.forecast_category
           order by greatest(coalesce(a.amount, 0), coalesce(b.amount, 0)) desc""",
        [before, after]).df()


def gone_since_call(con: duckdb.DuckDBPyConnection, view: View, call_id: int) -> pd.DataFrame:
    """Deals the call decided on that are no longer open in the period, and what became of them
    (won, lost, slipped out, moved earlier, unqualified, or no longer in the data).

    Grain: one row per such opportunity; never silently dropped from the screen."""
    state = deals_sql(state_key(con, view.as_of))
    return con.cursor().execute(*sql(
        f"""select x.opportunity_id, o.account_name, o.owner, x.forecast_category as category_at_call,
                   x.amount::double as amount_at_call, x.included as included_at_call,
                   case when s.opportunity_id is null then 'no longer in the data'
                        when s.category = $closed then 'won'
                        when s.category = $omitted and s.closed then 'lost'
                        when s.close_date > $period_end then 'slipped out of the period'
                        when s.close_date < $period_start then 'moved to an earlier period'
                        when s.category = $unqualified then 'back to unqualified'
                        else 'moved to ' || s.category end as what_happened,
                   s.category as category_now, s.amount::double as amount_now, s.close_date
            from forecast_call_decisions x
            left join ({state}) s using (opportunity_id)
            left join {KNOWN_DEALS} o using (opportunity_id)
            where x.call_id = $call_id
              and not (s.opportunity_id is not null and not s.closed
                       and list_contains($open_categories, s.category)
                       and s.close_date between $period_start and $period_end)
            order by x.amount desc nulls last""",  # noqa: S608
        state, closed=CLOSED, omitted=OMITTED, unqualified=UNQUALIFIED, call_id=call_id,
        open_categories=list(OPEN_CATEGORIES), **view.bounds())).df()


def call_export(con: duckdb.DuckDBPyConnection, call_id: int) -> pd.DataFrame:
    """A saved call's decisions with the deal's descriptive columns, for CSV and XLSX export.

    Grain: one row per decided opportunity."""
    return con.cursor().execute(
        """select c.period, c.call_date, c.saved_at, c.saved_by, c.note, x.opportunity_id,
                  o.account_name, o.name, o.owner, o.team, o.segment, x.forecast_category,
                  x.amount::double as amount, x.included, x.reason
           from forecast_call_decisions x join forecast_calls c using (call_id)
           left join known_opportunities o using (opportunity_id)
           where x.call_id = ? order by x.included desc, x.amount desc""", [call_id]).df()

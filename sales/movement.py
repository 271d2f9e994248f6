"""Forecast movement since the last call (docs/metrics.md#9-forecast-movement): why each
category's amount changed.

Between two snapshots S0 (the last call) and S1 (now), for category C and period P: start is the
open, qualified deals in C with close_date in P at S0, end the same at S1, and every deal that
is in either lands in exactly one part:

- in C and P at both: amount_up / amount_down (S1 amount − S0 amount; unchanged deals add 0);
- in C and P only at S1 (inflows, at the S1 amount): new (absent at S0), pulled_in (at S0 its
  close date was outside P), moved_in (at S0 in P but in another category, unqualified or closed —
  or, in a filtered view, outside the filter: a deal handed over from another owner);
- in C and P only at S0 (outflows, at minus the S0 amount), decided in this order: removed
  (absent at S1), won, lost (any closed stage without a win, 9-Unqualified and 10-Duplicate
  included), slipped_out (open with close_date after P), moved_out (anything else: another
  category, unqualified, an earlier close date, or out of the filter).

So start + the signed parts = end exactly: the sums stay DECIMAL in DuckDB and reach Python as
`Decimal`.

Only deals that changed between the two snapshots can land in a bar; they are read straight
from the history's change rows (`changed_deals_sql`), and end is the period's roll-up now, so
start = end − what the changed deals hold now + what they held then. `sales.callprep` puts
the pieces together for the forecast call and the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pandas as pd
import pyarrow as pa

from sales.currency import CORPORATE_SQL, convert_sql, version_sql
from sales.query import (
    DESCRIPTIVE_FILTERS,
    KNOWN_DEALS,
    report_category_sql,
    snapshot_on_or_before,
    state_key,
)
from sales.rollup import deals_in_period
from sales.snapshots import standing_sql
from sales.sql import Sql, sql
from sales.stages import OPEN_CATEGORIES, stage_flag_sql
from sales.view import View

INFLOWS = ("new", "moved_in", "pulled_in")
# `currency`: the part of the change of deals in the category at both dates that came from the
# rate table (docs/metrics.md#9-forecast-movement); amount_up / amount_down are the rest.
CHANGES = ("amount_up", "amount_down", "currency")
OUTFLOWS = ("moved_out", "slipped_out", "won", "lost", "removed")
# The waterfall's bars between start and end, in the order the report and the chart use.
PARTS = (*INFLOWS, *CHANGES, *OUTFLOWS)
# A deal in C and P at both snapshots with the same amount: in no bar, but counted.
UNCHANGED = "unchanged"
# "Last call" by default: the latest snapshot at least this many days before as-of (weekly calls).
LAST_CALL_DAYS = 7

PART_LABELS = {
    "new": "New", "moved_in": "Moved in", "pulled_in": "Pulled in", "amount_up": "Amount up",
    "amount_down": "Amount down", "currency": "Currency", "moved_out": "Moved out",
    "slipped_out": "Slipped out",
    "won": "Won", "lost": "Lost", "removed": "Removed",
}
PART_HELP = {
    "new": "created since the last call",
    "moved_in": "in the period at the last call but in another category, unqualified or "
                "closed (or outside the filter)",
    "pulled_in": "closing outside the period at the last call",
    "amount_up": "in the category at both dates, amount raised",
    "amount_down": "in the category at both dates, amount lowered",
    "currency": "in the category at both dates, the change that came from exchange rates (the "
                "amount now, at the rates now − at the rates of the last call)",
    "moved_out": "now in another category, unqualified, closing before the period (or outside "
                 "the filter)",
    "slipped_out": "still open, close date now after the period",
    "won": "closed won since the last call",
    "lost": "closed without a win since the last call (lost, unqualified, duplicate)",
    "removed": "no longer in the data",
}


@dataclass(frozen=True)
class Movement:
    """One category's movement. Grain: (category, period, S0, S1). Amounts are exact `Decimal`s;
    outflows are negative, so start + sum(parts) = end."""

    category: str
    start: Decimal
    parts: dict[str, Decimal]
    end: Decimal
    start_count: int
    end_count: int
    counts: dict[str, int]

    @property
    def change(self) -> Decimal:
        return self.end - self.start


@dataclass(frozen=True)
class Window:
    """The two states compared. `then_read` / `now_read` are the snapshot dates whose history
    rows hold each state (None: no snapshots; `then_read` may be the day before the first
    snapshot, when nothing existed yet); `now_key` is what `deals_sql` reads for now (None = the
    opportunities table); `since` / `now` are the snapshot dates shown, None where there is none.
    """

    then_read: date | None
    now_read: date | None
    now_key: date | None
    since: date | None
    now: date | None


def default_since(as_of: date) -> date:
    """The date whose state is "the last call" by default: a week before as-of, so the state is
    the latest snapshot a week or more before it."""
    return as_of - timedelta(days=LAST_CALL_DAYS)


def window(con: duckdb.DuckDBPyConnection, as_of: date, since: date | None = None) -> Window:
    """The states movement compares: as of `since` (default a week before) and as of `as_of`."""
    since = default_since(as_of) if since is None else min(since, as_of)
    first = con.cursor().execute("select min(snapshot_date) from snapshot_dates").fetchone()[0]
    then_read, now_read = snapshot_on_or_before(con, since), snapshot_on_or_before(con, as_of)

    def shown(snapshot: date | None) -> date | None:  # None before the first snapshot
        return snapshot if snapshot is not None and first is not None and snapshot >= first else None

    return Window(then_read, now_read, state_key(con, as_of), shown(then_read), shown(now_read))


# The descriptive columns the call lists and a view filter tests, carried on every changed
# deal (owner is each side's own: a deal may change hands between the two dates).
_CHANGED_COLUMNS = tuple(dict.fromkeys(
    ["type", "account_name", "loss_class", "competitor", "lost_reason", *DESCRIPTIVE_FILTERS]))


def _side_sql(side: str, state: str, stage: str) -> str:
    """One side's columns: the deal's state (alias `state`) with report category and stage
    flags (alias `stage`), read with the query module's own rules."""
    return f"""{state}.opportunity_id is not null as {side}_exists, {state}.stage as {side}_stage,
               case when {state}.opportunity_id is not null then {report_category_sql(state, stage)} end
                   as {side}_category, {state}.amount as {side}_amount,
               {state}.close_date as {side}_close, {state}.owner as {side}_owner,
               {stage_flag_sql('closed', stage)} as {side}_closed,
               {stage_flag_sql('won', stage)} as {side}_won,
               {state}.amount_original as {side}_amount_original,
               {state}.currency as {side}_currency"""


def _converted(version_day: str) -> str:
    return convert_sql("n.amount_original", "n.currency", "n.close_date",
                       version_sql(version_day), CORPORATE_SQL)


# docs/metrics.md#9-forecast-movement: the now amount at the rate table now − the same amount
# at the table of the last call, both at the now close date (so a close date crossing a rate
# boundary is the deal's own change); 0 for a deal absent at either date.
_CURRENCY_EFFECT = f"""(case when t.opportunity_id is not null and n.opportunity_id is not null
    then coalesce(({_converted("$now_read")})::decimal(18, 2)
                  - ({_converted("$then_read")})::decimal(18, 2), 0)
    else 0 end)::decimal(18, 2)"""  # noqa: S608 - ours


def changed_deals_sql(then_read: date | None, now_read: date | None) -> Sql:
    """Every deal whose state differs between the last call (S0) and now (S1), both states, in
    no view: the same for every filter and period, so a caller may hold it while the manager
    changes the filters (`prepare_call` takes it as an Arrow table).

    Grain: one row per opportunity that changed, appeared or disappeared between S0 and S1 (any
    period). A deal that did not change is the same at both dates, in and out of the view
    alike, so it moves nothing: leaving it out is what keeps this cheap. Read from the change
    rows: the S0 state of a changed deal is the row that was valid at S0 and ended by S1; its S1
    state is the row that began after S0 and is valid at S1.

    Columns: opportunity_id, the descriptive columns the call lists (type, account_name,
    loss_class, competitor, lost_reason: few, as each is read for every deal) and the ones a
    filter tests (segment, region, team, channel) — as the deal last was, for a deal deleted
    since — and per side (then_ = S0, now_ = S1): exists, stage, category (report category),
    amount, close, owner, closed, won, amount_original, currency; and currency_effect, the
    part of the change that came from the rate table (0 unless the deal exists at both).
    """
    if now_read is None or then_read is None or then_read >= now_read:
        then_read = now_read = date.min  # nothing to compare: no rows qualify below
    descriptive = ", ".join(f"o.{column}" for column in _CHANGED_COLUMNS)
    return sql(f"""
        select coalesce(t.opportunity_id, n.opportunity_id) as opportunity_id,
               {descriptive},
               {_side_sql("then", "t", "mt")},
               {_side_sql("now", "n", "mn")},
               {_CURRENCY_EFFECT} as currency_effect
        from (select * from opportunity_history  -- valid at S0, ended by S1
              where valid_from <= $then_read and valid_to > $then_read
                and valid_to <= $now_read) t
        full join (select * from opportunity_history  -- begun since S0, valid at S1
                   where valid_from > $then_read and {standing_sql("$now_read")}) n
               on n.opportunity_id = t.opportunity_id
        left join {KNOWN_DEALS} o
               on o.opportunity_id = coalesce(t.opportunity_id, n.opportunity_id)
        left join stage_map mt on mt.stage = t.stage
        left join stage_map mn on mn.stage = n.stage
    """, then_read=then_read, now_read=now_read)  # noqa: S608 - fixed SQL; values are bound


def changed_deals(con: duckdb.DuckDBPyConnection, then_read: date | None,
                  now_read: date | None) -> pa.Table:
    """`changed_deals_sql` between two snapshot dates (a `Window`'s then_read and now_read),
    read into an Arrow table: a few per cent of the deals in a week, for a cache to hold."""
    query = changed_deals_sql(then_read, now_read)
    return con.cursor().sql(query.text, params=dict(query.params)).to_arrow_table()


def view_changes_sql(source: Sql, view: View) -> Sql:
    """The changed deals (`source`: `changed_deals_sql` in brackets, or a relation holding it)
    seen through the view: per side `in_view` (the deal exists then and the view's filters
    hold) and `in_`, the open category the deal counts in for the period (Commit, Best Case or
    Pipeline, in the view, close_date in the period), null when none."""
    then_held = view.filters.condition(owner="then_owner")
    now_held = view.filters.condition(owner="now_owner")
    return sql(f"""
        select *,
               case when then_in_view and then_close between $period_start and $period_end
                         and list_contains($open_categories, then_category)
                    then then_category end as then_in,
               case when now_in_view and now_close between $period_start and $period_end
                         and list_contains($open_categories, now_category)
                    then now_category end as now_in
        from (select *, then_exists and coalesce({then_held}, false) as then_in_view,
                     now_exists and coalesce({now_held}, false) as now_in_view
              from {source} c)
    """, source, then_held, now_held, open_categories=list(OPEN_CATEGORIES),  # noqa: S608
               **view.bounds())


def parts_sql(source: Sql, view: View) -> Sql:
    """The movement parts over the changed deals (`view_changes_sql`, or a table holding it).

    Grain: one row per (opportunity, category) for every changed deal counting in Commit, Best
    Case or Pipeline at S0 or S1 (a deal moving between two of them has a row in each).
    Columns: category, part, amount (signed DECIMAL), in_start, in_end and the source's columns.
    """
    return sql(f"""
        with own as (
        select k.category, c.*,
               case when c.then_in = k.category and c.now_in = k.category then
                        case when c.now_amount - c.currency_effect > c.then_amount then 'amount_up'
                             when c.now_amount - c.currency_effect < c.then_amount then 'amount_down'
                             else '{UNCHANGED}' end
                    when c.then_in = k.category then
                        case when not c.now_exists then 'removed'
                             when c.now_won then 'won'
                             when c.now_closed then 'lost'
                             when c.now_close > $period_end then 'slipped_out'
                             else 'moved_out' end
                    when not c.then_exists then 'new'
                    when c.then_close is null
                         or c.then_close not between $period_start and $period_end then 'pulled_in'
                    else 'moved_in' end as part,
               case when c.then_in = k.category and c.now_in = k.category
                        then coalesce(c.now_amount, 0) - coalesce(c.then_amount, 0)
                             - c.currency_effect
                    when c.then_in = k.category then -coalesce(c.then_amount, 0)
                    else coalesce(c.now_amount, 0) end as amount,
               coalesce(c.then_in = k.category, false) as in_start,
               coalesce(c.now_in = k.category, false) as in_end
        from {source} c
        cross join (select unnest($open_categories) as category) k
        where c.then_in = k.category or c.now_in = k.category
        )
        select * from own
        union all by name  -- the rates' share of a deal's change: its own row, in no total
        select * replace ('currency' as part, currency_effect as amount, false as in_start,
                          false as in_end)
        from own where part in ('amount_up', 'amount_down', '{UNCHANGED}')
                   and currency_effect <> 0
    """, source, open_categories=list(OPEN_CATEGORIES), **view.bounds())  # noqa: S608


def now_totals_sql(con: duckdb.DuckDBPyConnection, view: View, group_sql: str = "''",
                   deals: Sql | None = None) -> Sql:
    """The period's roll-up now, by an optional group expression over deal columns (ours);
    `deals`: the view's deals in the period when the caller has them at hand.

    Grain: one row per (group, report category): amount (DECIMAL, exact) and count."""
    deals = deals if deals is not None else deals_in_period(con, view)
    return sql(f"""select {group_sql} as grp, category, sum(amount) as amount, count(*) as count
                   from ({deals}) d group by all""", deals)  # noqa: S608


def summary_sql(parts: Sql) -> Sql:
    """Per (category, part): the signed amount and count, and what the changed deals held in
    the category at S0 (in_start) and hold at S1 (in_end)."""
    return sql(f"""select category, part, sum(amount), count(*),
                          sum(then_amount) filter (where in_start),
                          count(*) filter (where in_start),
                          sum(now_amount) filter (where in_end), count(*) filter (where in_end)
                   from ({parts}) group by 1, 2""", parts)  # noqa: S608


def summarise(rows: list[tuple], end: dict[str, tuple[Decimal, int]]) -> dict[str, Movement]:
    """Movements from `summary_sql` rows (the changed deals) and each category's amount and count
    now (`end`). A deal that did not change is in both start and end, so start = end − what the
    changed deals hold now + what they held then."""
    zero = Decimal("0.00")
    found: dict[str, dict] = {
        c: {"parts": dict.fromkeys(PARTS, zero), "counts": dict.fromkeys(PARTS, 0),
            "start": end.get(c, (zero, 0))[0], "end": end.get(c, (zero, 0))[0],
            "start_count": end.get(c, (zero, 0))[1], "end_count": end.get(c, (zero, 0))[1]}
        for c in OPEN_CATEGORIES}
    for category, part, amount, count, start, start_count, now, now_count in rows:
        entry = found[category]
        if part in PARTS:
            entry["parts"][part] += amount
            entry["counts"][part] += count
        entry["start"] += (start or zero) - (now or zero)
        entry["start_count"] += start_count - now_count
    return {c: Movement(category=c, **found[c]) for c in OPEN_CATEGORIES}


def bar_deals_sql(parts: Sql) -> Sql:
    """The deals behind the bars, with what they were at the last call and are now.

    Grain: one row per (category, opportunity) of `parts` (a `parts_sql` relation)."""
    return sql(f"""
        select x.category, x.part, x.opportunity_id, x.account_name,
               coalesce(x.now_owner, x.then_owner) as owner, x.amount::double as movement,
               x.then_category as category_then, x.now_category as category_now,
               x.then_amount::double as amount_then, x.now_amount::double as amount_now,
               x.then_close as close_then, x.now_close as close_now,
               x.then_stage as stage_then, x.now_stage as stage_now,
               x.type, x.loss_class, x.competitor
        from ({parts}) x""", parts)  # noqa: S608


_DATE_COLUMNS = ("close_date", "close_then", "close_now", "created_date", "sales_accepted_date")


def dated(frame: pd.DataFrame) -> pd.DataFrame:
    """Date columns from DuckDB (timestamps in pandas) back to dates, for tables and CSV."""
    for column in _DATE_COLUMNS:
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


UP, DOWN, LEVEL = "up", "down", "level"
# Zoom the waterfall's axis when the lowest level the running total reaches is above this
# share of the highest bar: the movements then read, and little of start and end is cut.
ZOOM_FLOOR_SHARE = 0.5


def waterfall_frame(moved: Movement) -> pd.DataFrame:
    """The waterfall for one category: start, each part (signed; currency only when rates
    moved a deal), end, with where each bar stands.

    Grain: one row per bar, in order. Columns: part (key), label, amount (float), count,
    measure ('absolute' for start, 'relative' for the parts, 'total' for end — Plotly's
    waterfall), base and top (the bar's bottom and top: a part stands on the running total),
    direction (UP or DOWN for a part, LEVEL for start and end)."""
    rows = [("start", "At last call", moved.start, moved.start_count, "absolute")]
    # A currency bar only where rates moved something: one-currency data never shows it.
    rows += [(p, PART_LABELS[p], moved.parts[p], moved.counts[p], "relative") for p in PARTS
             if p != "currency" or moved.counts[p]]
    rows.append(("end", "Now", moved.end, moved.end_count, "total"))
    frame = pd.DataFrame(rows, columns=["part", "label", "amount", "count", "measure"])
    frame["amount"] = frame["amount"].astype("float64")
    level, bases, directions = float(frame["amount"].iloc[0]), [], []
    for amount, measure in zip(frame["amount"], frame["measure"], strict=True):
        if measure == "relative":
            bases.append(level + min(amount, 0.0))
            directions.append(UP if amount >= 0 else DOWN)
            level += amount
        else:
            bases.append(0.0)
            directions.append(LEVEL)
    frame["base"] = bases
    frame["top"] = frame["base"] + frame["amount"].abs()
    frame["direction"] = directions
    return frame


def zoomed_axis(frame: pd.DataFrame) -> tuple[float, float] | None:
    """The value axis for a `waterfall_frame`: from just below the lowest level the running
    total reaches to just above the highest bar, when that lowest level is high enough
    (ZOOM_FLOOR_SHARE) that starting at zero would flatten the movements; else None (zero)."""
    parts = frame[frame["measure"] == "relative"]
    low = min([*parts["base"], frame["top"].iloc[0], frame["top"].iloc[-1]])
    high = float(frame["top"].max())
    if not (high > 0 and low > ZOOM_FLOOR_SHARE * high):
        return None
    return low - 0.25 * (high - low), high + 0.12 * (high - low)


def as_report(moves: dict[str, Movement], since: date | None, now: date | None) -> dict:
    """The report's `movement` keys: from (the last call's snapshot), to (now's), and per
    category start, the parts, end (floats; outflows negative)."""
    out: dict[str, object] = {"from": since.isoformat() if since else None,
                              "to": now.isoformat() if now else None}
    for category, moved in moves.items():
        out[category] = {"start": float(moved.start),
                         **{p: float(moved.parts[p]) for p in PARTS},
                         "end": float(moved.end)}
    return out

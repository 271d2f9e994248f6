"""Forecast movement since the last call (SPEC item 9): why each category's amount changed.

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
from the history's change rows (`changes_sql`), and end is the period's roll-up now, so start =
end − what the changed deals hold now + what they held then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pandas as pd
import pyarrow as pa

from sales.deals import MAX_DEAL_ROWS
from sales.query import (
    DESCRIPTIVE_FILTERS,
    REPORT_CATEGORY_SQL,
    deals_sql,
    snapshot_on_or_before,
    state_key,
)
from sales.stages import BEST_CASE, COMMIT, PIPELINE
from sales.view import View

MOVEMENT_CATEGORIES = (COMMIT, BEST_CASE, PIPELINE)
INFLOWS = ("new", "moved_in", "pulled_in")
CHANGES = ("amount_up", "amount_down")
OUTFLOWS = ("moved_out", "slipped_out", "won", "lost", "removed")
# The waterfall's bars between start and end, in the order the report and the chart use.
PARTS = (*INFLOWS, *CHANGES, *OUTFLOWS)
# A deal in C and P at both snapshots with the same amount: in no bar, but counted.
UNCHANGED = "unchanged"
# "Last call" by default: the latest snapshot at least this many days before as-of (weekly calls).
LAST_CALL_DAYS = 7

PART_LABELS = {
    "new": "New", "moved_in": "Moved in", "pulled_in": "Pulled in", "amount_up": "Amount up",
    "amount_down": "Amount down", "moved_out": "Moved out", "slipped_out": "Slipped out",
    "won": "Won", "lost": "Lost", "removed": "Removed",
}
PART_HELP = {
    "new": "created since the last call",
    "moved_in": "in the period at the last call but in another category, unqualified or "
                "closed (or outside the filter)",
    "pulled_in": "closing outside the period at the last call",
    "amount_up": "in the category at both dates, amount raised",
    "amount_down": "in the category at both dates, amount lowered",
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


# The descriptive columns a view filter may test, carried on every changed deal (owner is each
# side's own: a deal may change hands between the two dates).
_CHANGED_COLUMNS = tuple(dict.fromkeys(
    ["type", "account_name", "loss_class", "competitor", "lost_reason", *DESCRIPTIVE_FILTERS]))


def _side_sql(side: str, state: str, stage: str) -> str:
    """One side's columns: the deal's state (alias `state`) with report category and stage
    flags, read with the query module's own rules."""
    category = re.sub(r"\bm\.", f"{stage}.", re.sub(r"\bs\.", f"{state}.", REPORT_CATEGORY_SQL))
    return f"""{state}.opportunity_id is not null as {side}_exists, {state}.stage as {side}_stage,
               case when {state}.opportunity_id is not null then {category} end
                   as {side}_category, {state}.amount as {side}_amount,
               {state}.close_date as {side}_close, {state}.owner as {side}_owner,
               coalesce({stage}.closed, false) as {side}_closed,
               coalesce({stage}.won, false) as {side}_won"""


def changed_deals_sql(then_read: date | None, now_read: date | None) -> tuple[str, list]:
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
    filter tests (segment, region, team, channel), and per side (then_ = S0, now_ = S1):
    exists, stage, category (report category), amount, close, owner, closed, won.
    """
    if now_read is None or then_read is None or then_read >= now_read:
        then_read = now_read = date.min  # nothing to compare: no rows qualify below
    descriptive = ", ".join(f"o.{column}" for column in _CHANGED_COLUMNS)
    sql = f"""
        select coalesce(t.opportunity_id, n.opportunity_id) as opportunity_id,
               {descriptive},
               {_side_sql("then", "t", "mt")},
               {_side_sql("now", "n", "mn")}
        from (select * from opportunity_history  -- valid at S0, ended by S1
              where valid_from <= ? and valid_to > ? and valid_to <= ?) t
        full join (select * from opportunity_history  -- begun since S0, valid at S1
                   where valid_from > ? and valid_from <= ?
                     and (valid_to is null or valid_to > ?)) n
               on n.opportunity_id = t.opportunity_id
        left join opportunities o
               on o.opportunity_id = coalesce(t.opportunity_id, n.opportunity_id)
        left join stage_map mt on mt.stage = t.stage
        left join stage_map mn on mn.stage = n.stage
    """  # noqa: S608 - fixed SQL text and allow-listed columns; values are bound
    return sql, [then_read, then_read, now_read, then_read, now_read, now_read]


def changed_deals(con: duckdb.DuckDBPyConnection, then_read: date | None,
                  now_read: date | None) -> pa.Table:
    """`changed_deals_sql` between two snapshot dates (a `Window`'s then_read and now_read),
    read into an Arrow table: a few per cent of the deals in a week, for a cache to hold."""
    sql, params = changed_deals_sql(then_read, now_read)
    return con.cursor().sql(sql, params=params).to_arrow_table()


def view_changes_sql(source: str, view: View) -> tuple[str, list]:
    """The changed deals (`source`: `changed_deals_sql` in brackets, or a relation holding it)
    seen through the view: per side `in_view` (the deal exists then and the view's filters
    hold) and `in_`, the open category the deal counts in for the period (Commit, Best Case or
    Pipeline, in the view, close_date in the period), null when none."""
    condition, params = view.filters.where()
    sides, side_params = [], []
    for side in ("then", "now"):
        held = "true"
        if condition:  # the filter's columns as the changed deals carry them
            held = re.sub(r"\bo\.", "c.", re.sub(r"\bs\.owner\b", f"c.{side}_owner", condition))
            side_params += params
        sides.append(f"c.{side}_exists and coalesce({held}, false) as {side}_in_view")
    bounds = [view.period.start, view.period.end]
    sql = f"""
        select *,
               case when then_in_view and then_close between ? and ?
                         and then_category in ('Commit', 'Best Case', 'Pipeline')
                    then then_category end as then_in,
               case when now_in_view and now_close between ? and ?
                         and now_category in ('Commit', 'Best Case', 'Pipeline')
                    then now_category end as now_in
        from (select c.*, {sides[0]}, {sides[1]} from {source} c)
    """  # noqa: S608 - `source` is a fixed relation; filter columns are allow-listed
    # The source's own placeholders, if any, come after these in the text.
    return sql, bounds + bounds + side_params


def changes_sql(con: duckdb.DuckDBPyConnection, view: View, since: date | None = None
                ) -> tuple[str, list]:
    """The changed deals between the last call and now (`changed_deals_sql`) through the view
    (`view_changes_sql`): both states, in_view and in_ per side."""
    win = window(con, view.as_of, since)
    changed, changed_params = changed_deals_sql(win.then_read, win.now_read)
    sql, params = view_changes_sql(f"({changed})", view)
    return sql, params + changed_params


def parts_sql(source: str, view: View) -> tuple[str, list]:
    """The movement parts over the changed deals (`changes_sql`, or a table holding it).

    Grain: one row per (opportunity, category) for every changed deal counting in Commit, Best
    Case or Pipeline at S0 or S1 (a deal moving between two of them has a row in each).
    Columns: category, part, amount (signed DECIMAL), in_start, in_end and the source's columns.
    """
    sql = f"""
        select k.category, c.*,
               case when c.then_in = k.category and c.now_in = k.category then
                        case when c.now_amount > c.then_amount then 'amount_up'
                             when c.now_amount < c.then_amount then 'amount_down'
                             else '{UNCHANGED}' end
                    when c.then_in = k.category then
                        case when not c.now_exists then 'removed'
                             when c.now_won then 'won'
                             when c.now_closed then 'lost'
                             when c.now_close > ? then 'slipped_out'
                             else 'moved_out' end
                    when not c.then_exists then 'new'
                    when c.then_close is null or c.then_close not between ? and ? then 'pulled_in'
                    else 'moved_in' end as part,
               case when c.then_in = k.category and c.now_in = k.category
                        then coalesce(c.now_amount, 0) - coalesce(c.then_amount, 0)
                    when c.then_in = k.category then -coalesce(c.then_amount, 0)
                    else coalesce(c.now_amount, 0) end as amount,
               coalesce(c.then_in = k.category, false) as in_start,
               coalesce(c.now_in = k.category, false) as in_end
        from {source} c
        cross join (values ('Commit'), ('Best Case'), ('Pipeline')) k(category)
        where c.then_in = k.category or c.now_in = k.category
    """  # noqa: S608 - `source` is a fixed relation built here or in callprep
    return sql, [view.period.end, view.period.start, view.period.end]


def movement_sql(con: duckdb.DuckDBPyConnection, view: View, since: date | None = None
                 ) -> tuple[str, list]:
    """Per changed deal and category, the part it lands in and its signed amount."""
    changes, params = changes_sql(con, view, since)
    parts, part_params = parts_sql(f"({changes})", view)
    return parts, part_params + params  # the parts' placeholders come first in the text


def now_totals_sql(con: duckdb.DuckDBPyConnection, view: View, group_sql: str = "''"
                   ) -> tuple[str, list]:
    """The period's roll-up now, by an optional group expression over deal columns.

    Grain: one row per (group, report category): amount (DECIMAL, exact) and count."""
    deals, params = deals_sql(state_key(con, view.as_of), view.filters)
    return (f"""select {group_sql} as grp, category, sum(amount) as amount, count(*) as count
                from ({deals}) d where close_date between ? and ? group by all""",  # noqa: S608
            params + [view.period.start, view.period.end])


SUMMARY_SQL = """select category, part, sum(amount), count(*),
                        sum(then_amount) filter (where in_start), count(*) filter (where in_start),
                        sum(now_amount) filter (where in_end), count(*) filter (where in_end)
                 from ({parts}) group by 1, 2"""


def summarise(rows: list[tuple], end: dict[str, tuple[Decimal, int]]) -> dict[str, Movement]:
    """Movements from SUMMARY_SQL rows (the changed deals) and each category's amount and count
    now (`end`). A deal that did not change is in both start and end, so start = end − what the
    changed deals hold now + what they held then."""
    zero = Decimal("0.00")
    found: dict[str, dict] = {
        c: {"parts": dict.fromkeys(PARTS, zero), "counts": dict.fromkeys(PARTS, 0),
            "start": end.get(c, (zero, 0))[0], "end": end.get(c, (zero, 0))[0],
            "start_count": end.get(c, (zero, 0))[1], "end_count": end.get(c, (zero, 0))[1]}
        for c in MOVEMENT_CATEGORIES}
    for category, part, amount, count, start, start_count, now, now_count in rows:
        entry = found[category]
        if part in PARTS:
            entry["parts"][part] += amount
            entry["counts"][part] += count
        entry["start"] += (start or zero) - (now or zero)
        entry["start_count"] += start_count - now_count
    return {c: Movement(category=c, **found[c]) for c in MOVEMENT_CATEGORIES}


def movement(con: duckdb.DuckDBPyConnection, view: View, since: date | None = None
             ) -> dict[str, Movement]:
    """Commit, Best Case and Pipeline movement between the last call (`since`, default a week
    before as-of) and as-of. Grain: one Movement per category."""
    sql, params = movement_sql(con, view, since)
    cur = con.cursor()
    rows = cur.execute(SUMMARY_SQL.format(parts=sql), params).fetchall()
    totals, total_params = now_totals_sql(con, view)
    end = {category: (amount, count)
           for _, category, amount, count in cur.execute(totals, total_params).fetchall()}
    return summarise(rows, end)


def bar_deals_sql(parts: str) -> str:
    """The deals behind the bars, with what they were at the last call and are now.

    Grain: one row per (category, opportunity) of `parts` (a `parts_sql` relation)."""
    return f"""
        select x.category, x.part, x.opportunity_id, x.account_name,
               coalesce(x.now_owner, x.then_owner) as owner, x.amount::double as movement,
               x.then_category as category_then, x.now_category as category_now,
               x.then_amount::double as amount_then, x.now_amount::double as amount_now,
               x.then_close as close_then, x.now_close as close_now,
               x.then_stage as stage_then, x.now_stage as stage_now,
               x.type, x.loss_class, x.competitor
        from {parts} x"""  # noqa: S608


def movement_deals(con: duckdb.DuckDBPyConnection, view: View, since: date | None,
                   category: str, part: str, limit: int = MAX_DEAL_ROWS
                   ) -> tuple[pd.DataFrame, int, float]:
    """The deals behind one bar, largest movement first.

    Grain: one row per opportunity. Returns (capped frame, deal count, the bar's amount — the
    signed sum over every deal, not only those shown)."""
    if category not in MOVEMENT_CATEGORIES or part not in (*PARTS, UNCHANGED):
        raise ValueError(f"no movement bar {category!r} / {part!r}")
    sql, params = movement_sql(con, view, since)
    frame = con.cursor().execute(
        f"""select *, count(*) over () as matching, sum(movement) over () as bar_amount
            from ({bar_deals_sql(f"({sql})")})
            where category = ? and part = ?
            order by abs(movement) desc, opportunity_id limit ?""",  # noqa: S608
        params + [category, part, limit]).df()
    total = int(frame["matching"].iloc[0]) if len(frame) else 0
    amount = float(frame["bar_amount"].iloc[0]) if len(frame) else 0.0
    return dated(frame.drop(columns=["matching", "bar_amount", "category", "part"])), total, amount


_DATE_COLUMNS = ("close_date", "close_then", "close_now", "created_date", "sales_accepted_date")


def dated(frame: pd.DataFrame) -> pd.DataFrame:
    """Date columns from DuckDB (timestamps in pandas) back to dates, for tables and CSV."""
    for column in _DATE_COLUMNS:
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def waterfall_frame(moved: Movement) -> pd.DataFrame:
    """The waterfall for one category: start, each part (signed), end.

    Grain: one row per bar, in order. Columns: part (key), label, amount (float), count,
    measure ('absolute' for start and end, 'relative' for the parts — Plotly's waterfall)."""
    rows = [("start", "At last call", moved.start, moved.start_count, "absolute")]
    rows += [(p, PART_LABELS[p], moved.parts[p], moved.counts[p], "relative") for p in PARTS]
    rows.append(("end", "Now", moved.end, moved.end_count, "total"))
    frame = pd.DataFrame(rows, columns=["part", "label", "amount", "count", "measure"])
    frame["amount"] = frame["amount"].astype("float64")
    return frame


def as_report(moves: dict[str, Movement], win: Window) -> dict:
    """The report's `movement` keys: from, to, and per category start, the parts, end (floats;
    outflows negative)."""
    out: dict[str, object] = {"from": win.since.isoformat() if win.since else None,
                              "to": win.now.isoformat() if win.now else None}
    for category, moved in moves.items():
        out[category] = {"start": float(moved.start),
                         **{p: float(moved.parts[p]) for p in PARTS},
                         "end": float(moved.end)}
    return out

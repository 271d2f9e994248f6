"""The in-blood number (docs/metrics.md#8-in-blood-number): deal-by-deal decisions, their
starting point, and totals.

A manager starts from the period's latest saved call for the same filter scope (else from the
default rules in settings): each open Commit / Best Case / Pipeline deal closing in the period
is included or excluded. A saved decision is kept as long as it still means something: if the
deal changed category since the call and the decision merely followed that old category's
default, the deal starts at its new category's default instead (nobody decided it).

In-blood = closed won + included deals; upside = excluded Commit + excluded Best Case; the
forecast range is [in-blood, in-blood + upside].
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

import duckdb
import pandas as pd
import pyarrow as pa

from sales.query import snapshot_on_or_before
from sales.rollup import closed_won, deals_in_period
from sales.settings import Settings
from sales.slippage import history_facts_sql
from sales.sql import Sql, sql
from sales.stages import BEST_CASE, COMMIT, FORECASTABLE_CATEGORIES, OPEN_CATEGORIES, PIPELINE
from sales.view import ZERO, Measure, View

DEFAULT_RULES = "default rules"
# A deal pushed this many times into a later period is flagged: a pattern, not bad luck.
PUSH_FLAG_COUNT = 2
# Commit not yet in a redlining stage (commit risk, docs/metrics.md#8-in-blood-number) grows
# louder as the period ends: a note before the last third of the period, a warning (and each
# such deal flagged on the board) in its last third, an alarm in its last sixth.
COMMIT_RISK_SHARE_LEFT = 1 / 3
COMMIT_ALARM_SHARE_LEFT = 1 / 6
NOTE, WARNING, ALARM, OVER = "note", "warning", "alarm", "over"
# The name held facts are registered under for one query.
_HELD_FACTS = "board_open_deal_facts"


def commit_risk_from(view: View, share_left: float = COMMIT_RISK_SHARE_LEFT) -> date:
    """The first day on which `share_left` of the view's period (or less) is left."""
    return date.fromordinal(view.period.end.toordinal() - int(view.period.days * share_left))


def days_left(view: View) -> int:
    """Days from the view's date to the end of its period (negative once it has ended)."""
    return (view.period.end - view.as_of).days


def commit_risk_level(view: View) -> str:
    """How loudly commit risk speaks at the view's date: NOTE, WARNING (from
    `commit_risk_from`), ALARM (from the last sixth), OVER once the period has ended."""
    if view.as_of > view.period.end:
        return OVER
    if view.as_of >= commit_risk_from(view, COMMIT_ALARM_SHARE_LEFT):
        return ALARM
    return WARNING if view.as_of >= commit_risk_from(view) else NOTE


@dataclass(frozen=True)
class InBlood:
    """Grain: the view's period. number = closed won + included; upside = excluded Commit and
    Best Case; the forecast range is [number, number + upside]."""

    number: float
    upside: float
    closed_won: float
    included: float
    source: str
    call_id: int | None = None
    commit_risk: Measure = ZERO  # Commit in the period not yet in a redlining stage
    commit_risk_level: str = NOTE  # `commit_risk_level`
    days_left: int = 0  # in the period, from as-of

    @property
    def range_high(self) -> float:
        return self.number + self.upside

    def as_report(self) -> dict[str, object]:
        """The report's `in_blood` keys."""
        return {"number": self.number, "upside": self.upside, "range_high": self.range_high,
                "source": self.source,
                "commit_risk": {**self.commit_risk.as_report(), "level": self.commit_risk_level,
                                "days_left": self.days_left}}


def default_includes(settings: Settings) -> dict[str, bool]:
    """Category → included by default (settings: Commit in, Best Case out, Pipeline out)."""
    return {COMMIT: settings.inblood_include_commit,
            BEST_CASE: settings.inblood_include_best_case,
            PIPELINE: settings.inblood_include_pipeline}


def latest_call(con: duckdb.DuckDBPyConnection, view: View) -> tuple[int, datetime] | None:
    """The newest call saved for this period and filter scope on or before the as-of date."""
    return con.cursor().execute(
        """select call_id, saved_at from forecast_calls
           where period = ? and scope = ? and call_date <= ?
           order by saved_at desc, call_id desc limit 1""",
        [view.period.label, view.filters.scope_key(), view.as_of],
    ).fetchone()


def call_source(saved_at: datetime) -> str:
    return f"saved call {saved_at.isoformat(sep=' ', timespec='seconds')}"


def board_sql(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
              call_id: int | None, facts: bool = True, held_facts: str | None = None) -> Sql:
    """The in-blood board: every open Commit, Best Case and Pipeline deal closing in the period.

    Grain: one row per opportunity. Besides the deal's columns: the saved call's decision
    (saved_included, saved_reason, saved_amount, saved_category; null when the deal is new since
    the call), default_included, and `start_included` / `start_reason` (where the board starts).
    With `facts` (the board as a manager reads it) also push_count, days_in_stage,
    stage_median_days (median of open deals in the same segment and stage) and the flags
    (flag_pushed, flag_past_close, flag_stuck, flag_commit_risk, flag_changed, flag_new).
    Without them the history is not read at all: totals and saving a call need only the start.
    `held_facts` names a relation holding `sales.slippage.open_deal_facts` for the view's
    snapshot (registered by the caller): the facts are then looked up, not computed.
    """
    deals = deals_in_period(con, view)
    defaults = default_includes(settings)
    facts_sql, computed = _NO_FACTS, sql("")
    if facts and held_facts:
        facts_sql = _facts_sql(held_facts)
    elif facts:  # computed for this board's deals only
        snapshot = snapshot_on_or_before(con, view.as_of) or date.min  # none: no history
        computed = history_facts_sql("select opportunity_id from open_deals", snapshot,
                                     view.period.fy_start_month)
        facts_sql = _facts_sql(f"({computed})")
    return sql(f"""
        with params as (
            select $inc_commit::boolean as inc_commit, $inc_best::boolean as inc_best,
                   $inc_pipe::boolean as inc_pipe, $board_call::bigint as call_id,
                   $as_of::date as as_of, $risk_from::date as risk_from
        ),
        open_deals as (
            select * from ({deals}) d where list_contains($open_categories, d.category)
        ),{facts_sql["ctes"]}
        decisions as (
            select x.* from forecast_call_decisions x, params p where x.call_id = p.call_id
        ),
        board as (
            select d.*,
                   {facts_sql["push_count"]} as push_count,
                   {facts_sql["days_in_stage"]} as days_in_stage,
                   x.included as saved_included, x.reason as saved_reason,
                   x.amount::double as saved_amount, x.forecast_category as saved_category,
                   case d.category when $commit then p.inc_commit
                                   when $best_case then p.inc_best else p.inc_pipe end
                       as default_included,
                   case x.forecast_category when $commit then p.inc_commit
                                            when $best_case then p.inc_best
                                            else p.inc_pipe end as saved_default,
                   p.as_of, p.risk_from, x.opportunity_id is not null as in_call,
                   p.call_id is not null as has_call
            from open_deals d cross join params p
            {facts_sql["joins"]}
            left join decisions x using (opportunity_id)
        ){facts_sql["medians"]}
        select opportunity_id, name, account_name, owner, team, segment, region, type,
               category, stage, amount::double as amount, close_date, next_step, redlining,
               saved_included, saved_reason, saved_amount, saved_category, default_included,
               case when not in_call then default_included
                    when saved_category <> category  -- null-safe: unknown category keeps it
                         and saved_included = saved_default then default_included
                    else saved_included end as start_included,
               case when in_call and saved_category is not distinct from category
                    or in_call and saved_category is null then saved_reason end as start_reason
               {facts_sql["columns"]}
        from board {facts_sql["medians_join"]}
    """, deals, computed, inc_commit=defaults[COMMIT],  # noqa: S608 - fixed SQL; values are bound
               inc_best=defaults[BEST_CASE], inc_pipe=defaults[PIPELINE], board_call=call_id,
               as_of=view.as_of, risk_from=commit_risk_from(view),
               open_categories=list(OPEN_CATEGORIES), commit=COMMIT, best_case=BEST_CASE)


def _facts_sql(source: str) -> dict[str, str]:
    """The board's reading aids over the history, as pieces of board_sql: pushes and time in
    the current stage from `source` (a relation or subquery of opportunity_id, push_count,
    entered_stage: `sales.slippage.history_facts_sql`), the segment-stage median and flags."""
    columns = f""",
               push_count, days_in_stage, stage_median_days,
               push_count >= {PUSH_FLAG_COUNT} as flag_pushed,
               close_date < as_of as flag_past_close,
               coalesce(days_in_stage > stage_median_days, false) as flag_stuck,
               category = $commit and not redlining and as_of >= risk_from
                   as flag_commit_risk,
               in_call and (saved_amount is distinct from amount
                            or saved_category is distinct from category) as flag_changed,
               has_call and not in_call as flag_new"""
    return {
        "ctes": f"""
        facts as (select opportunity_id, push_count, entered_stage from {source}),""",  # noqa: S608
        "push_count": "coalesce(f.push_count, 0)",
        "days_in_stage": "datediff('day', f.entered_stage, p.as_of)",
        "joins": "left join facts f using (opportunity_id)",
        "medians": """,
        medians as (
            select segment, stage, median(days_in_stage) as stage_median_days
            from board group by all
        )""",
        "columns": columns,
        "medians_join": "left join medians using (segment, stage)",
    }


# Without facts nothing reads the history: the two columns that need it are null.
_NO_FACTS = {"ctes": "", "push_count": "null::bigint", "days_in_stage": "null::bigint",
             "joins": "", "medians": "", "columns": "", "medians_join": ""}


@dataclass(frozen=True)
class Board:
    """Where the in-blood board starts, aggregated. Grain: the view's period.

    `totals` and `start_included` are per open category (amount); the deals themselves stay
    in DuckDB and reach pandas a page at a time.
    """

    closed_won: float
    totals: dict[str, float]
    counts: dict[str, int]
    start_included: dict[str, float]
    call_id: int | None
    source: str
    commit_risk: Measure = ZERO  # Commit not yet in a redlining stage (docs/metrics.md#8-in-blood-number)


def board_summary(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
                  use_saved_call: bool = True) -> Board:
    """The board's starting totals: closed won, and per category the open amount, the deal
    count and the amount included at the start (saved call's decisions, else the rules)."""
    call = latest_call(con, view) if use_saved_call else None
    call_id = call[0] if call else None
    board = board_sql(con, view, settings, call_id, facts=False)
    rows = con.cursor().execute(*sql(
        f"""select category, sum(amount), count(*),
                   coalesce(sum(amount) filter (where start_included), 0),
                   coalesce(sum(amount) filter (where not redlining), 0),
                   count(*) filter (where not redlining)
            from ({board}) group by 1""", board)).fetchall()  # noqa: S608
    found = {category: (float(total), int(count), float(included))
             for category, total, count, included, *_ in rows}
    risk = next((Measure(float(amount), int(count)) for category, *_, amount, count in rows
                 if category == COMMIT), ZERO)
    return Board(
        closed_won=closed_won(con, view).amount,
        totals={c: found.get(c, (0.0, 0, 0.0))[0] for c in OPEN_CATEGORIES},
        counts={c: found.get(c, (0.0, 0, 0.0))[1] for c in OPEN_CATEGORIES},
        start_included={c: found.get(c, (0.0, 0, 0.0))[2] for c in OPEN_CATEGORIES},
        call_id=call_id,
        source=call_source(call[1]) if call else DEFAULT_RULES,
        commit_risk=risk,
    )


def in_blood(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
             use_saved_call: bool = True) -> InBlood:
    """In-blood number and upside for the view: the latest saved call's decisions (deals new
    since then at their defaults), or the default rules when there is no call or when asked."""
    board = board_summary(con, view, settings, use_saved_call)
    now = totals(board, {})
    return InBlood(now.number, now.upside, now.closed_won, now.included, board.source,
                   board.call_id, board.commit_risk, commit_risk_level(view), days_left(view))


@dataclass(frozen=True)
class Change:
    """One deal's decision on the board, different from where it started."""

    included: bool
    reason: str
    amount: float
    category: str
    start_included: bool


class Totals(NamedTuple):
    number: float
    upside: float
    closed_won: float
    included: float

    @property
    def range_high(self) -> float:
        """The top of the forecast range: in-blood plus upside."""
        return self.number + self.upside


def totals(board: Board, changes: dict[str, Change]) -> Totals:
    """In-blood and upside after the manager's changes. Work is O(changes), not O(deals), so a
    toggle stays instant on a board of tens of thousands of deals."""
    included = dict(board.start_included)
    for change in changes.values():
        if change.included != change.start_included:
            included[change.category] += change.amount if change.included else -change.amount
    number = board.closed_won + sum(included.values())
    upside = sum(board.totals[c] - included[c] for c in FORECASTABLE_CATEGORIES)
    return Totals(number, upside, board.closed_won, sum(included.values()))


def default_totals(closed_won: float, open_amounts: Mapping[str, float],
                   settings: Settings) -> Totals:
    """The in-blood number under the default rules, from closed won and the open amount per
    category (a missing category counts 0): closed won + the categories the rules include;
    upside = the forecastable categories they leave out. Grain: one period at one date."""
    include = default_includes(settings)
    included = sum(open_amounts.get(c, 0.0) for c in OPEN_CATEGORIES if include[c])
    upside = sum(open_amounts.get(c, 0.0) for c in FORECASTABLE_CATEGORIES if not include[c])
    return Totals(closed_won + included, upside, closed_won, included)


def board_page(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
               call_id: int | None, where: BoardFilter | None = None, limit: int = 200,
               offset: int = 0, facts: pa.Table | None = None) -> tuple[pd.DataFrame, int]:
    """One page of the board, largest deals first. Returns (frame, rows matching the filter).

    One pass: the count rides along as a window over the filtered board. `facts` is
    `sales.slippage.open_deal_facts` for the view's snapshot when the caller holds it."""
    condition = (where or BoardFilter()).condition()
    with _facts_registered(con, facts) as (cur, held):
        board = board_sql(cur, view, settings, call_id, held_facts=held)
        frame = cur.execute(*sql(
            f"""select *, count(*) over () as matching from ({board}) b where {condition}
                order by amount desc, opportunity_id limit $limit offset $offset""",  # noqa: S608
            board, condition, limit=limit, offset=offset)).df()
        if frame.empty and offset:  # past the last page: the count still has to be told
            total = cur.execute(*sql(f"select count(*) from ({board}) b where {condition}",  # noqa: S608
                                     board, condition)).fetchall()[0][0]
            return frame.drop(columns="matching"), int(total)
    total = int(frame["matching"].iloc[0]) if len(frame) else 0
    return frame.drop(columns="matching"), total


@contextmanager
def _facts_registered(con: duckdb.DuckDBPyConnection, facts: pa.Table | None
                      ) -> Iterator[tuple[duckdb.DuckDBPyConnection, str | None]]:
    """A cursor with the held facts registered on it (and their name), or a plain one."""
    cur = con.cursor()
    try:
        if facts is None:
            yield cur, None
            return
        cur.register(_HELD_FACTS, facts)
        try:
            yield cur, _HELD_FACTS
        finally:
            cur.unregister(_HELD_FACTS)
    finally:
        cur.close()


# Flags a manager can narrow the board to, by their column in board_sql.
FLAG_COLUMNS = {
    "pushed": "flag_pushed", "past close": "flag_past_close", "stuck": "flag_stuck",
    "commit risk": "flag_commit_risk", "changed since call": "flag_changed",
    "new since call": "flag_new",
}


@dataclass(frozen=True)
class BoardFilter:
    """Narrowing the board on the page: categories, owners, flags (any of), a text search."""

    categories: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    search: str = ""

    def condition(self) -> Sql:
        """The narrowing as a SQL condition over the board (`true` when none)."""
        clauses, values = [], {}
        if self.categories:
            clauses.append("list_contains($board_categories, category)")
            values["board_categories"] = list(self.categories)
        if self.owners:
            clauses.append("list_contains($board_owners, owner)")
            values["board_owners"] = list(self.owners)
        if self.flags:
            unknown = [f for f in self.flags if f not in FLAG_COLUMNS]
            if unknown:
                raise ValueError(f"unknown flag {unknown[0]!r}")
            clauses.append("(" + " or ".join(FLAG_COLUMNS[f] for f in self.flags) + ")")
        if self.search.strip():
            clauses.append("(account_name ilike $board_search or name ilike $board_search "
                           "or opportunity_id ilike $board_search)")
            values["board_search"] = f"%{self.search.strip()}%"
        return sql(" and ".join(clauses) or "true", **values)


def board_members(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
                  call_id: int | None, where: BoardFilter, facts: pa.Table | None = None
                  ) -> pd.DataFrame:
    """The deals a bulk action applies to (id, amount, category, start decision and reason).

    Grain: one row per matching opportunity; few columns, so a whole category fits. The
    history is read only when the filter asks for a flag (looked up in `facts` when held)."""
    condition = where.condition()
    with _facts_registered(con, facts) as (cur, held):
        board = board_sql(cur, view, settings, call_id, facts=bool(where.flags),
                          held_facts=held)
        return cur.execute(*sql(
            f"""select opportunity_id, amount, category, start_included, start_reason,
                       default_included
                from ({board}) b where {condition}""",  # noqa: S608
            board, condition)).df()


def changes_for(members: pd.DataFrame, included: bool | None, reason: str = "") -> dict[str, Change]:
    """Changes that set every member to `included` (None: back to its default)."""
    out = {}
    for row in members.itertuples(index=False):
        target = row.default_included if included is None else included
        out[row.opportunity_id] = Change(bool(target), reason or "", float(row.amount),
                                         row.category, bool(row.start_included))
    return out


# Deals listed on each side of the make-or-break table.
MAKE_OR_BREAK_DEALS = 5
_MAKE_OR_BREAK_COLUMNS = ("opportunity_id", "name", "account_name", "owner", "segment",
                          "category", "stage", "amount", "close_date")


def make_or_break(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
                  use_saved_call: bool = True, n: int = MAKE_OR_BREAK_DEALS) -> pd.DataFrame:
    """The largest deals the in-blood number includes, and the largest Commit and Best Case
    deals it leaves out (the upside), as the in-blood board starts (the saved call's decisions,
    else the rules). Grain: up to `n` deals a side, included first, largest first; `included`
    says the side."""
    call = latest_call(con, view) if use_saved_call else None
    board = board_sql(con, view, settings, call[0] if call else None, facts=False)
    return con.cursor().execute(*sql(
        f"""select {", ".join(_MAKE_OR_BREAK_COLUMNS)}, start_included as included from (
                select *, row_number() over (partition by start_included
                                             order by amount desc, opportunity_id) as rank
                from ({board}) b
                where start_included or list_contains($forecastable, category))
            where rank <= $deals order by included desc, amount desc, opportunity_id""",  # noqa: S608
        board, forecastable=list(FORECASTABLE_CATEGORIES), deals=n)).df()

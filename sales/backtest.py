"""Which forecast method would have called it? Every method replayed on our own history.

For each completed period P and each week w = 1 … ceil(days(P) / 7) of it, seen as of
A_w = P's first day + 7·(w − 1) days (the state at the latest snapshot on or before A_w,
docs/data-model.md#snapshots-and-history-intervals), each method gives the number it would
have forecast then:

- `commit`: Closed + Commit (open, qualified, closing in P);
- `best_case`: Closed + Commit + Best Case;
- `default_rules`: the in-blood number under the default rules in settings
  (docs/metrics.md#8-in-blood-number);
- `saved_calls`: the in-blood number of the latest call saved on or before A_w for P and the
  view's filter scope (what the call committed to: closed won then + the deals it included);
- `submissions`: the sum of each owner's latest submission on or before A_w (the owners of the
  view's deals when it is filtered, `sales.smb.bottom_up`);
- `smb_weighted`: docs/metrics.md#7-smb-weighted-forecast at A_w for the view as filtered
  (not narrowed to SMB);
- `stage_weighted`: Closed + Σ open, qualified amount × its stage's probability (the stage
  map's `probability`; a stage without one counts at its category's).

Actual = closed won in P as known at the latest data (the state as of the backtest's as-of).
error = (forecast − actual) / actual; a method with nothing to say (no snapshot yet, no saved
call, no submission) has a null forecast and error.

How it is computed: one query reads the change rows (opportunity_history valid_from/valid_to)
for every (period, week) at once, and for the SMB method every past period at the same offset,
into a small filter-free cube (`cube`, grain: period × week × part × kind × the filter
dimensions). Each method is then a function of what one period looked like at one date through
the filters (`Seen`), so a filter change re-reads the cube, not the history.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import duckdb
import pandas as pd
import pyarrow as pa

from sales import formatting as fmt
from sales.export import csv_bytes
from sales.inblood import default_totals
from sales.people_accuracy import people_accuracy, people_report
from sales.periods import QUARTER, Period, period_containing
from sales.query import DESCRIPTIVE_FILTERS, KNOWN_DEALS, deals_sql, report_category_sql, state_key
from sales.records import records
from sales.rollup import rollup_at
from sales.settings import Settings
from sales.smb import MANAGERS_AT, NEW, fallback_rates, weighted_forecast
from sales.snapshots import standing_sql
from sales.sql import rows_sql, sql
from sales.stages import (
    BEST_CASE,
    CATEGORY_COLUMNS,
    CATEGORY_PROBABILITIES,
    CLOSED,
    COMMIT,
    OPEN_CATEGORIES,
    stage_flag_sql,
)
from sales.view import FILTER_DIMENSIONS, Filters, View, ratio

COMMIT_METHOD, BEST_CASE_METHOD, DEFAULT_RULES = "commit", "best_case", "default_rules"
SAVED_CALLS, SUBMISSIONS, SMB_WEIGHTED, STAGE_WEIGHTED = (
    "saved_calls", "submissions", "smb_weighted", "stage_weighted")
# The projection's P50 (sales.winprob.replay): read from the deals, not the cube, so it is
# added to a result by `with_projection` rather than computed by `run`.
PROJECTION = "projection"
METHODS = (COMMIT_METHOD, BEST_CASE_METHOD, DEFAULT_RULES, SAVED_CALLS, SUBMISSIONS,
           SMB_WEIGHTED, STAGE_WEIGHTED, PROJECTION)
# How a manager reads each method's name.
METHOD_LABELS = {
    COMMIT_METHOD: "Closed + Commit",
    BEST_CASE_METHOD: "Closed + Commit + Best Case",
    DEFAULT_RULES: "In-blood, default rules",
    SAVED_CALLS: "Saved calls",
    SUBMISSIONS: "Reps' submissions",
    SMB_WEIGHTED: "Weighted forecast (SMB method)",
    STAGE_WEIGHTED: "Stage probabilities",
    PROJECTION: "Projection (win probabilities, P50)",
}
# How a sentence names each method ("for SMB the weighted forecast is within 6% …").
_SENTENCE_NAMES = {
    COMMIT_METHOD: "Closed + Commit",
    BEST_CASE_METHOD: "Closed + Commit + Best Case",
    DEFAULT_RULES: "in-blood number under the default rules",
    SAVED_CALLS: "saved calls",
    SUBMISSIONS: "reps' submissions",
    SMB_WEIGHTED: "weighted forecast",
    STAGE_WEIGHTED: "stage-probability forecast",
    PROJECTION: "projection",
}
# How many completed periods the backtest looks at by default.
DEFAULT_PERIODS = 4
# The sentence calls a method "within x%" from the week its error stays at or under this.
WITHIN_SHARE = 0.10
# Parts of the cube.
STATE, RATED, CREATED, ACTUAL = "state", "rated", "new", "actual"


def week_count(period: Period) -> int:
    """Weeks of the period: ceil(days / 7) (a 92-day quarter has 14, the last one day long)."""
    return math.ceil(period.days / 7)


def week_day(period: Period, week: int) -> date:
    """A_w: the day week w of the period is seen from (its first day + 7·(w − 1))."""
    return period.start + timedelta(days=7 * (week - 1))


def week_of(period: Period, day: date) -> int:
    """The week of the period a day falls in: the latest w whose A_w is on or before it (1 for
    the period's first seven days). What is saved or snapshotted that day counts from week
    w + 1, unless the day is A_w itself."""
    return (day - period.start).days // 7 + 1


def default_periods(as_of: date, fy_start_month: int, kind: str = QUARTER,
                    n: int = DEFAULT_PERIODS) -> list[Period]:
    """The n completed fiscal periods of a kind before the one holding `as_of`, oldest first."""
    return period_containing(as_of, kind, fy_start_month).previous(n)


def _on_or_before(dates: list[date], day: date) -> date | None:
    return max((d for d in dates if d <= day), default=None)


@dataclass(frozen=True)
class Past:
    """One past period the SMB method learns from at one (period, week): R_Q, the snapshot
    read there (None: skipped) and the one at its end."""

    period: Period
    r_day: date
    snap_r: date | None
    snap_end: date | None


@dataclass(frozen=True)
class Key:
    """One (period, week): the date it is seen from, the snapshot that fixes the state then
    (None: no snapshot yet, nothing is known) and the past periods the SMB method reads."""

    period: Period
    week: int
    as_of: date
    snapshot: date | None
    past: tuple[Past, ...]


def keys(dates: list[date], periods: list[Period], history_periods: int) -> list[Key]:
    """Every (period, week) of the backtest, from the snapshot dates (oldest first)."""
    out = []
    for period in periods:
        for week in range(1, week_count(period) + 1):
            day = week_day(period, week)
            past = []
            for q in period.previous(history_periods):
                r_day = q.same_offset(day, period)
                past.append(Past(q, r_day, max((d for d in dates if q.start <= d <= r_day),
                                               default=None),
                                 max((d for d in dates if q.start <= d <= q.end), default=None)))
            out.append(Key(period, week, day, _on_or_before(dates, day), tuple(past)))
    return out


def _months(start: date, end: date) -> list[int]:
    """Calendar-month numbers (year·12 + month) a span covers: fiscal periods are whole
    months, so rows are matched to periods by an equality join on the close date's month."""
    first, last = start.year * 12 + start.month, end.year * 12 + end.month
    return list(range(first, last + 1))


_MONTH = "(year(s.close_date) * 12 + month(s.close_date))"


def cube_sql(con: duckdb.DuckDBPyConnection, periods: list[Period], as_of: date,
             history_periods: int):
    """The backtest cube for `periods` seen from `as_of`, every filter dimension kept.

    Grain: one row per (period, week, part, kind, past, segment, region, team, type, channel,
    owner). Parts: STATE (kind = report category of the deals closing in the period at A_w;
    amount, weighted = Σ amount × stage probability / 100, deals), RATED and CREATED (the SMB
    method's history: per past period Q, the amount at R_Q of the deals then in kind, or
    created after R_Q, and what of it was won in Q as known at A_w), ACTUAL (week 0: closed won
    in the period as known at `as_of`). Owner is the deal's owner in that state; the other
    dimensions the deal's own.
    """
    found = keys(snapshot_dates_of(con), periods, history_periods)
    none = date.min  # a row that matches nothing keeps an inline table non-empty
    key_rows = [{"period": k.period.label, "week": k.week, "snap": k.snapshot}
                for k in found if k.snapshot is not None] or [
        {"period": "", "week": 0, "snap": none}]
    period_months = [{"period": p.label, "month": m} for p in periods
                     for m in _months(p.start, p.end)]
    past_rows = [{"period": k.period.label, "week": k.week, "snap": k.snapshot,
                  "past": p.period.label, "r_day": p.r_day, "snap_r": p.snap_r,
                  "snap_end": p.snap_end}
                 for k in found if k.snapshot is not None for p in k.past
                 if p.snap_r is not None] or [
        {"period": "", "week": 0, "snap": none, "past": "", "r_day": none, "snap_r": none,
         "snap_end": none}]
    pasts = {p.period.label: p.period for k in found for p in k.past}
    past_months = [{"past": label, "month": m} for label, q in pasts.items()
                   for m in _months(q.start, q.end)] or [{"past": "", "month": 0}]
    period_rows = [{"period": p.label, "p_start": p.start, "p_end": p.end} for p in periods]
    inline = [rows_sql("backtest_keys", key_rows), rows_sql("backtest_months", period_months),
              rows_sql("backtest_pasts", past_rows),
              rows_sql("backtest_past_months", past_months),
              rows_sql("backtest_periods", period_rows),
              rows_sql("category_probability", [{"category": c, "probability": float(p)}
                                                for c, p in CATEGORY_PROBABILITIES.items()])]
    latest = deals_sql(state_key(con, as_of))

    def dims(alias: str) -> str:
        return ", ".join(f"{alias}.{c}" for c in (*DESCRIPTIVE_FILTERS, "owner"))

    def events(source: str, by: str, values: str, negated: str) -> str:
        """A relation's rows as +value on valid_from and −value on valid_to, summed per day:
        the amount standing on day D is the sum over days <= D (rows are open intervals)."""
        return f"""select {by}, day, {", ".join(f"sum({v}) as {v}" for v in values.split(", "))}
            from (select {by}, valid_from as day, {values} from {source}
                  union all
                  select {by}, valid_to, {negated} from {source}
                  where valid_to is not null)
            group by all"""  # noqa: S608 - names from this function's callers

    # The dimensions ride through the heavy sums as one hash (`gid`) and are joined back at the
    # end: grouping millions of rows by six text columns costs several times more.
    group = "kind, gid"
    descriptive = ", ".join(DESCRIPTIVE_FILTERS)
    return sql(f"""
        with keys as (select * from {inline[0]}),
        period_months as (select * from {inline[1]}),
        pasts as (select * from {inline[2]}),
        past_months as (select * from {inline[3]}),
        periods as (select * from {inline[4]}),
        cp as (select * from {inline[5]}),
        wanted as (select month from period_months union select month from past_months),
        -- Every change row closing in a month of a period or of a past period, with its
        -- category, flags, stage probability and the deal's dimensions: read once.
        deals as (select opportunity_id, created_date, hash({descriptive}) as dgid
                  from {KNOWN_DEALS}),
        dim_values as (select distinct hash({descriptive}) as dgid, {descriptive}
                       from {KNOWN_DEALS}),
        h as materialized (
            select s.opportunity_id, {_MONTH} as month, s.valid_from, s.valid_to,
                   s.amount, {report_category_sql()} as kind,
                   coalesce(m.probability, cp.probability, 0) / 100 as probability,
                   {stage_flag_sql("qualified")} as qualified,
                   {stage_flag_sql("closed")} as closed,
                   {stage_flag_sql("closed")} and {stage_flag_sql("won")} as won,
                   s.owner, o.dgid, o.created_date, hash(o.dgid, s.owner) as gid
            from opportunity_history s
            left join stage_map m on m.stage = s.stage
            left join cp on cp.category = {report_category_sql()}
            left join deals o using (opportunity_id)
            where {_MONTH} in (select month from wanted)),
        -- State at each A_w: the rows standing on its snapshot, as sums of events.
        in_period as (
            select pm.period, h.*, h.amount * h.probability as weighted, 1 as deals
            from h join period_months pm using (month)),
        state_days as ({events("in_period", f"period, {group}", "amount, weighted, deals",
                               "-amount, -weighted, -deals")}),
        state as (
            select k.period, k.week, $state_part as part, e.kind, '' as past,
                   e.gid, sum(e.amount)::double as amount,
                   sum(e.weighted)::double as weighted, 0.0 as won, sum(e.deals) as deals
            from keys k join state_days e on e.period = k.period and e.day <= k.snap
            group by all having sum(e.deals) <> 0),
        -- The SMB method's history: what stood in each open category at R_Q ...
        past_weeks as (select distinct past, week, r_day, snap_r from pasts),
        open_then as (
            select pm.past, h.* from h join past_months pm using (month)
            where h.qualified and not h.closed and list_contains($open_categories, h.kind)),
        rated_days as ({events("open_then", f"past, {group}", "amount", "-amount")}),
        rated_then as (
            select w.past, w.week, $rated_part as part, e.kind, e.gid,
                   sum(e.amount) as amount
            from past_weeks w join rated_days e on e.past = w.past and e.day <= w.snap_r
            group by all),
        -- ... and the pipeline created after R_Q, at Q's end ...
        at_end as (
            select pm.past, h.* from h join past_months pm using (month)
            join (select distinct past, snap_end from pasts) e
              on e.past = pm.past and {standing_sql("e.snap_end", "h")}
            where h.qualified),
        created_then as (
            select w.past, w.week, $created_part as part, $new_kind as kind, a.gid,
                   sum(a.amount) as amount
            from (select past, created_date, gid, sum(amount) as amount
                  from at_end group by all) a
            join past_weeks w on w.past = a.past and a.created_date > w.r_day
            group by all),
        -- ... and what of it was won in Q, per interval of the win (judged at each A_w).
        wins as (
            select pm.past, h.opportunity_id, h.valid_from, h.valid_to, h.amount
            from h join past_months pm using (month) where h.won),
        rated_won as (
            select w.past, w.week, $rated_part as part, o.kind, o.gid,
                   x.valid_from as won_from, x.valid_to as won_to, sum(x.amount) as won
            from open_then o
            join wins x on x.opportunity_id = o.opportunity_id and x.past = o.past
            join past_weeks w on w.past = o.past and {standing_sql("w.snap_r", "o")}
            group by all),
        created_won as (
            select w.past, w.week, $created_part as part, $new_kind as kind, a.gid,
                   a.won_from, a.won_to, sum(a.won) as won
            from (select a.past, a.created_date, a.gid, x.valid_from as won_from,
                         x.valid_to as won_to, sum(x.amount) as won
                  from at_end a
                  join wins x on x.opportunity_id = a.opportunity_id and x.past = a.past
                  group by all) a
            join past_weeks w on w.past = a.past and a.created_date > w.r_day
            group by all),
        learned as (
            select p.period, p.week, t.part, t.kind, t.past, t.gid,
                   t.amount::double as amount, 0.0 as weighted, 0.0 as won, 0 as deals
            from (select * from rated_then union all select * from created_then) t
            join pasts p on p.past = t.past and p.week = t.week
            union all
            select p.period, p.week, x.part, x.kind, x.past, x.gid, 0.0, 0.0,
                   x.won::double, 0
            from (select * from rated_won union all select * from created_won) x
            join pasts p on p.past = x.past and p.week = x.week and x.won_from <= p.snap
                        and (x.won_to is null or x.won_to > p.snap)),
        closed as (
            select p.period, 0 as week, $actual_part as part, $closed as kind, '' as past,
                   {dims("l")}, sum(l.amount)::double as amount, 0.0 as weighted, 0.0 as won,
                   count(*) as deals
            from ({latest}) l join periods p on l.close_date between p.p_start and p.p_end
            where l.category = $closed
            group by all),
        described as (
            select g.gid, {", ".join(f"v.{c}" for c in DESCRIPTIVE_FILTERS)}, g.owner
            from (select distinct gid, dgid, owner from h) g left join dim_values v using (dgid)),
        summed as (
            select period, week, part, kind, past, gid, sum(amount) as amount,
                   sum(weighted) as weighted, sum(won) as won, sum(deals) as deals
            from (select * from state union all select * from learned)
            group by all)
        select s.period, s.week::integer as week, s.part, s.kind, s.past, {dims("d")},
               s.amount::double as amount, s.weighted::double as weighted,
               s.won::double as won, s.deals::bigint as deals
        from summed s join described d using (gid)
        union all
        select period, week::integer, part, kind, past, {dims("closed")}, amount, weighted,
               won, deals::bigint
        from closed
    """, latest, *inline,  # noqa: S608 - fixed SQL; values are bound
        new_kind=NEW, rated_part=RATED, created_part=CREATED, state_part=STATE,
        actual_part=ACTUAL, closed=CLOSED, open_categories=list(OPEN_CATEGORIES))


def cube(con: duckdb.DuckDBPyConnection, periods: tuple[Period, ...], as_of: date,
         history_periods: int) -> pa.Table:
    """`cube_sql` read into an Arrow table (thousands of rows, filter-free) a cache can hold."""
    query = cube_sql(con, list(periods), as_of, history_periods)
    return con.cursor().sql(query.text, params=dict(query.params)).to_arrow_table()


# --- Saved calls and submissions (they depend on the filters; small tables) ---------------------


_CALL_COLUMNS = ["period", "week", "call_id", "call_date", "in_blood"]


def call_scopes(con: duckdb.DuckDBPyConnection, periods: tuple[Period, ...]) -> frozenset[str]:
    """The filter scopes that have a call saved for any of the periods."""
    return frozenset(r[0] for r in con.cursor().execute(
        "select distinct scope from forecast_calls where list_contains(?, period)",
        [[p.label for p in periods]]).fetchall())


def calls_at(con: duckdb.DuckDBPyConnection, periods: tuple[Period, ...], filters: Filters,
             scopes: frozenset[str] | None = None) -> pd.DataFrame:
    """The latest call saved on or before each A_w, for each period and the filters' scope
    (`scopes`, from `call_scopes`, spares the query for a scope without any).

    Grain: one row per (period, week) that has one: call_id, call_date and its in-blood
    number (the closed won it was saved with, else closed won as of its date, plus the
    amounts it included)."""
    if scopes is not None and filters.scope_key() not in scopes:
        return pd.DataFrame(columns=_CALL_COLUMNS)
    wanted = [{"period": p.label, "week": w, "day": week_day(p, w)}
              for p in periods for w in range(1, week_count(p) + 1)]
    weeks = rows_sql("call_weeks", wanted)
    frame = con.cursor().execute(*sql(
        f"""with k as (select * from {weeks}),
            chosen as (
                select k.period, k.week, c.call_id, c.call_date, c.closed_won::double as saved
                from k join forecast_calls c on c.period = k.period and c.scope = $scope
                                          and c.call_date <= k.day
                qualify row_number() over (partition by k.period, k.week
                                           order by c.saved_at desc, c.call_id desc) = 1),
            included as (
                select call_id, coalesce(sum(amount) filter (where included), 0)::double
                           as included
                from forecast_call_decisions
                where call_id in (select call_id from chosen) group by 1)
            select c.period, c.week, c.call_id, c.call_date, c.saved,
                   coalesce(i.included, 0) as included
            from chosen c left join included i using (call_id)""",  # noqa: S608
        weeks, scope=filters.scope_key())).df()
    frame["call_date"] = pd.to_datetime(frame["call_date"]).dt.date
    frame["closed_won"] = frame["saved"]
    for (label, day), _ in frame[frame["saved"].isna()].groupby(["period", "call_date"]):
        # Calls saved without the figure (older files): closed won as it stood on the day.
        period = next(p for p in periods if p.label == label)
        won = rollup_at(con, View(period, day, filters), [day])[CLOSED].iloc[0]
        frame.loc[(frame["period"] == label) & (frame["call_date"] == day),
                  "closed_won"] = float(won)
    frame["in_blood"] = frame["closed_won"].astype("float64") + frame["included"]
    return frame[_CALL_COLUMNS]


def submissions_at(con: duckdb.DuckDBPyConnection, periods: tuple[Period, ...]) -> pd.DataFrame:
    """Each rep's latest call (`sales.people_calls`) submitted by the end of each A_w for the
    period (people with direct reports then are left out: their call is their team's number,
    `sales.smb.bottom_up`).

    Grain: one row per (period, week, owner) with a call: forecast."""
    wanted = [{"period": p.label, "week": w, "day": week_day(p, w)}
              for p in periods for w in range(1, week_count(p) + 1)]
    weeks = rows_sql("submission_weeks", wanted)
    managers = MANAGERS_AT.format(day="k.day")
    return con.cursor().execute(*sql(
        f"""select k.period, k.week, s.user_name as owner, s.forecast::double as forecast
            from {weeks} k
            join people_calls s on s.period = k.period
                               and s.submitted_at < k.day::date + interval 1 day
            where s.user_name not in ({managers})
            qualify row_number() over (partition by k.period, k.week, s.user_name
                                       order by s.submitted_at desc, s.call_id desc) = 1""",  # noqa: S608
        weeks)).df()


# --- What one period looked like at one date, and the methods ----------------------------------


@dataclass(frozen=True)
class Seen:
    """One period at one week through the filters: everything a method reads.

    `amounts` per report category (Closed = won) and `weighted` (Σ open, qualified amount ×
    stage probability) are None-free: a key without a snapshot has `snapshot` None. `rated`
    maps each open category to (amount at R_Q, of it won in Q) summed over the past periods
    read; `created` the same for the pipeline created after R_Q; `periods_read` how many."""

    period: str
    week: int
    as_of: date
    snapshot: date | None
    amounts: Mapping[str, float] = field(default_factory=dict)
    weighted: float = 0.0
    rated: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    created: tuple[float, float] = (0.0, 0.0)
    periods_read: int = 0
    call: float | None = None
    submitted: float | None = None

    def amount(self, category: str) -> float:
        return float(self.amounts.get(category, 0.0))


def commit(seen: Seen, settings: Settings) -> float | None:
    """Closed + Commit (open, qualified, closing in the period)."""
    if seen.snapshot is None:
        return None
    return seen.amount(CLOSED) + seen.amount(COMMIT)


def best_case(seen: Seen, settings: Settings) -> float | None:
    """Closed + Commit + Best Case."""
    if seen.snapshot is None:
        return None
    return seen.amount(CLOSED) + seen.amount(COMMIT) + seen.amount(BEST_CASE)


def default_rules(seen: Seen, settings: Settings) -> float | None:
    """The in-blood number under the default rules: Closed + the categories they include."""
    if seen.snapshot is None:
        return None
    return default_totals(seen.amount(CLOSED), {c: seen.amount(c) for c in OPEN_CATEGORIES},
                          settings).number


def saved_calls(seen: Seen, settings: Settings) -> float | None:
    """The in-blood number of the latest call saved by then (None without one)."""
    return seen.call


def submissions(seen: Seen, settings: Settings) -> float | None:
    """The sum of each owner's latest submission by then (None without any)."""
    return seen.submitted


def smb_weighted(seen: Seen, settings: Settings) -> float | None:
    """docs/metrics.md#7-smb-weighted-forecast: Closed + Σ r_C·C + r_new·E, the rates pooled
    over the past periods read (the fallback rate where a term had no amount), E their mean
    created pipeline."""
    if seen.snapshot is None:
        return None
    rates, fallback = {}, fallback_rates(settings)
    for name in OPEN_CATEGORIES:
        then, won = seen.rated.get(name, (0.0, 0.0))
        rates[name] = won / then if then > 0 else fallback[name]
    then, won = seen.created
    rates[NEW] = won / then if then > 0 else fallback[NEW]
    expected = then / seen.periods_read if seen.periods_read else 0.0
    return weighted_forecast(seen.amount(CLOSED), {c: seen.amount(c) for c in OPEN_CATEGORIES},
                             rates, expected)


def stage_weighted(seen: Seen, settings: Settings) -> float | None:
    """Closed + Σ open, qualified amount × its stage's probability."""
    if seen.snapshot is None:
        return None
    return seen.amount(CLOSED) + seen.weighted


METHOD_FUNCTIONS: dict[str, Callable[[Seen, Settings], float | None]] = {
    COMMIT_METHOD: commit, BEST_CASE_METHOD: best_case, DEFAULT_RULES: default_rules,
    SAVED_CALLS: saved_calls, SUBMISSIONS: submissions, SMB_WEIGHTED: smb_weighted,
    STAGE_WEIGHTED: stage_weighted,
}


def error(forecast: float | None, actual: float) -> float | None:
    """(forecast − actual) / actual; None without a forecast or without an actual."""
    return None if forecast is None else ratio(forecast - actual, actual)


# --- The backtest ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backtest:
    """Every method at every week of every period. `frame` grain: one row per (method, period,
    week): as_of, snapshot_date, forecast, actual, error (None where undefined)."""

    periods: tuple[str, ...]
    actual: Mapping[str, float]
    frame: pd.DataFrame
    # The projection's range per (period, week): (p10, p90); its deal probabilities' Brier
    # scores beside the stage methods' (calibration.<method>.{brier, deals}); why a period
    # has none (no eligible model then); predicted against observed win rate by decile.
    bands: Mapping[tuple[str, int], tuple[float, float]] = field(default_factory=dict)
    calibration: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    projection_reasons: Mapping[str, str] = field(default_factory=dict)
    reliability: pd.DataFrame | None = None
    # `sales.people_accuracy.people_report`: the people's calls against their subtrees'
    # outcomes (the command line's backtest; the page reads it on its own).
    people: Mapping[str, dict] | None = None

    def interval_coverage(self) -> float | None:
        """The share of (period, week) with a projection whose actual lies in [p10, p90]."""
        held = [self.bands[key][0] <= self.actual[key[0]] <= self.bands[key][1]
                for key in self.bands]
        return sum(held) / len(held) if held else None

    @functools.cached_property
    def mae(self) -> dict[tuple[str, int], tuple[float, int]]:
        """(method, week) → (mean absolute error, periods) over the periods with a forecast
        and an actual that week (plain Python: a few hundred rows, read many times)."""
        found: dict[tuple[str, int], list[float]] = {}
        for method, week, value in zip(self.frame["method"].tolist(),
                                       self.frame["week"].tolist(),
                                       self.frame["error"].tolist(), strict=True):
            if value is not None and value == value:
                found.setdefault((method, int(week)), []).append(abs(value))
        return {key: (sum(errors) / len(errors), len(errors)) for key, errors in found.items()}

    @property
    def weeks(self) -> list[int]:
        return sorted({int(w) for w in self.frame["week"].tolist()})

    def summary(self) -> pd.DataFrame:
        """Mean absolute error per (method, week) over the periods with a forecast (and an
        actual) that week. Grain: one row per (method, week): mae, periods."""
        rows = sorted(((m, w, mae, n) for (m, w), (mae, n) in self.mae.items()),
                      key=lambda r: (r[1], METHODS.index(r[0])))
        return pd.DataFrame(rows, columns=["method", "week", "mae", "periods"])

    def best(self) -> dict[int, str | None]:
        """Per week, the method with the lowest mean absolute error (METHODS order on a tie)."""
        return dict(self._best)

    @functools.cached_property
    def _best(self) -> dict[int, str | None]:
        out: dict[int, str | None] = {}
        for week in self.weeks:
            scored = [(round(self.mae[(m, week)][0], 12), METHODS.index(m), m)
                      for m in METHODS if (m, week) in self.mae]
            out[week] = min(scored)[2] if scored else None
        return out

    def as_report(self) -> dict[str, object]:
        """The stable JSON: periods, actual.<P>, methods.<method>.<P>.w<w>.{as_of,
        snapshot_date, forecast, error}, summary.<method>.w<w>, best.w<w>."""
        methods: dict[str, dict] = {m: {p: {} for p in self.periods} for m in METHODS}
        for row in self.frame.itertuples(index=False):
            entry = methods[row.method][row.period][f"w{row.week}"] = {
                "as_of": row.as_of.isoformat(),
                "snapshot_date": row.snapshot_date.isoformat() if row.snapshot_date else None,
                "forecast": _number(row.forecast), "error": _number(row.error)}
            if row.method == PROJECTION:
                low, high = self.bands.get((row.period, int(row.week)), (None, None))
                entry.update(p10=_number(low), p90=_number(high))
        summary = {m: {f"w{w}": None for w in self.weeks} for m in METHODS}
        for (method, week), (mae, _) in self.mae.items():
            summary[method][f"w{week}"] = float(mae)
        return {"periods": list(self.periods),
                "actual": {p: float(self.actual[p]) for p in self.periods},
                "methods": methods, "summary": summary,
                "best": {f"w{w}": m for w, m in self.best().items()},
                "interval_coverage": {PROJECTION: self.interval_coverage()},
                "head_to_head": {m: dict(zip(("method_mae", "projection_mae", "pairs"), v,
                                             strict=True))
                                 for m, v in head_to_head(self).items()},
                "calibration": {m: dict(v) for m, v in self.calibration.items()},
                "projection_reasons": dict(self.projection_reasons),
                **(dict(self.people) if self.people is not None else {})}


def head_to_head(result: Backtest, weeks: int | None = None
                 ) -> dict[str, tuple[float, float, int]]:
    """Each method against the projection over the (period, week) pairs both have an error
    for (weeks 1 … `weeks`, all by default): method → (its mean |error|, the projection's,
    pairs). Methods have errors over different weeks (saved calls only where calls were
    saved), so this is the fair comparison. Empty without a projection."""
    frame = result.frame.dropna(subset=["error"])
    if weeks is not None:
        frame = frame[frame["week"] <= weeks]
    mine = frame[frame["method"] == PROJECTION].set_index(["period", "week"])["error"].abs()
    out = {}
    for method in METHODS:
        if method == PROJECTION or mine.empty:
            continue
        other = frame[frame["method"] == method].set_index(["period", "week"])["error"].abs()
        both = other.index.intersection(mine.index)
        if len(both):
            out[method] = (float(other[both].mean()), float(mine[both].mean()), len(both))
    return out


def projection_verdict(result: Backtest) -> str | None:
    """One plain sentence: which simple methods still beat the projection over the weeks both
    have, or that none does; None without a projection."""
    pairs = head_to_head(result)
    if not pairs:
        return None
    better = sorted((m for m, (other, mine, _) in pairs.items() if other < mine),
                    key=lambda m: pairs[m][0])
    if not better:
        return ("The projection comes closer than every other method over the weeks each "
                "has a forecast.")
    said = "; ".join(f"the {_SENTENCE_NAMES[m]} ({pairs[m][0]:.0%} off on average against the "
                     f"projection's {pairs[m][1]:.0%}, over {pairs[m][2]} weeks)"
                     for m in better)
    return f"A simple method still beats the projection here: {said}."


def _method_order(column: pd.Series) -> pd.Series:
    return column.map(METHODS.index) if column.name == "method" else column


def _number(value: object) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return float(value)


@dataclass(frozen=True)
class Slice:
    """The cube through one set of filters, summed: what `run` reads. `sums` grain: one row
    per (period, week, part, kind): amount, weighted, won. `owners` grain: one row per
    (period, week, owner) with a deal in the period then (for the submissions of a filtered
    view)."""

    filters: Filters
    sums: pd.DataFrame
    owners: pd.DataFrame


_SUMS = "sum(amount) as amount, sum(weighted) as weighted, sum(won) as won"


def slices(con: duckdb.DuckDBPyConnection, held: pa.Table, filters: Filters,
           by: str | None = None) -> dict[str | None, Slice]:
    """The held cube through the filters, summed in DuckDB (a few hundred rows back); with
    `by` (a filter dimension) one slice per value of it the filters keep, else one keyed
    None."""
    if by is not None and by not in FILTER_DIMENSIONS:
        raise ValueError(f"unknown dimension {by!r}")
    cur = con.cursor()
    cur.register("backtest_cube", held)
    condition = filters.condition()
    split = f"{by} as slice" if by else "null::varchar as slice"
    try:
        sums = cur.execute(*sql(
            f"""select {split}, period, week, part, kind, {_SUMS} from backtest_cube
                where {condition} group by all""", condition)).df()  # noqa: S608
        owners = cur.execute(*sql(
            f"""select distinct {split}, period, week, owner from backtest_cube
                where part = $state_part and owner is not null and {condition}""",  # noqa: S608
            condition, state_part=STATE)).df()
    finally:
        cur.unregister("backtest_cube")
    if by is None:
        return {None: Slice(filters, sums, owners)}
    values = sorted(v for v in sums["slice"].dropna().unique())
    narrowed = filters_by(filters, by, values)
    return {v: Slice(narrowed[v], sums[sums["slice"] == v], owners[owners["slice"] == v])
            for v in values if v in narrowed}


def seen_by_key(found: list[Key], part: Slice, calls: pd.DataFrame, submitted: pd.DataFrame
                ) -> list[Seen]:
    """Each key's `Seen` from a slice of the cube, its calls and the submissions."""
    sums = {(period, int(week), kind_part, kind): (float(a), float(w), float(x))
            for period, week, kind_part, kind, a, w, x in zip(
                *(part.sums[c].tolist() for c in ("period", "week", "part", "kind", "amount",
                                                  "weighted", "won")), strict=True)}
    owners: dict[tuple[str, int], set[str]] = {}
    for r in part.owners.itertuples(index=False):
        owners.setdefault((r.period, int(r.week)), set()).add(r.owner)
    call_of = {(r.period, int(r.week)): float(r.in_blood) for r in calls.itertuples(index=False)}
    by_owner: dict[tuple[str, int], list[tuple[str, float]]] = {}
    for r in submitted.itertuples(index=False):
        by_owner.setdefault((r.period, int(r.week)), []).append((r.owner, float(r.forecast)))
    column = {"amount": 0, "weighted": 1, "won": 2}
    filtered = bool(part.filters.active())  # the owners whose deals the view shows

    def total(key: Key, kind_part: str, kind: str, name: str) -> float:
        found_sums = sums.get((key.period.label, key.week, kind_part, kind))
        return found_sums[column[name]] if found_sums else 0.0

    out = []
    for key in found:
        label, week = key.period.label, key.week
        amounts = {c: total(key, STATE, c, "amount") for c in (CLOSED, *OPEN_CATEGORIES)}
        weighted = sum(total(key, STATE, c, "weighted") for c in OPEN_CATEGORIES)
        rated = {c: (total(key, RATED, c, "amount"), total(key, RATED, c, "won"))
                 for c in OPEN_CATEGORIES}
        created = (total(key, CREATED, NEW, "amount"), total(key, CREATED, NEW, "won"))
        read = sum(p.snap_r is not None for p in key.past) if key.snapshot else 0
        mine = by_owner.get((label, week), [])
        if filtered:
            shown = owners.get((label, week), set())
            mine = [(owner, value) for owner, value in mine if owner in shown]
        out.append(Seen(label, week, key.as_of, key.snapshot, amounts, weighted, rated, created,
                        read, call_of.get((label, week)),
                        sum(value for _, value in mine) if mine else None))
    return out


def run(found: list[Key], part: Slice, settings: Settings, calls: pd.DataFrame,
        submitted: pd.DataFrame, methods: tuple[str, ...] = METHODS) -> Backtest:
    """The backtest of one slice of the cube, with the slice's calls and the submissions
    (`methods`: the ones to replay, all by default)."""
    periods = tuple(dict.fromkeys(k.period.label for k in found))
    actual_rows = part.sums[part.sums["part"] == ACTUAL]
    actual = {p: float(actual_rows.loc[actual_rows["period"] == p, "amount"].sum())
              for p in periods}
    records = []
    methods = tuple(m for m in methods if m in METHOD_FUNCTIONS)
    for seen in seen_by_key(found, part, calls, submitted):
        for method in methods:
            forecast = METHOD_FUNCTIONS[method](seen, settings)
            records.append((method, seen.period, seen.week, seen.as_of, seen.snapshot, forecast,
                            actual[seen.period], error(forecast, actual[seen.period])))
    frame = pd.DataFrame(records, columns=["method", "period", "week", "as_of", "snapshot_date",
                                           "forecast", "actual", "error"])
    frame[["forecast", "error"]] = frame[["forecast", "error"]].astype("float64")
    return Backtest(periods, actual, frame)


def backtest(con: duckdb.DuckDBPyConnection, periods: list[Period], as_of: date,
             filters: Filters, settings: Settings, projection: bool = True) -> Backtest:
    """Every method at every week of every period, through the filters (the command line's
    entry; the page holds the cube and calls `slices` and `run`, then `with_projection`)."""
    count = settings.history_periods
    chosen = tuple(periods)
    found = keys(snapshot_dates_of(con), list(chosen), count)
    part = slices(con, cube(con, chosen, as_of, count), filters)[None]
    result = run(found, part, settings, calls_at(con, chosen, filters),
                 submissions_at(con, chosen))
    weeks = {p.label: [week_day(p, w) for w in range(1, week_count(p) + 1)] for p in chosen}
    people = people_report(people_accuracy(con, list(chosen), as_of, filters, weeks))
    result = replace(result, people=people)
    if not projection:
        return result
    from sales.winprob.replay import replay  # trains models: loaded only when asked

    return with_projection(result, replay(con, list(chosen), as_of, filters))


def with_projection(result: Backtest, replayed) -> Backtest:
    """The result with the projection's P50 as a method, its range, the calibration of its
    deal probabilities and why a period has none (`replayed`: sales.winprob.replay.Replay)."""
    weeks = replayed.weeks
    rows = pd.DataFrame({
        "method": PROJECTION, "period": weeks["period"], "week": weeks["week"],
        "as_of": weeks["as_of"], "snapshot_date": weeks["snapshot_date"],
        "forecast": weeks["p50"].astype("float64"),
        "actual": weeks["period"].map(result.actual).astype("float64")})
    rows["error"] = [error(f, a) for f, a in zip(rows["forecast"], rows["actual"], strict=True)]
    rows["error"] = rows["error"].astype("float64")
    frame = pd.concat([result.frame, rows], ignore_index=True) if len(rows) else result.frame
    bands = {(p, int(w)): (float(lo), float(hi)) for p, w, lo, hi in zip(
        weeks["period"], weeks["week"], weeks["p10"], weeks["p90"], strict=True)}
    return replace(result, frame=frame, bands=bands, calibration=replayed.calibration(),
                   projection_reasons=dict(replayed.reasons),
                   reliability=replayed.reliability())


def snapshot_dates_of(con: duckdb.DuckDBPyConnection) -> list[date]:
    return [r[0] for r in con.cursor().execute(
        "select snapshot_date from snapshot_dates order by 1").fetchall()]


# --- The track record: saved calls against the default rules (board pack, In-blood page) ------

TRACK_METHODS = (SAVED_CALLS, DEFAULT_RULES)
_SUBMISSION_COLUMNS = ["period", "week", "owner", "forecast"]


def track_record(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
                 n: int = DEFAULT_PERIODS) -> Backtest:
    """The saved calls and the default rules replayed at every week of the n completed periods
    of the view's kind before its as-of, through its filters (the backtest of TRACK_METHODS:
    no past period is read, as no SMB rate is needed)."""
    periods = tuple(default_periods(view.as_of, view.period.fy_start_month, view.period.kind, n))
    found = keys(snapshot_dates_of(con), list(periods), 0)
    part = slices(con, cube(con, periods, view.as_of, 0), view.filters)[None]
    return run(found, part, settings, calls_at(con, periods, view.filters),
               pd.DataFrame(columns=_SUBMISSION_COLUMNS), TRACK_METHODS)


def error_by_week(result: Backtest) -> pd.DataFrame:
    """The mean absolute error of each method of the result by week of the period.

    Grain: one row per week where any method has one: week, then one column per method
    (`result`'s, in METHODS order) holding its mean |error| over the periods (NaN: none)."""
    shown = [m for m in METHODS if m in set(result.frame["method"])]
    rows = [{"week": week, **{m: result.mae.get((m, week), (math.nan, 0))[0] for m in shown}}
            for week in sorted({w for _, w in result.mae})]
    return pd.DataFrame(rows, columns=["week", *shown])


def track_record_keys(con: duckdb.DuckDBPyConnection, view: View, settings: Settings) -> dict:
    """The report's `accuracy` keys (the board pack's track record): `track_record`'s mean
    |error| by week for saved calls and the default rules, the periods it read, and which
    week of the period as-of is in."""
    result = track_record(con, view, settings)
    by_week = error_by_week(result)
    return {"periods": sorted(set(result.frame.dropna(subset=["forecast"])["period"])),
            "week_now": week_of(view.period, view.as_of)
            if view.as_of >= view.period.start else None,
            "by_week": records(by_week, {"week": "week", SAVED_CALLS: "saved_call",
                                         DEFAULT_RULES: "default_rules"})}

def rules_by_snapshot(con: duckdb.DuckDBPyConnection, view: View, settings: Settings
                      ) -> pd.DataFrame:
    """The default rules at each snapshot inside the view's period (the board pack's week by
    week of the period under way).

    Grain: one row per snapshot date in the period: closed won then (closed_won), the open
    category amounts then (commit, best_case, pipeline), and the rules' in_blood number and
    upside (`sales.inblood.default_totals`)."""
    days = [r[0] for r in con.cursor().execute(
        "select snapshot_date from snapshot_dates where snapshot_date between ? and ? "
        "order by 1", [view.period.start, view.period.end]).fetchall()]
    frame = rollup_at(con, view, days)
    rules = [default_totals(float(row[CLOSED]), {c: float(row[c]) for c in OPEN_CATEGORIES},
                            settings) for row in frame.to_dict("records")]
    frame = frame.rename(columns={"day": "snapshot_date", **CATEGORY_COLUMNS})
    frame["in_blood"] = [r.number for r in rules]
    frame["upside"] = [r.upside for r in rules]
    return frame[["snapshot_date", *CATEGORY_COLUMNS.values(), "in_blood", "upside"]]


# --- Reading it -----------------------------------------------------------------------------------


def mean_error_by_week(result: Backtest) -> pd.DataFrame:
    """For the chart: per (method, week) the mean absolute error and each period's error.

    Grain: one row per (method, week): method, label, week, mae, periods, by_period (text,
    'FY2026-Q1 +4% · FY2026-Q2 −7%')."""
    summary = result.summary()
    if summary.empty:
        return summary.assign(label=[], by_period=[])
    frame = result.frame.dropna(subset=["error"])
    detail = (frame.assign(text=frame["period"] + " " + frame["error"].map(
        lambda e: f"{e:+.0%}")).groupby(["method", "week"])["text"].agg(" · ".join)
        .rename("by_period").reset_index())
    merged = summary.merge(detail, on=["method", "week"], how="left")
    merged["label"] = merged["method"].map(METHOD_LABELS)
    return merged


def table(result: Backtest) -> pd.DataFrame:
    """For the sortable table and its downloads. Grain: one row per (period, week, method):
    the as-of and snapshot dates, forecast, actual, error and absolute error."""
    frame = result.frame.copy()
    frame.insert(1, "method_label", frame["method"].map(METHOD_LABELS))
    frame["absolute_error"] = frame["error"].abs()
    return frame.sort_values(["period", "week", "method"], key=_method_order
                             ).reset_index(drop=True)


def winner(result: Backtest) -> tuple[str, float] | None:
    """The method with the lowest mean absolute error over the weeks it has one (at least half
    of the weeks; METHODS order on a tie), and that mean; None without any error."""
    weeks = {w for _, w in result.mae}
    scored = []
    for method in METHODS:
        mine = [mae for (m, _), (mae, _) in result.mae.items() if m == method]
        if mine and len(mine) * 2 >= len(weeks):
            mean = sum(mine) / len(mine)
            scored.append((round(mean, 12), METHODS.index(method), method, mean))
    if not scored:
        return None
    _, _, method, mean = min(scored)
    return method, mean


def within_from(result: Backtest, method: str, within: float = WITHIN_SHARE
                ) -> tuple[int, float] | None:
    """The first week from which the method's mean absolute error stays at or under `within`
    to the period's end, and the worst error from there; None when it never does."""
    mine = sorted((w, mae) for (m, w), (mae, _) in result.mae.items() if m == method)
    for position, (week, _) in enumerate(mine):
        rest = [mae for _, mae in mine[position:]]
        if all(mae <= within for mae in rest):
            return week, max(rest)
    return None


def verdict(result: Backtest, within: float = WITHIN_SHARE) -> str | None:
    """Which method wins, and from which week, in one clause; None without any error.

    The winner is `winner`'s; the clause says from which week of the period its error stays
    within `within` (and how close it stays), or how far off it is on average when it never
    does. The clause is plain text: it holds no value from data."""
    best = winner(result)
    if best is None:
        return None
    method, mae = best
    plural = method in _PLURAL
    said = f"the {_SENTENCE_NAMES[method]} {'come' if plural else 'comes'} closest " \
           f"({mae:.0%} off on average)"
    stays = within_from(result, method, within)
    if stays is not None:
        said += " and " + _stays(result, *stays, plural)
    leads = best_from(result, method)
    if leads is not None and 1 < leads <= max(result.best()) - 2:  # a lead worth naming
        said += f", and {'beat' if plural else 'beats'} every other method from week {leads}"
    return said


def _stays(result: Backtest, start: int, worst: float, plural: bool) -> str:
    """'stays within 7% of the actual from week 9 of the period on': the worst error from
    `start` rounded up to a whole percent; an error that rounds to 0 matches the actual, and a
    start in the period's last week says so rather than "from … on"."""
    percent = math.ceil(round(worst * 100, 9))
    if percent == 0:
        how = "match the actual" if plural else "matches the actual"
    else:
        how = f"{'stay' if plural else 'stays'} within {percent}% of the actual"
    if start == max(result.weeks):
        return f"{how} in the period's last week (week {start})"
    return f"{how} from week {start} of the period on"


def best_from(result: Backtest, method: str) -> int | None:
    """The first week from which `method` is the best every week to the end; None if never."""
    best = result.best()
    weeks = sorted(best)
    for position, week in enumerate(weeks):
        if all(best[w] == method for w in weeks[position:]):
            return week
    return None


# Method names read as plurals in a sentence ("the saved calls come closest").
_PLURAL = {SAVED_CALLS, SUBMISSIONS}


def verdicts(results: Mapping[str, Backtest], within: float = WITHIN_SHARE,
             escape: Callable[[str], str] = str) -> str:
    """One sentence over several slices (segment → its backtest): 'For SMB the …; for
    Enterprise the ….' The slice names are data: `escape` writes them for the medium the
    sentence goes to (`sales.formatting.text` for a Streamlit Markdown element)."""
    parts = [f"for {escape(name)} {said}" for name, result in results.items()
             if (said := verdict(result, within))]
    if not parts:
        return "No completed period with an outcome to judge the methods by yet."
    sentence = "; ".join(parts) + "."
    return sentence[0].upper() + sentence[1:]


def filters_by(filters: Filters, dimension: str, values: list[str]) -> dict[str, Filters]:
    """The view's filters narrowed to each value of a dimension it does not rule out."""
    if dimension not in FILTER_DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    chosen = getattr(filters, dimension)
    return {v: Filters.of(**{**{d: list(getattr(filters, d)) for d in FILTER_DIMENSIONS},
                             dimension: [v]})
            for v in values if not chosen or v in chosen}


def render(result: Backtest, output_format: str) -> str:
    """The backtest as text: the stable JSON, the table as CSV (through sales.export), or a
    Markdown summary (actuals, mean absolute error by week, the best method per week)."""
    if output_format == "json":
        return json.dumps(result.as_report(), indent=2) + "\n"
    if output_format == "csv":
        return csv_bytes(table(result)).decode()
    if output_format == "markdown":
        return _markdown(result)
    raise ValueError(f"unknown format {output_format!r}; choose json, csv or markdown")


def _markdown(result: Backtest) -> str:
    lines = ["# Forecast backtest", "", "| period | actual (closed won) |", "|---|---:|"]
    lines += [f"| {p} | {fmt.money(result.actual[p], precise=True)} |" for p in result.periods]
    summary = result.summary()
    best = result.best()
    lines += ["", "Mean absolute error by week of the period (over the periods with a forecast "
              "that week):", "",
              "| week | " + " | ".join(METHOD_LABELS[m] for m in METHODS) + " | best |",
              "|---:|" + "---:|" * len(METHODS) + "---|"]
    for week, winner in best.items():
        cells = []
        for method in METHODS:
            row = summary[(summary["method"] == method) & (summary["week"] == week)]
            cells.append(fmt.pct(float(row["mae"].iloc[0])) if len(row) else fmt.NOT_AVAILABLE)
        lines.append(f"| {week} | " + " | ".join(cells) + " | "
                     + (METHOD_LABELS[winner] if winner else fmt.NOT_AVAILABLE) + " |")
    said = verdict(result)
    if said:
        lines += ["", said[0].upper() + said[1:] + "."]  # plain text: no value from data
    return "\n".join(lines) + "\n"

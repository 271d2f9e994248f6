"""The rows a win-probability model learns from and scores: one per (deal, week of a period)
while the deal was open, qualified and closing in that period, with features only from what
was known at that week's snapshot.

Grain of `rows`: one row per (period, week, opportunity_id). Columns: the key (period, week,
snap, p_start, p_end), the filter dimensions (segment, region, team, type, channel, owner),
amount and the features (FEATURES). The label (`label`: won with a close date in the period)
is read from the state standing on a chosen day (`outcomes`), so training at a date A never
sees an outcome recorded after A.

Not features: competitor and renewal risk. The data keep only their current value, not when
it was set, so a model trained on them would learn from what was known after the week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd

from sales.periods import Period
from sales.query import KNOWN_DEALS, report_category_sql
from sales.snapshots import standing_sql
from sales.sql import rows_sql, sql
from sales.stages import CLOSED, stage_flag_sql
from sales.view import Filters

# Categorical features (strings, encoded by the model) and numeric ones.
CATEGORICAL = ("stage", "category", "segment", "type", "channel", "region")
NUMERIC = ("days_in_stage", "days_in_category", "age_days", "pushes", "days_pushed",
           "days_to_period_end", "amount", "amount_change", "week", "owner_win_rate",
           "segment_win_rate")
FEATURES = (*CATEGORICAL, *NUMERIC)
# A categorical feature's value when the data have none.
MISSING = "(none)"
# The trailing window the owner's and segment's win rates read (closed deals, as known then).
TRAILING_DAYS = 365
DIMENSIONS = ("segment", "region", "team", "type", "channel", "owner")
COLUMNS = ("period", "week", "snap", "opportunity_id", *DIMENSIONS, "stage", "category",
           *(c for c in NUMERIC if c != "week"), "week_feature", "p_start", "p_end",
           "in_sample", "weight")
# With `rows(..., keep_large=True)`, the deals whose largest amount is in this top share are
# read whatever the sample: a total over a sample of deals misses little when the few deals
# that swing it most are all there.
LARGE_SHARE = 0.02


@dataclass(frozen=True)
class Key:
    """One week of one period: the period, the week number and the snapshot that fixes the
    state then (the latest on or before A_w)."""

    period: Period
    week: int
    snap: date


def week_day(period: Period, week: int) -> date:
    """A_w: the period's first day + 7·(w − 1)."""
    return period.start + timedelta(days=7 * (week - 1))


def keys_for(periods: list[Period], snapshots: list[date], last_day: date) -> list[Key]:
    """Every week of each period whose A_w is on or before `last_day` and has a snapshot on or
    before it (`snapshots` oldest first)."""
    out = []
    for period in periods:
        week = 1
        while (day := week_day(period, week)) <= min(period.end, last_day):
            snap = max((d for d in snapshots if d <= day), default=None)
            if snap is not None:
                out.append(Key(period, week, snap))
            week += 1
    return out


def _enriched_history() -> str:
    """Each history row of the `candidates` (sampled) with what its deal's history says up to it:
    close-date pushes so far, the first close date and amount, and since when the stage and
    the category have held."""
    return f"""
        with c as (
            select h.opportunity_id, h.valid_from, h.valid_to, h.stage,
                   h.amount::double as amount, h.close_date, h.owner,
                   {report_category_sql("h", "m")} as category,
                   {stage_flag_sql("qualified")} as qualified,
                   {stage_flag_sql("closed")} as closed,
                   {stage_flag_sql("closed")} and {stage_flag_sql("won")} as won
            from opportunity_history h left join stage_map m on m.stage = h.stage
            where h.opportunity_id in (select opportunity_id from candidates)),
        l as (
            select *, lag(close_date) over w as lag_close, lag(stage) over w as lag_stage,
                   lag(category) over w as lag_category
            from c window w as (partition by opportunity_id order by valid_from))
        select opportunity_id, valid_from, valid_to, stage, amount, close_date, owner, category,
               qualified, closed, won,
               sum(case when close_date > lag_close then 1 else 0 end) over w as pushes,
               first_value(close_date) over w as first_close,
               first_value(amount) over w as first_amount,
               max(case when lag_stage is distinct from stage then valid_from end) over w
                   as stage_since,
               max(case when lag_category is distinct from category then valid_from end)
                   over w as category_since
        from l window w as (partition by opportunity_id order by valid_from
                            rows between unbounded preceding and current row)"""  # noqa: S608


def rows(con: duckdb.DuckDBPyConnection, keys: list[Key], filters: Filters = Filters(),
         share: float = 1.0, keep_large: bool = False) -> pd.DataFrame:
    """The rows of every key (unlabelled: `label` adds the outcome as known on a day).
    `share` < 1 keeps that share of deals (by a hash of the id: the same deals every week),
    for training at scale: `in_sample` marks them. With `keep_large`, the largest deals
    (LARGE_SHARE) are read too, `in_sample` false unless hashed in; `weight` is how many deals
    a row stands for (1 / share for a sampled deal, 1 for a large one), so sums over the rows
    estimate sums over every deal."""
    if not keys:
        return pd.DataFrame(columns=list(COLUMNS))
    key_rows = rows_sql("winprob_keys", [
        {"period": k.period.label, "p_start": k.period.start, "p_end": k.period.end,
         "week": k.week, "snap": k.snap} for k in keys])
    condition = filters.condition()
    query = sql(f"""
        with k as (select * from {key_rows}),
        -- the deals that close in a key's period in some row: only their histories are read
        closing as (
            select opportunity_id, max(amount) as top,
                   not $sampled or hash(opportunity_id) % 1000 < $permille as in_sample
            from opportunity_history
            where close_date between (select min(p_start) from k) and (select max(p_end) from k)
            group by opportunity_id),
        candidates as (
            select opportunity_id, in_sample,
                   case when $sampled and not ($keep_large and top >= (
                            select quantile_cont(top, 1 - $large_share) from closing))
                        then 1000.0 / $permille else 1.0 end as weight
            from closing
            where in_sample or ($keep_large and top >= (
                select quantile_cont(top, 1 - $large_share) from closing))),
        hx as materialized (select * from ({_enriched_history()})),
        closes as (
            -- each deal's first closed row: when it closed (as recorded) and whether won
            select h.opportunity_id, min(h.valid_from) as closed_day,
                   arg_min({stage_flag_sql("won")}, h.valid_from) as won,
                   arg_min(h.owner, h.valid_from) as owner, any_value(o.segment) as segment
            from opportunity_history h left join stage_map m on m.stage = h.stage
            left join {KNOWN_DEALS} o using (opportunity_id)
            where {stage_flag_sql("closed")}
            group by h.opportunity_id),
        snaps as (select distinct snap from k),
        recent_closes as (
            select s.snap, c.owner, c.segment, c.won
            from snaps s join closes c
              on c.closed_day <= s.snap and c.closed_day > s.snap - $trailing),
        owner_rates as (select snap, owner, avg(won::int) as rate from recent_closes group by all),
        segment_rates as (select snap, segment, avg(won::int) as rate from recent_closes
                          group by all),
        base as (
            select k.period, k.week, k.snap, k.p_start, k.p_end, h.opportunity_id,
                   o.segment, o.region, o.team, o.type, o.channel, h.owner,
                   h.stage, h.category, h.amount,
                   (k.snap - h.stage_since)::double as days_in_stage,
                   (k.snap - h.category_since)::double as days_in_category,
                   (k.snap - o.created_date)::double as age_days,
                   h.pushes::double as pushes,
                   (h.close_date - h.first_close)::double as days_pushed,
                   (k.p_end - h.close_date)::double as days_to_period_end,
                   h.amount / nullif(h.first_amount, 0) as amount_change,
                   k.week::double as week_feature, c.in_sample, c.weight
            from k join hx h on h.close_date between k.p_start and k.p_end
                             and {standing_sql("k.snap", "h")}
            join candidates c on c.opportunity_id = h.opportunity_id
            left join {KNOWN_DEALS} o on o.opportunity_id = h.opportunity_id
            where h.qualified and not h.closed and h.category <> $closed)
        select * from (
        select s.period, s.week, s.snap, s.opportunity_id, s.segment, s.region, s.team,
               s.type, s.channel, s.owner, s.stage, s.category,
               s.days_in_stage, s.days_in_category, s.age_days, s.pushes, s.days_pushed,
               s.days_to_period_end, s.amount, s.amount_change,
               orr.rate as owner_win_rate, sr.rate as segment_win_rate, s.week_feature,
               s.p_start, s.p_end, s.in_sample, s.weight
        from base s
        left join owner_rates orr on orr.snap = s.snap and orr.owner = s.owner
        left join segment_rates sr on sr.snap = s.snap and sr.segment = s.segment)
        where {condition}
        order by period, week, opportunity_id""",  # noqa: S608 - fixed SQL; values bound
        key_rows, condition, trailing=TRAILING_DAYS, closed=CLOSED,
        sampled=share < 1, permille=int(round(share * 1000)), keep_large=keep_large,
        large_share=LARGE_SHARE)
    frame = con.cursor().execute(*query).df()
    for c in ("snap", "p_start", "p_end"):
        frame[c] = pd.to_datetime(frame[c]).dt.date
    return frame[list(COLUMNS)]


def outcomes(con: duckdb.DuckDBPyConnection, known_at: date) -> pd.DataFrame:
    """Every deal won as the state standing on `known_at` says, and its close date then.

    Grain: one row per deal won on that day: opportunity_id, won_close, amount."""
    frame = con.cursor().execute(*sql(
        f"""select h.opportunity_id, h.close_date as won_close, h.amount::double as amount
            from opportunity_history h left join stage_map m on m.stage = h.stage
            where {standing_sql("$known_at", "h")} and {stage_flag_sql("closed")}
              and {stage_flag_sql("won")}""",  # noqa: S608 - fixed SQL
        known_at=known_at)).df()
    frame["won_close"] = pd.to_datetime(frame["won_close"]).dt.date
    return frame


def label(frame: pd.DataFrame, won: pd.DataFrame) -> pd.Series:
    """Each row's outcome from `outcomes`: won with a close date in the row's period."""
    close = pd.to_datetime(frame["opportunity_id"].map(
        pd.Series(won["won_close"].to_numpy(), index=won["opportunity_id"])))
    inside = ((close >= pd.to_datetime(frame["p_start"]))
              & (close <= pd.to_datetime(frame["p_end"])))
    return inside.fillna(False).astype(bool)


def matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's inputs from rows: FEATURES in order, categoricals as pandas categories."""
    out = pd.DataFrame(index=frame.index)
    for c in CATEGORICAL:
        out[c] = frame[c].astype("string").fillna(MISSING).astype("category")
    for c in NUMERIC:
        out[c] = frame["week_feature" if c == "week" else c].astype("float64")
    return out


def won_amounts(con: duckdb.DuckDBPyConnection, keys: list[Key], known_at: date
                ) -> pd.DataFrame:
    """Closed won per (period, week) as it stood at the key's snapshot, and per period as known
    on `known_at` (week 0: the period's outcome then), kept by the filter dimensions so a view
    can filter it (`Filters.keep`).

    Grain: one row per (period, week, segment, region, team, type, channel, owner): won."""
    columns = ["period", "week", *DIMENSIONS, "won"]
    if not keys:
        return pd.DataFrame(columns=columns)
    periods = {k.period.label: k.period for k in keys}
    key_rows = rows_sql("winprob_won_keys", [
        {"period": k.period.label, "p_start": k.period.start, "p_end": k.period.end,
         "week": k.week, "snap": k.snap} for k in keys]
        + [{"period": p.label, "p_start": p.start, "p_end": p.end, "week": 0, "snap": known_at}
           for p in periods.values()])
    return con.cursor().execute(*sql(
        f"""select k.period, k.week, d.segment, d.region, d.team, d.type, d.channel, h.owner,
                   sum(h.amount)::double as won
            from (select * from {key_rows}) k
            join opportunity_history h on h.close_date between k.p_start and k.p_end
                                       and {standing_sql("k.snap", "h")}
            left join stage_map m on m.stage = h.stage
            left join {KNOWN_DEALS} d on d.opportunity_id = h.opportunity_id
            where {stage_flag_sql("closed")} and {stage_flag_sql("won")}
            group by all""",  # noqa: S608 - fixed SQL; values bound
        key_rows)).df()[columns]

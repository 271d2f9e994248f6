"""Funnel and velocity (docs/metrics.md#11-funnel-and-velocity): how far deals get, how long
each stage takes, how long a win takes and how big it is — for the qualified deals that closed
(won or lost) in a window.

A deal reached a stage if it was ever seen in it or in a later one (small deals skip stages),
and a won deal reached them all; conversion is the share of the deals reaching a stage that
reached the next one (the last open stage converts into won). Days in a stage are measured
between the weekly snapshots, so they come in steps of a week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from sales.query import snapshot_on_or_before
from sales.rates import closed_in_window
from sales.sql import Sql, sql
from sales.stages import BEST_CASE, CLOSED, PIPELINE
from sales.view import Filters

WON = "Won"
# Where a won deal's furthest stage sits: past every open stage, skipped ones included.
_PAST_EVERY_STAGE = 1_000_000


@dataclass(frozen=True)
class Velocity:
    """Won deals of the cohort: how many, their median cycle (created → closed, days) and their
    average size. Grain: the window, through the filters."""

    won: int
    median_cycle_days: float | None
    average_won_amount: float | None
    cohort: int

    @property
    def won_share(self) -> float | None:
        """Won of the qualified deals that closed, by count (excluded losses included, unlike
        the close rate)."""
        return self.won / self.cohort if self.cohort else None


def _cohort_sql(con: duckdb.DuckDBPyConnection, window_start: date, window_end: date,
                as_of: date, filters: Filters) -> Sql:
    """The cohort: the qualified deals closed in the window (those every rate counts)."""
    deals = closed_in_window(con, window_start, window_end, as_of, filters)
    return sql(f"select opportunity_id, won, amount, created_date, close_date from ({deals}) d",  # noqa: S608
               deals)


def funnel(con: duckdb.DuckDBPyConnection, window_start: date, window_end: date, as_of: date,
           filters: Filters = Filters()) -> pd.DataFrame:
    """Grain: one row per qualified open stage any deal of the cohort was seen in, in stage
    order, then a WON row. Columns: stage, category, reached, conversion (to the next row;
    NaN on the WON row), median_days (in that stage; NaN on WON)."""
    cohort = _cohort_sql(con, window_start, window_end, as_of, filters)
    snapshot = snapshot_on_or_before(con, as_of) or date.min
    frame = con.cursor().execute(*sql(
        f"""with cohort as ({cohort}),
            visits as (  -- days each deal spent in each stage, snapshot to snapshot
                select h.opportunity_id, h.stage,
                       sum(datediff('day', h.valid_from, coalesce(h.valid_to, $snapshot::date)))
                           as days
                from opportunity_history h
                semi join cohort c on c.opportunity_id = h.opportunity_id
                where h.valid_from <= $snapshot group by all),
            stages as (
                select stage, sort_order, forecast_category from stage_map
                where qualified and not closed
                  and stage in (select stage from visits)),
            reached as (  -- how far each deal got; a win got through every stage
                select c.opportunity_id,
                       case when c.won then {_PAST_EVERY_STAGE} else max(s.sort_order) end as top
                from cohort c left join visits v using (opportunity_id)
                left join stages s using (stage)
                group by c.opportunity_id, c.won)
            select s.stage, s.forecast_category as category,
                   (select count(*) from reached r where r.top >= s.sort_order) as reached,
                   (select median(v.days) from visits v where v.stage = s.stage)::double
                       as median_days
            from stages s order by s.sort_order""",  # noqa: S608 - fixed SQL; values are bound
        cohort, snapshot=snapshot)).df()
    won = con.cursor().execute(*sql(f"select count(*) filter (where won) from ({cohort})",  # noqa: S608
                                    cohort)).fetchall()[0][0]
    frame = pd.concat([frame, pd.DataFrame([{"stage": WON, "category": CLOSED,
                                             "reached": won, "median_days": float("nan")}])],
                      ignore_index=True)
    following = frame["reached"].shift(-1)
    frame["conversion"] = (following / frame["reached"].where(frame["reached"] > 0)).astype(float)
    return frame[["stage", "category", "reached", "conversion", "median_days"]]


def velocity(con: duckdb.DuckDBPyConnection, window_start: date, window_end: date,
             as_of: date, filters: Filters = Filters()) -> Velocity:
    cohort = _cohort_sql(con, window_start, window_end, as_of, filters)
    won, cycle, average, total = con.cursor().execute(*sql(
        f"""select count(*) filter (where won),
                   median(datediff('day', created_date, close_date))
                       filter (where won and created_date <= close_date),
                   avg(amount) filter (where won)::double, count(*)
            from ({cohort})""", cohort)).fetchall()[0]  # noqa: S608 - fixed SQL
    return Velocity(int(won), float(cycle) if cycle is not None else None,
                    float(average) if average is not None else None, int(total))


@dataclass(frozen=True)
class Handoff:
    """Pipeline → Best Case (the handbook's persuasion signal): the first Pipeline and first
    Best Case stage of the funnel, the share of deals reaching the one that reached the other,
    and the median days summed over the Pipeline stages."""

    from_stage: str
    to_stage: str
    share: float
    days_in_pipeline: float


def pipeline_to_best_case(stages: pd.DataFrame) -> Handoff | None:
    """From a `funnel` frame; None when it has no Pipeline or Best Case stage, or nobody
    reached the first Pipeline stage."""
    open_rows = stages[stages["stage"] != WON]
    pipeline = open_rows[open_rows["category"] == PIPELINE]
    best = open_rows[open_rows["category"] == BEST_CASE]
    if pipeline.empty or best.empty or not pipeline["reached"].iloc[0]:
        return None
    return Handoff(pipeline["stage"].iloc[0], best["stage"].iloc[0],
                   float(best["reached"].iloc[0] / pipeline["reached"].iloc[0]),
                   float(pipeline["median_days"].fillna(0).sum()))


def as_report(stages: pd.DataFrame, speed: Velocity) -> dict[str, object]:
    """The report's `funnel` keys: per stage how many reached it, went on and the median days
    in it; the won deals' count, cycle and size, their share of the cohort; the Pipeline →
    Best Case hand-off (null without those stages)."""
    handoff = pipeline_to_best_case(stages)
    rows = stages.astype(object).where(stages.notna(), None)
    return {
        "stages": [{"stage": r.stage, "category": r.category, "reached": int(r.reached),
                    "conversion": r.conversion, "median_days": r.median_days}
                   for r in rows.itertuples()],
        "cohort": speed.cohort, "won": speed.won, "won_share": speed.won_share,
        "median_cycle_days": speed.median_cycle_days,
        "average_won_amount": speed.average_won_amount,
        "pipeline_to_best_case": None if handoff is None else {
            "from": handoff.from_stage, "to": handoff.to_stage, "share": handoff.share,
            "days_in_pipeline": handoff.days_in_pipeline},
    }

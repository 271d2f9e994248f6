"""Coverage: enterprise and remaining coverage (docs/metrics.md#2-enterprise-coverage),
SMB coverage against 1 / close rate (docs/metrics.md#3-smb-coverage), by dimension, against past
quarters at the same offset, and rep annual coverage (docs/metrics.md#12-rep-annual-coverage)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

import duckdb
import pandas as pd
import pyarrow as pa

from sales import smb
from sales.periods import QUARTER, Period, fiscal_quarter_sql, fiscal_year_range, period_containing
from sales.plan import category_amounts
from sales.query import DESCRIPTIVE_FILTERS, KNOWN_DEALS, deals_sql, report_category_sql, state_key
from sales.rates import default_window, outcomes, rates_by, required_coverage
from sales.settings import Settings
from sales.smb import smb_segments
from sales.sql import rows_sql, sql
from sales.stages import (
    CATEGORY_COLUMNS,
    CLOSED,
    FORECASTABLE_CATEGORIES,
    OPEN_CATEGORIES,
    PIPELINE,
    TOTAL_CATEGORIES,
)
from sales.targets import scope_values, target_for_view, view_targets
from sales.view import Filters, Measure, View, ratio


class Coverage(NamedTuple):
    """Multiples of the target; None where there is no target (or nothing remains to cover)."""

    enterprise: float | None
    remaining: float | None


def enterprise_coverage(rollup: dict[str, Measure], target: float | None) -> Coverage:
    """(Closed + Commit + Best Case) / target, and (Commit + Best Case) / max(target − Closed, 0).

    Pipeline is left out on purpose: in long cycles it does not close inside the quarter.
    """
    closed = rollup[CLOSED].amount
    forecastable = sum(rollup[c].amount for c in FORECASTABLE_CATEGORIES)
    if target is None:
        return Coverage(None, None)
    return Coverage(ratio(closed + forecastable, target),
                    ratio(forecastable, max(target - closed, 0.0)))


HEALTHY, WATCH, SHORT, NO_TARGET = "healthy", "watch", "short", "no target"
# Within this share of the required multiple a view is worth chasing, not yet healthy.
WATCH_SHARE = 0.8
ENTERPRISE_METHOD, SMB_METHOD = "enterprise", "SMB"
COVERAGE_DIMENSIONS = ("segment", "region", "team", "owner")
# Rep annual coverage (docs/metrics.md#12-rep-annual-coverage) against the rep_coverage_low / _high band.
THIN, IN_BAND, COMFORTABLE, NO_QUOTA = "thin", "healthy", "comfortable", "no quota"
# Quarters the trend compares the current one with (docs/metrics.md#2-enterprise-coverage: the last four).
TREND_QUARTERS = 4
TREND_STEP_DAYS = 7


def view_method(filters: Filters, settings: Settings) -> str:
    """SMB when the view is cut to SMB-method segments only, else enterprise."""
    chosen = filters.segment
    return SMB_METHOD if chosen and set(chosen) <= set(smb_segments(settings)) else ENTERPRISE_METHOD


def health(coverage: float | None, required: float | None) -> str:
    """healthy at or above the required multiple, watch within WATCH_SHARE of it, else short."""
    if coverage is None or required is None:
        return NO_TARGET
    share = round(coverage / required, 9) if required else float("inf")  # 2.4 / 3 is 0.8
    if share >= 1:
        return HEALTHY
    return WATCH if share >= WATCH_SHARE else SHORT


def _close_rates(con: duckdb.DuckDBPyConnection, view: View, dimension: str | None
                 ) -> dict[str | None, float | None]:
    """Trailing close rate (by count, as the Rates page) per value of a dimension, or for the
    view (key None)."""
    start, end = default_window(view.period)
    if dimension is None:
        return {None: outcomes(con, start, end, view.as_of, view.filters).close_rate()[1]}
    frame = rates_by(con, start, end, view.as_of, dimension, view.filters)
    return {row[dimension]: (None if pd.isna(row["close_rate_count"])
                             else float(row["close_rate_count"]))
            for _, row in frame.iterrows()}


@dataclass(frozen=True)
class SmbCoverage:
    """docs/metrics.md#3-smb-coverage for the SMB-method segments (`sales.smb.smb_view`): (Closed +
    Commit + Best Case + Pipeline + expected new pipeline) / target, against the multiple the
    trailing close rate (by count) requires, 1 / close rate. Grain: the view's period."""

    counted: float
    target: float | None
    close_rate: float | None

    @property
    def coverage(self) -> float | None:
        return ratio(self.counted, self.target)

    @property
    def required(self) -> float | None:
        return required_coverage(self.close_rate)


def smb_coverage(con: duckdb.DuckDBPyConnection, narrowed: View, forecast: smb.SmbForecast
                 ) -> SmbCoverage:
    """SMB coverage of a view already narrowed to its SMB-method segments, from its SMB
    forecast (the same amounts and expected new pipeline)."""
    counted = forecast.closed + sum(forecast.term(c).amount for c in OPEN_CATEGORIES)
    return SmbCoverage(counted + forecast.expected_new,
                       target_for_view(con, narrowed.period, narrowed.filters).amount,
                       _close_rates(con, narrowed, None)[None])


def has_smb_rows(filters: Filters, dimension: str, settings: Settings) -> bool:
    """Whether coverage_by for this view and dimension has rows on the SMB method (which then
    need the expected new pipeline, from `sales.smb.history_cube`)."""
    method = smb_segments(settings)
    if dimension == "segment":
        return any(not filters.segment or s in filters.segment for s in method)
    return view_method(filters, settings) == SMB_METHOD


def coverage_by(con: duckdb.DuckDBPyConnection, view: View, dimension: str,
                settings: Settings, history: pa.Table | None = None) -> pd.DataFrame:
    """Coverage per value of segment, region, team or owner for the view's period.

    Grain: one row per value with deals or a target. Columns: the dimension, method
    (enterprise or SMB), closed_won, commit, best_case, pipeline, target (where the
    dimension's targets fit the view: `sales.targets.targets_fit`), enterprise ((Closed +
    Commit + Best Case) / target), remaining ((Commit + Best Case) / max(target − Closed, 0)),
    expected_new (E, the pipeline still to be created in the period, on SMB rows;
    `sales.smb`), smb ((Closed + Commit + Best Case + Pipeline + E) / target), close_rate and
    required (the coverage_multiple setting for enterprise rows, 1 / close rate for SMB rows),
    coverage (the row's method's) and health. `history` is `sales.smb.history_cube` for the
    view (its new-pipeline part is enough) when the caller holds it.
    """
    if dimension not in COVERAGE_DIMENSIONS:
        raise ValueError(f"coverage is by {', '.join(COVERAGE_DIMENSIONS)}, not {dimension!r}")
    amounts = category_amounts(con, view, dimension)
    targets = view_targets(con, view.filters, view.period, dimension)
    values = sorted(set(amounts.index) | set(targets))
    frame = amounts.reindex(values, fill_value=0.0).reset_index(names=dimension)
    on_smb_method = set(smb_segments(settings))
    if dimension == "segment":
        frame.insert(1, "method", [SMB_METHOD if v in on_smb_method else ENTERPRISE_METHOD
                                   for v in values])
    else:
        frame.insert(1, "method", view_method(view.filters, settings))
    frame["target"] = frame[dimension].map(targets).astype("float64")
    return _with_coverage(frame, con, view, dimension, settings, history)


def _with_coverage(frame: pd.DataFrame, con: duckdb.DuckDBPyConnection, view: View,
                   dimension: str, settings: Settings,
                   history: pa.Table | None) -> pd.DataFrame:
    target = frame["target"].where(frame["target"] > 0)
    closed = frame[CATEGORY_COLUMNS[CLOSED]]
    forecastable = frame[[CATEGORY_COLUMNS[c] for c in FORECASTABLE_CATEGORIES]].sum(axis=1)
    frame["enterprise"] = (closed + forecastable) / target
    left = (frame["target"] - closed).clip(lower=0)
    frame["remaining"] = forecastable / left.where(left > 0)
    is_smb = frame["method"] == SMB_METHOD
    expected: dict[str, float] = {}
    if is_smb.any():
        count = settings.history_periods
        if history is None:
            history = smb.history_cube(con, view.period, view.as_of, count, (smb.NEW_PART,))
        expected = smb.expected_new_by(con, view, count, history, dimension)
    frame["expected_new"] = frame[dimension].map(expected).fillna(0.0).where(is_smb)
    counted = frame[[CATEGORY_COLUMNS[c] for c in TOTAL_CATEGORIES]].sum(axis=1)
    frame["smb"] = (counted + frame["expected_new"].fillna(0.0)) / target
    rates: dict = {}
    if is_smb.any():
        rates = _close_rates(con, view, "segment" if dimension == "segment" else None)
    frame["close_rate"] = [
        rates.get(value if dimension == "segment" else None) if smb_row else None
        for value, smb_row in zip(frame[dimension], is_smb, strict=True)]
    frame["close_rate"] = frame["close_rate"].astype("float64")
    multiple = settings.coverage_multiple
    frame["required"] = (1 / frame["close_rate"].where(frame["close_rate"] > 0)).where(
        is_smb, multiple)
    frame["coverage"] = frame["smb"].where(is_smb, frame["enterprise"])
    frame["health"] = [health(None if pd.isna(c) else c, None if pd.isna(r) else r)
                       for c, r in zip(frame["coverage"], frame["required"], strict=True)]
    return frame


_EVENTS = "coverage_trend_events"  # the name held events are registered under for a query


def trend_events_sql(start: date, end: date, fy_start_month: int,
                     filters: Filters = Filters()):
    """The history as dated changes to the counted amount, per fiscal quarter of close date
    and every filter dimension: a history row adds its amount on valid_from and takes it back
    on valid_to, so a quarter's level on a day is the running sum of its deltas up to that day.

    Rows closing between `start` and `end`, in TOTAL_CATEGORIES (Closed, Commit, Best Case,
    Pipeline). With no filter this is the same for every view (a few hundred thousand rows at a
    million deals, for a caller to hold while the filters change); `filters` narrows it when
    nobody holds it. Grain: one row per (quarter_key, the filter dimensions, category, day).
    Columns: those and delta (exact DECIMAL).
    """
    condition = filters.condition(owner="s.owner")
    dimensions = ", ".join([*(f"o.{d} as {d}" for d in DESCRIPTIVE_FILTERS), "s.owner as owner"])
    return sql(f"""
        with rows as (
            select {fiscal_quarter_sql("s.close_date", fy_start_month)} as quarter_key,
                   {dimensions}, {report_category_sql()} as category,
                   s.valid_from, s.valid_to, s.amount
            from opportunity_history s
            left join {KNOWN_DEALS} o using (opportunity_id)
            left join stage_map m on m.stage = s.stage
            where s.close_date between $events_start and $events_end
              -- a row that ended before the first day adds and takes back its amount before
              -- any day a trend asks for: it cannot change a level
              and (s.valid_to is null or s.valid_to > $events_start)
              and {condition}),
        events as (
            select * exclude (valid_from, valid_to, amount),
                   unnest([valid_from, valid_to]) as day, unnest([amount, -amount]) as delta
            from rows where list_contains($trend_categories, category))
        select * exclude (delta), sum(delta) as delta
        from events where day is not null group by all
    """, condition, events_start=start, events_end=end,  # noqa: S608 - allow-listed columns
               trend_categories=list(TOTAL_CATEGORIES))


def trend_events(con: duckdb.DuckDBPyConnection, start: date, end: date,
                 fy_start_month: int) -> pa.Table:
    """`trend_events_sql` for every view, read into an Arrow table for a cache to hold."""
    query = trend_events_sql(start, end, fy_start_month)
    return con.cursor().sql(query.text, params=dict(query.params)).to_arrow_table()


def trend_quarters(view: View, quarters: int = TREND_QUARTERS) -> list[Period]:
    """The quarters a coverage trend shows: the view's quarter and the `quarters` before it."""
    current = period_containing(view.period.start, QUARTER, view.period.fy_start_month)
    return [*current.previous(quarters), current]


def counted_categories(method: str) -> tuple[str, ...]:
    """What coverage counts on a method: Closed + Commit + Best Case (enterprise), and Pipeline
    too on the SMB method."""
    counted = (CLOSED, *FORECASTABLE_CATEGORIES)
    return (*counted, PIPELINE) if method == SMB_METHOD else counted


def _trend_days(view: View, periods: list[Period]) -> list[dict[str, object]]:
    """The days each quarter of the trend is read on: weekly from its first day, and as-of's
    offset; the current quarter up to as-of."""
    current = periods[-1]
    offset = min(max((view.as_of - current.start).days, 0), current.days - 1)
    wanted = []
    for quarter in periods:
        last = offset if quarter == current else quarter.days - 1
        steps = sorted({*range(0, last + 1, TREND_STEP_DAYS), last, min(offset, last)})
        wanted += [{"quarter": quarter.label, "quarter_start": quarter.start, "offset_days": step,
                    "day": quarter.same_offset(current.start + timedelta(days=step), current)}
                   for step in steps]
    return wanted


def coverage_trend(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
                   quarters: int = TREND_QUARTERS, events: pa.Table | None = None
                   ) -> pd.DataFrame:
    """Coverage through the view's quarter so far, and through each of the `quarters` before it
    at the same offsets (docs/data-model.md#periods-and-as-of: Period.same_offset), from the snapshots.

    Grain: one row per (quarter, offset in days): weekly from the quarter's first day, plus
    as-of's offset. The current quarter stops at as-of. Columns: quarter, current, offset_days,
    week, day, forecastable (`counted_categories` of the view's method), target, coverage
    (None without a target), method.

    `events` is `trend_events` for these quarters when the caller holds it; else the history
    is read for this view.
    """
    periods = trend_quarters(view, quarters)
    method = view_method(view.filters, settings)
    cur = con.cursor()
    if events is None:
        source = trend_events_sql(periods[0].start, periods[-1].end, view.period.fy_start_month,
                                  view.filters)
        source = sql(f"({source})", source)
    else:
        cur.register(_EVENTS, events)
        source = sql(_EVENTS)
    condition = view.filters.condition()  # the events carry every filter column
    wanted = rows_sql("trend_days", _trend_days(view, periods))
    try:
        frame = cur.execute(*sql(
            f"""with deltas as (
                    select quarter_key, day, sum(delta) as delta from {source} e
                    where list_contains($counted, category) and {condition}
                    group by all),
                running as (
                    select quarter_key, day,
                           sum(delta) over (partition by quarter_key order by day) as level
                    from deltas),
                wanted as (
                    select quarter, offset_days, day::date as day,
                           {fiscal_quarter_sql("quarter_start", view.period.fy_start_month)}
                               as quarter_key
                    from {wanted})
                select w.quarter, w.offset_days, w.day,
                       coalesce(arg_max(r.level, r.day), 0)::double as forecastable
                from wanted w left join running r
                  on r.quarter_key = w.quarter_key and r.day <= w.day
                group by all order by w.quarter, w.offset_days""",  # noqa: S608 - allow-listed
            source, condition, wanted, counted=list(counted_categories(method)))).df()
    finally:
        if events is not None:
            cur.unregister(_EVENTS)
        cur.close()
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    targets = {p.label: target_for_view(con, p, view.filters).amount for p in periods}
    frame["target"] = frame["quarter"].map(targets).astype("float64")
    frame["coverage"] = frame["forecastable"] / frame["target"].where(frame["target"] > 0)
    frame["current"] = frame["quarter"] == periods[-1].label
    frame["week"] = frame["offset_days"] / TREND_STEP_DAYS
    frame["method"] = method
    order = {p.label: i for i, p in enumerate(periods)}
    return frame.sort_values(["quarter", "offset_days"], key=lambda s: s.map(order)
                             if s.name == "quarter" else s).reset_index(drop=True)


def same_week(trend: pd.DataFrame, as_of_offset: int | None = None) -> pd.DataFrame:
    """Each quarter's coverage at the current quarter's offset: where past quarters stood.

    Grain: one row per quarter, oldest first. Columns: those of `coverage_trend`."""
    if trend.empty:
        return trend
    offset = as_of_offset if as_of_offset is not None else int(
        trend.loc[trend["current"], "offset_days"].max())
    at = trend[trend["offset_days"] == offset]
    return at.drop_duplicates("quarter").reset_index(drop=True)


def rep_annual_coverage(con: duckdb.DuckDBPyConnection, view: View,
                        settings: Settings) -> pd.DataFrame:
    """Rep annual coverage per owner: (closed won in the fiscal year + open qualified pipeline closing
    in it) / annual quota (the sum of the owner's four quarter targets).

    Grain: one row per owner with deals in the fiscal year in the view (and, with no filter,
    every owner with a quota). Columns: owner, team, closed_won, open_pipeline, quota (NaN
    where owner targets do not fit the view: `sales.targets.targets_fit`, or the owner has
    none), coverage, health (thin below rep_coverage_low, healthy up to rep_coverage_high,
    comfortable above; docs/metrics.md#12-rep-annual-coverage).
    """
    fy_start, fy_end = fiscal_year_range(view.period.fiscal_year, view.period.fy_start_month)
    deals = deals_sql(state_key(con, view.as_of), view.filters)
    frame = con.cursor().execute(*sql(
        f"""select owner, mode(team) as team,
                   coalesce(sum(amount) filter (where category = $closed), 0)::double
                       as closed_won,
                   coalesce(sum(amount) filter (where list_contains($open_categories,
                                                                    category)), 0)::double
                       as open_pipeline
            from ({deals}) d
            where close_date between $fy_start and $fy_end and owner is not null
            group by owner""",  # noqa: S608
        deals, closed=CLOSED, open_categories=list(OPEN_CATEGORIES), fy_start=fy_start,
        fy_end=fy_end)).df()
    quarters = [period_containing(fy_start, QUARTER, view.period.fy_start_month).shift(k)
                for k in range(4)]
    owners = sorted(set(frame["owner"]) | (set(scope_values(con, "owner"))
                                           if not view.filters.active() else set()))
    per_quarter = [view_targets(con, view.filters, q, "owner", owners) for q in quarters]
    quotas = {o: sum(t[o] for t in per_quarter) for o in owners
              if all(o in t for t in per_quarter)}
    frame = frame.set_index("owner").reindex(owners).reset_index(names="owner")
    frame[["closed_won", "open_pipeline"]] = frame[["closed_won", "open_pipeline"]].fillna(0.0)
    frame["quota"] = frame["owner"].map(quotas).astype("float64")
    frame["coverage"] = ((frame["closed_won"] + frame["open_pipeline"])
                         / frame["quota"].where(frame["quota"] > 0))
    low, high = settings.rep_coverage_low, settings.rep_coverage_high
    frame["health"] = [NO_QUOTA if pd.isna(c) else THIN if c < low else
                       COMFORTABLE if c >= high else IN_BAND for c in frame["coverage"]]
    return frame.sort_values("coverage", na_position="last", kind="stable").reset_index(drop=True)


def smb_monthly(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
                histories: dict[str, pa.Table] | None = None) -> pd.DataFrame:
    """SMB-method segments month by month in the view's quarter (or its month).

    Grain: one row per (segment, fiscal month). Columns: segment, month, closed_won, commit,
    best_case, pipeline, expected_new (E for that month, from the same offset of past months:
    a month not begun expects all of its new pipeline, one that ended none), target (the
    segment's month target, where segment targets fit the view), smb coverage ((Closed +
    Commit + Best Case + Pipeline + E) / target), close_rate, required (1 / close rate),
    health. `histories` holds `sales.smb.history_cube` (its new-pipeline part) per month
    label, when the caller has them.
    """
    segments = [s for s in smb_segments(settings)
                if not view.filters.segment or s in view.filters.segment]
    if not segments:
        return pd.DataFrame()
    months = view.period.months()
    deals = deals_sql(state_key(con, view.as_of), view.filters)
    inline = rows_sql("months", [{"month": m.label, "m_start": m.start, "m_end": m.end}
                                 for m in months])
    rolled = con.cursor().execute(*sql(
        f"""select d.segment, m.month, d.category, sum(d.amount)::double as amount
            from {inline} m join ({deals}) d on d.close_date between m.m_start and m.m_end
            where list_contains($segments, d.segment)
            group by all""",  # noqa: S608
        inline, deals, segments=segments)).df()
    cells = {(r.segment, r.month, r.category): r.amount for r in rolled.itertuples()}
    rates = _close_rates(con, view, "segment")
    count = settings.history_periods
    expected = {}
    for month in months:
        history = (histories or {}).get(month.label)
        if history is None:
            history = smb.history_cube(con, month, view.as_of, count, (smb.NEW_PART,))
        expected[month.label] = smb.expected_new_by(con, View(month, view.as_of, view.filters),
                                                    count, history, "segment")
    rows = []
    for segment in segments:
        for month in months:
            target = view_targets(con, view.filters, month, "segment", [segment]).get(segment)
            amounts = [cells.get((segment, month.label, c), 0.0) for c in TOTAL_CATEGORIES]
            new = expected[month.label].get(segment, 0.0)
            coverage = ratio(sum(amounts) + new, target)
            rate = rates.get(segment)
            required = required_coverage(rate)
            rows.append((segment, month.label, *amounts, new, target, coverage, rate, required,
                         health(coverage, required)))
    return pd.DataFrame(rows, columns=["segment", "month",
                                       *(CATEGORY_COLUMNS[c] for c in TOTAL_CATEGORIES),
                                       "expected_new", "target", "smb", "close_rate", "required",
                                       "health"])


@dataclass(frozen=True)
class RepCoverage:
    """Rep annual coverage (`rep_annual_coverage`) against the band of the view's fiscal year.
    Grain: `owners` has one row per owner."""

    fiscal_year: int
    low: float
    high: float
    owners: pd.DataFrame

    def reps(self) -> dict[str, int]:
        """How many reps are thin, healthy, comfortable or without a quota."""
        counts = self.owners["health"].value_counts()
        return {h: int(counts.get(h, 0)) for h in (THIN, IN_BAND, COMFORTABLE, NO_QUOTA)}


def rep_coverage(con: duckdb.DuckDBPyConnection, view: View, settings: Settings
                 ) -> RepCoverage:
    """Each rep's annual coverage with the band it is judged against."""
    return RepCoverage(view.period.fiscal_year, settings.rep_coverage_low,
                       settings.rep_coverage_high,
                       rep_annual_coverage(con, view, settings))

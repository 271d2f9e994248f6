"""Coverage: enterprise and remaining coverage (SPEC item 2), SMB coverage against 1 / close
rate (item 3), by dimension, against past quarters at the same offset, and rep annual coverage
(item 12)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import NamedTuple

import duckdb
import pandas as pd
import pyarrow as pa

from sales import smb
from sales.periods import QUARTER, Period, fiscal_year_range, period_containing
from sales.query import FILTER_COLUMNS, REPORT_CATEGORY_SQL, Filters, deals_sql, state_key
from sales.rates import default_window, outcomes, rates_by
from sales.rollup import rollup_by
from sales.slippage import fiscal_quarter_sql
from sales.stages import BEST_CASE, CLOSED, COMMIT, PIPELINE
from sales.targets import target_for_view, targets_by
from sales.view import Measure, View, ratio


class Coverage(NamedTuple):
    """Multiples of the target; None where there is no target (or nothing remains to cover)."""

    enterprise: float | None
    remaining: float | None


def enterprise_coverage(rollup: dict[str, Measure], target: float | None) -> Coverage:
    """(Closed + Commit + Best Case) / target, and (Commit + Best Case) / max(target − Closed, 0).

    Pipeline is left out on purpose: in long cycles it does not close inside the quarter.
    """
    closed = rollup[CLOSED].amount
    forecastable = rollup[COMMIT].amount + rollup[BEST_CASE].amount
    if target is None:
        return Coverage(None, None)
    return Coverage(ratio(closed + forecastable, target),
                    ratio(forecastable, max(target - closed, 0.0)))


# --- Coverage by dimension, its trend, rep annual coverage, SMB by month (issue #4) ---------

HEALTHY, WATCH, SHORT, NO_TARGET = "healthy", "watch", "short", "no target"
# Within this share of the required multiple a view is worth chasing, not yet healthy.
WATCH_SHARE = 0.8
ENTERPRISE_METHOD, SMB_METHOD = "enterprise", "SMB"
COVERAGE_DIMENSIONS = ("segment", "region", "team", "owner")
# Rep annual coverage (SPEC item 12) against the rep_coverage_low / _high band.
THIN, IN_BAND, COMFORTABLE, NO_QUOTA = "thin", "healthy", "comfortable", "no quota"
# Quarters the trend compares the current one with (SPEC: the last four).
TREND_QUARTERS = 4
TREND_STEP_DAYS = 7


def smb_segments(settings: dict[str, object]) -> tuple[str, ...]:
    """Segments the settings put on the SMB method (comma-separated `smb_method_segments`)."""
    return tuple(s.strip() for s in str(settings["smb_method_segments"]).split(",") if s.strip())


def view_method(filters: Filters, settings: dict[str, object]) -> str:
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


def _targets_apply(filters: Filters, dimension: str) -> bool:
    """Targets per value of a dimension fit a view cut by nothing else."""
    return set(filters.active()) <= {dimension}


def has_smb_rows(filters: Filters, dimension: str, settings: dict[str, object]) -> bool:
    """Whether coverage_by for this view and dimension has rows on the SMB method (which then
    need the expected new pipeline, from `sales.smb.history_cube`)."""
    method = smb_segments(settings)
    if dimension == "segment":
        return any(not filters.segment or s in filters.segment for s in method)
    return view_method(filters, settings) == SMB_METHOD


def coverage_by(con: duckdb.DuckDBPyConnection, view: View, dimension: str,
                settings: dict[str, object], history: pa.Table | None = None) -> pd.DataFrame:
    """Coverage per value of segment, region, team or owner for the view's period.

    Grain: one row per value with deals or a target. Columns: the dimension, method
    (enterprise or SMB), closed_won, commit, best_case, pipeline, target, enterprise
    ((Closed + Commit + Best Case) / target), remaining ((Commit + Best Case) / max(target −
    Closed, 0)), expected_new (E, the pipeline still to be created in the period, on SMB rows;
    `sales.smb`), smb ((Closed + Commit + Best Case + Pipeline + E) / target), close_rate and
    required (the coverage_multiple setting for enterprise rows, 1 / close rate for SMB rows),
    coverage (the row's method's) and health. `history` is `sales.smb.history_cube` for the
    view (its new-pipeline part is enough) when the caller holds it.
    """
    if dimension not in COVERAGE_DIMENSIONS:
        raise ValueError(f"coverage is by {', '.join(COVERAGE_DIMENSIONS)}, not {dimension!r}")
    rolled = rollup_by(con, view, dimension)
    amounts = (rolled.pivot_table(index=dimension, columns="category", values="amount",
                                  aggfunc="sum", fill_value=0.0)
               .reindex(columns=[CLOSED, COMMIT, BEST_CASE, PIPELINE], fill_value=0.0))
    targets = (targets_by(con, view.period, dimension,
                          sorted(set(amounts.index) | set(_target_values(con, dimension))))
               if _targets_apply(view.filters, dimension) else {})
    if view.filters.active().get(dimension):  # a value filtered out keeps out of the table
        targets = {k: v for k, v in targets.items() if k in view.filters.active()[dimension]}
    values = sorted(set(amounts.index) | set(targets))
    frame = amounts.reindex(values, fill_value=0.0).reset_index(names=dimension)
    frame.columns.name = None
    frame = frame.rename(columns={CLOSED: "closed_won", COMMIT: "commit",
                                  BEST_CASE: "best_case", PIPELINE: "pipeline"})
    on_smb_method = set(smb_segments(settings))
    if dimension == "segment":
        frame.insert(1, "method", [SMB_METHOD if v in on_smb_method else ENTERPRISE_METHOD for v in values])
    else:
        frame.insert(1, "method", view_method(view.filters, settings))
    frame["target"] = frame[dimension].map(targets).astype("float64")
    return _with_coverage(frame, con, view, dimension, settings, history)


def _target_values(con: duckdb.DuckDBPyConnection, scope: str) -> list[str]:
    rows = con.cursor().execute("select distinct scope_value from targets where scope = ?",
                                [scope]).fetchall()
    return [r[0] for r in rows]


def _with_coverage(frame: pd.DataFrame, con: duckdb.DuckDBPyConnection, view: View,
                   dimension: str, settings: dict[str, object],
                   history: pa.Table | None) -> pd.DataFrame:
    target = frame["target"].where(frame["target"] > 0)
    forecastable = frame["commit"] + frame["best_case"]
    frame["enterprise"] = (frame["closed_won"] + forecastable) / target
    left = (frame["target"] - frame["closed_won"]).clip(lower=0)
    frame["remaining"] = forecastable / left.where(left > 0)
    is_smb = frame["method"] == SMB_METHOD
    expected: dict[str, float] = {}
    if is_smb.any():
        count = int(settings["history_periods"])
        if history is None:
            history = smb.history_cube(con, view.period, view.as_of, count, (smb.NEW_PART,))
        expected = smb.expected_new_by(con, view, count, history, dimension)
    frame["expected_new"] = frame[dimension].map(expected).fillna(0.0).where(is_smb)
    frame["smb"] = (frame["closed_won"] + forecastable + frame["pipeline"]
                    + frame["expected_new"].fillna(0.0)) / target
    rates: dict = {}
    if is_smb.any():
        rates = _close_rates(con, view, "segment" if dimension == "segment" else None)
    frame["close_rate"] = [
        rates.get(value if dimension == "segment" else None) if smb_row else None
        for value, smb_row in zip(frame[dimension], is_smb, strict=True)]
    frame["close_rate"] = frame["close_rate"].astype("float64")
    multiple = float(settings["coverage_multiple"])
    frame["required"] = (1 / frame["close_rate"].where(frame["close_rate"] > 0)).where(
        is_smb, multiple)
    frame["coverage"] = frame["smb"].where(is_smb, frame["enterprise"])
    frame["health"] = [health(None if pd.isna(c) else c, None if pd.isna(r) else r)
                       for c, r in zip(frame["coverage"], frame["required"], strict=True)]
    return frame


# The dimensions the trend's events carry, so any view filter can be applied to them.
_EVENT_DIMENSIONS = tuple(FILTER_COLUMNS)
_TREND_CATEGORIES = (CLOSED, COMMIT, BEST_CASE, PIPELINE)
_EVENTS = "coverage_trend_events"  # the name held events are registered under for a query


def trend_events_sql(start: date, end: date, fy_start_month: int,
                     filters: Filters = Filters()) -> tuple[str, list]:
    """The history as dated changes to the forecastable amount, per fiscal quarter of close date
    and every filter dimension: a history row adds its amount on valid_from and takes it back
    on valid_to, so a quarter's level on a day is the running sum of its deltas up to that day.

    Rows closing between `start` and `end`, in Closed, Commit, Best Case or Pipeline. With no
    filter this is the same for every view (a few hundred thousand rows at a million deals, for
    a caller to hold while the filters change); `filters` narrows it when nobody holds it.
    Grain: one row per (quarter_key, the filter dimensions, category, day). Columns: those
    and delta (exact DECIMAL).
    """
    condition, params = filters.where()
    dimensions = ", ".join(f"{FILTER_COLUMNS[d]} as {d}" for d in _EVENT_DIMENSIONS)
    sql = f"""
        with rows as (
            select {fiscal_quarter_sql("s.close_date", fy_start_month)} as quarter_key,
                   {dimensions}, {REPORT_CATEGORY_SQL} as category,
                   s.valid_from, s.valid_to, s.amount
            from opportunity_history s
            left join opportunities o using (opportunity_id)
            left join stage_map m on m.stage = s.stage
            where s.close_date between ? and ?
              -- a row that ended before the first day adds and takes back its amount before
              -- any day a trend asks for: it cannot change a level
              and (s.valid_to is null or s.valid_to > ?)
              {"and " + condition if condition else ""}),
        events as (
            select * exclude (valid_from, valid_to, amount),
                   unnest([valid_from, valid_to]) as day, unnest([amount, -amount]) as delta
            from rows where category in ({", ".join("?" * len(_TREND_CATEGORIES))}))
        select * exclude (delta), sum(delta) as delta
        from events where day is not null group by all
    """  # noqa: S608 - identifiers from FILTER_COLUMNS; values are bound
    return sql, [start, end, start, *params, *_TREND_CATEGORIES]


def trend_events(con: duckdb.DuckDBPyConnection, start: date, end: date,
                 fy_start_month: int) -> pa.Table:
    """`trend_events_sql` for every view, read into an Arrow table for a cache to hold."""
    sql, params = trend_events_sql(start, end, fy_start_month)
    return con.cursor().sql(sql, params=params).to_arrow_table()


def trend_quarters(view: View, quarters: int = TREND_QUARTERS) -> list[Period]:
    """The quarters a coverage trend shows: the view's quarter and the `quarters` before it."""
    current = period_containing(view.period.start, QUARTER, view.period.fy_start_month)
    return [*current.previous(quarters), current]


def coverage_trend(con: duckdb.DuckDBPyConnection, view: View, settings: dict[str, object],
                   quarters: int = TREND_QUARTERS, events: pa.Table | None = None
                   ) -> pd.DataFrame:
    """Coverage through the view's quarter so far, and through each of the `quarters` before it
    at the same offsets (SPEC "same offset": Period.same_offset), from the snapshots.

    Grain: one row per (quarter, offset in days): weekly from the quarter's first day, plus
    as-of's offset. The current quarter stops at as-of. Columns: quarter, current, offset_days,
    week, day, forecastable (Closed + Commit + Best Case; + Pipeline on the SMB method), target,
    coverage (None without a target), method.

    `events` is `trend_events` for these quarters when the caller holds it; else the history
    is read for this view.
    """
    periods = trend_quarters(view, quarters)
    current = periods[-1]
    offset = min(max((view.as_of - current.start).days, 0), current.days - 1)
    wanted = []
    for quarter in periods:
        last = offset if quarter == current else quarter.days - 1
        steps = sorted({*range(0, last + 1, TREND_STEP_DAYS), last, min(offset, last)})
        wanted += [(quarter.label, step, quarter.same_offset(current.start + timedelta(days=step),
                                                             current)) for step in steps]
    method = view_method(view.filters, settings)
    counted = ["Closed", "Commit", "Best Case"] + (["Pipeline"] if method == SMB_METHOD else [])
    cur = con.cursor()
    if events is None:
        source, source_params = trend_events_sql(periods[0].start, periods[-1].end,
                                                 view.period.fy_start_month, view.filters)
        source = f"({source})"
    else:
        cur.register(_EVENTS, events)
        source, source_params = _EVENTS, []
    condition, filter_params = view.filters.where()
    condition = re.sub(r"\b[os]\.", "e.", condition)  # the events carry every filter column
    # Each quarter as a number (no range join over the history), matched to ours.
    keys = {p.label: (p.start.year * 12 + p.start.month - view.period.fy_start_month) // 3
            for p in periods}
    wanted_rows = ", ".join("(?, ?, ?, ?::date)" for _ in wanted)
    try:
        frame = cur.execute(
            f"""with deltas as (
                    select quarter_key, day, sum(delta) as delta from {source} e
                    where category in ({", ".join("?" * len(counted))})
                      {"and " + condition if condition else ""}
                    group by all),
                running as (
                    select quarter_key, day,
                           sum(delta) over (partition by quarter_key order by day) as level
                    from deltas),
                wanted(quarter, quarter_key, offset_days, day) as (values {wanted_rows})
                select w.quarter, w.offset_days, w.day,
                       coalesce(arg_max(r.level, r.day), 0)::double as forecastable
                from wanted w left join running r
                  on r.quarter_key = w.quarter_key and r.day <= w.day
                group by all order by w.quarter, w.offset_days""",  # noqa: S608 - allow-listed
            [*source_params, *counted, *filter_params]
            + [x for label, step, day in wanted for x in (label, keys[label], step, day)]).df()
    finally:
        if events is not None:
            cur.unregister(_EVENTS)
        cur.close()
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    targets = {p.label: target_for_view(con, p, view.filters).amount for p in periods}
    frame["target"] = frame["quarter"].map(targets).astype("float64")
    frame["coverage"] = frame["forecastable"] / frame["target"].where(frame["target"] > 0)
    frame["current"] = frame["quarter"] == current.label
    frame["week"] = frame["offset_days"] / TREND_STEP_DAYS
    frame["method"] = method
    order = {p.label: i for i, p in enumerate(periods)}
    return frame.sort_values(["quarter", "offset_days"], key=lambda s: s.map(order)
                             if s.name == "quarter" else s).reset_index(drop=True)


def same_week(trend: pd.DataFrame, as_of_offset: int | None = None) -> pd.DataFrame:
    """Each quarter's coverage at the current quarter's offset: where past quarters stood.

    Grain: one row per quarter, oldest first."""
    if trend.empty:
        return trend
    offset = as_of_offset if as_of_offset is not None else int(
        trend.loc[trend["current"], "offset_days"].max())
    at = trend[trend["offset_days"] == offset]
    return at.drop_duplicates("quarter").reset_index(drop=True)


def rep_annual_coverage(con: duckdb.DuckDBPyConnection, view: View,
                        settings: dict[str, object]) -> pd.DataFrame:
    """SPEC item 12 per owner: (closed won in the fiscal year + open qualified pipeline closing
    in it) / annual quota (the sum of the owner's four quarter targets).

    Grain: one row per owner with deals in the fiscal year in the view (and, with no filter,
    every owner with a quota). Columns: owner, team, closed_won, open_pipeline, quota, coverage,
    health (thin below rep_coverage_low, healthy up to rep_coverage_high, comfortable above).
    """
    fy = view.period.fiscal_year
    start, end = fiscal_year_range(fy, view.period.fy_start_month)
    deals, params = deals_sql(state_key(con, view.as_of), view.filters)
    frame = con.cursor().execute(
        f"""select owner, mode(team) as team,
                   coalesce(sum(amount) filter (where category = 'Closed'), 0)::double
                       as closed_won,
                   coalesce(sum(amount) filter (where category in ('Commit', 'Best Case',
                                                                  'Pipeline')), 0)::double
                       as open_pipeline
            from ({deals}) d
            where close_date between ? and ? and owner is not null
            group by owner""",  # noqa: S608
        params + [start, end]).df()
    quarters = [period_containing(start, QUARTER, view.period.fy_start_month).shift(k)
                for k in range(4)]
    owners = sorted(set(frame["owner"]) | (set(_target_values(con, "owner"))
                                           if not view.filters.active() else set()))
    per_quarter = [targets_by(con, q, "owner", owners) for q in quarters]
    quotas = {o: sum(t[o] for t in per_quarter) for o in owners
              if all(o in t for t in per_quarter)}
    frame = frame.set_index("owner").reindex(owners).reset_index(names="owner")
    frame[["closed_won", "open_pipeline"]] = frame[["closed_won", "open_pipeline"]].fillna(0.0)
    cut = set(view.filters.active()) & {"type", "channel"}
    frame["quota"] = (frame["owner"].map(quotas).astype("float64") if not cut
                      else float("nan"))  # a quota covers the whole book, not one type
    frame["coverage"] = ((frame["closed_won"] + frame["open_pipeline"])
                         / frame["quota"].where(frame["quota"] > 0))
    low, high = float(settings["rep_coverage_low"]), float(settings["rep_coverage_high"])
    frame["health"] = [NO_QUOTA if pd.isna(c) else THIN if c < low else
                       COMFORTABLE if c >= high else IN_BAND for c in frame["coverage"]]
    return frame.sort_values("coverage", na_position="last", kind="stable").reset_index(drop=True)


def smb_monthly(con: duckdb.DuckDBPyConnection, view: View, settings: dict[str, object],
                histories: dict[str, pa.Table] | None = None) -> pd.DataFrame:
    """SMB-method segments month by month in the view's quarter (or its month).

    Grain: one row per (segment, fiscal month). Columns: segment, month, closed_won, commit,
    best_case, pipeline, expected_new (E for that month, from the same offset of past months:
    a month not begun expects all of its new pipeline, one that ended none), target (the
    segment's month target), smb coverage ((Closed + Commit + Best Case + Pipeline + E) /
    target), close_rate, required (1 / close rate), health. `histories` holds
    `sales.smb.history_cube` (its new-pipeline part) per month label, when the caller has them.
    """
    segments = [s for s in smb_segments(settings)
                if not view.filters.segment or s in view.filters.segment]
    if not segments:
        return pd.DataFrame()
    months = view.period.months()
    deals, params = deals_sql(state_key(con, view.as_of), view.filters)
    month_rows = ", ".join("(?, ?::date, ?::date)" for _ in months)
    rolled = con.cursor().execute(
        f"""with months(month, m_start, m_end) as (values {month_rows})
            select d.segment, m.month, d.category, sum(d.amount)::double as amount
            from months m join ({deals}) d on d.close_date between m.m_start and m.m_end
            where d.segment in ({", ".join("?" * len(segments))})
            group by all""",  # noqa: S608
        [x for m in months for x in (m.label, m.start, m.end)] + params + segments).df()
    cells = {(r.segment, r.month, r.category): r.amount for r in rolled.itertuples()}
    apply_targets = _targets_apply(view.filters, "segment")
    rates = _close_rates(con, view, "segment")
    count = int(settings["history_periods"])
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
            target = (targets_by(con, month, "segment", [segment]).get(segment)
                      if apply_targets else None)
            get = lambda c, s=segment, m=month.label: cells.get((s, m, c), 0.0)  # noqa: E731
            new = expected[month.label].get(segment, 0.0)
            total = sum(get(c) for c in (CLOSED, COMMIT, BEST_CASE, PIPELINE)) + new
            coverage = ratio(total, target)
            rate = rates.get(segment)
            required = ratio(1.0, rate)
            rows.append((segment, month.label, get(CLOSED), get(COMMIT), get(BEST_CASE),
                         get(PIPELINE), new, target, coverage, rate, required,
                         health(coverage, required)))
    return pd.DataFrame(rows, columns=["segment", "month", "closed_won", "commit", "best_case",
                                       "pipeline", "expected_new", "target", "smb",
                                       "close_rate", "required", "health"])

"""The report keys the board pack needs beyond the pages' headline: the in-blood number at the
same point of past periods and week by week this period, coverage per segment, pipeline
generated and the rates per quarter, the top competitors, rep annual coverage, the diagnosis,
the make-or-break deals, the track record of past calls and the data's freshness.

`board_keys` computes them from the same `sales` functions the pages use; `build_report(...,
board=True)` adds them to the report as top-level keys (the command line always does), so the
pack reads numbers that are report keys and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from sales import backtest, diagnosis
from sales.calls import call_history
from sales.coverage import coverage_by, rep_annual_coverage
from sales.freshness import last_load
from sales.generated import generated_by_period
from sales.inblood import board_sql, in_blood, latest_call
from sales.periods import Period
from sales.query import latest_snapshot, snapshot_dates, snapshot_on_or_before
from sales.rates import (
    rates_by,
    rates_by_period,
    trend_quarters,
    window_quarters,
    with_slips,
)
from sales.rollup import closed_won
from sales.slippage import slipped_by_period, slips_cube
from sales.sql import sql
from sales.stages import FORECASTABLE_CATEGORIES
from sales.targets import target_for_view
from sales.view import View, ratio

# Past periods the call is compared with at the same point (the issue: the last four quarters).
SAME_POINT_PERIODS = 4
# Deals listed on each side of the make-or-break table.
MAKE_OR_BREAK_DEALS = 5
# Competitors the loss mix names.
TOP_COMPETITORS = 5
SAVED_CALL, DEFAULT_RULES = "saved call", "default rules"


def _number(value: object) -> float | int | None:
    """A plain JSON number: NaN and NA become None, numpy scalars Python ones."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    number = float(value)
    return None if math.isnan(number) else number


def _records(frame: pd.DataFrame, columns: dict[str, str]) -> list[dict[str, object]]:
    """Rows of a frame as report dicts: {report key: value} for `columns` (frame column →
    key); numbers as plain numbers, text as text, dates as ISO text."""
    rows = []
    for record in frame.to_dict("records"):
        row = {}
        for column, key in columns.items():
            value = record.get(column)
            if isinstance(value, datetime):  # pandas reads DATE columns as timestamps
                row[key] = value.date().isoformat()
            elif isinstance(value, date):
                row[key] = value.isoformat()
            elif isinstance(value, str) or value is None:
                row[key] = value
            else:
                row[key] = _number(value)
        rows.append(row)
    return rows


def same_point(con: duckdb.DuckDBPyConnection, view: View, settings: dict[str, object],
               use_saved_call: bool = True, n: int = SAME_POINT_PERIODS) -> list[dict]:
    """The in-blood number, upside and range of each of the `n` periods before the view's at
    the same point (as many days in as as-of is into the view's period, `Period.same_offset`),
    as the report would have said then, with each period's target and what it finally closed
    (closed won as of the view's as-of). Grain: one row per past period, oldest first; the
    numbers are None where no snapshot reaches back to that day."""
    dates = snapshot_dates(con)
    rows = []
    for period in view.period.previous(n):
        day = period.same_offset(view.as_of, view.period)
        before_history = bool(dates) and day < dates[0]  # no picture of that day
        snapshot = None if before_history else snapshot_on_or_before(con, day)
        row: dict[str, object] = {"period": period.label, "as_of": day.isoformat(),
                                  "snapshot_date": snapshot.isoformat() if snapshot else None,
                                  "target": target_for_view(con, period, view.filters).amount,
                                  "closed_won": closed_won(con, replace(view, period=period))
                                  .amount}
        if before_history:
            row.update(number=None, upside=None, range_high=None, source=None)
        else:
            then = in_blood(con, replace(view, period=period, as_of=day), settings,
                            use_saved_call)
            row.update(number=then.number, upside=then.upside, range_high=then.range_high,
                       source=then.source)
        rows.append(row)
    return rows


def weekly(con: duckdb.DuckDBPyConnection, view: View, settings: dict[str, object]
           ) -> list[dict]:
    """How the in-blood number moved week by week in the view's period up to as-of: the last
    call saved in each week (its number and upside, `sales.calls.call_history`), and the
    default rules at the last snapshot of each week (`sales.backtest.rules_by_snapshot`).
    Grain: one row per (week of the period, source), in week order."""
    rows = []
    calls = call_history(con, view)
    for call in calls[calls["call_date"] <= view.as_of].itertuples(index=False):
        rows.append((backtest.week_of(view.period, call.call_date), call.call_date,
                     SAVED_CALL, float(call.in_blood), float(call.upside)))
    rules = backtest.rules_by_snapshot(con, view, settings)
    for snap in rules[rules["snapshot_date"] <= view.as_of].to_dict("records"):
        day = snap["snapshot_date"]
        rows.append((backtest.week_of(view.period, day), day, DEFAULT_RULES,
                     float(snap["in_blood"]), float(snap["upside"])))
    frame = pd.DataFrame(rows, columns=["week", "date", "source", "number", "upside"])
    frame = (frame.sort_values(["week", "source", "date"], kind="stable")
             .drop_duplicates(["week", "source"], keep="last"))
    frame["range_high"] = frame["number"] + frame["upside"]
    return _records(frame, {c: c for c in ("week", "date", "source", "number", "upside",
                                           "range_high")})


def segment_coverage(con: duckdb.DuckDBPyConnection, view: View, settings: dict[str, object]
                     ) -> list[dict]:
    """Coverage per segment as the Coverage page shows it (`sales.coverage.coverage_by`)."""
    frame = coverage_by(con, view, "segment", settings)
    return _records(frame, {c: c for c in (
        "segment", "method", "target", "closed_won", "commit", "best_case", "pipeline",
        "expected_new", "enterprise", "remaining", "smb", "close_rate", "required", "coverage",
        "health")})


def make_or_break(con: duckdb.DuckDBPyConnection, view: View, settings: dict[str, object],
                  use_saved_call: bool = True, n: int = MAKE_OR_BREAK_DEALS) -> dict:
    """The largest deals the in-blood number includes, and the largest Commit and Best Case
    deals it leaves out (the upside), as the in-blood board starts (the saved call's decisions,
    else the rules). Grain: up to `n` deals a side, largest first."""
    call = latest_call(con, view) if use_saved_call else None
    board = board_sql(con, view, settings, call[0] if call else None, facts=False)
    columns = ("opportunity_id", "name", "account_name", "owner", "segment", "category",
               "stage", "amount", "close_date")
    found = con.cursor().execute(*sql(
        f"""select {", ".join(columns)}, start_included as included from (
                select *, row_number() over (partition by start_included
                                             order by amount desc, opportunity_id) as rank
                from ({board}) b
                where start_included or list_contains($forecastable, category))
            where rank <= $deals order by included desc, amount desc, opportunity_id""",  # noqa: S608
        board, forecastable=list(FORECASTABLE_CATEGORIES), deals=n)).df()
    keys = {c: c for c in columns}
    return {"included": _records(found[found["included"]], keys),
            "excluded": _records(found[~found["included"]], keys)}


def generated_trend(con: duckdb.DuckDBPyConnection, view: View) -> list[dict]:
    """Pipeline generated in each quarter of the rates trend (the quarter holding as-of and
    the seven before it; the last one up to as-of)."""
    quarters = trend_quarters(view.as_of, view.period.fy_start_month)
    frame = generated_by_period(con, view, quarters)
    return _records(frame, {"period": "period", "amount": "amount", "count": "count"})


@dataclass(frozen=True)
class Slips:
    """The slips out of the rates trend's quarters and the rates window's, read once (a scan
    of the history per quarter) for the report's rates and the pack's trend and diagnosis."""

    trend: list[Period]
    window: list[Period]
    cube: pa.Table | None

    def window_frame(self, con: duckdb.DuckDBPyConnection, view: View) -> pd.DataFrame:
        """`slipped_by_period` for the window's quarters through the view's filters."""
        return slipped_by_period(con, self.window, view.as_of, view.filters, self.cube)


def read_slips(con: duckdb.DuckDBPyConnection, view: View, window: tuple[date, date]) -> Slips:
    """The trend's quarters, the window's quarters and the slips cube over both."""
    fy_start = view.period.fy_start_month
    trend = trend_quarters(view.as_of, fy_start)
    in_window = window_quarters(*window, fy_start)
    quarters = sorted({*trend, *in_window}, key=lambda q: q.start)
    return Slips(trend, in_window, slips_cube(con, quarters, view.as_of))


def rates_trend(con: duckdb.DuckDBPyConnection, view: View, trend: list, cube: object
                ) -> list[dict]:
    """Close, win and slippage-adjusted close rate per quarter (the Rates page's trend)."""
    frame = with_slips(rates_by_period(con, trend, view.as_of, view.filters),
                       slipped_by_period(con, trend, view.as_of, view.filters, cube))
    return _records(frame, {
        "period": "period", "close_rate_count": "close_rate", "win_rate_count": "win_rate",
        "adjusted_rate_count": "slippage_adjusted_close_rate",
        "close_rate_amount": "close_rate_amount", "win_rate_amount": "win_rate_amount",
        "adjusted_rate_amount": "slippage_adjusted_close_rate_amount",
        "won_count": "won", "lost_competition_count": "lost_competition",
        "lost_no_decision_count": "lost_no_decision", "slipped_count": "slipped"})


def top_competitors(con: duckdb.DuckDBPyConnection, view: View, window: tuple[date, date],
                    n: int = TOP_COMPETITORS) -> list[dict]:
    """The competitors the most deals were lost to in the rates window, with our win rate
    against each (won / (won + lost to competition), by count)."""
    frame = rates_by(con, *window, view.as_of, "competitor", view.filters)
    frame = frame[(frame["competitor"] != "(none)") & (frame["lost_competition_count"] > 0)]
    frame = frame.sort_values(["lost_competition_count", "lost_competition_amount",
                               "competitor"], ascending=[False, False, True]).head(n)
    return _records(frame, {"competitor": "competitor", "lost_competition_count": "lost_count",
                            "lost_competition_amount": "lost_amount", "won_count": "won_count",
                            "win_rate_count": "win_rate"})


def rep_coverage(con: duckdb.DuckDBPyConnection, view: View, settings: dict[str, object]
                 ) -> dict:
    """Rep annual coverage (`sales.coverage.rep_annual_coverage`) against the band: each rep,
    and how many are thin, healthy, comfortable or without a quota."""
    frame = rep_annual_coverage(con, view, settings)
    counts = frame["health"].value_counts()
    return {"fiscal_year": view.period.fiscal_year,
            "low": float(settings["rep_coverage_low"]),
            "high": float(settings["rep_coverage_high"]),
            "reps": {h: int(counts.get(h, 0)) for h in ("thin", "healthy", "comfortable",
                                                         "no quota")},
            "owners": _records(frame, {c: c for c in ("owner", "team", "closed_won",
                                                      "open_pipeline", "quota", "coverage",
                                                      "health")})}


def segment_diagnosis(con: duckdb.DuckDBPyConnection, view: View, settings: dict[str, object],
                      window: tuple[date, date], in_window: list, cube: object,
                      coverage: list[dict]) -> dict:
    """The diagnosis rules (`sales.diagnosis`) applied to each segment of the view: its
    trailing close rate and slippage-adjusted close rate (by count, over the rates window) and
    its coverage against what it needs (`segment_coverage`)."""
    outcomes = rates_by(con, *window, view.as_of, "segment", view.filters).set_index("segment")
    rows = []
    for segment in coverage:
        name = segment["segment"]
        slipped = slipped_by_period(con, in_window, view.as_of,
                                    replace(view.filters, segment=(name,)), cube)
        if name in outcomes.index:
            got = outcomes.loc[name]
            won = int(got["won_count"])
            decided = won + int(got["lost_competition_count"]) + int(
                got["lost_no_decision_count"])
            close = ratio(won, decided)
            adjusted = ratio(won, decided + int(slipped["slipped_count"].sum()))
        else:
            close = adjusted = None
        rows.append(diagnosis.diagnose(diagnosis.SegmentFacts(
            name, close, adjusted, segment["coverage"], segment["required"]), settings))
    return {"rules": diagnosis.rules(settings), "segments": rows}


def track_record(con: duckdb.DuckDBPyConnection, view: View, settings: dict[str, object]
                 ) -> dict:
    """The accuracy of past calls (`sales.backtest.track_record`): per week of the period, how
    far saved calls and the default rules were from what closed (the mean |error| over the
    completed periods before the view's, each seen from the week's first day); and which week
    of the period as-of is in."""
    result = backtest.track_record(con, view, settings)
    by_week = backtest.error_by_week(result)
    return {"periods": sorted(set(result.frame.dropna(subset=["forecast"])["period"])),
            "week_now": backtest.week_of(view.period, view.as_of)
            if view.as_of >= view.period.start else None,
            "by_week": _records(by_week, {"week": "week", backtest.SAVED_CALLS: "saved_call",
                                          backtest.DEFAULT_RULES: "default_rules"})}


def freshness(con: duckdb.DuckDBPyConnection) -> dict:
    """When the data last changed: the latest import, CRM sync or demo build on the audit
    trail (when, who, what) and the latest snapshot."""
    found = last_load(con)
    snapshot = latest_snapshot(con)
    return {"last_import": found[0].isoformat(sep=" ") if found else None,
            "last_import_by": found[1] if found else None,
            "last_import_action": found[2] if found else None,
            "last_import_summary": found[3] if found else None,
            "last_snapshot": snapshot.isoformat() if snapshot else None}


def board_keys(con: duckdb.DuckDBPyConnection, view: View, settings: dict[str, object],
               window: tuple[date, date], use_saved_call: bool = True,
               slips: Slips | None = None,
               progress: Callable[[float, str], None] | None = None) -> dict[str, object]:
    """The pack's keys, each a new top-level key of the report (`build_report` adds them;
    the keys the pages already had are left as they are)."""
    say = progress or (lambda fraction, message: None)
    say(0.2, "Coverage per segment and the slips per quarter")
    by_segment = segment_coverage(con, view, settings)
    slips = slips or read_slips(con, view, window)
    say(0.25, "The in-blood number at the same point of past quarters and week by week")
    keys: dict[str, object] = {"same_point": same_point(con, view, settings, use_saved_call),
                               "in_blood_weekly": weekly(con, view, settings),
                               "coverage_by_segment": by_segment}
    say(0.3, "Pipeline generated, rates and competitors per quarter")
    keys.update({
        "generated_by_quarter": generated_trend(con, view),
        "rates_by_quarter": rates_trend(con, view, slips.trend, slips.cube),
        "top_competitors": top_competitors(con, view, window),
        "floors": {"close_rate": float(settings["close_rate_floor"]),
                   "win_rate": float(settings["win_rate_floor"]),
                   "win_rate_aim": float(settings["win_rate_aim"]),
                   "coverage_multiple": float(settings["coverage_multiple"])}})
    say(0.35, "Rep coverage, the diagnosis and the make-or-break deals")
    keys.update({
        "rep_coverage": rep_coverage(con, view, settings),
        "make_or_break": make_or_break(con, view, settings, use_saved_call),
        "diagnosis": segment_diagnosis(con, view, settings, window, slips.window, slips.cube,
                                       by_segment)})
    say(0.4, "The track record of past calls")
    keys.update({"accuracy": track_record(con, view, settings), "freshness": freshness(con)})
    return keys

"""`report`: every number the pages show for a period and as-of date, as JSON, CSV or Markdown.

The report is composed from the same `sales` functions the pages draw, as typed results:
`headline` (what the Overview shows), `full_report` (every page's numbers), `board_report`
(what the board pack draws) and `command_report` (the command line's: all of them, with the
movement since the last call). Each result type has an `as_report`, called only here at the
JSON edge, so a page's tile and the report's key are one computation. The JSON keys are a
stable interface (documented in the README): add keys, never rename.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import NamedTuple

import duckdb
import pandas as pd

from sales import diagnosis, funnel
from sales import formatting as fmt
from sales.backtest import track_record_keys
from sales.callprep import (
    CallPrep,
    Forecast,
    call_report,
    forecast_at_last_call,
    prepare_call,
    saved_call_on,
)
from sales.capacity import CapacityPlan, capacity_for
from sales.coverage import (
    Coverage,
    RepCoverage,
    SmbCoverage,
    coverage_by,
    enterprise_coverage,
    rep_coverage,
    smb_coverage,
)
from sales.export import neutral_text
from sales.followups import FollowUpCounts, follow_up_counts
from sales.freshness import LastLoad, last_change
from sales.generated import Generated, generated_by_period, pipeline_generated
from sales.inblood import InBlood, in_blood, make_or_break
from sales.inblood_history import SamePoint, same_point, weekly
from sales.lead_statuses import LEAD_GROUPS
from sales.leads import LeadPipeline, lead_pipeline
from sales.movement import PART_LABELS, PARTS
from sales.movement import window as since_last_call
from sales.query import snapshot_on_or_before
from sales.rates import (
    Outcomes,
    Slips,
    WindowRates,
    default_window,
    outcomes,
    rates_trend,
    read_slips,
    top_competitors,
    trend_quarters,
    window_rates,
)
from sales.records import records, same_records
from sales.rollup import category_rollup
from sales.settings import Settings, load_settings
from sales.smb import (
    SmbForecast,
    TopDownBottomUp,
    bottom_up,
    smb_forecast,
    smb_view,
    top_down_bottom_up,
)
from sales.stages import CLOSED, OMITTED, OPEN_CATEGORIES, REPORT_CATEGORIES, UNQUALIFIED
from sales.targets import target_for_view
from sales.team_rollup import rollup_report
from sales.team_view import top_call_keys
from sales.view import Measure, View, ratio

FORMATS = ("json", "csv", "markdown")
Progress = Callable[[float, str], None]


class Attainment(NamedTuple):
    """Shares of the target: closed won, the in-blood number and the top of the range."""

    closed_won: float | None
    in_blood: float | None
    range_high: float | None


@dataclass(frozen=True)
class Headline:
    """What the Overview shows for a view: the roll-up, the target, coverage, the close and
    win rates over the rates window and the in-blood number. Grain: the view's period."""

    view: View
    snapshot_date: date | None
    target: float | None
    categories: dict[str, Measure]  # every report category
    coverage: Coverage
    rates: Outcomes | WindowRates  # WindowRates (with slippage) in the full report
    in_blood: InBlood

    @property
    def attainment(self) -> Attainment:
        return Attainment(ratio(self.categories[CLOSED].amount, self.target),
                          ratio(self.in_blood.number, self.target),
                          ratio(self.in_blood.range_high, self.target))

    def as_report(self) -> dict:
        """The report's headline keys: numbers as floats/ints, dates as ISO text."""
        view = self.view
        return {
            "period": view.period.label,
            "period_start": view.period.start.isoformat(),
            "period_end": view.period.end.isoformat(),
            "as_of": view.as_of.isoformat(),
            "snapshot_date": self.snapshot_date.isoformat() if self.snapshot_date else None,
            "filters": {k: list(v) for k, v in view.filters.active().items()},
            "target": self.target,
            "categories": {c: self.categories[c].as_report() for c in REPORT_CATEGORIES},
            "coverage": {"enterprise": self.coverage.enterprise,
                         "remaining": self.coverage.remaining},
            "rates": self.rates.as_report(),
            "in_blood": self.in_blood.as_report(),
            "attainment": self.attainment._asdict(),
        }


@dataclass(frozen=True)
class SmbMethod:
    """The view's segments on the SMB method (`sales.smb.smb_view`): their weighted forecast
    and their coverage. Grain: the narrowed view's period."""

    segments: tuple[str, ...]
    forecast: SmbForecast
    coverage: SmbCoverage

    def as_report(self) -> dict:
        """The report's `smb_method` keys."""
        forecast = self.forecast
        return {"segments": list(self.segments), "total": forecast.total,
                "low": forecast.low, "high": forecast.high, "closed": forecast.closed,
                "target": self.coverage.target,
                "share_of_target": ratio(forecast.total, self.coverage.target)}


@dataclass(frozen=True)
class Details:
    """What the other pages show for the view beyond the headline: the SMB forecast against
    the reps' numbers, pipeline generated, the funnel, rep capacity, leads and follow-ups."""

    forecast: SmbForecast
    versus: TopDownBottomUp
    generated: Generated
    stages: pd.DataFrame
    speed: funnel.Velocity
    capacity: CapacityPlan
    leads: LeadPipeline
    follow_ups: FollowUpCounts

    def as_report(self, headline: Headline) -> dict:
        return {
            "smb_forecast": {**self.forecast.as_report(), "bottom_up": self.versus.as_report(),
                             "against": self.forecast.against(headline.target,
                                                              headline.in_blood.number)},
            "pipeline_generated": self.generated.as_report(),
            "funnel": funnel.as_report(self.stages, self.speed),
            "capacity": self.capacity.as_report(),
            "leads": self.leads.as_report(),
            "follow_ups": self.follow_ups.as_report(),
        }


_SEGMENT_COVERAGE = ("segment", "method", "target", "closed_won", "commit", "best_case",
                     "pipeline", "expected_new", "enterprise", "remaining", "smb", "close_rate",
                     "required", "coverage", "health")
_RATES_TREND = {
    "period": "period", "close_rate_count": "close_rate", "win_rate_count": "win_rate",
    "adjusted_rate_count": "slippage_adjusted_close_rate",
    "close_rate_amount": "close_rate_amount", "win_rate_amount": "win_rate_amount",
    "adjusted_rate_amount": "slippage_adjusted_close_rate_amount",
    "won_count": "won", "lost_competition_count": "lost_competition",
    "lost_no_decision_count": "lost_no_decision", "slipped_count": "slipped"}
_COMPETITORS = {"competitor": "competitor", "lost_competition_count": "lost_count",
                "lost_competition_amount": "lost_amount", "won_count": "won_count",
                "win_rate_count": "win_rate"}
_DEALS = ("opportunity_id", "name", "account_name", "owner", "segment", "category", "stage",
          "amount", "close_date")
_REP_COLUMNS = ("owner", "team", "closed_won", "open_pipeline", "quota", "coverage", "health")


@dataclass(frozen=True)
class BoardFigures:
    """What the board pack draws beyond the headline: the in-blood number at the same point of
    past periods and week by week, coverage per segment, pipeline generated and the rates per
    quarter, the top competitors, rep annual coverage, the diagnosis, the make-or-break deals,
    the track record of past calls and the data's freshness."""

    same_point: list[SamePoint]
    weekly: pd.DataFrame
    segment_coverage: pd.DataFrame
    generated: pd.DataFrame
    rates: pd.DataFrame
    competitors: pd.DataFrame
    settings: Settings  # the floors the charts draw
    reps: RepCoverage
    make_or_break: pd.DataFrame
    diagnosis: list[dict[str, object]]
    track_record: dict
    freshness: LastLoad

    def as_report(self) -> dict[str, object]:
        """The pack's keys, each a top-level key of the report."""
        settings, reps, deals = self.settings, self.reps, self.make_or_break
        return {
            "same_point": [point.as_report() for point in self.same_point],
            "in_blood_weekly": same_records(self.weekly, ("week", "date", "source", "number",
                                                          "upside", "range_high")),
            "coverage_by_segment": same_records(self.segment_coverage, _SEGMENT_COVERAGE),
            "generated_by_quarter": same_records(self.generated, ("period", "amount", "count")),
            "rates_by_quarter": records(self.rates, _RATES_TREND),
            "top_competitors": records(self.competitors, _COMPETITORS),
            "floors": {"close_rate": settings.close_rate_floor,
                       "win_rate": settings.win_rate_floor,
                       "win_rate_aim": settings.win_rate_aim,
                       "coverage_multiple": settings.coverage_multiple},
            "rep_coverage": {"fiscal_year": reps.fiscal_year, "low": reps.low,
                             "high": reps.high, "reps": reps.reps(),
                             "owners": same_records(reps.owners, _REP_COLUMNS)},
            "make_or_break": {"included": same_records(deals[deals["included"]], _DEALS),
                              "excluded": same_records(deals[~deals["included"]], _DEALS)},
            "diagnosis": {"rules": diagnosis.rules(settings), "segments": self.diagnosis},
            "accuracy": self.track_record,
            "freshness": self.freshness.as_report(),
        }


@dataclass(frozen=True)
class Report:
    """A composed report: the headline with the view's SMB-method segments, and the parts its
    reader needs (`full_report`, `board_report`, `command_report`)."""

    headline: Headline
    smb_method: SmbMethod | None
    details: Details | None = None
    board: BoardFigures | None = None
    movement: dict[str, object] | None = None  # `sales.callprep.call_report`
    # The currency every amount is in: the corporate one, or a display currency
    # (docs/data-model.md#currencies).
    currency: str | None = None
    rollup: dict[str, dict[str, object]] | None = None  # `sales.team_rollup.rollup_report`
    projection: dict[str, object] | None = None  # `sales.winprob.scores.projection_keys`

    def as_report(self) -> dict:
        """The report as a plain dict: numbers as floats/ints, dates as ISO text, None if
        undefined; keys in the order the command line has always printed them."""
        report = self.headline.as_report()
        if self.currency:
            report["currency"] = self.currency
        smb = self.smb_method
        report["coverage"].update(smb=smb.coverage.coverage if smb else None,
                                  smb_required=smb.coverage.required if smb else None)
        report["smb_method"] = smb.as_report() if smb else None
        if self.details:
            report.update(self.details.as_report(self.headline))
        if self.board:
            report.update(self.board.as_report())
        if self.movement is not None:
            report["movement"] = self.movement
        if self.rollup is not None:
            report["rollup"] = self.rollup
        if self.projection is not None:
            report["projection"] = self.projection
        return report


def _settings(con: duckdb.DuckDBPyConnection, history_periods: int | None = None
              ) -> Settings:
    """The settings, with `history_periods` overridden for the SMB forecast when given."""
    settings = load_settings(con)
    if history_periods is not None:
        settings = replace(settings, history_periods=history_periods)
    return settings


def _headline(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
              rates: Outcomes | WindowRates, use_saved_call: bool) -> Headline:
    rollup = category_rollup(con, view)
    target = target_for_view(con, view.period, view.filters).amount
    return Headline(view, snapshot_on_or_before(con, view.as_of), target, rollup,
                    enterprise_coverage(rollup, target), rates,
                    in_blood(con, view, settings, use_saved_call))


def headline(con: duckdb.DuckDBPyConnection, view: View,
             window: tuple[date, date] | None = None, use_saved_call: bool = True) -> Headline:
    """What the Overview shows: the roll-up, target, coverage, the close and win rates over the
    window (default: the four completed quarters before the period) and the in-blood number."""
    start, end = window or default_window(view.period)
    return _headline(con, view, load_settings(con),
                     outcomes(con, start, end, view.as_of, view.filters), use_saved_call)


def _full_headline(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
                   window: tuple[date, date], use_saved_call: bool, slips: Slips | None
                   ) -> Headline:
    """The headline with the slippage-adjusted rates (from `slips` when read already)."""
    rates = window_rates(con, *window, view.as_of, view.filters, view.period.fy_start_month,
                         slips.window_frame(con, view) if slips else None)
    return _headline(con, view, settings, rates, use_saved_call)


def _smb_method(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
                forecast: SmbForecast | None) -> SmbMethod | None:
    """The SMB method for the view's SMB segments (`forecast` is the view's own, reused when
    the view is all on the method); None when no segment of the view is on it."""
    narrowed = smb_view(view, settings)
    if narrowed is None:
        return None
    on_method = (forecast if forecast is not None and narrowed == view
                 else smb_forecast(con, narrowed, settings))
    return SmbMethod(narrowed.filters.segment, on_method,
                     smb_coverage(con, narrowed, on_method))


def _details(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
             window: tuple[date, date], since: date | None, forecast: SmbForecast,
             blood: InBlood) -> Details:
    start, end = window
    return Details(
        forecast, top_down_bottom_up(forecast, bottom_up(con, view), blood.number, settings),
        pipeline_generated(con, view, since),
        funnel.funnel(con, start, end, view.as_of, view.filters),
        funnel.velocity(con, start, end, view.as_of, view.filters),
        capacity_for(con, start, end, view.as_of, view.filters, settings),
        lead_pipeline(con, view, since),
        follow_up_counts(con, view, since_last_call(con, view.as_of, since).since))


def _full(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
          window: tuple[date, date], use_saved_call: bool, since: date | None,
          slips: Slips | None) -> Report:
    top = _full_headline(con, view, settings, window, use_saved_call, slips)
    forecast = smb_forecast(con, view, settings)
    return Report(top, _smb_method(con, view, settings, forecast),
                  _details(con, view, settings, window, since, forecast, top.in_blood),
                  rollup=rollup_report(con, view, settings),
                  currency=settings.corporate_currency)


def full_report(con: duckdb.DuckDBPyConnection, view: View,
                window: tuple[date, date] | None = None, use_saved_call: bool = True,
                since: date | None = None, history_periods: int | None = None) -> Report:
    """Every number the pages show for the view: the headline with the slippage-adjusted
    rates, the SMB forecast and SMB coverage, pipeline generated, the funnel, rep capacity,
    leads and follow-ups (`since`: the last call they are measured from, the state as of that
    date; default: the latest snapshot a week or more before as-of). `history_periods`
    overrides the setting for the SMB forecast."""
    return _full(con, view, _settings(con, history_periods),
                 window or default_window(view.period), use_saved_call, since, None)


def board_figures(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
                  window: tuple[date, date], use_saved_call: bool = True,
                  slips: Slips | None = None, progress: Progress | None = None
                  ) -> BoardFigures:
    """What the board pack draws beyond the headline, from the same `sales` functions the
    pages use; `progress(fraction, message)` hears how it goes."""
    say = progress or (lambda fraction, message: None)
    say(0.2, "Coverage per segment and the slips per quarter")
    by_segment = coverage_by(con, view, "segment", settings)
    slips = slips or read_slips(con, view, window)
    say(0.25, "The in-blood number at the same point of past quarters and week by week")
    past = same_point(con, view, settings, use_saved_call)
    moves = weekly(con, view, settings)
    say(0.3, "Pipeline generated, rates and competitors per quarter")
    generated = generated_by_period(
        con, view, trend_quarters(view.as_of, view.period.fy_start_month))
    trend = rates_trend(con, view, slips)
    competitors = top_competitors(con, view, window)
    say(0.35, "Rep coverage, the diagnosis and the make-or-break deals")
    reps = rep_coverage(con, view, settings)
    deals = make_or_break(con, view, settings, use_saved_call)
    covered = [(r["segment"], r["coverage"], r["required"])
               for r in same_records(by_segment, ("segment", "coverage", "required"))]
    verdicts = [diagnosis.diagnose(facts, settings)
                for facts in diagnosis.segment_facts(con, view, window, slips, covered)]
    say(0.4, "The track record of past calls")
    return BoardFigures(past, moves, by_segment, generated, trend, competitors, settings, reps,
                        deals, verdicts,
                        {**track_record_keys(con, view, settings),
                         "top_calls": top_call_keys(con, view)},
                        last_change(con))


def board_report(con: duckdb.DuckDBPyConnection, view: View, use_saved_call: bool = True,
                 progress: Progress | None = None) -> Report:
    """What the board pack draws: the headline with the slippage-adjusted rates, the SMB
    method's forecast and coverage, and the board's figures (`board_figures`)."""
    settings = load_settings(con)
    window = default_window(view.period)
    slips = read_slips(con, view, window)  # once, for the rates, the trend and the diagnosis
    top = _full_headline(con, view, settings, window, use_saved_call, slips)
    return Report(top, _smb_method(con, view, settings, None),
                  board=board_figures(con, view, settings, window, use_saved_call, slips,
                                      progress), currency=settings.corporate_currency,
                  projection=projection_for(con, view, wait=False))


def with_movement(con: duckdb.DuckDBPyConnection, report: Report, since: date | None
                  ) -> Report:
    """The report with the movement since the last call (`since`, as `full_report` takes it)
    against the headline's in-blood number now."""
    return _moved(con, report, since)[0]


def _moved(con: duckdb.DuckDBPyConnection, report: Report, since: date | None
           ) -> tuple[Report, CallPrep]:
    view, blood = report.headline.view, report.headline.in_blood
    prep = prepare_call(con, view, since)
    then = forecast_at_last_call(prep, saved_call_on(con, view, prep.since), load_settings(con))
    now = Forecast(blood.number, blood.upside, blood.source)
    return replace(report, movement=call_report(prep, then, now)), prep


def digest_report(con: duckdb.DuckDBPyConnection, view: View, since: date | None = None
                  ) -> tuple[Report, CallPrep]:
    """What the digest sends (`sales.digest`): the Overview's headline with the movement since
    the last call, and the call's preparation the movement came from, whose deal lists (won,
    lost, slipped, cut, new) the digest names."""
    return _moved(con, Report(headline(con, view), None), since)


def command_report(con: duckdb.DuckDBPyConnection, view: View,
                   window: tuple[date, date] | None = None, use_saved_call: bool = True,
                   since: date | None = None, history_periods: int | None = None,
                   progress: Progress | None = None, currency: str | None = None) -> Report:
    """What `python -m sales report` prints: the full report, the board's figures and the
    movement since the last call; `currency` names the display currency the connection reads
    amounts in (`sales.currency.show_in`), default the corporate one."""
    settings = _settings(con, history_periods)
    window = window or default_window(view.period)
    slips = read_slips(con, view, window)  # once, for the rates, the trend and the diagnosis
    report = _full(con, view, settings, window, use_saved_call, since, slips)
    board = board_figures(con, view, settings, window, use_saved_call, slips, progress)
    moved = with_movement(con, replace(report, board=board,
                                       currency=currency or settings.corporate_currency),
                          since)
    last_call = (moved.movement or {}).get("from")
    return replace(moved, projection=projection_for(
        con, view, last_call=date.fromisoformat(last_call) if last_call else None))


def projection_for(con: duckdb.DuckDBPyConnection, view: View, wait: bool = True,
                   last_call: date | None = None) -> dict[str, object]:
    """The report's `projection` keys for the view, from the period's deal scores stored
    beside the database (`wait`: compute them now when missing; else the previous ones serve
    while new ones are computed in the background), with `at_last_call` keys when given the
    last call's date (the same model scoring the deals as they stood that day)."""
    from sales.winprob.scores import projection_keys  # trees and numpy: loaded when asked
    from sales.winprob.store import scored_for

    now = scored_for(con, view.period, view.as_of, wait)
    then = (scored_for(con, view.period, view.as_of, wait, earlier=False, at=last_call)
            if last_call is not None else None)
    return projection_keys(con, view, now, last_call, then)


def _flatten(value: object, prefix: str = "") -> list[tuple[str, object]]:
    if isinstance(value, dict):
        rows: list[tuple[str, object]] = []
        for key, inner in value.items():
            rows += _flatten(inner, f"{prefix}.{key}" if prefix else key)
        return rows
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [row for i, inner in enumerate(value) for row in _flatten(inner, f"{prefix}.{i}")]
    if isinstance(value, list):
        return [(prefix, "|".join(map(str, value)))]
    return [(prefix, value)]


def render(report: dict, output_format: str) -> str:
    """The report as text in one of FORMATS."""
    if output_format == "json":
        return json.dumps(report, indent=2)
    if output_format == "csv":  # through the one writer: a filter value cannot be a formula
        rows = [(neutral_text(key), "" if value is None else
                 neutral_text(value) if isinstance(value, str) else value)
                for key, value in _flatten(report)]
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([("metric", "value"), *rows])
        return out.getvalue()
    if output_format == "markdown":
        return _markdown(report)
    raise ValueError(f"unknown format {output_format!r}; choose one of {', '.join(FORMATS)}")


def _money(value: float | None) -> str:
    return fmt.money(value, precise=True)


def _markdown(r: dict) -> str:
    filters = "; ".join(f"{k}: {', '.join(map(fmt.text, v))}"
                        for k, v in r["filters"].items()) or "none"
    target = _money(r["target"]) if r["target"] is not None else "none for this view"
    rates = r["rates"]
    lines = [
        f"# Forecast report {r['period']} as of {r['as_of']}",
        "",
        f"Period {r['period_start']} to {r['period_end']} · filters: {filters} · target: {target}",
        "",
        "| category | amount | deals |",
        "|---|---:|---:|",
    ]
    for name, m in r["categories"].items():
        lines.append(f"| {name} | {_money(m['amount'])} | {m['count']:,} |")
    blood = r["in_blood"]
    lines += [
        "",
        "| measure | value |",
        "|---|---:|",
        f"| In-blood number ({blood['source']}) | {_money(blood['number'])} |",
        f"| Upside | {_money(blood['upside'])} |",
        f"| Enterprise coverage | {fmt.multiple(r['coverage']['enterprise'])} |",
        f"| Remaining coverage | {fmt.multiple(r['coverage']['remaining'])} |",
        f"| Close rate {rates['window_start']} to {rates['window_end']} (amount / count) | "
        f"{fmt.pct(rates['close_rate']['amount'], 1)} / {fmt.pct(rates['close_rate']['count'], 1)} |",
        f"| Win rate (amount / count) | "
        f"{fmt.pct(rates['win_rate']['amount'], 1)} / {fmt.pct(rates['win_rate']['count'], 1)} |",
    ]
    if "smb_forecast" in r:
        lines += _markdown_details(r)
    if "movement" in r:
        lines += _markdown_movement(r["movement"])
    return "\n".join(lines) + "\n"


def _markdown_details(r: dict) -> list[str]:
    rates, smb, generated = r["rates"], r["smb_forecast"], r["pipeline_generated"]
    speed, plan = r["funnel"], r["capacity"]
    adjusted = rates["slippage_adjusted_close_rate"]
    cycle = speed["median_cycle_days"]
    needed = plan["needed_per_month"]
    return [
        f"| Slippage-adjusted close rate (amount / count; {rates['slipped']['count']:,} slips) | "
        f"{fmt.pct(adjusted['amount'], 1)} / {fmt.pct(adjusted['count'], 1)} |",
        f"| SMB coverage / required | {fmt.multiple(r['coverage']['smb'])} / "
        f"{fmt.multiple(r['coverage']['smb_required'])} |",
        f"| SMB weighted forecast (range) | {_money(smb['total'])} "
        f"({_money(smb['low'])} – {_money(smb['high'])}) |",
        f"| Pipeline generated in the period | {_money(generated['amount'])} in "
        f"{generated['count']:,} deals |",
        f"| Won deals' median cycle / average size | "
        f"{fmt.count(None if cycle is None else round(cycle))} days / "
        f"{_money(speed['average_won_amount'])} |",
        f"| New qualified opportunities a rep needs a month | "
        f"{fmt.NOT_AVAILABLE if needed is None else f'{needed:.1f}'} |",
        *_markdown_leads(r["leads"], r["follow_ups"]),
    ]


def _markdown_leads(leads: dict, follow_ups: dict) -> list[str]:
    lines = []
    if leads["mql"]["count"] is None:
        lines.append("| MQLs in the period | none loaded |")
    else:
        now = " / ".join(f"{g} {leads['now'][g]['count']:,}" for g in LEAD_GROUPS)
        pipeline = leads["pipeline"]
        lines += [
            f"| MQLs in the period / since the last call | {leads['mql']['count']:,} / "
            f"{leads['mql_since']['count']:,} |",
            f"| Where the period's MQLs are now | {now} |",
            f"| Pipeline generated from them | {_money(pipeline['amount'])} in "
            f"{pipeline['count']:,} deals |",
        ]
    lines.append(f"| Follow-ups open / overdue / closed since the last call | "
                 f"{follow_ups['open']['count']:,} / {follow_ups['overdue']['count']:,} / "
                 f"{follow_ups['closed_since']['count']:,} |")
    return lines


def _markdown_movement(moved: dict) -> list[str]:
    categories = [c for c in OPEN_CATEGORIES if c in moved]
    lines = ["", f"Movement from {moved['from'] or 'before the first snapshot'} to "
                 f"{moved['to'] or 'now'}", "",
             "| | " + " | ".join(categories) + " |", "|---|" + "---:|" * len(categories)]
    for key in ("start", *PARTS, "end"):
        label = PART_LABELS.get(key, key.capitalize())
        lines.append(f"| {label} | " + " | ".join(_money(moved[c][key])
                                                  for c in categories) + " |")
    return lines


def categories_frame(top: Headline) -> pd.DataFrame:
    """The headline's roll-up as a table. Grain: one row per report category, with its share
    of the target (None without a target, and for Unqualified and Omitted, which never count)."""
    target = top.target
    rows = [{"Category": name, "Amount": top.categories[name].amount,
             "Deals": top.categories[name].count,
             "Share of target": top.categories[name].amount / target
             if target and name not in (UNQUALIFIED, OMITTED) else None}
            for name in REPORT_CATEGORIES]
    return pd.DataFrame(rows)

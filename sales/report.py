"""`report`: every number the pages show for a period and as-of date, as JSON, CSV or Markdown.

The report is assembled from the same `sales` functions the pages draw (each result type has an
`as_report`), so a page's tile and the report's key are one computation. The JSON keys are a
stable interface (documented in the README): add keys, never rename.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date

import duckdb
import pandas as pd

from sales import formatting as fmt
from sales import funnel
from sales.callprep import (
    Forecast,
    call_report,
    forecast_at_last_call,
    prepare_call,
    saved_call_on,
)
from sales.capacity import capacity_for
from sales.coverage import enterprise_coverage, smb_coverage
from sales.export import neutral_text
from sales.followups import follow_up_counts
from sales.generated import pipeline_generated
from sales.inblood import in_blood
from sales.lead_statuses import LEAD_GROUPS
from sales.leads import lead_pipeline
from sales.movement import PART_LABELS, PARTS, window
from sales.query import snapshot_on_or_before
from sales.rates import default_window, outcomes, window_rates
from sales.rollup import category_rollup
from sales.settings import Settings, load_settings
from sales.smb import bottom_up, smb_forecast, smb_view, top_down_bottom_up
from sales.stages import CLOSED, OMITTED, OPEN_CATEGORIES, REPORT_CATEGORIES, UNQUALIFIED
from sales.targets import target_for_view
from sales.view import View, ratio

FORMATS = ("json", "csv", "markdown")


def build_report(con: duckdb.DuckDBPyConnection, view: View,
                 window: tuple[date, date] | None = None, use_saved_call: bool = True,
                 since: date | None = None, include_movement: bool = False,
                 history_periods: int | None = None, full: bool = True,
                 board: bool = False, only_board: bool = False,
                 progress: Callable[[float, str], None] | None = None) -> dict:
    """The report as a plain dict: numbers as floats/ints, dates as ISO text, None if undefined.

    `full=False` gives the headline only (what the Overview shows: roll-up, target, coverage,
    close and win rates, in-blood); the full report adds the slippage-adjusted rates, the SMB
    forecast and SMB coverage, pipeline generated, the funnel and rep capacity.
    `include_movement` adds the `movement` keys (the command line always does), measured from
    the last call `since` (the state as of that date; default: the latest snapshot a week or
    more before as-of). `history_periods` overrides the setting for the SMB forecast.
    `board` (with `full`) adds the keys the board pack draws (`sales.boardpack.figures`): the
    in-blood number at the same point of past periods and week by week, coverage per segment,
    the trends per quarter, rep coverage, the diagnosis, the make-or-break deals, the track
    record and the data's freshness; the command line always adds them. `only_board` (the
    pack's own call) leaves out the full report's keys the pack does not read — the funnel,
    capacity, the pipeline generated windows and the view's own SMB forecast — every other key
    is the same computation. `progress(fraction, message)` hears how the board's keys go."""
    settings = load_settings(con)
    if history_periods is not None:
        settings = replace(settings, history_periods=history_periods)
    window_start, window_end = window or default_window(view.period)
    slips = None
    if full and board:  # one read of the slips for the window's quarters and the trend's
        from sales.boardpack.figures import board_keys, read_slips

        slips = read_slips(con, view, (window_start, window_end))
    report = _headline(con, view, settings, window_start, window_end, use_saved_call, full,
                       slips.window_frame(con, view) if slips else None)
    if full:
        report.update(_details(con, view, settings, window_start, window_end, since, report,
                               only_board))
    if full and board:
        report.update(board_keys(con, view, settings, (window_start, window_end),
                                 use_saved_call, slips, progress))
    if include_movement:
        prep = prepare_call(con, view, since)
        then = forecast_at_last_call(prep, saved_call_on(con, view, prep.since), settings)
        report["movement"] = call_report(prep, then, _blood_now(report))
    return report


def _blood_now(report: dict) -> Forecast:
    """The in-blood number and upside now, as the report's headline has them."""
    blood = report["in_blood"]
    return Forecast(blood["number"], blood["upside"], blood["source"])


def _headline(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
              window_start: date, window_end: date, use_saved_call: bool, full: bool,
              slips: pd.DataFrame | None = None) -> dict:
    rollup = category_rollup(con, view)
    target = target_for_view(con, view.period, view.filters)
    coverage = enterprise_coverage(rollup, target.amount)
    fy_start = view.period.fy_start_month
    rates = (window_rates(con, window_start, window_end, view.as_of, view.filters, fy_start,
                          slips).as_report() if full else
             outcomes(con, window_start, window_end, view.as_of, view.filters).as_report())
    snapshot = snapshot_on_or_before(con, view.as_of)
    blood = in_blood(con, view, settings, use_saved_call)
    return {
        "period": view.period.label,
        "period_start": view.period.start.isoformat(),
        "period_end": view.period.end.isoformat(),
        "as_of": view.as_of.isoformat(),
        "snapshot_date": snapshot.isoformat() if snapshot else None,
        "filters": {k: list(v) for k, v in view.filters.active().items()},
        "target": target.amount,
        "categories": {c: rollup[c].as_report() for c in REPORT_CATEGORIES},
        "coverage": {"enterprise": coverage.enterprise, "remaining": coverage.remaining},
        "rates": rates,
        "in_blood": blood.as_report(),
        "attainment": {"closed_won": ratio(rollup[CLOSED].amount, target.amount),
                       "in_blood": ratio(blood.number, target.amount),
                       "range_high": ratio(blood.range_high, target.amount)},
    }


def _details(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
             window_start: date, window_end: date, since: date | None, headline: dict,
             only_board: bool = False) -> dict:
    narrowed = smb_view(view, settings)
    forecast = (None if only_board and narrowed != view
                else smb_forecast(con, view, settings))
    coverage = dict(headline["coverage"], smb=None, smb_required=None)
    smb_method = None
    if narrowed is not None:
        on_method = forecast if narrowed == view else smb_forecast(con, narrowed, settings)
        found = smb_coverage(con, narrowed, on_method)
        coverage.update(smb=found.coverage, smb_required=found.required)
        smb_method = {"segments": list(narrowed.filters.segment), "total": on_method.total,
                      "low": on_method.low, "high": on_method.high,
                      "closed": on_method.closed, "target": found.target,
                      "share_of_target": ratio(on_method.total, found.target)}
    if only_board:
        return {"coverage": coverage, "smb_method": smb_method}
    versus = top_down_bottom_up(forecast, bottom_up(con, view), headline["in_blood"]["number"],
                                settings)
    stages = funnel.funnel(con, window_start, window_end, view.as_of, view.filters)
    speed = funnel.velocity(con, window_start, window_end, view.as_of, view.filters)
    return {
        "coverage": coverage,
        "smb_method": smb_method,
        "smb_forecast": {**forecast.as_report(), "bottom_up": versus.as_report(),
                         "against": forecast.against(headline["target"],
                                                     headline["in_blood"]["number"])},
        "pipeline_generated": pipeline_generated(con, view, since).as_report(),
        "funnel": funnel.as_report(stages, speed),
        "capacity": capacity_for(con, window_start, window_end, view.as_of, view.filters,
                                 settings).as_report(),
        "leads": lead_pipeline(con, view, since).as_report(),
        "follow_ups": follow_up_counts(con, view, window(con, view.as_of, since).since
                                       ).as_report(),
    }


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


def categories_frame(report: dict) -> pd.DataFrame:
    """The report's roll-up as a table. Grain: one row per report category, with its share of
    the target (None without a target, and for Unqualified and Omitted, which never count)."""
    target = report["target"]
    rows = [{"Category": name, "Amount": m["amount"], "Deals": m["count"],
             "Share of target": m["amount"] / target
             if target and name not in (UNQUALIFIED, OMITTED) else None}
            for name, m in report["categories"].items()]
    return pd.DataFrame(rows)

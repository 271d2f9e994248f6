"""`report`: every headline metric for a period and as-of date, as JSON, CSV or Markdown.

The JSON keys are a stable interface (documented in the README): add keys, never rename.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import duckdb
import pandas as pd

from sales import formatting as fmt
from sales import movement
from sales.coverage import enterprise_coverage
from sales.inblood import in_blood
from sales.query import snapshot_on_or_before
from sales.rates import default_window, outcomes
from sales.rollup import category_rollup
from sales.settings import load_settings
from sales.stages import OMITTED, REPORT_CATEGORIES, UNQUALIFIED
from sales.targets import target_for_view
from sales.view import View

FORMATS = ("json", "csv", "markdown")


def build_report(con: duckdb.DuckDBPyConnection, view: View,
                 window: tuple[date, date] | None = None,
                 use_saved_call: bool = True, since: date | None = None,
                 include_movement: bool = False) -> dict:
    """The report as a plain dict: numbers as floats/ints, dates as ISO text, None if undefined.

    `include_movement` adds the `movement` keys (the command line always does; screens that do
    not show them skip the work), measured from the last call `since` (the state as of that
    date; default: the latest snapshot a week or more before as-of)."""
    settings = load_settings(con)
    rollup = category_rollup(con, view)
    target = target_for_view(con, view.period, view.filters)
    coverage = enterprise_coverage(rollup, target.amount)
    window_start, window_end = window or default_window(view.period)
    done = outcomes(con, window_start, window_end, view.as_of, view.filters)
    close_amount, close_count = done.close_rate()
    win_amount, win_count = done.win_rate()
    blood = in_blood(con, view, settings, use_saved_call)
    snapshot = snapshot_on_or_before(con, view.as_of)
    return {
        "period": view.period.label,
        "period_start": view.period.start.isoformat(),
        "period_end": view.period.end.isoformat(),
        "as_of": view.as_of.isoformat(),
        "snapshot_date": snapshot.isoformat() if snapshot else None,
        "filters": {k: list(v) for k, v in view.filters.active().items()},
        "target": target.amount,
        "categories": {c: {"amount": rollup[c].amount, "count": rollup[c].count}
                       for c in REPORT_CATEGORIES},
        "coverage": {"enterprise": coverage.enterprise, "remaining": coverage.remaining},
        "rates": {
            "window_start": window_start.isoformat(),
            "window_end": window_end.isoformat(),
            "close_rate": {"amount": close_amount, "count": close_count},
            "win_rate": {"amount": win_amount, "count": win_count},
        },
        "in_blood": {"number": blood.number, "upside": blood.upside, "source": blood.source},
        **({"movement": movement.as_report(movement.movement(con, view, since),
                                           movement.window(con, view.as_of, since))}
           if include_movement else {}),
    }


def _flatten(value: object, prefix: str = "") -> list[tuple[str, object]]:
    if isinstance(value, dict):
        rows: list[tuple[str, object]] = []
        for key, inner in value.items():
            rows += _flatten(inner, f"{prefix}.{key}" if prefix else key)
        return rows
    if isinstance(value, list):
        return [(prefix, "|".join(map(str, value)))]
    return [(prefix, value)]


def render(report: dict, output_format: str) -> str:
    """The report as text in one of FORMATS."""
    if output_format == "json":
        return json.dumps(report, indent=2)
    if output_format == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["metric", "value"])
        for key, value in _flatten(report):
            writer.writerow([key, "" if value is None else value])
        return out.getvalue()
    if output_format == "markdown":
        return _markdown(report)
    raise ValueError(f"unknown format {output_format!r}; choose one of {', '.join(FORMATS)}")


def _markdown(r: dict) -> str:
    filters = "; ".join(f"{k}: {', '.join(v)}" for k, v in r["filters"].items()) or "none"
    target = fmt.money(r["target"], precise=True) if r["target"] is not None else "none for this view"
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
        lines.append(f"| {name} | {fmt.money(m['amount'], precise=True)} | {m['count']:,} |")
    blood = r["in_blood"]
    lines += [
        "",
        "| measure | value |",
        "|---|---:|",
        f"| In-blood number ({blood['source']}) | {fmt.money(blood['number'], precise=True)} |",
        f"| Upside | {fmt.money(blood['upside'], precise=True)} |",
        f"| Enterprise coverage | {fmt.multiple(r['coverage']['enterprise'])} |",
        f"| Remaining coverage | {fmt.multiple(r['coverage']['remaining'])} |",
        f"| Close rate {rates['window_start']} to {rates['window_end']} (amount / count) | "
        f"{fmt.pct(rates['close_rate']['amount'], 1)} / {fmt.pct(rates['close_rate']['count'], 1)} |",
        f"| Win rate (amount / count) | "
        f"{fmt.pct(rates['win_rate']['amount'], 1)} / {fmt.pct(rates['win_rate']['count'], 1)} |",
    ]
    if "movement" in r:
        lines += _markdown_movement(r["movement"])
    return "\n".join(lines) + "\n"


def _markdown_movement(moved: dict) -> list[str]:
    categories = [c for c in movement.MOVEMENT_CATEGORIES if c in moved]
    lines = ["", f"Movement from {moved['from'] or 'before the first snapshot'} to "
                 f"{moved['to'] or 'now'}", "",
             "| | " + " | ".join(categories) + " |", "|---|" + "---:|" * len(categories)]
    for key in ("start", *movement.PARTS, "end"):
        label = movement.PART_LABELS.get(key, key.capitalize())
        lines.append(f"| {label} | " + " | ".join(fmt.money(moved[c][key], precise=True)
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

"""The board pack's sections, made from a report's keys (`sales.report.board_report`) and
nothing else: each figure a section shows or draws is read from a report key through
`Figures`, which records it (chart, figure, exact value, report key) for the section's XLSX
sheet, so the workbook says where every number comes from and a test can compare it with
`report`.

Sections in the order a board conversation runs: the call, enough at-bats?, convincing or
closing?, the diagnosis, the track record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go

from sales import formatting as fmt
from sales.boardpack import charts

NOTHING = fmt.NOT_AVAILABLE


def lookup(report: dict, key: str) -> object:
    """The value at a flattened report key (`rates_by_quarter.3.close_rate`), as
    `report --format csv` names it."""
    value: object = report
    for part in key.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]  # type: ignore[index]
    return value


class Figures:
    """Reads report keys and keeps a record of each: (chart, figure, value, report key)."""

    def __init__(self, report: dict) -> None:
        self.report = report
        self.rows: list[tuple[str, str, object, str]] = []

    def get(self, key: str, chart: str, figure: str) -> object:
        value = lookup(self.report, key)
        self.rows.append((chart, figure, value, key))
        return value

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["chart", "figure", "value", "report key"])


@dataclass
class Tile:
    label: str
    value: str
    note: str = ""


@dataclass
class Chart:
    """A chart of the pack: a file-name slug, its title and the figure."""

    slug: str
    title: str
    figure: go.Figure


@dataclass
class Table:
    title: str
    frame: pd.DataFrame  # formatted for the document (text cells)


@dataclass
class Section:
    number: int
    slug: str
    title: str
    question: str
    tiles: list[Tile] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)  # plain text, escaped when written
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: pd.DataFrame = field(default_factory=pd.DataFrame)


def _pct_of(value: float | None, target: float | None) -> str:
    return f"{fmt.pct(value / target)} of plan" if value is not None and target else "no plan"


def _projection_tile(f: Figures, projected: dict, tiles: list[Tile], notes: list[str]) -> None:
    """The projection beside the in-blood number, and its model's record in a note (or why
    there is none)."""
    if not projected["eligible"]:
        notes.append(f"No projection: {projected['reason']}.")
        return
    p50 = f.get("projection.p50", "tiles", "Projection (P50)")
    p10 = f.get("projection.p10", "tiles", "Projection, P10")
    p90 = f.get("projection.p90", "tiles", "Projection, P90")
    chance = f.get("projection.prob_target", "tiles", "Chance of making the plan")
    tiles.append(Tile("Projection (P50)", fmt.money(p50),
                      f"P10–P90 {fmt.money(p10)} – {fmt.money(p90)}; "
                      + (f"{fmt.pct(chance)} chance of the plan" if chance is not None
                         else "no plan")))
    model = projected["model"]
    brier = f.get("projection.model.brier", "tiles", "Projection model, Brier score")
    notes.append(
        "Projection: closed won + each open, qualified deal drawn won with its win probability "
        "(10,000 draws) + what past quarters won at this week from deals not in view yet. "
        f"Its model learned from {', '.join(model['trained_periods'])}; on the latest of "
        f"them, held out, its Brier score was {brier:.3f}. Its week-by-week record against "
        "every other method is on Diagnostics › Forecast accuracy (`python -m sales "
        "backtest`).")


def the_call(report: dict) -> Section:
    f = Figures(report)
    target = f.get("target", "tiles", "Plan")
    number = f.get("in_blood.number", "tiles", "In-blood number")
    upside = f.get("in_blood.upside", "tiles", "Upside")
    high = f.get("in_blood.range_high", "tiles", "Top of the range")
    closed = f.get("categories.Closed.amount", "tiles", "Closed won to date")
    source = f.get("in_blood.source", "tiles", "In-blood from")
    tiles = [Tile("In-blood number", fmt.money(number), _pct_of(number, target)),
             Tile("Upside", fmt.money(upside), "Commit and Best Case left out"),
             Tile("Range", f"{fmt.money(number)} – {fmt.money(high)}", _pct_of(high, target)),
             Tile("Plan", fmt.money(target), f"closed won {fmt.money(closed)} to date")]
    notes = [f"In-blood number from the {source}: closed won plus the deals the call includes; "
             "upside = the Commit and Best Case deals it leaves out."]
    if report.get("smb_method"):
        segments = ", ".join(report["smb_method"]["segments"])
        total = f.get("smb_method.total", "tiles", f"SMB weighted forecast ({segments})")
        low = f.get("smb_method.low", "tiles", "SMB weighted forecast, low")
        top = f.get("smb_method.high", "tiles", "SMB weighted forecast, high")
        smb_target = f.get("smb_method.target", "tiles", "SMB plan")
        tiles.append(Tile(f"SMB weighted forecast ({segments})", fmt.money(total),
                          f"range {fmt.money(low)} – {fmt.money(top)}; "
                          + _pct_of(total, smb_target)))
        notes.append(f"{segments} on the SMB method: Closed + each category's pipeline × the "
                     "share of it won at this point of past periods + expected new pipeline; "
                     "the range takes each rate at its lowest and highest past value.")
    if report.get("projection"):
        _projection_tile(f, report["projection"], tiles, notes)
    past = report["same_point"]
    rows = []
    kind = "months" if "-M" in report["period"] else "quarters"
    chart = f"Against plan and the same point of past {kind}"
    for i, point in enumerate(past):
        key = f"same_point.{i}"
        rows.append({"period": point["period"], "label": point["period"],
                     "number": f.get(f"{key}.number", chart, f"{point['period']} in-blood"),
                     "upside": f.get(f"{key}.upside", chart, f"{point['period']} upside"),
                     "target": f.get(f"{key}.target", chart, f"{point['period']} plan"),
                     "closed_won": f.get(f"{key}.closed_won", chart,
                                         f"{point['period']} finally closed won")})
    rows.append({"period": report["period"], "label": f"{report['period']} (now)",
                 "number": number, "upside": upside, "target": target, "closed_won": None})
    if past:
        days = ", ".join(f"{p['period']} on {p['as_of']}" for p in past)
        notes.append(f"Past {kind} at the same point ({days}): the in-blood number and upside "
                     "then (their saved call, else the default rules), the plan, and what "
                     "each finally closed won.")
    weekly = report["in_blood_weekly"]
    week_rows = []
    week_chart = "In-blood week by week"
    for i, point in enumerate(weekly):
        key = f"in_blood_weekly.{i}"
        week_rows.append({"week": point["week"], "source": point["source"],
                          "number": f.get(f"{key}.number", week_chart,
                                          f"week {point['week']} {point['source']}"),
                          "range_high": f.get(f"{key}.range_high", week_chart,
                                              f"week {point['week']} {point['source']} top")})
    return Section(
        1, "the-call", "The call", "What will we close this quarter, and how sure are we?",
        tiles=tiles,
        charts=[Chart("call-vs-past-quarters", chart, charts.same_point(rows)),
                Chart("in-blood-by-week", week_chart,
                      charts.weekly(week_rows, target, report["period"]))],
        notes=notes, figures=f.frame())


def at_bats(report: dict) -> Section:
    f = Figures(report)
    enterprise = f.get("coverage.enterprise", "tiles", "Enterprise coverage")
    remaining = f.get("coverage.remaining", "tiles", "Remaining coverage")
    multiple = f.get("floors.coverage_multiple", "tiles", "Healthy coverage")
    tiles = [Tile("Enterprise coverage", fmt.multiple(enterprise),
                  f"against {fmt.multiple(multiple)}"),
             Tile("Remaining coverage", fmt.multiple(remaining),
                  "(Commit + Best Case) / what is left to close")]
    if report["coverage"].get("smb") is not None:
        smb = f.get("coverage.smb", "tiles", "SMB coverage")
        need = f.get("coverage.smb_required", "tiles", "SMB coverage required")
        tiles.append(Tile("SMB coverage", fmt.multiple(smb), f"needs {fmt.multiple(need)}"))
    reps = report["rep_coverage"]
    in_band = f.get("rep_coverage.reps.healthy", "tiles", "Reps in the band") + f.get(
        "rep_coverage.reps.comfortable", "tiles", "Reps above the band")
    with_quota = sum(v for k, v in reps["reps"].items() if k != "no quota")
    tiles.append(Tile(f"Reps at or above {fmt.multiple(reps['low'])}",
                      f"{in_band} of {with_quota}" if with_quota else NOTHING,
                      f"annual coverage, FY{reps['fiscal_year']}"))
    segments = []
    chart = "Coverage by segment"
    for i, row in enumerate(report["coverage_by_segment"]):
        key = f"coverage_by_segment.{i}"
        name = row["segment"]
        segments.append({"segment": name, "method": row["method"],
                         "coverage": f.get(f"{key}.coverage", chart, f"{name} coverage"),
                         "remaining": f.get(f"{key}.remaining", chart, f"{name} remaining"),
                         "required": f.get(f"{key}.required", chart, f"{name} needs")})
    generated = []
    gen_chart = "Pipeline generated per quarter"
    for i, row in enumerate(report["generated_by_quarter"]):
        key = f"generated_by_quarter.{i}"
        generated.append({"period": row["period"],
                          "amount": f.get(f"{key}.amount", gen_chart, row["period"]),
                          "count": f.get(f"{key}.count", gen_chart, f"{row['period']} deals")})
    owners = []
    rep_chart = "Rep annual coverage"
    for i, row in enumerate(reps["owners"]):
        if row["coverage"] is None:
            continue
        owners.append({"owner": row["owner"], "health": row["health"],
                       "coverage": f.get(f"rep_coverage.owners.{i}.coverage", rep_chart,
                                         row["owner"])})
    notes = ["Coverage = (Closed + Commit + Best Case) / plan, healthy at "
             f"{fmt.multiple(multiple)}; segments on the SMB method count Pipeline and the "
             "expected new pipeline too, against 1 / their close rate.",
             f"Pipeline generated: deals that became qualified in the quarter "
             f"({report['generated_by_quarter'][-1]['period'] if generated else ''}"
             " to date).",
             f"Rep annual coverage: (closed won + open pipeline in FY{reps['fiscal_year']}) / "
             f"annual quota, healthy {fmt.multiple(reps['low'])}–{fmt.multiple(reps['high'])}."]
    return Section(
        2, "at-bats", "Enough at-bats?", "Is there enough pipeline to make the number?",
        tiles=tiles,
        charts=[Chart("coverage-by-segment", chart, charts.segment_coverage(segments, multiple)),
                Chart("pipeline-generated", gen_chart, charts.generated(generated)),
                Chart("rep-annual-coverage", rep_chart,
                      charts.rep_coverage(owners, reps["low"], reps["high"]))],
        notes=notes, figures=f.frame())


def convincing(report: dict) -> Section:
    f = Figures(report)
    floors = report["floors"]
    close = f.get("rates.close_rate.count", "tiles", "Close rate")
    win = f.get("rates.win_rate.count", "tiles", "Win rate")
    adjusted = f.get("rates.slippage_adjusted_close_rate.count", "tiles",
                     "Slippage-adjusted close rate")
    required = f.get("rates.required_coverage", "tiles", "Coverage the close rate requires")
    required_adj = f.get("rates.slippage_adjusted_required_coverage", "tiles",
                         "Coverage the adjusted close rate requires")
    tiles = [Tile("Close rate", fmt.pct(close), f"floor {fmt.pct(floors['close_rate'])}"),
             Tile("Win rate", fmt.pct(win), f"floor {fmt.pct(floors['win_rate'])}, aim "
                                            f"{fmt.pct(floors['win_rate_aim'])}"),
             Tile("Slippage-adjusted close rate", fmt.pct(adjusted),
                  "slipped deals count as not closed"),
             Tile("Coverage the close rate requires", fmt.multiple(required),
                  f"{fmt.multiple(required_adj)} with slippage")]
    trend = []
    chart = "Close and win rates per quarter"
    for i, row in enumerate(report["rates_by_quarter"]):
        key = f"rates_by_quarter.{i}"
        trend.append({"period": row["period"],
                      "close_rate": f.get(f"{key}.close_rate", chart, f"{row['period']} close"),
                      "win_rate": f.get(f"{key}.win_rate", chart, f"{row['period']} win"),
                      "adjusted": f.get(f"{key}.slippage_adjusted_close_rate", chart,
                                        f"{row['period']} slippage-adjusted close")})
    mix_chart = "Loss mix and top competitors"
    no_decision = f.get("rates.lost.no_decision.count", mix_chart, "Lost to no decision")
    competition = f.get("rates.lost.competition.count", mix_chart, "Lost to competition")
    competitors = []
    for i, row in enumerate(report["top_competitors"]):
        competitors.append({"competitor": row["competitor"],
                            "lost": f.get(f"top_competitors.{i}.lost_count", mix_chart,
                                          f"Lost to {row['competitor']}")})
    share = report["rates"]["loss_share"]
    notes = [f"Trailing four quarters ({report['rates']['window_start']} to "
             f"{report['rates']['window_end']}), by deal count. Close rate = won / (won + lost "
             "to competition + lost to no decision); win rate = won / (won + lost to "
             "competition); slippage-adjusted adds the deals that slipped out of their "
             f"quarter to the denominator. {trend[-1]['period'] if trend else ''} is still "
             "open: its rates cover the deals closed so far.",
             f"Losses: {fmt.pct(share['no_decision'])} to no decision (a discovery and "
             f"qualification problem), {fmt.pct(share['competition'])} to competition (a "
             "differentiation problem)."]
    return Section(
        3, "convincing-or-closing", "Convincing or closing?",
        "Do we win the deals we work, and do they close when we say?",
        tiles=tiles,
        charts=[Chart("rates-by-quarter", chart, charts.rates(trend, floors)),
                Chart("loss-mix", mix_chart, charts.loss_mix(no_decision, competition,
                                                             competitors))],
        notes=notes, figures=f.frame())


_DEAL_COLUMNS = {"account_name": "Account", "owner": "Owner", "segment": "Segment",
                 "category": "Category", "stage": "Stage", "amount": "Amount",
                 "close_date": "Close"}
_DEAL_SHOWN = ("account_name", "owner", "category", "amount", "close_date")


def diagnosis(report: dict) -> Section:
    f = Figures(report)
    sentences = []
    for i, row in enumerate(report["diagnosis"]["segments"]):
        key = f"diagnosis.segments.{i}"
        f.get(f"{key}.verdict", "diagnosis", f"{row['segment']} verdict")
        for part in ("close_rate", "adjusted_close_rate", "coverage", "required"):
            f.get(f"{key}.{part}", "diagnosis", f"{row['segment']} {part.replace('_', ' ')}")
        sentences.append(f.get(f"{key}.sentence", "diagnosis", f"{row['segment']} sentence"))
    rules = pd.DataFrame([{"Tried": str(i + 1),
                           "Verdict": f.get(f"diagnosis.rules.{i}.verdict", "rules", f"rule {i + 1}"),
                           "When": f.get(f"diagnosis.rules.{i}.rule", "rules", f"rule {i + 1} reads")}
                          for i in range(len(report["diagnosis"]["rules"]))])
    deals = []
    chart = "Make-or-break deals"
    tables = [Table("The rules, tried in order: the first that holds names the problem", rules)]
    for side, title in (("included", "Largest deals in the number"),
                        ("excluded", "Largest deals left out (upside)")):
        rows = []
        for i, deal in enumerate(report["make_or_break"][side]):
            key = f"make_or_break.{side}.{i}"
            found = {c: f.get(f"{key}.{c}", chart, f"{side} {i + 1}: {label}")
                     for c, label in _DEAL_COLUMNS.items()}
            name = found["account_name"] or deal["opportunity_id"]
            deals.append({"side": side, "amount": found["amount"],
                          "label": f"{'In' if side == 'included' else 'Out'} #{i + 1} {name}"})
            rows.append({label: (fmt.money(found[c]) if c == "amount" else found[c] or "")
                         for c, label in _DEAL_COLUMNS.items() if c in _DEAL_SHOWN})
        tables.append(Table(title, pd.DataFrame(
            rows, columns=[label for c, label in _DEAL_COLUMNS.items() if c in _DEAL_SHOWN])))
    return Section(
        4, "diagnosis", "The diagnosis", "Pipeline, conversion, slippage or capacity?",
        charts=[Chart("make-or-break", chart, charts.make_or_break(deals))],
        sentences=sentences, tables=tables, figures=f.frame())


def track_record(report: dict) -> Section:
    f = Figures(report)
    by_week = report["accuracy"]["by_week"]
    week_now = report["accuracy"]["week_now"]
    rows = []
    chart = "Accuracy of past calls by week"
    tiles = []
    for i, row in enumerate(by_week):
        key = f"accuracy.by_week.{i}"
        saved = f.get(f"{key}.saved_call", chart, f"week {row['week']} saved calls")
        rules = f.get(f"{key}.default_rules", chart, f"week {row['week']} default rules")
        rows.append({"week": row["week"], "saved_call": saved, "default_rules": rules})
        if row["week"] == week_now:
            tiles = [Tile(f"Our week-{week_now} call", f"±{fmt.pct(saved)}" if saved is not None
                          else NOTHING, "average distance from what closed"),
                     Tile(f"Default rules at week {week_now}", f"±{fmt.pct(rules)}"
                          if rules is not None else NOTHING, "Commit in, Best Case out")]
    people: dict[str, list[tuple[int, float]]] = {}
    for i, row in enumerate(report["accuracy"].get("top_calls", [])):
        key = f"accuracy.top_calls.{i}"
        error = f.get(f"{key}.mean_abs_error", chart, f"week {row['week']} {row['user']}'s calls")
        people.setdefault(row["user"], []).append((row["week"], error))
        if row["week"] == week_now:
            tiles.append(Tile(f"{row['user']}'s week-{week_now} call", f"±{fmt.pct(error)}",
                              "the top of the hierarchy's own calls"))
    periods = ", ".join(report["accuracy"]["periods"]) or "none yet"
    notes = [f"Each saved call (and the default rules at each weekly snapshot) against what "
             f"finally closed won, over the completed periods {periods}: the average of "
             "|in-blood ÷ actual − 1| by week of the period. Lower is better."]
    if people:
        notes.append(f"{', '.join(people)}: the top of the sales hierarchy's own forecast "
                     "calls (the latest at the start of each week) against what their whole "
                     "organisation finally closed won, averaged the same way.")
    return Section(
        5, "track-record", "Track record", "How good is our number at this point of a quarter?",
        tiles=tiles, charts=[Chart("accuracy-by-week", chart,
                                   charts.accuracy(rows, week_now, people))],
        notes=notes, figures=f.frame())


BUILDERS = (the_call, at_bats, convincing, diagnosis, track_record)


def sections(report: dict) -> list[Section]:
    """The pack's five sections for the keys of `sales.report.board_report`."""
    return [build(report) for build in BUILDERS]


def footer(report: dict, generated_at: str) -> str:
    """The line at the foot of every page: as-of, filters, data freshness, generated when."""
    filters = "; ".join(f"{k}: {', '.join(v)}" for k, v in report["filters"].items()) or "none"
    fresh = report["freshness"]
    imported = (f"last {fresh['last_import_action'] or 'import'} {fresh['last_import']}"
                if fresh["last_import"] else "no import on record")
    snapshot = report["snapshot_date"] or "none"
    return (f"{report['period']} ({report['period_start']} to {report['period_end']}) · as of "
            f"{report['as_of']} (snapshot {snapshot}) · filters: {filters} · data: {imported}, "
            f"latest snapshot {fresh['last_snapshot'] or 'none'} · generated {generated_at}")


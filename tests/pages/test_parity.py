"""One source for every number: the headline tiles of every Forecast and Diagnostics page equal
the `report` keys for the same view, on the demo, with and without a filter."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sales import formatting as fmt
from sales.periods import QUARTER, period_containing
from sales.query import default_as_of
from sales.report import full_report, with_movement
from sales.settings import load_settings
from sales.view import Filters, View
from tests.helpers import private_copy, run_page, tiles


def _money(*keys: str) -> Callable[[dict], str]:
    return lambda r: fmt.money(_get(r, keys))


def _pct(*keys: str) -> Callable[[dict], str]:
    return lambda r: fmt.pct(_get(r, keys))


def _multiple(*keys: str) -> Callable[[dict], str]:
    return lambda r: fmt.multiple(_get(r, keys))


def _one_decimal(*keys: str, suffix: str = "") -> Callable[[dict], str]:
    return lambda r: f"{_get(r, keys):.1f}{suffix}"


def _get(report: dict, keys: tuple[str, ...]) -> object:
    for key in keys:
        report = report[key]
    return report


# Page → {tile label (or its start, for labels that carry a date or a count): the report value
# as the page formats it}.
TILES: dict[str, dict[str, Callable[[dict], str]]] = {
    "overview.py": {
        "Closed won": _money("categories", "Closed", "amount"),
        "In-blood number": _money("in_blood", "number"),
        "Upside": _money("in_blood", "upside"),
        "Enterprise coverage": _multiple("coverage", "enterprise"),
        "Close rate (trailing 4 quarters)": _pct("rates", "close_rate", "count"),
        "Win rate (trailing 4 quarters)": _pct("rates", "win_rate", "count"),
    },
    "inblood.py": {
        "In-blood number": _money("in_blood", "number"),
        "Upside": _money("in_blood", "upside"),
        "Top of the range": _money("in_blood", "range_high"),
    },
    "forecast_call.py": {
        "In-blood number": _money("in_blood", "number"),
        "Upside": _money("in_blood", "upside"),
        "Closed won to date": _money("categories", "Closed", "amount"),
        "Target": _money("target"),
        "Won since last call": _money("movement", "closed_since", "won", "amount"),
        "Lost since last call": _money("movement", "closed_since", "lost", "amount"),
        "Since the last call": _money("pipeline_generated", "since_last_call", "amount"),
        "Quarter to date": _money("pipeline_generated", "quarter_to_date", "amount"),
        "MQLs in": lambda r: fmt.count(r["leads"]["mql"]["count"]),
        "MQLs since the last call": lambda r: fmt.count(r["leads"]["mql_since"]["count"]),
        "Pipeline from this period's MQLs": _money("leads", "pipeline", "amount"),
        "Open follow-ups": lambda r: fmt.count(r["follow_ups"]["open"]["count"]),
        "Overdue": lambda r: fmt.count(r["follow_ups"]["overdue"]["count"]),
        "Follow-ups closed since the last call":
            lambda r: fmt.count(r["follow_ups"]["closed_since"]["count"]),
    },
    "smb_forecast.py": {
        "Weighted forecast": _money("smb_forecast", "total"),
        "Range": lambda r: f"{fmt.money(r['smb_forecast']['low'])} – "
                           f"{fmt.money(r['smb_forecast']['high'])}",
        "Target": _money("target"),
        "In-blood number": _money("in_blood", "number"),
        "Closed won": _money("smb_forecast", "closed"),
        "Top-down (weighted forecast)": _money("smb_forecast", "bottom_up", "top_down"),
        "Bottom-up": _money("smb_forecast", "bottom_up", "bottom_up"),
    },
    "rates.py": {
        "Close rate (deals)": _pct("rates", "close_rate", "count"),
        "Close rate (amount)": _pct("rates", "close_rate", "amount"),
        "Win rate (deals)": _pct("rates", "win_rate", "count"),
        "Coverage this close rate needs": _multiple("rates", "required_coverage"),
        "Close rate, slippage-adjusted (deals)": _pct("rates", "slippage_adjusted_close_rate",
                                                      "count"),
        "Close rate, slippage-adjusted (amount)": _pct("rates", "slippage_adjusted_close_rate",
                                                       "amount"),
        "Coverage the adjusted rate needs": _multiple("rates",
                                                      "slippage_adjusted_required_coverage"),
        "Months to close": _one_decimal("capacity", "months_to_close"),
        "Months to lose": _one_decimal("capacity", "months_to_lose"),
        "Months on average": _one_decimal("capacity", "months_on_average"),
        "New qualified opportunities needed": _one_decimal("capacity", "needed_per_month",
                                                           suffix=" a month"),
    },
    "board_pack.py": {
        "In-blood number": _money("in_blood", "number"),
        "Upside": _money("in_blood", "upside"),
        "Range": lambda r: f"{fmt.money(r['in_blood']['number'])} – "
                           f"{fmt.money(r['in_blood']['range_high'])}",
        "Plan": _money("target"),
        "Enterprise coverage": _multiple("coverage", "enterprise"),
        "Remaining coverage": _multiple("coverage", "remaining"),
        "Close rate": _pct("rates", "close_rate", "count"),
        "Win rate": _pct("rates", "win_rate", "count"),
        "Slippage-adjusted close rate": _pct("rates", "slippage_adjusted_close_rate", "count"),
        "Coverage the close rate requires": _multiple("rates", "required_coverage"),
    },
    "funnel.py": {
        "Deals closed in the window": lambda r: fmt.count(r["funnel"]["cohort"]),
        "Median sales cycle (won)": lambda r: f"{r['funnel']['median_cycle_days']:.0f} days",
        "Average won deal": _money("funnel", "average_won_amount"),
        "Won of those that closed": _pct("funnel", "won_share"),
    },
}
# Page → {tile label (or its start): the delta under the tile, from the report; None where the
# view has no target and the page says so instead}.
def _with_target(make: Callable[[dict], str]) -> Callable[[dict], str | None]:
    return lambda r: make(r) if r["target"] else None


DELTAS: dict[str, dict[str, Callable[[dict], str | None]]] = {
    "overview.py": {
        "Closed won": _with_target(lambda r: f"{fmt.pct(r['attainment']['closed_won'])} of "
                                             f"{fmt.money(r['target'])} target"),
        "In-blood number": _with_target(lambda r: f"{fmt.pct(r['attainment']['in_blood'])} of "
                                                  "target"),
    },
    "forecast_call.py": {
        "In-blood number": _money("movement", "change", "in_blood"),
        "Upside": _money("movement", "change", "upside"),
        "Closed won to date": _money("movement", "change", "closed_won"),
        "Target": _with_target(lambda r: f"{fmt.pct(r['attainment']['closed_won'])} closed"),
        "Pipeline from this period's MQLs": lambda r: (
            f"{r['leads']['pipeline']['count']:,} deal"
            + ("" if r["leads"]["pipeline"]["count"] == 1 else "s")),
    },
    "smb_forecast.py": {
        "Weighted forecast": _with_target(
            lambda r: f"{fmt.pct(r['smb_forecast']['against']['share_of_target'])} of target"),
        "Target": _with_target(
            lambda r: f"gap {fmt.money(r['smb_forecast']['against']['gap_to_target'])}"),
        "In-blood number": lambda r: (
            f"{fmt.money(r['smb_forecast']['against']['in_blood_difference'])} vs weighted"),
        "Closed won": _with_target(lambda r: f"{fmt.pct(r['attainment']['closed_won'])} of target"),
    },
}
# The SMB forecast page narrows a view to the SMB-method segments: it is compared on a view
# already cut to them.
SESSIONS = {"smb_forecast.py": {"segment": ["SMB"]}}
FILTERS = [{}, {"region": ["EMEA"]}]


@pytest.fixture(scope="module")
def demo_report_con(demo_db, tmp_path_factory):
    con = private_copy(demo_db, tmp_path_factory.mktemp("parity"))
    yield con
    con.close()


@pytest.mark.parametrize("filters", FILTERS, ids=["no filter", "EMEA"])
@pytest.mark.parametrize("page", list(TILES))
@pytest.mark.slow
def test_page_tiles_equal_the_report(page, filters, demo_db, demo_report_con, monkeypatch):
    session = {**SESSIONS.get(page, {}), **filters}
    shown = tiles(run_page(page, demo_db, monkeypatch, **session))
    con = demo_report_con
    as_of = default_as_of(con)
    fy_start = load_settings(con).fiscal_year_start_month
    view = View(period_containing(as_of, QUARTER, fy_start), as_of, Filters.of(**session))
    report = with_movement(con, full_report(con, view), None).as_report()
    expected = TILES[page]
    for start, value in expected.items():
        labels = [label for label in shown if label.startswith(start)]
        assert len(labels) == 1, f"{page}: no single tile '{start}…' in {list(shown)}"
        assert shown[labels[0]][0] == value(report), f"{page}: {labels[0]}"
    for start, delta in DELTAS.get(page, {}).items():
        label = next(label for label in shown if label.startswith(start))
        if delta(report) is not None:
            assert shown[label][1] == delta(report), f"{page}: {label}'s delta"

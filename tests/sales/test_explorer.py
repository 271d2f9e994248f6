"""The deal explorer: every column, filters, sort, paging, as-of, and capped downloads."""

from __future__ import annotations

from sales.explorer import COLUMNS, DealQuery, explore, export_rows, stage_options
from sales.periods import parse_period
from sales.view import Filters, View
from tests.helpers import d

VIEW = View(parse_period("FY2026-Q4"), d("2026-11-20"))


def test_every_column_and_every_deal(metrics_con):
    frame, total = explore(metrics_con, VIEW, DealQuery(), 1, 100)
    assert tuple(frame.columns) == COLUMNS and total == 18 == len(frame)
    assert frame.amount.iloc[0] == 5000  # U1, largest first


def test_filters_combine(metrics_con):
    # Open Commit deals of Ann: D2 (100, Dec) and D10 (1,000, Jan).
    query = DealQuery(categories=("Commit",), statuses=("open",))
    view = View(VIEW.period, VIEW.as_of, Filters.of(owner=["Ann"]))
    frame, total = explore(metrics_con, view, query)
    assert sorted(frame.opportunity_id) == ["D10", "D2"] and total == 2
    frame, _ = explore(metrics_con, view, DealQuery(categories=("Commit",),
                                                    close_to=d("2026-12-31")))
    assert list(frame.opportunity_id) == ["D2"]
    frame, _ = explore(metrics_con, VIEW, DealQuery(search="d1", sort="opportunity_id",
                                                    descending=False))
    assert list(frame.opportunity_id) == ["D1", "D10", "D11"]
    frame, total = explore(metrics_con, VIEW, DealQuery(statuses=("lost",), amount_min=300,
                                                        amount_max=900))
    assert sorted(frame.opportunity_id) == ["D9", "L2"] and total == 2


def test_sorting_paging_and_the_sort_allow_list(metrics_con):
    first, total = explore(metrics_con, VIEW, DealQuery(sort="close_date", descending=False), 1, 5)
    second, _ = explore(metrics_con, VIEW, DealQuery(sort="close_date", descending=False), 2, 5)
    assert total == 18 and len(first) == 5 and not set(first.opportunity_id) & set(second.opportunity_id)
    assert first.close_date.iloc[0] <= second.close_date.iloc[0]
    hostile, _ = explore(metrics_con, VIEW, DealQuery(sort="amount; drop table opportunities"))
    assert len(hostile) == 18  # unknown sort columns fall back to amount


def test_as_of_an_earlier_snapshot(metrics_con):
    # On 2026-11-13 D5 was 2-Scoping, Pipeline, 350.
    view = View(VIEW.period, d("2026-11-19"))
    frame, _ = explore(metrics_con, view, DealQuery(search="D5"))
    row = frame[frame.opportunity_id == "D5"].iloc[0]
    assert (row.stage, row.category, row.amount) == ("2-Scoping", "Pipeline", 350)


def test_downloads_are_capped(metrics_con):
    frame, total = export_rows(metrics_con, VIEW, DealQuery(), limit=4)
    assert len(frame) == 4 and total == 18
    assert stage_options(metrics_con)[:2] == ["00-Pre Opportunity", "0-Pending Acceptance"]

"""The roll-up pivot with amount and count side by side, and the deals behind any cell, on the
hand-computed fixture in conftest.py."""

import pytest

from sales.periods import parse_period
from sales.pivots import cell_categories, cell_deals, pivot_both
from sales.rollup import FORECAST_TOTAL, TOTAL_ROW, rollup_by
from sales.stages import TOTAL_CATEGORIES
from sales.view import View
from tests.helpers import d

VIEW = View(parse_period("FY2026-Q4"), d("2026-11-20"))


def test_amount_and_count_side_by_side(metrics_con):
    table = pivot_both(rollup_by(metrics_con, VIEW, "segment"), "segment").set_index("segment")
    assert list(table.columns[:4]) == ["Closed", "Closed deals", "Commit", "Commit deals"]
    # Enterprise: Closed D1 500; Commit D2 100 + D3 200 → 300 in 2 deals; total 800 in 3.
    assert (table.loc["Enterprise", "Commit"], table.loc["Enterprise", "Commit deals"]) == (300, 2)
    assert (table.loc["Enterprise", "Total"], table.loc["Enterprise", "Total deals"]) == (800, 3)
    # Total row: 500 + 600 + 900 + 600 = 2,600 in D1–D7; Unqualified D8 700 apart.
    assert (table.loc[TOTAL_ROW, "Total"], table.loc[TOTAL_ROW, "Total deals"]) == (2600, 7)
    assert (table.loc[TOTAL_ROW, "Unqualified"], table.loc[TOTAL_ROW, "Unqualified deals"]) \
        == (700, 1)


def test_cell_categories():
    assert cell_categories("Commit deals") == ("Commit",)
    assert cell_categories(FORECAST_TOTAL) == TOTAL_CATEGORIES
    assert cell_categories("segment") is None


@pytest.mark.parametrize("categories, value, ids, amount", [
    (("Commit",), "Enterprise", ["D3", "D2"], 300),  # one cell
    (TOTAL_CATEGORIES, "Enterprise", ["D1", "D3", "D2"], 800),  # Enterprise × Total
    (("Best Case",), TOTAL_ROW, ["D6", "D5"], 900),  # Total row × Best Case
    (TOTAL_CATEGORIES, None, ["D7", "D1", "D6", "D5", "D4", "D3", "D2"], 2600),  # Total × Total
    (("Unqualified",), "SMB", ["D8"], 700),
])
def test_deals_behind_any_cell(metrics_con, categories, value, ids, amount):
    deals, total, cell = cell_deals(metrics_con, VIEW, categories, "segment", value)
    assert deals.opportunity_id.tolist() == ids  # largest first
    assert (total, cell, deals.amount.sum()) == (len(ids), amount, amount)


def test_cell_deals_cap_and_guards(metrics_con):
    deals, total, cell = cell_deals(metrics_con, VIEW, TOTAL_CATEGORIES, "segment", None, limit=2)
    assert (len(deals), total, cell) == (2, 7, 2600)  # the count and amount cover every deal
    with pytest.raises(ValueError):
        cell_deals(metrics_con, VIEW, ("Nope",), "segment", None)
    with pytest.raises(ValueError):
        cell_deals(metrics_con, VIEW, ("Commit",), "amount", None)

"""Validated saves: a bad edit lists every problem and saves nothing; a good one takes effect
(loss classes re-derived, targets and settings read by the metrics)."""

from __future__ import annotations

import pandas as pd
import pytest

from sales import editors
from sales.editors import EditError
from sales.periods import parse_period
from sales.report import full_report
from sales.settings import load_settings
from sales.targets import target_for_view
from sales.view import View
from tests.helpers import d


def test_stage_map_edit_changes_the_numbers(metrics_con):
    table = editors.stage_map_table(metrics_con)
    assert {"stage", "sort_order", "forecast_category", "qualified", "closed", "won", "redlining",
            "deals"} <= set(table.columns)
    # conftest: Commit in FY2026-Q4 = D2 100 (4-Proposal) + D3 200 + D4 300 = 600. Moving
    # 4-Proposal to Best Case moves D2: Commit 500, Best Case 900 + 100.
    table.loc[table.stage == "4-Proposal", "forecast_category"] = "Best Case"
    metrics_con.execute("update opportunities set forecast_category = null "
                        "where stage = '4-Proposal'")
    editors.save_stage_map(metrics_con, table, by="test")
    view = View(parse_period("FY2026-Q4"), d("2026-11-20"))
    report = full_report(metrics_con, view).as_report()
    assert report["categories"]["Commit"]["amount"] == 500.0


def test_stage_map_problems_are_all_listed_and_nothing_is_saved(metrics_con):
    table = editors.stage_map_table(metrics_con)
    before = editors.stage_map_table(metrics_con)
    table.loc[0, "forecast_category"] = "Maybe"
    table.loc[1, "won"] = True  # 0-Pending Acceptance is not closed
    bad = pd.concat([table[table.stage != "7-Closed Won"],
                     pd.DataFrame([{"stage": "1-Discovery", "forecast_category": "Pipeline",
                                    "qualified": True, "closed": False, "won": False,
                                    "redlining": False}])], ignore_index=True)
    with pytest.raises(EditError) as caught:
        editors.save_stage_map(metrics_con, bad, by="test")
    text = " | ".join(caught.value.problems)
    assert "forecast_category 'Maybe'" in text and "a won stage is closed" in text
    assert "also on row" in text  # 1-Discovery twice
    assert "stage '7-Closed Won' is used by" in text  # deals sit in it
    pd.testing.assert_frame_equal(editors.stage_map_table(metrics_con), before)


def test_loss_reason_edit_reclassifies_losses(metrics_con):
    # conftest: L2 lost for "No budget" (no decision), L3 "Duplicate" (excluded).
    table = editors.loss_reason_table(metrics_con)
    table.loc[table.lost_reason == "No budget", "loss_class"] = "competition"
    editors.save_loss_reasons(metrics_con, table, by="test")
    classes = dict(metrics_con.execute("select opportunity_id, loss_class from opportunities "
                                       "where opportunity_id in ('L2', 'L3')").fetchall())
    assert classes == {"L2": "competition", "L3": "excluded"}
    with pytest.raises(EditError, match="use one of competition"):
        editors.save_loss_reasons(metrics_con, pd.DataFrame(
            [{"lost_reason": "Budget", "loss_class": "money"}]), by="test")


def test_unmapped_reasons_are_offered_for_mapping(metrics_con):
    metrics_con.execute("update opportunities set lost_reason = 'Went quiet' where opportunity_id = 'L2'")
    table = editors.loss_reason_table(metrics_con)
    row = table[table.lost_reason == "Went quiet"].iloc[0]
    assert pd.isna(row.loss_class) and row.deals == 1


def test_targets_edit_one_period(metrics_con):
    period = parse_period("FY2026-Q4")
    assert "FY2026-Q4" in editors.target_periods(metrics_con, d("2026-11-20"), 1)
    table = editors.targets_table(metrics_con, "FY2026-Q4")
    table.loc[table.scope == "company", "amount"] = 2500
    editors.save_targets(metrics_con, "FY2026-Q4", table, 1, by="test")
    assert target_for_view(metrics_con, period).amount == 2500.0
    with pytest.raises(EditError) as caught:
        editors.save_targets(metrics_con, "FY2026-Q4", pd.DataFrame([
            {"scope": "company", "scope_value": "x", "amount": 1},
            {"scope": "team", "scope_value": "", "amount": 1},
            {"scope": "galaxy", "scope_value": "Andromeda", "amount": 1},
            {"scope": "segment", "scope_value": "SMB", "amount": -5}]), 1, by="test")
    assert len(caught.value.problems) == 4
    assert target_for_view(metrics_con, period).amount == 2500.0


def test_settings_are_checked_then_saved(metrics_con):
    assert editors.save_settings(metrics_con, {"coverage_multiple": 4.0,
                                               "fiscal_year_start_month": 1},
                                 by="ann@example.com") == ["coverage_multiple"]
    assert load_settings(metrics_con).coverage_multiple == 4.0
    with pytest.raises(EditError) as caught:
        editors.save_settings(metrics_con, {"fiscal_year_start_month": 13, "win_rate_floor": 50,
                                            "coverage_multiple": "lots"}, by="test")
    assert len(caught.value.problems) == 3
    assert load_settings(metrics_con).fiscal_year_start_month == 1
    # The change is on the audit trail, the refused one is not.
    from sales.audit import trail

    assert trail(metrics_con)[["who", "action", "summary"]].values.tolist() == [
        ["ann@example.com", "edit", "settings: coverage_multiple 3.0 → 4.0"]]
    form = editors.settings_form(metrics_con)
    assert form["help"].str.len().min() > 10  # every setting is explained

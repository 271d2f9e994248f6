"""The board pack's diagnosis: the stated rules, tried in order, on hand-computed numbers."""

from __future__ import annotations

from sales import diagnosis
from sales.diagnosis import SegmentFacts, diagnose
from sales.periods import parse_period
from sales.rates import default_window
from sales.report import board_figures
from sales.settings import Settings, load_settings
from sales.view import View
from tests.helpers import d

SETTINGS = Settings(close_rate_floor=0.33, coverage_multiple=3.0)


def verdict(close, adjusted, coverage, required) -> dict:
    return diagnose(SegmentFacts("Enterprise", close, adjusted, coverage, required), SETTINGS)


def test_a_close_rate_below_the_floor_is_a_conversion_problem_first():
    # 25% < 33%: conversion, whatever coverage says; 2.1× < 3.0× is said as well.
    found = verdict(0.25, 0.20, 2.1, 3.0)
    assert found["verdict"] == diagnosis.CONVERSION
    assert found["sentence"] == ("Enterprise: a conversion problem — the close rate is 25%, "
                                 "below the 33% floor; coverage 2.1× against the 3.0× it needs "
                                 "is short too.")
    assert verdict(0.25, 0.20, 3.5, 3.0)["sentence"].endswith("below the 33% floor.")


def test_a_rate_that_clears_the_floor_only_without_slips_is_slippage():
    # 40% ≥ 33% but 30% < 33% once slips count; coverage 3.5× ≥ 3.0× is not mentioned.
    found = verdict(0.40, 0.30, 3.5, 3.0)
    assert found["verdict"] == diagnosis.SLIPPAGE
    assert found["sentence"] == ("Enterprise: a slippage problem — the close rate is 40%, but "
                                 "30% once slipped deals count, below the 33% floor.")


def test_short_coverage_with_good_rates_is_a_pipeline_problem():
    # 40% and 35% clear 33%; 2.4× < 3.0×.
    found = verdict(0.40, 0.35, 2.4, 3.0)
    assert found["verdict"] == diagnosis.PIPELINE
    assert found["sentence"] == ("Enterprise: a pipeline problem — coverage 2.4× against the "
                                 "3.0× it needs, while the close rate of 40% holds up.")


def test_when_everything_holds_up_the_limit_is_capacity():
    # Exactly on the floor (33%) and exactly on the multiple (3.0×) both hold up.
    found = verdict(0.33, 0.33, 3.0, 3.0)
    assert found["verdict"] == diagnosis.CAPACITY
    assert "more reps would close more" in found["sentence"]


def test_without_outcomes_or_a_target_there_is_no_verdict():
    assert verdict(None, None, 3.5, 3.0)["verdict"] == diagnosis.NOT_ENOUGH_DATA
    assert verdict(0.40, 0.40, None, None)["verdict"] == diagnosis.NOT_ENOUGH_DATA
    # ...but a bad close rate is a verdict even without a target.
    assert verdict(0.20, 0.20, None, None)["verdict"] == diagnosis.CONVERSION


def test_the_rules_are_stated_in_the_order_they_are_tried():
    rules = diagnosis.rules(SETTINGS)
    assert [r["verdict"] for r in rules] == list(diagnosis.VERDICTS)
    assert "33%" in rules[0]["rule"] and "3.0×" in rules[2]["rule"]


def test_each_segment_of_the_fixture_gets_its_verdict(metrics_con):
    # conftest.py, FY2026-Q4 as of 2026-11-20, rates window 2025-10-01 … 2026-09-30:
    # Enterprise: W1 won, L1 lost to Acme → close rate 1/2 = 50%; no snapshot in the window's
    #   quarters, so no slips: adjusted 50%. Coverage (D1 500 + D2 100 + D3 200) / 600 = 1.33×
    #   against 3.0× → a pipeline problem.
    # Mid-Market: nothing closed in the window → not enough data.
    # SMB: W2 won, L2 lost to no decision (L3 a duplicate: excluded) → 50%; no SMB target →
    #   no coverage → not enough data.
    view = View(parse_period("FY2026-Q4"), d("2026-11-20"))
    settings = load_settings(metrics_con)
    keys = board_figures(metrics_con, view, settings, default_window(view.period)).as_report()
    found = {row["segment"]: row for row in keys["diagnosis"]["segments"]}
    assert {s: row["verdict"] for s, row in found.items()} == {
        "Enterprise": diagnosis.PIPELINE, "Mid-Market": diagnosis.NOT_ENOUGH_DATA,
        "SMB": diagnosis.NOT_ENOUGH_DATA}
    assert found["Enterprise"]["close_rate"] == found["Enterprise"]["adjusted_close_rate"] == 0.5
    assert round(found["Enterprise"]["coverage"], 4) == round(800 / 600, 4)
    assert found["Enterprise"]["sentence"] == (
        "Enterprise: a pipeline problem — coverage 1.3× against the 3.0× it needs, while the "
        "close rate of 50% holds up.")
    assert found["SMB"]["close_rate"] == 0.5

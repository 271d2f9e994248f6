"""Headline metrics on the hand-computed fixture in conftest.py (arithmetic in comments)."""

import pytest

from sales.coverage import enterprise_coverage
from sales.inblood import DEFAULT_RULES, in_blood
from sales.losses import unmapped_reasons
from sales.periods import parse_period
from sales.rates import default_window, outcomes
from sales.rollup import category_rollup, rollup_by
from sales.settings import load_settings
from sales.targets import target_for_view
from sales.view import Filters, Measure, View
from tests.helpers import d, seed

Q4 = parse_period("FY2026-Q4")
NOW = d("2026-11-20")


def view(as_of=NOW, **filters):
    return View(Q4, as_of, Filters.of(**filters))


def test_category_rollup(metrics_con):
    r = category_rollup(metrics_con, view())
    assert r["Closed"] == Measure(500, 1)  # D1
    assert r["Commit"] == Measure(600, 3)  # D2 100 + D3 200 + D4 300 (D10 closes in January)
    assert r["Best Case"] == Measure(900, 2)  # D5 400 + D6 500
    assert r["Pipeline"] == Measure(600, 1)  # D7
    assert r["Unqualified"] == Measure(700, 1)  # D8 open in 0-Pending Acceptance
    assert r["Omitted"] == Measure(850, 2)  # D9 lost 800 + D11 unqualified 50


def test_state_as_of_an_earlier_date(metrics_con):
    # As of 2026-11-19 the latest snapshot is 2026-11-13, when D5 was Pipeline at 350.
    r = category_rollup(metrics_con, view(as_of=d("2026-11-19")))
    assert r["Best Case"] == Measure(500, 1)  # D6 only
    assert r["Pipeline"] == Measure(950, 2)  # D7 600 + D5 350
    # Before the first snapshot nothing existed yet.
    assert sum(m.count for m in category_rollup(metrics_con, view(as_of=d("2026-01-01"))).values()) == 0


def test_rollup_with_filters(metrics_con):
    r = category_rollup(metrics_con, view(segment="Mid-Market"))
    # Mid-Market: D4 (4,999 employees) Commit 300, D5 (500) Best Case 400.
    assert (r["Commit"], r["Best Case"], r["Closed"]) == (Measure(300, 1), Measure(400, 1), Measure(0, 0))
    r = category_rollup(metrics_con, view(owner="Ann", type="New Business"))
    # Ann's New Business in Q4: D1 closed 500, D2 Commit 100, D8 Unqualified 700.
    assert (r["Closed"], r["Commit"], r["Unqualified"]) == (Measure(500, 1), Measure(100, 1), Measure(700, 1))


def test_rollup_by_dimension(metrics_con):
    frame = rollup_by(metrics_con, view(), "segment")
    commit = frame[frame.category == "Commit"].set_index("segment")["amount"].to_dict()
    # Enterprise D2 100 + D3 200 (5,000 employees) ; Mid-Market D4 300.
    assert commit == {"Enterprise": 300.0, "Mid-Market": 300.0}
    with pytest.raises(ValueError, match="cannot group by"):
        rollup_by(metrics_con, view(), "amount; drop table opportunities")


def test_target_lookup(metrics_con):
    assert target_for_view(metrics_con, Q4).amount == 1000  # company
    assert target_for_view(metrics_con, Q4, Filters.of(segment="Enterprise")).amount == 600
    # Two values of one dimension: 600 + 300.
    assert target_for_view(metrics_con, Q4, Filters.of(segment=["Enterprise", "Mid-Market"])).amount == 900
    smb = target_for_view(metrics_con, Q4, Filters.of(segment="SMB"))
    assert smb.amount is None and "SMB" in smb.reason
    both = target_for_view(metrics_con, Q4, Filters.of(segment="Enterprise", region="AMER"))
    assert both.amount is None and "no target for this view" in both.reason
    assert target_for_view(metrics_con, Q4, Filters.of(type="Renewal")).amount is None
    # T1 has only month targets: 100 + 100 + 150 = 350 for the quarter.
    assert target_for_view(metrics_con, Q4, Filters.of(team="T1")).amount == 350
    assert target_for_view(metrics_con, parse_period("FY2026-M12"), Filters.of(team="T1")).amount == 150
    assert target_for_view(metrics_con, parse_period("FY2027-Q1")).amount is None


def test_enterprise_and_remaining_coverage(metrics_con):
    r = category_rollup(metrics_con, view())
    c = enterprise_coverage(r, 1000)
    # (Closed 500 + Commit 600 + Best Case 900) / 1000 = 2.0
    assert c.enterprise == pytest.approx(2.0)
    # (Commit 600 + Best Case 900) / max(1000 − 500, 0) = 3.0
    assert c.remaining == pytest.approx(3.0)
    # Nothing left to cover: remaining is undefined, not infinite.
    assert enterprise_coverage(r, 400).remaining is None
    assert enterprise_coverage(r, None) == (None, None)


def test_close_and_win_rates(metrics_con):
    start, end = default_window(Q4)
    assert (start, end) == (d("2025-10-01"), d("2026-09-30"))
    o = outcomes(metrics_con, start, end, NOW)
    # Won W1 100 + W2 300; lost to competition L1 200 (names Acme); no decision L2 400 (No budget);
    # excluded L3 1000 (Duplicate); U1 closed unqualified and W3 (2025-09-30) are outside.
    assert o.won == Measure(400, 2)
    assert o.lost_competition == Measure(200, 1)
    assert o.lost_no_decision == Measure(400, 1)
    assert o.lost_excluded == Measure(1000, 1)
    amount, count = o.close_rate()
    assert amount == pytest.approx(400 / 1000)  # 400 / (400 + 200 + 400)
    assert count == pytest.approx(2 / 4)
    amount, count = o.win_rate()
    assert amount == pytest.approx(400 / 600)  # 400 / (400 + 200)
    assert count == pytest.approx(2 / 3)


def test_required_coverage_is_one_over_the_close_rate():
    from sales.rates import required_coverage

    # docs/metrics.md#4-close-rate: 33% → about 3×, 25% → 4×; no close rate, no requirement.
    assert required_coverage(0.25) == 4.0
    assert required_coverage(1 / 3) == pytest.approx(3.0)
    assert required_coverage(None) is None and required_coverage(0.0) is None


def test_rates_undefined_without_closed_deals(metrics_con):
    o = outcomes(metrics_con, d("2020-01-01"), d("2020-12-31"), NOW)
    assert o.close_rate() == (None, None) and o.win_rate() == (None, None)


def test_in_blood_default_rules(metrics_con):
    b = in_blood(metrics_con, view(), load_settings(metrics_con))
    # Closed 500 + Commit 600 included; upside = Best Case 900 (Commit all included).
    assert (b.number, b.upside, b.source) == (1100, 900, DEFAULT_RULES)
    assert b.range_high == 2000


def test_spec_in_blood_example(tmp_path):
    # docs/metrics.md#8-in-blood-number: Closed 500; Commit 100, 200, 300 (300 excluded); Best
    # Case 400 (included), 500 → in-blood 500 + 100 + 200 + 400 = 1,200; upside 300 + 500 = 800.
    from sales.db import connect

    con = connect(tmp_path / "spec.duckdb")
    rows = [("W", "7-Closed Won", "Closed", 500), ("C1", "4-Proposal", "Commit", 100),
            ("C2", "4-Proposal", "Commit", 200), ("C3", "5-Negotiating", "Commit", 300),
            ("B1", "3-Technical Evaluation", "Best Case", 400),
            ("B2", "3-Technical Evaluation", "Best Case", 500)]
    seed(con, [dict(id=i, stage=s, category=c, amount=a, close="2026-11-30", owner="Ann")
               for i, s, c, a in rows])
    con.execute("insert into forecast_calls (call_id, period, call_date, saved_at, saved_by) "
                "values (1, 'FY2026-Q4', '2026-11-16', '2026-11-16 10:00:00', 'Lee')")
    con.executemany("insert into forecast_call_decisions (call_id, opportunity_id, included) "
                    "values (1, ?, ?)", [["C3", False], ["B1", True]])
    b = in_blood(con, View(Q4, NOW), load_settings(con))
    assert (b.number, b.upside) == (1200, 800)
    assert b.source == "saved call 2026-11-16 10:00:00"
    # Forced back to the rules: 500 + 600 Commit; upside 900 Best Case.
    b = in_blood(con, View(Q4, NOW), load_settings(con), use_saved_call=False)
    assert (b.number, b.upside, b.source) == (1100, 900, DEFAULT_RULES)
    # A call saved after the as-of date is not used for that as-of.
    b = in_blood(con, View(Q4, d("2026-11-15")), load_settings(con))
    assert b.source == DEFAULT_RULES


def test_unmapped_loss_reasons_are_listed(metrics_con):
    metrics_con.execute("update opportunities set lost_reason = 'Champion left' where opportunity_id = 'L2'")
    assert unmapped_reasons(metrics_con) == [("Champion left", 1)]

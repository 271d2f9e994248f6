"""Slipped deals and the slippage-adjusted close rate
(docs/metrics.md#6-slippage-adjusted-close-rate) on a hand-computed fixture."""

import pytest

from sales.periods import parse_period
from sales.rates import Outcomes
from sales.slippage import slipped_by_period
from sales.view import Filters, Measure
from tests.cases.slippage import DAYS, build
from tests.helpers import d, run_page, tiles

Q3, Q4 = parse_period("FY2026-Q3"), parse_period("FY2026-Q4")  # Jul–Sep, Oct–Dec 2026
A = DAYS[-1]




@pytest.fixture
def con(tmp_path):
    con = build(tmp_path / "slip.duckdb")
    yield con
    con.close()


def test_slips_per_period(con):
    found = slipped_by_period(con, [Q3, Q4], A).set_index("period")
    # Q3: S1 at 150 + S2 at 200 = 350 in 2 deals. Q4 (as of 10-15): S7 at 40.
    assert found.loc["FY2026-Q3"].tolist() == [2, 350]
    assert found.loc["FY2026-Q4"].tolist() == [1, 40]
    # Through a filter: Bob's only deal is S7.
    bob = slipped_by_period(con, [Q3, Q4], A, Filters.of(owner="Bob")).set_index("period")
    assert bob["slipped_count"].tolist() == [0, 1]
    # A period with no snapshot inside it has nothing to say.
    assert slipped_by_period(con, [parse_period("FY2026-Q1")], A)["slipped_count"].tolist() == [0]


def test_the_slippage_adjusted_close_rate():
    # Won 3 (300), lost to competition 1 (100), no decision 1 (100), slipped 2 (350):
    # close rate 3 / 5 = 60%; slippage-adjusted 3 / (5 + 2) = 42.9%; by amount 300 / 850.
    outcomes = Outcomes(d("2026-01-01"), d("2026-12-31"), Measure(300, 3), Measure(100, 1),
                        Measure(100, 1), Measure(0, 0))
    assert outcomes.close_rate() == (0.6, 0.6)
    amount, count = outcomes.slippage_adjusted_close_rate(Measure(350, 2))
    assert count == pytest.approx(3 / 7) and amount == pytest.approx(300 / 850)


def test_the_rates_page_shows_the_adjusted_rate(tmp_path, monkeypatch):
    build(tmp_path / "page.duckdb").close()
    shown = tiles(run_page("rates.py", tmp_path / "page.duckdb", monkeypatch))
    # Window FY2025-Q4 … FY2026-Q3: S3 won 300, S4 lost 50 (no decision) → close rate 50%;
    # with Q3's 2 slips (350): 1 / (2 + 2) = 25% by count, 300 / (300 + 50 + 350) = 43% by amount.
    assert shown["Close rate (deals)"][0] == "50%"
    assert shown["Close rate, slippage-adjusted (deals)"] == ("25%", "2 slips in the window")
    assert shown["Close rate, slippage-adjusted (amount)"][0] == "43%"
    assert shown["Coverage the adjusted rate needs"][0] == "4.0×"


def test_slips_join_the_trend_and_sum_over_a_window():
    import pandas as pd

    from sales.rates import slips_in, with_slips

    trend = pd.DataFrame({"period": ["FY2026-Q3", "FY2026-Q4"], "won_count": [3, 0],
                          "lost_competition_count": [1, 0], "lost_no_decision_count": [1, 0],
                          "won_amount": [300.0, 0.0], "lost_competition_amount": [100.0, 0.0],
                          "lost_no_decision_amount": [100.0, 0.0]})
    slips = pd.DataFrame({"period": ["FY2026-Q3"], "slipped_count": [2],
                          "slipped_amount": [350.0]})
    rows = with_slips(trend, slips).set_index("period")
    # Q3: 3 / (3 + 1 + 1 + 2) = 3 / 7; by amount 300 / (300 + 100 + 100 + 350) = 300 / 850.
    assert rows.loc["FY2026-Q3", "adjusted_rate_count"] == pytest.approx(3 / 7)
    assert rows.loc["FY2026-Q3", "adjusted_rate_amount"] == pytest.approx(300 / 850)
    # Q4: no slips recorded (0), nothing closed: no rate rather than a division by zero.
    assert rows.loc["FY2026-Q4", "slipped_count"] == 0
    assert pd.isna(rows.loc["FY2026-Q4", "adjusted_rate_count"])
    # Over a window of both quarters: 2 slips, 350.
    assert slips_in(with_slips(trend, slips), [Q3, Q4]) == Measure(350, 2)
    assert slips_in(slips, [Q4]) == Measure(0, 0)

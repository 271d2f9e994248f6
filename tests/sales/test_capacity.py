"""Rep capacity (docs/metrics.md#13-rep-capacity) on its worked example, and the pace read from data."""

import pytest

from sales.capacity import Capacity, pace
from sales.db import connect
from sales.view import Filters
from tests.helpers import d, run_page, seed, tiles


def test_the_spec_worked_example():
    # 180 days → 6 months to close, 3 to lose; win rate 1/3: 1/3 × 6 + 2/3 × 3 = 4 months on
    # average; capacity 40 → 40 / 4 = 10 qualified opportunities a month.
    worked = Capacity(days_to_close=180, win_rate=1 / 3, capacity=40)
    assert (worked.months_to_close, worked.months_to_lose) == (6, 3)
    assert worked.months_on_average == pytest.approx(4)
    assert worked.needed_per_month == pytest.approx(10)
    # The example rounds 33% to a third: at 0.33 exactly it is 3.99 months, 10.03 a month.
    assert Capacity(180, 0.33, 40).needed_per_month == pytest.approx(40 / 3.99)
    assert Capacity(0, 0.5, 40).needed_per_month is None  # no cycle, nothing to divide


def test_pace_from_won_cycles_and_accepted_deals(tmp_path):
    con = connect(tmp_path / "pace.duckdb")
    won = {"stage": "7-Closed Won", "category": "Closed", "amount": 10}
    seed(con, [
        # Won in the window after 30, 60 and 120 days: median 60.
        {"id": "W1", **won, "close": "2026-03-31", "created_date": "2026-03-01",
         "sales_accepted_date": "2026-03-05", "owner": "Ann", "account_employees": 100},
        {"id": "W2", **won, "close": "2026-05-01", "created_date": "2026-03-02",
         "sales_accepted_date": "2026-03-10", "owner": "Ann", "account_employees": 100},
        {"id": "W3", **won, "close": "2026-06-29", "created_date": "2026-03-01",
         "sales_accepted_date": "2026-04-01", "owner": "Bob", "account_employees": 9000},
        # Won before the window: its cycle does not count, its acceptance neither.
        {"id": "W0", **won, "close": "2025-12-01", "created_date": "2025-10-01",
         "sales_accepted_date": "2025-10-02", "owner": "Bob", "account_employees": 100},
        # Open, accepted in the window.
        {"id": "O1", "stage": "1-Discovery", "category": "Pipeline", "amount": 5,
         "close": "2026-09-30", "created_date": "2026-06-01", "sales_accepted_date": "2026-06-02",
         "owner": "Bob", "account_employees": 100},
    ])
    # Window 2026-01-01 … 2026-06-30: 181 days = 6.03 months; 4 accepted by 2 reps →
    # 4 / 2 / (181 / 30) = 0.33 a rep a month.
    found = pace(con, d("2026-01-01"), d("2026-06-30"), d("2026-11-20"))
    assert (found.median_cycle_days, found.won_deals, found.reps) == (60, 3, 2)
    assert found.accepted_per_rep_month == pytest.approx(4 / 2 / (181 / 30))
    smb = pace(con, d("2026-01-01"), d("2026-06-30"), d("2026-11-20"), Filters.of(segment="SMB"))
    # SMB: W1 30 and W2 60 days → median 45; accepted W1, W2, O1 by Ann and Bob.
    assert (smb.median_cycle_days, smb.reps) == (45, 2)
    con.close()


def test_the_rates_page_works_the_example_through(monkeypatch, demo_db, tmp_path):
    import shutil

    # A copy: the app keeps its connection to the file open, and other tests read the demo.
    shutil.copyfile(demo_db, tmp_path / "demo.duckdb")
    shown = tiles(run_page("rates.py", tmp_path / "demo.duckdb", monkeypatch, rep_capacity=40,
                           rep_cycle_days=180, rep_win_rate=0.33))
    # 6 months to close, 3 to lose, 0.33 × 6 + 0.67 × 3 = 3.99 months, 40 / 3.99 = 10.0 a month.
    assert (shown["Months to close"][0], shown["Months to lose"][0]) == ("6.0", "3.0")
    assert shown["Months on average"][0] == "4.0"
    assert shown["New qualified opportunities needed"][0] == "10.0 a month"

"""The SMB weighted forecast (docs/metrics.md#7-smb-weighted-forecast) on its worked example and
a hand-computed fixture; top-down against bottom-up."""

from __future__ import annotations

import pytest

from sales.db import connect
from sales.periods import parse_period
from sales.settings import load_settings
from sales.smb import (
    FALLBACK,
    HISTORY,
    NEW,
    smb_forecast,
    weighted_forecast,
)
from sales.view import Filters, View
from tests.cases.smb import DISC, END3, LOST, PROP, R3, TECH, WON, A, build
from tests.helpers import add_submissions, d, private_copy, seed, seed_lives

Q4 = parse_period("FY2026-Q4")  # 2026-10-01 … 2026-12-31 (fiscal year start 1)


def test_the_spec_worked_example():
    # Commit 1.0M, Best Case 2.0M, Pipeline 2.0M, E = 1.0M, rates .9/.6/.3/.3, Closed 0:
    # 0.9 + 1.2 + 0.6 + 0.3 = 3.0M.
    amounts = {"Commit": 1_000_000, "Best Case": 2_000_000, "Pipeline": 2_000_000}
    rates = {"Commit": 0.9, "Best Case": 0.6, "Pipeline": 0.3, NEW: 0.3}
    assert weighted_forecast(0, amounts, rates, 1_000_000) == pytest.approx(3_000_000)


# The worked example's rates learned from one past quarter, FY2026-Q3, read at R3 (2026-08-14,
# R = 2026-08-20). id: (created, picture at R3, at Q3's end, now); amounts in thousands.
SPEC_LIVES = {
    # Commit at R3: 900 won, 100 lost → r_Commit = 900 / 1,000 = 0.9.
    "HC1": ("2026-07-01", (PROP, "Commit", 900, "2026-09-10"), (WON, "Closed", 900, "2026-09-10"),
            (WON, "Closed", 900, "2026-09-10")),
    "HC2": ("2026-07-01", (PROP, "Commit", 100, "2026-09-12"), (LOST, "Omitted", 100, "2026-09-12"),
            (LOST, "Omitted", 100, "2026-09-12")),
    # Best Case at R3: 600 won, 400 lost → r_BestCase = 0.6.
    "HB1": ("2026-07-02", (TECH, "Best Case", 600, "2026-09-15"), (WON, "Closed", 600, "2026-09-15"),
            (WON, "Closed", 600, "2026-09-15")),
    "HB2": ("2026-07-02", (TECH, "Best Case", 400, "2026-09-16"), (LOST, "Omitted", 400, "2026-09-16"),
            (LOST, "Omitted", 400, "2026-09-16")),
    # Pipeline at R3: 300 won, 700 lost → r_Pipeline = 0.3.
    "HP1": ("2026-07-03", (DISC, "Pipeline", 300, "2026-09-20"), (WON, "Closed", 300, "2026-09-20"),
            (WON, "Closed", 300, "2026-09-20")),
    "HP2": ("2026-07-03", (DISC, "Pipeline", 700, "2026-09-21"), (LOST, "Omitted", 700, "2026-09-21"),
            (LOST, "Omitted", 700, "2026-09-21")),
    # Created after R, due in Q3: E_Q3 = 300 + 700 = 1,000, r_new = 300 / 1,000 = 0.3.
    "HN1": ("2026-09-01", None, (WON, "Closed", 300, "2026-09-25"), (WON, "Closed", 300, "2026-09-25")),
    "HN2": ("2026-09-02", None, (LOST, "Omitted", 700, "2026-09-26"),
            (LOST, "Omitted", 700, "2026-09-26")),
    # This quarter, now: Commit 1,000, Best Case 2,000, Pipeline 2,000, nothing closed.
    "C1": ("2026-10-02", None, None, (PROP, "Commit", 1000, "2026-12-01")),
    "B1": ("2026-10-03", None, None, (TECH, "Best Case", 2000, "2026-12-15")),
    "P1": ("2026-10-04", None, None, (DISC, "Pipeline", 2000, "2026-12-20")),
}


def test_the_spec_worked_example_from_history(tmp_path):
    con = connect(tmp_path / "spec.duckdb")
    seed_lives(con, {i: (created, list(pictures)) for i, (created, *pictures) in SPEC_LIVES.items()},
               [R3, END3, A], owner="Ann", account_employees=40)  # SMB
    forecast = smb_forecast(con, View(Q4, A), load_settings(con))
    terms = {t.name: t for t in forecast.terms}
    assert {n: round(t.rate, 9) for n, t in terms.items()} == {
        "Commit": 0.9, "Best Case": 0.6, "Pipeline": 0.3, NEW: 0.3}
    assert {t.source for t in terms.values()} == {HISTORY} and forecast.periods_used == 1
    # E = the mean of E_Q over the periods read (Q3 only; the three before have no snapshot).
    assert (forecast.closed, forecast.expected_new) == (0, 1000)
    # 0 + 0.9 × 1,000 + 0.6 × 2,000 + 0.3 × 2,000 + 0.3 × 1,000 = 900 + 1,200 + 600 + 300 = 3,000.
    assert forecast.total == pytest.approx(3000)
    con.close()





@pytest.fixture
def con(tmp_path):
    con = build(tmp_path / "smb.duckdb")
    yield con
    con.close()


def test_rates_from_the_same_offset_of_past_quarters(con):
    forecast = smb_forecast(con, View(Q4, A), load_settings(con))
    history = forecast.history.set_index("period")
    # Q2 has no snapshot between its start and its R: skipped; Q3 is read.
    assert history["used"].to_dict() == {"FY2026-Q2": False, "FY2026-Q3": True}
    assert history.loc["FY2026-Q3", "r_day"] == d("2026-08-20")
    assert forecast.periods_used == 1
    terms = {t.name: t for t in forecast.terms}
    # r_Commit = 120 won / (100 + 200) then = 0.4; r_BestCase = 0 / 400 (H3 won in Q4) = 0;
    # r_Pipeline = 50 / 50 = 1.0; E = E_Q3 = H5 300 + H6 100 = 400, r_new = 300 / 400 = 0.75.
    assert {n: round(t.rate, 9) for n, t in terms.items()} == {
        "Commit": 0.4, "Best Case": 0.0, "Pipeline": 1.0, NEW: 0.75}
    assert {t.source for t in terms.values()} == {HISTORY}
    assert forecast.expected_new == 400
    # Now: Closed W1 300 + H3 400 = 700; Commit 1,000, Best Case 500, Pipeline 200.
    assert forecast.closed == 700
    assert [terms[c].amount for c in ("Commit", "Best Case", "Pipeline")] == [1000, 500, 200]
    # 700 + 0.4 × 1,000 + 0 × 500 + 1.0 × 200 + 0.75 × 400 = 700 + 400 + 0 + 200 + 300 = 1,600.
    assert forecast.total == pytest.approx(1600)


def test_without_history_the_fallback_rates_apply_and_say_so(con):
    # No Enterprise deal anywhere: every term falls back (0.90 / 0.60 / 0.30 / 0.30), E = 0.
    forecast = smb_forecast(con, View(Q4, A, Filters.of(segment="Enterprise")), load_settings(con))
    assert {t.source for t in forecast.terms} == {FALLBACK} and forecast.uses_fallback
    assert [t.rate for t in forecast.terms] == [0.9, 0.6, 0.3, 0.3]
    assert forecast.expected_new == 0 and forecast.total == 0


def test_bottom_up_takes_each_reps_latest_submission_and_compares(con):
    from sales.smb import HAPPY_EARS, IN_LINE, SANDBAGGING, bottom_up, compare

    settings = load_settings(con)
    assert bottom_up(con, View(Q4, A)) is None  # nobody has submitted yet
    add_submissions(con, """
                   ('FY2026-Q4', 'Ann', '2026-11-06', 1000, 200),
                   ('FY2026-Q4', 'Ann', '2026-11-13', 1200, 100),  -- Ann's latest by A
                   ('FY2026-Q4', 'Ann', '2026-11-27', 9999, 0),    -- after A: not yet seen
                   ('FY2026-Q4', 'Bob', '2026-11-10', 300, 0),
                   ('FY2026-Q3', 'Bob', '2026-08-10', 777, 0)""")
    everyone = bottom_up(con, View(Q4, A))
    # Ann 1,200 (upside 100) + Bob 300 = 1,500 from two owners.
    assert (everyone.forecast, everyone.upside, everyone.owners) == (1500, 100, 2)
    # Filtered to Ann's deals: Bob has no deal in the view.
    assert bottom_up(con, View(Q4, A, Filters.of(owner="Ann"))).forecast == 1200
    # Against a top-down of 1,600: 1,500 / 1,600 = 0.94, inside the 0.85–1.15 bands.
    assert compare(1500, 1600, settings) == IN_LINE
    assert compare(1300, 1600, settings) == SANDBAGGING  # 0.81
    assert compare(1900, 1600, settings) == HAPPY_EARS  # 1.19
    assert compare(1360, 1600, settings) == IN_LINE  # exactly 0.85 is not below the band
    from sales.smb import bottom_up_share

    assert bottom_up_share(1500, 1600) == pytest.approx(0.9375)
    assert bottom_up_share(1500, 0) is None and compare(0, 0, settings) == IN_LINE


def test_one_held_history_serves_every_filter(demo_db, tmp_path):
    # The page holds the filter-free history per period and as-of: every view reads the same
    # forecast from it as from the database.
    from sales.query import default_as_of
    from sales.smb import history_cube

    con = private_copy(demo_db, tmp_path)
    settings = load_settings(con)
    as_of = default_as_of(con)
    held = history_cube(con, Q4, as_of, settings.history_periods)
    owner = con.execute("select owner from opportunities where segment = 'SMB' "
                        "order by amount desc limit 1").fetchone()[0]
    for filters in (Filters.of(segment="SMB"), Filters.of(segment="SMB", region="EMEA"),
                    Filters.of(owner=owner), Filters.of(type="Renewal", channel="Partner")):
        v = View(Q4, as_of, filters)
        fresh, cached = smb_forecast(con, v, settings), smb_forecast(con, v, settings, held)
        assert cached.terms == fresh.terms and cached.total == pytest.approx(fresh.total)
        assert fresh.periods_used == 4 and not fresh.uses_fallback
    con.close()


def test_smb_coverage_counts_the_expected_new_pipeline(con):
    # docs/metrics.md#3-smb-coverage: (Closed + Commit + Best Case + Pipeline + E) / target on the SMB method.
    from sales.coverage import SMB_METHOD, coverage_by
    from tests.helpers import add_target

    add_target(con, "FY2026-Q4", "segment", "SMB", 2000)
    settings = load_settings(con)
    row = coverage_by(con, View(Q4, A), "segment", settings).set_index("segment").loc["SMB"]
    # E = 400 (above); (700 + 1,000 + 500 + 200 + 400) / 2,000 = 1.4.
    assert (row["method"], row["expected_new"]) == (SMB_METHOD, 400)
    assert row["smb"] == pytest.approx(1.4) and row["coverage"] == pytest.approx(1.4)
    # By owner in a view cut to SMB: all of it is Ann's.
    by_owner = coverage_by(con, View(Q4, A, Filters.of(segment="SMB")), "owner", settings)
    assert by_owner.set_index("owner").loc["Ann", "expected_new"] == 400


def test_smb_months_count_each_months_expected_new_pipeline(tmp_path):
    # Month by month, E comes from the same offset of past months. As of 2026-11-20 (19 days
    # into November): October is read at R = Oct 20 (snapshot 10-15) and ends at 10-29;
    # September has no snapshot between Sep 1 and Sep 20, so it is skipped.
    from sales.coverage import smb_monthly
    from tests.helpers import add_target

    con = connect(tmp_path / "months.duckdb")
    deals = [{"id": "N1", "stage": LOST, "category": "Omitted", "amount": 90,
              "close": "2026-10-31", "owner": "Ann", "account_employees": 40,
              "created_date": "2026-10-22"},
             {"id": "X1", "stage": PROP, "category": "Commit", "amount": 50, "close": "2026-11-25",
              "owner": "Ann", "account_employees": 40, "created_date": "2026-10-01"}]
    seed(con, deals, {
        d("2026-10-15"): [("X1", PROP, "Commit", 50, "2026-11-25", "Ann")],
        d("2026-10-29"): [("X1", PROP, "Commit", 50, "2026-11-25", "Ann"),
                          ("N1", DISC, "Pipeline", 90, "2026-10-31", "Ann")],
        A: [("X1", PROP, "Commit", 50, "2026-11-25", "Ann"),
            ("N1", LOST, "Omitted", 90, "2026-10-31", "Ann")]})
    con.execute("insert into settings values ('history_periods', '2')")
    add_target(con, "FY2026-M11", "segment", "SMB", 100)
    months = smb_monthly(con, View(Q4, A), load_settings(con)).set_index("month")
    # E for November = October's new pipeline: N1, created 10-22 (after R), due 10-31: 90.
    assert months["expected_new"].to_dict() == {"FY2026-M10": 0, "FY2026-M11": 90,
                                                "FY2026-M12": 0}
    # November: Commit X1 50 + E 90 = 140 against 100.
    assert months.loc["FY2026-M11", "smb"] == pytest.approx(1.4)
    con.close()

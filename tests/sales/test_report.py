"""The report's keys beyond the headline (the pages read their numbers from it): each worked out
by hand on a small fixture, and the pieces the pages used to compute themselves."""

import json

import pytest

from sales.capacity import GUESS, Pace, capacity_plan
from sales.cli import main
from sales.db import connect
from sales.inblood import ALARM, NOTE, OVER, WARNING, commit_risk_level
from sales.periods import parse_period
from sales.rates import window_quarters
from sales.report import full_report
from sales.settings import load_settings
from sales.smb import IN_BLOOD, SUBMISSIONS, BottomUp, smb_forecast, smb_view, top_down_bottom_up
from sales.sql import Sql, sql
from sales.view import Filters, View
from tests.helpers import d, seed_lives

Q4 = parse_period("FY2026-Q4")  # 2026-10-01 … 2026-12-31 (fiscal year start 1)
A = d("2026-11-20")  # 50 days into Q4: Q2 is read at R = May 21, Q3 at R = Aug 20
PROP, TECH, DISC, WON, LOST = ("4-Proposal", "3-Technical Evaluation", "1-Discovery",
                               "7-Closed Won", "8-Closed Lost")
R2, END2, R3, END3 = d("2026-05-15"), d("2026-06-30"), d("2026-08-14"), d("2026-09-30")
DATES = [R2, END2, R3, END3, A]
C2, B2, C3 = (PROP, "Commit"), (TECH, "Best Case"), (PROP, "Commit")
WON2, LOST2 = (WON, "Closed"), (LOST, "Omitted")
# id: created, its picture (stage, category, amount, close) at R2, END2, R3, END3 and A
RANGE_LIVES = {
    # Q2 at R: Commit 100 won, Commit 100 lost → r_Commit in Q2 = 100 / 200 = 0.5;
    # Best Case 200 lost → r_BestCase in Q2 = 0.
    "C2a": ("2026-04-01", [(*C2, 100, "2026-06-15")] + [(*WON2, 100, "2026-06-15")] * 4),
    "C2b": ("2026-04-01", [(*C2, 100, "2026-06-20")] + [(*LOST2, 100, "2026-06-20")] * 4),
    "B2": ("2026-04-01", [(*B2, 200, "2026-06-25")] + [(*LOST2, 200, "2026-06-25")] * 4),
    # Q3 at R: Commit 300 and 100, both won → r_Commit in Q3 = 400 / 400 = 1.0; no Best Case.
    "C3a": ("2026-07-01", [None, None, (*C3, 300, "2026-09-15")] + [(*WON2, 300, "2026-09-15")] * 2),
    "C3b": ("2026-07-01", [None, None, (*C3, 100, "2026-09-20")] + [(*WON2, 100, "2026-09-20")] * 2),
    # Now: Commit 1,000, Best Case 500, Pipeline 200, nothing closed yet.
    "N1": ("2026-10-01", [None] * 4 + [(PROP, "Commit", 1000, "2026-12-01")]),
    "N2": ("2026-10-01", [None] * 4 + [(TECH, "Best Case", 500, "2026-12-15")]),
    "N3": ("2026-10-01", [None] * 4 + [(DISC, "Pipeline", 200, "2026-12-20")]),
}


def build_range(path):
    con = connect(path)
    seed_lives(con, RANGE_LIVES, DATES, owner="Ann", account_employees=40)  # SMB
    con.execute("insert into settings values ('history_periods', '2')")
    return con


@pytest.fixture
def range_con(tmp_path):
    con = build_range(tmp_path / "range.duckdb")
    yield con
    con.close()


def test_smb_forecast_range_and_report_keys(range_con):
    report = full_report(range_con, View(Q4, A)).as_report()["smb_forecast"]
    # r_Commit pooled = (100 + 400) / (200 + 400) = 5/6; Best Case 0 / 200 = 0; Pipeline and
    # the new pipeline have no history: fallback 0.30 each, and E = 0 (nothing created after R).
    assert report["commit"] == pytest.approx(
        {"amount": 1000.0, "rate": 5 / 6, "value": 1000 * 5 / 6, "source": "history"})
    assert report["best_case"] == {"amount": 500.0, "rate": 0.0, "value": 0.0, "source": "history"}
    assert report["pipeline"] == pytest.approx(
        {"amount": 200.0, "rate": 0.3, "value": 60.0, "source": "fallback"})
    assert report["new_pipeline"] == {"amount": 0.0, "rate": 0.3, "value": 0.0,
                                      "source": "fallback"}
    # Total 0 + 833.33 + 0 + 60 + 0 = 893.33. Low: Commit at Q2's 0.5 → 500 + 60 = 560; high:
    # Commit at Q3's 1.0 → 1,000 + 60 = 1,060 (Best Case had an amount only in Q2: 0 both ways;
    # Pipeline keeps its fallback).
    assert report["total"] == pytest.approx(1000 * 5 / 6 + 60)
    assert (report["low"], report["high"]) == pytest.approx((560, 1060))
    assert (report["closed"], report["fallback_used"], report["periods_used"]) == (0, True, 2)
    # No target in this fixture: no share of it and no gap; the in-blood number (Commit 1,000
    # included by the default rules, nothing closed) is 1,000 − 893.33 = 106.67 above it.
    assert report["against"]["share_of_target"] is None
    assert report["against"]["gap_to_target"] is None
    assert report["against"]["in_blood_difference"] == pytest.approx(1000 - (1000 * 5 / 6 + 60))


def test_history_periods_overrides_the_setting(range_con, tmp_path, capsys):
    path = tmp_path / "range.duckdb"
    range_con.close()
    assert main(["report", "--db", str(path), "--history-periods", "1"]) == 0
    smb = json.loads(capsys.readouterr().out)["smb_forecast"]
    # Only Q3: r_Commit 1.0; no Best Case in Q3, so its fallback 0.60: 1,000 + 300 + 60 = 1,360.
    assert smb["periods_used"] == 1 and smb["best_case"]["source"] == "fallback"
    assert (smb["total"], smb["low"], smb["high"]) == pytest.approx((1360, 1360, 1360))
    assert main(["report", "--db", str(path), "--history-periods", "0"]) == 2
    assert "--history-periods" in capsys.readouterr().err


def test_the_report_is_for_the_view_as_filtered(range_con):
    # SMB coverage narrows to the SMB-method segments; the forecast does not narrow.
    settings = load_settings(range_con)
    mid = View(Q4, A, Filters.of(segment="Mid-Market"))
    assert smb_view(mid, settings) is None
    assert smb_forecast(range_con, mid, settings).total == 0  # no Mid-Market deal at all
    report = full_report(range_con, mid).as_report()
    assert (report["coverage"]["smb"], report["coverage"]["smb_required"]) == (None, None)
    both = View(Q4, A, Filters.of(segment=["SMB", "Mid-Market"]))
    assert smb_view(both, settings).filters == Filters.of(segment="SMB")


def test_smb_coverage_in_the_report(range_con):
    from tests.helpers import add_target

    add_target(range_con, "FY2026-Q4", "segment", "SMB", 1000)
    coverage = full_report(range_con, View(Q4, A)).as_report()["coverage"]
    # (Closed 0 + Commit 1,000 + Best Case 500 + Pipeline 200 + E 0) / 1,000 = 1.7; SMB's close
    # rate over FY2025-Q4 … FY2026-Q3: C2a, C3a, C3b won, C2b and B2 lost (no decision) → 3/5,
    # so 1 / 0.6 = 1.67× required.
    assert coverage["smb"] == pytest.approx(1.7)
    assert coverage["smb_required"] == pytest.approx(5 / 3)


def test_top_down_against_bottom_up_falls_back_to_the_in_blood_number(range_con):
    settings = load_settings(range_con)
    forecast = smb_forecast(range_con, View(Q4, A), settings)  # 893.33
    versus = top_down_bottom_up(forecast, None, 1000.0, settings)
    assert (versus.source, versus.bottom_up, versus.owners) == (IN_BLOOD, 1000.0, 0)
    assert versus.share == pytest.approx(1000 / forecast.total)  # 1.12: inside the 1.15 band
    submitted = top_down_bottom_up(forecast, BottomUp(700.0, 50.0, 2), 1000.0, settings)
    assert (submitted.source, submitted.verdict) == (SUBMISSIONS, "sandbagging?")  # 0.78


def test_rates_keys_count_slips_over_the_window(tmp_path):
    from tests.cases.slippage import build

    con = build(tmp_path / "slip.duckdb")
    rates = full_report(con, View(Q4, d("2026-10-15"))).as_report()["rates"]
    # Window FY2025-Q4 … FY2026-Q3: S3 won 300; S4 lost 50 (no reason, no competitor: no
    # decision); Q3's slips S1 150 + S2 200. Close rate 1 / 2 (300 / 350); adjusted 1 / 4
    # (300 / 700); 1 / 0.5 = 2.0× and 1 / 0.25 = 4.0× required.
    assert rates["won"] == {"amount": 300.0, "count": 1}
    assert rates["lost"] == {"competition": {"amount": 0.0, "count": 0},
                             "no_decision": {"amount": 50.0, "count": 1},
                             "excluded": {"amount": 0.0, "count": 0}}
    assert rates["slipped"] == {"amount": 350.0, "count": 2}
    assert rates["close_rate"] == pytest.approx({"amount": 300 / 350, "count": 0.5})
    assert rates["slippage_adjusted_close_rate"] == pytest.approx({"amount": 300 / 700,
                                                                   "count": 0.25})
    assert (rates["required_coverage"], rates["slippage_adjusted_required_coverage"]) == (2, 4)
    assert rates["loss_share"] == {"no_decision": 1.0, "competition": 0.0}
    # A window of Aug … Dec holds the ends of Q3 and Q4: Q4's slip S7 (40, as of 10-15) joins.
    wide = full_report(con, View(Q4, d("2026-10-15")),
                       window=(d("2026-08-01"), d("2026-12-31"))).as_report()["rates"]
    assert wide["slipped"] == {"amount": 390.0, "count": 3}
    con.close()


def test_window_quarters_are_those_ending_in_it():
    # FY start 1: the default window of FY2026-Q4 is FY2025-Q4 … FY2026-Q3.
    labels = [q.label for q in window_quarters(d("2025-10-01"), d("2026-09-30"), 1)]
    assert labels == ["FY2025-Q4", "FY2026-Q1", "FY2026-Q2", "FY2026-Q3"]
    assert [q.label for q in window_quarters(d("2026-08-01"), d("2026-12-31"), 1)] == [
        "FY2026-Q3", "FY2026-Q4"]
    assert window_quarters(d("2026-08-01"), d("2026-09-29"), 1) == []  # no quarter ends in it


@pytest.mark.parametrize("as_of, level", [
    # FY2026-Q4 has 92 days: warning from 12-31 − 30 = 12-01, alarm from 12-31 − 15 = 12-16.
    ("2026-11-30", NOTE), ("2026-12-01", WARNING), ("2026-12-15", WARNING),
    ("2026-12-16", ALARM), ("2026-12-31", ALARM), ("2027-01-01", OVER)])
def test_commit_risk_grows_louder_as_the_period_ends(as_of, level):
    assert commit_risk_level(View(Q4, d(as_of))) == level


def test_capacity_plan_from_the_data_and_its_guesses():
    # docs/metrics.md#13-rep-capacity's example from data: a 180-day median cycle and a win rate
    # of 1/3 → 10 a month.
    found = capacity_plan(Pace(180.0, 12, 3.5, 4), 1 / 3, 40)
    assert found.plan.needed_per_month == pytest.approx(10)
    assert found.as_report()["accepted_per_rep_month"] == 3.5
    # No won deal and no competitive outcome: 90 days and even odds, said to be guesses.
    guessed = capacity_plan(Pace(None, 0, None, 0), None, 40)
    assert (guessed.days_source, guessed.win_rate_source) == (GUESS, GUESS)
    # 3 months to close, 1.5 to lose, 0.5 × 3 + 0.5 × 1.5 = 2.25 → 40 / 2.25 = 17.8 a month.
    assert guessed.plan.needed_per_month == pytest.approx(40 / 2.25)


def test_named_parameters_compose_and_refuse_a_clash():
    period = sql("close_date between $period_start and $period_end",
                 period_start=d("2026-10-01"), period_end=d("2026-12-31"))
    again = sql("close_date >= $period_start", period_start=d("2026-10-01"))
    both = sql(f"select 1 where {period} and {again}", period, again)
    assert isinstance(both, Sql) and set(both.params) == {"period_start", "period_end"}
    with pytest.raises(ValueError, match=r"\$period_start is bound to two values"):
        sql(f"{period} and {again}", period, sql("x", period_start=d("2026-07-01")))
    with pytest.raises(ValueError, match="lowercase identifier"):
        sql("select $Bad", Bad=1)


def test_report_csv_cannot_carry_a_formula(range_con, tmp_path, capsys):
    # A filter value is the user's text: in the CSV it is quoted as text, numbers stay numbers.
    path = tmp_path / "range.duckdb"
    range_con.close()
    assert main(["report", "--db", str(path), "--owner", "=HYPERLINK(\"x\")", "--format",
                 "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "filters.owner,\"'=HYPERLINK(\"\"x\"\")\"" in lines
    assert "categories.Closed.amount,0.0" in lines  # nobody by that name: numbers as numbers

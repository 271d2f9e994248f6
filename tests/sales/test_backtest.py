"""The backtest: every method, the error, the summary and the best method, by hand on two
months with three snapshots each; the command line's keys; and the single-view functions
agreeing with the shared computation on the demo."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from sales import backtest as bt
from sales import formatting as fmt
from sales.cli import main
from sales.db import connect
from sales.inblood import in_blood
from sales.periods import MONTH, QUARTER, parse_period
from sales.rollup import category_rollup
from sales.settings import load_settings, save_setting
from sales.smb import bottom_up, smb_forecast
from sales.view import Filters, View
from tests.helpers import ROOT, add_submissions, d, seed

M1, M2 = parse_period("FY2026-M1"), parse_period("FY2026-M2")  # Jan 2026 (5 weeks), Feb (4)
AS_OF = d("2026-03-02")
ANN = dict(owner="Ann", account_employees=9000, created_date="2025-12-15")  # Enterprise
BOB = dict(owner="Bob", account_employees=100)  # SMB

# Deals (stage probabilities are the handbook defaults: 1-Discovery 10%, 2-Scoping 20%,
# 3-Technical Evaluation 40%, 4-Proposal 60%, 5-Negotiating 75%):
#   A Ann  Commit 100 → won 100 on 01-20                                       (January)
#   B Ann  Best Case 200 → lost                                                (January)
#   C Ann  Pipeline 300 → Commit → won 250 on 01-28                            (January)
#   D Ann  Commit 400 closing 01-31 → moved to 02-20 → won 400 on 02-06       (→ February)
#   H Ann  created 01-10, Pipeline 50 → won 50 on 01-29                        (January)
#   E Bob  created 01-20, Pipeline 500 → Best Case → Commit → won 600 on 02-20 (February)
#   F Bob  Commit 200 closing 02-10 → slipped to 03-15                         (out)
#   G Bob  created 02-05, Pipeline 100 → lost                                  (February)
SNAPSHOTS = {
    d("2026-01-05"): [("A", "4-Proposal", "Commit", 100, "2026-01-20", "Ann"),
                      ("B", "3-Technical Evaluation", "Best Case", 200, "2026-01-25", "Ann"),
                      ("C", "2-Scoping", "Pipeline", 300, "2026-01-30", "Ann"),
                      ("D", "4-Proposal", "Commit", 400, "2026-01-31", "Ann")],
    d("2026-01-12"): [("A", "5-Negotiating", "Commit", 100, "2026-01-20", "Ann"),
                      ("B", "3-Technical Evaluation", "Best Case", 200, "2026-01-25", "Ann"),
                      ("C", "4-Proposal", "Commit", 300, "2026-01-30", "Ann"),
                      ("D", "4-Proposal", "Commit", 400, "2026-01-31", "Ann"),
                      ("H", "1-Discovery", "Pipeline", 50, "2026-01-29", "Ann")],
    d("2026-01-26"): [("A", "7-Closed Won", "Closed", 100, "2026-01-20", "Ann"),
                      ("B", "8-Closed Lost", "Omitted", 200, "2026-01-25", "Ann"),
                      ("C", "7-Closed Won", "Closed", 250, "2026-01-28", "Ann"),
                      ("D", "4-Proposal", "Commit", 400, "2026-01-31", "Ann"),
                      ("H", "7-Closed Won", "Closed", 50, "2026-01-29", "Ann"),
                      ("E", "1-Discovery", "Pipeline", 500, "2026-02-15", "Bob"),
                      ("F", "4-Proposal", "Commit", 200, "2026-02-10", "Bob")],
    d("2026-02-02"): [("A", "7-Closed Won", "Closed", 100, "2026-01-20", "Ann"),
                      ("B", "8-Closed Lost", "Omitted", 200, "2026-01-25", "Ann"),
                      ("C", "7-Closed Won", "Closed", 250, "2026-01-28", "Ann"),
                      ("D", "4-Proposal", "Commit", 400, "2026-02-20", "Ann"),
                      ("H", "7-Closed Won", "Closed", 50, "2026-01-29", "Ann"),
                      ("E", "3-Technical Evaluation", "Best Case", 500, "2026-02-15", "Bob"),
                      ("F", "4-Proposal", "Commit", 200, "2026-02-10", "Bob")],
    d("2026-02-09"): [("A", "7-Closed Won", "Closed", 100, "2026-01-20", "Ann"),
                      ("B", "8-Closed Lost", "Omitted", 200, "2026-01-25", "Ann"),
                      ("C", "7-Closed Won", "Closed", 250, "2026-01-28", "Ann"),
                      ("D", "7-Closed Won", "Closed", 400, "2026-02-06", "Ann"),
                      ("H", "7-Closed Won", "Closed", 50, "2026-01-29", "Ann"),
                      ("E", "4-Proposal", "Commit", 500, "2026-02-15", "Bob"),
                      ("F", "4-Proposal", "Commit", 200, "2026-03-15", "Bob"),
                      ("G", "2-Scoping", "Pipeline", 100, "2026-02-25", "Bob")],
    d("2026-02-23"): [("A", "7-Closed Won", "Closed", 100, "2026-01-20", "Ann"),
                      ("B", "8-Closed Lost", "Omitted", 200, "2026-01-25", "Ann"),
                      ("C", "7-Closed Won", "Closed", 250, "2026-01-28", "Ann"),
                      ("D", "7-Closed Won", "Closed", 400, "2026-02-06", "Ann"),
                      ("H", "7-Closed Won", "Closed", 50, "2026-01-29", "Ann"),
                      ("E", "7-Closed Won", "Closed", 600, "2026-02-20", "Bob"),
                      ("F", "4-Proposal", "Commit", 200, "2026-03-15", "Bob"),
                      ("G", "8-Closed Lost", "Omitted", 100, "2026-02-25", "Bob")],
}
LAST = {row[0]: row for row in SNAPSHOTS[d("2026-02-23")]}
CREATED = {"H": "2026-01-10", "E": "2026-01-20", "F": "2026-01-20", "G": "2026-02-05"}


def _deals() -> list[dict]:
    out = []
    for key, (_, stage, category, amount, close, owner) in LAST.items():
        person = ANN if owner == "Ann" else BOB
        out.append({"id": key, "stage": stage, "category": category, "amount": amount,
                    "close": close, **person, "created_date": CREATED.get(key, "2025-12-15")})
    return out


def _seed(con) -> None:
    seed(con, _deals(), SNAPSHOTS)
    save_setting(con, "history_periods", 1)  # the SMB method learns from the month before
    # Calls for February (whole company): 02-03 with closed won 0 included D 400 and F 200
    # (in-blood 600); 02-10 saved without its closed won (an older file: read as of its date,
    # D's 400) included E 500 and G 100 (in-blood 400 + 600 = 1,000).
    con.execute("""insert into forecast_calls (call_id, period, call_date, saved_at, saved_by,
                                               scope, closed_won) values
                   (1, 'FY2026-M2', '2026-02-03', '2026-02-03 16:00', 'Lee', '', 0),
                   (2, 'FY2026-M2', '2026-02-10', '2026-02-10 16:00', 'Lee', '', null)""")
    con.execute("""insert into forecast_call_decisions values
                   (1, 'D', true, null, 400, 'Commit'), (1, 'F', true, null, 200, 'Commit'),
                   (1, 'E', false, null, 500, 'Best Case'),
                   (2, 'E', true, null, 500, 'Commit'), (2, 'G', true, null, 100, 'Pipeline')""")
    add_submissions(con, """
                   ('FY2026-M1', 'Ann', '2026-01-06', 450, 0),
                   ('FY2026-M1', 'Ann', '2026-01-13', 420, 0),
                   ('FY2026-M1', 'Bob', '2026-01-13', 10, 0),
                   ('FY2026-M2', 'Ann', '2026-02-02', 380, 0),
                   ('FY2026-M2', 'Bob', '2026-02-02', 700, 0),
                   ('FY2026-M2', 'Bob', '2026-02-16', 650, 0)""")


@pytest.fixture
def two_months(tmp_path):
    path = tmp_path / "backtest.duckdb"
    con = connect(path)
    _seed(con)
    yield con, path
    con.close()


def _forecasts(result: bt.Backtest, method: str, period: str) -> list[float | None]:
    rows = result.frame[(result.frame.method == method) & (result.frame.period == period)]
    return [None if v != v else round(v, 6) for v in rows.sort_values("week")["forecast"]]


# Weeks seen from (A_w) and the snapshot read: January 01-01 (none yet), 01-08 (01-05),
# 01-15 (01-12), 01-22 (01-12), 01-29 (01-26); February 02-01 (01-26), 02-08 (02-02),
# 02-15 (02-09), 02-22 (02-09). Actual: January A 100 + C 250 + H 50 = 400; February D 400 +
# E 600 = 1,000 (F slipped, G lost).
#
# January. 01-05: Closed 0, Commit A 100 + D 400 = 500, Best Case B 200, Pipeline C 300.
#   01-12: Commit A 100 + C 300 + D 400 = 800, Best Case 200, Pipeline H 50.
#   01-26: Closed A 100 + C 250 + H 50 = 400, Commit D 400.
# February. 01-26: Commit F 200, Pipeline E 500. 02-02: Commit D 400 + F 200 = 600, Best Case
#   E 500. 02-09: Closed D 400, Commit E 500, Pipeline G 100.
EXPECTED = {
    bt.COMMIT_METHOD: {"FY2026-M1": [None, 500, 800, 800, 800],  # Closed + Commit
                       "FY2026-M2": [200, 600, 900, 900]},
    bt.BEST_CASE_METHOD: {"FY2026-M1": [None, 700, 1000, 1000, 800],  # + Best Case
                          "FY2026-M2": [200, 1100, 900, 900]},
    bt.DEFAULT_RULES: {"FY2026-M1": [None, 500, 800, 800, 800],  # settings: Commit in only
                       "FY2026-M2": [200, 600, 900, 900]},
    # The latest call on or before A_w: none before 02-03; 600 from 02-08; 1,000 from 02-15.
    bt.SAVED_CALLS: {"FY2026-M1": [None] * 5, "FY2026-M2": [None, 600, 1000, 1000]},
    # Each owner's latest submission on or before A_w, summed: January 01-08 Ann 450; from
    # 01-15 Ann 420 + Bob 10 = 430. February 02-08 Ann 380 + Bob 700 = 1,080 (also 02-15);
    # 02-22 Ann 380 + Bob 650 = 1,030.
    bt.SUBMISSIONS: {"FY2026-M1": [None, 450, 430, 430, 430],
                     "FY2026-M2": [None, 1080, 1080, 1030]},
    # Stage probabilities. January 01-05: A 100×60% + D 400×60% + B 200×40% + C 300×20% = 440;
    #   01-12: A 100×75% + C 300×60% + D 400×60% + B 200×40% + H 50×10% = 580;
    #   01-26: 400 + D 400×60% = 640.
    # February 01-26: F 200×60% + E 500×10% = 170; 02-02: D 240 + F 120 + E 500×40% = 560;
    #   02-09: 400 + E 500×60% + G 100×20% = 720.
    bt.STAGE_WEIGHTED: {"FY2026-M1": [None, 440, 580, 580, 640],
                        "FY2026-M2": [170, 560, 720, 720]},
    # SMB method, learning from one month before (history_periods = 1).
    # January: December has no snapshot, so the fallback rates .9/.6/.3 and E = 0:
    #   01-05: .9×500 + .6×200 + .3×300 = 660; 01-12: .9×800 + .6×200 + .3×50 = 855;
    #   01-26: 400 + .9×400 = 760.
    # February w1 (R = 01-01, no January snapshot by then): fallback, .9×200 + .3×500 = 330.
    # w2 (R = 01-08, read at 01-05; outcomes as known at 02-02): Commit A 100 + D 400 of which
    #   A's 100 won in January → 0.2; Best Case B 200 lost → 0; created after R: H 50, won 50
    #   → E = 50, r_new = 1. Forecast 0.2×600 + 0×500 + 1×50 = 170.
    # w3 (R = 01-15, read at 01-12; outcomes at 02-09): Commit A + C + D = 800 of which A 100
    #   + C 250 won in January → 0.4375; Best Case 0; Pipeline H 50 won 50 → 1; nothing
    #   created after 01-15 closed in January → E = 0. Forecast 400 + 0.4375×500 + 1×100 =
    #   718.75. w4 (R = 01-22, still read at 01-12): the same, 718.75.
    bt.SMB_WEIGHTED: {"FY2026-M1": [None, 660, 855, 855, 760],
                      "FY2026-M2": [330, 170, 718.75, 718.75]},
}


def test_every_method_by_hand(two_months):
    con, _ = two_months
    result = bt.backtest(con, [M1, M2], AS_OF, Filters(), load_settings(con))
    assert result.periods == ("FY2026-M1", "FY2026-M2")
    assert result.actual == {"FY2026-M1": 400.0, "FY2026-M2": 1000.0}
    for method, periods in EXPECTED.items():
        for period, expected in periods.items():
            assert _forecasts(result, method, period) == expected, (method, period)
    weeks = result.frame[result.frame.method == bt.COMMIT_METHOD]
    assert [(r.as_of, r.snapshot_date) for r in weeks.itertuples()] == [
        (d("2026-01-01"), None), (d("2026-01-08"), d("2026-01-05")),
        (d("2026-01-15"), d("2026-01-12")), (d("2026-01-22"), d("2026-01-12")),
        (d("2026-01-29"), d("2026-01-26")), (d("2026-02-01"), d("2026-01-26")),
        (d("2026-02-08"), d("2026-02-02")), (d("2026-02-15"), d("2026-02-09")),
        (d("2026-02-22"), d("2026-02-09"))]


def test_default_rules_follow_the_settings(two_months):
    con, _ = two_months
    save_setting(con, "inblood_include_best_case", True)  # Commit and Best Case in
    result = bt.backtest(con, [M1, M2], AS_OF, Filters(), load_settings(con))
    assert _forecasts(result, bt.DEFAULT_RULES, "FY2026-M2") == [200, 1100, 900, 900]


def test_error_summary_and_best_by_hand(two_months):
    con, _ = two_months
    result = bt.backtest(con, [M1, M2], AS_OF, Filters(), load_settings(con))
    errors = result.frame.set_index(["method", "period", "week"])["error"]
    # Closed + Commit, January week 2: (500 − 400) / 400 = 0.25; February week 1:
    # (200 − 1,000) / 1,000 = −0.8; a week without a forecast has no error.
    assert errors[(bt.COMMIT_METHOD, "FY2026-M1", 2)] == pytest.approx(0.25)
    assert errors[(bt.COMMIT_METHOD, "FY2026-M2", 1)] == pytest.approx(-0.8)
    assert errors.isna()[(bt.COMMIT_METHOD, "FY2026-M1", 1)]
    summary = result.summary().set_index(["method", "week"])["mae"]
    # Mean absolute error over the periods with a forecast that week:
    # commit w1: only February, 0.8; w2: (|0.25| + |−0.4|) / 2 = 0.325; w5: only January 1.0.
    assert summary[(bt.COMMIT_METHOD, 1)] == pytest.approx(0.8)
    assert summary[(bt.COMMIT_METHOD, 2)] == pytest.approx(0.325)
    assert summary[(bt.COMMIT_METHOD, 5)] == pytest.approx(1.0)
    # submissions w2: (|450/400 − 1| + |1,080/1,000 − 1|) / 2 = (0.125 + 0.08) / 2 = 0.1025.
    assert summary[(bt.SUBMISSIONS, 2)] == pytest.approx(0.1025)
    # smb w3: (|855/400 − 1| + |718.75/1,000 − 1|) / 2 = (1.1375 + 0.28125) / 2 = 0.709375.
    assert summary[(bt.SMB_WEIGHTED, 3)] == pytest.approx(0.709375)
    assert (bt.SAVED_CALLS, 1) not in summary.index  # no call that early in either month
    # Best per week. w1: SMB 0.67 beats commit/best case/default 0.8 and stage 0.83.
    # w2: submissions 0.1025 beat stage (0.1 + 0.44) / 2 = 0.27 and commit 0.325.
    # w3, w4: saved calls hit February exactly (0.0). w5: submissions 0.075 (only January).
    assert result.best() == {1: bt.SMB_WEIGHTED, 2: bt.SUBMISSIONS, 3: bt.SAVED_CALLS,
                             4: bt.SAVED_CALLS, 5: bt.SUBMISSIONS}


def test_filters_narrow_every_method(two_months):
    con, _ = two_months
    result = bt.backtest(con, [M1, M2], AS_OF, Filters.of(segment="SMB"), load_settings(con))
    # SMB is Bob's: E, F, G. Actual: January 0, February E 600.
    assert result.actual == {"FY2026-M1": 0.0, "FY2026-M2": 600.0}
    assert _forecasts(result, bt.COMMIT_METHOD, "FY2026-M2") == [200, 200, 500, 500]
    # Only the owners of the view's deals: February w2 Bob 700, w4 Bob 650; January has no
    # SMB deal, so no owner and no number.
    assert _forecasts(result, bt.SUBMISSIONS, "FY2026-M2") == [None, 700, 700, 650]
    assert _forecasts(result, bt.SUBMISSIONS, "FY2026-M1") == [None] * 5
    # Calls are saved per scope: none for segment=SMB.
    assert _forecasts(result, bt.SAVED_CALLS, "FY2026-M2") == [None] * 4
    # January's actual is 0: an error is undefined, so no summary there.
    assert result.frame[result.frame.period == "FY2026-M1"]["error"].isna().all()


def test_the_verdict_sentence(two_months):
    con, _ = two_months
    settings = load_settings(con)
    by_segment = {name: bt.backtest(con, [M1, M2], AS_OF, f, settings)
                  for name, f in bt.filters_by(Filters(), "segment",
                                               ["Enterprise", "SMB"]).items()}
    sentence = bt.verdicts(by_segment)
    assert sentence.startswith("For Enterprise the ")
    assert "; for SMB the " in sentence and sentence.endswith(".")


def test_default_periods_are_the_four_completed_quarters():
    periods = bt.default_periods(date(2026, 11, 30), 2)
    assert [p.label for p in periods] == ["FY2026-Q4", "FY2027-Q1", "FY2027-Q2", "FY2027-Q3"]
    assert bt.week_count(parse_period("FY2027-Q4", 2)) == 14  # 92 days
    assert bt.week_count(M2) == 4 and bt.week_day(M2, 4) == d("2026-02-22")
    assert {p.kind for p in periods} == {QUARTER} and M1.kind == MONTH


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["backtest", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_line_keys(two_months, capsys):
    con, path = two_months
    con.close()
    code, out, _ = _run(capsys, "--db", str(path), "--periods", "FY2026-M2", "FY2026-M1",
                        "--as-of", "2026-03-02")
    assert code == 0
    report = json.loads(out)
    assert set(report) == {"periods", "actual", "methods", "summary", "best",
                           "interval_coverage", "calibration", "projection_reasons",
                           "head_to_head", "people", "people_summary"}
    # Two months of history make no model: the projection says why and shows nothing.
    assert report["interval_coverage"] == {"projection": None}
    assert report["head_to_head"] == {}
    assert report["people"] == report["people_summary"] == {}  # no hierarchy in this file
    assert set(report["projection_reasons"]) == {"FY2026-M1", "FY2026-M2"}
    assert "no win-probability model" in report["projection_reasons"]["FY2026-M1"]
    assert report["methods"]["projection"] == {"FY2026-M1": {}, "FY2026-M2": {}}
    assert report["periods"] == ["FY2026-M1", "FY2026-M2"]
    assert report["actual"] == {"FY2026-M1": 400.0, "FY2026-M2": 1000.0}
    assert set(report["methods"]) == set(bt.METHODS)
    assert list(report["methods"]["commit"]["FY2026-M1"]) == ["w1", "w2", "w3", "w4", "w5"]
    assert report["methods"]["commit"]["FY2026-M1"]["w1"] == {
        "as_of": "2026-01-01", "snapshot_date": None, "forecast": None, "error": None}
    assert report["methods"]["commit"]["FY2026-M1"]["w2"] == {
        "as_of": "2026-01-08", "snapshot_date": "2026-01-05", "forecast": 500.0, "error": 0.25}
    assert report["summary"]["commit"]["w2"] == pytest.approx(0.325)
    assert report["summary"]["saved_calls"]["w1"] is None
    assert report["best"] == {"w1": "smb_weighted", "w2": "submissions", "w3": "saved_calls",
                              "w4": "saved_calls", "w5": "submissions"}
    code, out, _ = _run(capsys, "--db", str(path), "--periods", "FY2026-M1", "--as-of",
                        "2026-03-02", "--format", "csv", "--owner", "Ann")
    assert code == 0 and out.splitlines()[0].startswith("method,method_label,period,week")
    assert len(out.splitlines()) == 1 + 5 * (len(bt.METHODS) - 1)  # no projection: no model
    code, out, _ = _run(capsys, "--db", str(path), "--periods", "FY2026-M1", "--as-of",
                        "2026-03-02", "--format", "markdown")
    assert code == 0 and "| FY2026-M1 | $400 |" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--periods", "FY2026-Q9"], "Q must be 1-4"),
    (["--periods", "January"], "not a label like FY2027-Q4"),
    (["--periods", "FY2026-M3"], "FY2026-M3 had not ended by 2026-03-02"),
    (["--segment", "Galactic"], "--segment Galactic: not in the data"),
])
def test_the_command_line_refuses_bad_periods_and_filters(two_months, capsys, args, message):
    con, path = two_months
    con.close()
    code, out, err = _run(capsys, "--db", str(path), "--as-of", "2026-03-02", *args)
    assert code != 0 and message in err and not out


def test_the_shared_computation_agrees_with_the_single_view_functions(demo_db):
    con = connect(demo_db)
    try:
        settings = load_settings(con)
        periods = bt.default_periods(date(2026, 11, 20), settings.fiscal_year_start_month)
        for filters in (Filters(), Filters.of(segment="SMB", region=["EMEA", "AMER"])):
            result = bt.backtest(con, periods, date(2026, 11, 20), filters, settings,
                                 projection=False)
            frame = result.frame.set_index(["method", "period", "week"])["forecast"]
            for period in (periods[1], periods[3]):
                for week in (2, 7, 13):
                    view = View(period, bt.week_day(period, week), filters)
                    rollup = category_rollup(con, view)
                    closed_commit = rollup["Closed"].amount + rollup["Commit"].amount
                    submitted = bottom_up(con, view)
                    expected = {
                        bt.COMMIT_METHOD: closed_commit,
                        bt.BEST_CASE_METHOD: closed_commit + rollup["Best Case"].amount,
                        bt.DEFAULT_RULES: in_blood(con, view, settings, False).number,
                        bt.SMB_WEIGHTED: smb_forecast(con, view, settings).total,
                        bt.SUBMISSIONS: submitted.forecast if submitted else None,
                    }
                    for method, value in expected.items():
                        got = frame[(method, period.label, week)]
                        if value is None:
                            assert got != got, (method, period.label, week)
                        else:
                            assert got == pytest.approx(value), (method, period.label, week)
    finally:
        con.close()


def test_the_readme_documents_every_method_and_key():

    readme = (ROOT / "README.md").read_text()
    assert "python -m sales backtest" in readme
    for method in bt.METHODS:
        assert f"| `{method}` |" in readme, method
    for key in ("`periods`", "`actual.<P>`", "`methods.<method>.<P>.w<w>.error`",
                "`summary.<method>.w<w>`", "`best.w<w>`"):
        assert key in readme, key


def _one_method(errors: list[float]) -> bt.Backtest:
    """A backtest of one period P where only Closed + Commit has a forecast: week w's error is
    errors[w − 1] against an actual of 100."""
    frame = pd.DataFrame(
        [(bt.COMMIT_METHOD, "P", week, date(2026, 1, 1), date(2026, 1, 1), 100 * (1 + e), 100.0,
          e) for week, e in enumerate(errors, start=1)],
        columns=["method", "period", "week", "as_of", "snapshot_date", "forecast", "actual",
                 "error"])
    return bt.Backtest(("P",), {"P": 100.0}, frame)


def test_the_verdict_says_what_the_week_means():
    # Errors 50%, 5%, 0%: 55% / 3 = 18% off on average; from week 2 every error is at most
    # 10%, the worst 5%.
    assert bt.verdict(_one_method([0.5, 0.05, 0.0])) == (
        "the Closed + Commit comes closest (18% off on average) and stays within 5% of the "
        "actual from week 2 of the period on")
    # Within 10% only in the last week, and exact there: (50% + 30% + 0) / 3 = 27%.
    assert bt.verdict(_one_method([0.5, 0.3, 0.0])) == (
        "the Closed + Commit comes closest (27% off on average) and matches the actual in the "
        "period's last week (week 3)")


def test_the_verdict_is_escaped_for_the_medium_it_goes_to():
    result = _one_method([0.5, 0.05, 0.0])
    # The command line writes plain Markdown: the sentence's own parentheses stay as they are.
    markdown = bt.render(result, "markdown")
    assert "comes closest (18% off on average)" in markdown and "\\" not in markdown
    # The page writes to Streamlit's Markdown: only the slice name (data) is escaped.
    sentence = bt.verdicts({"SMB*": result}, escape=fmt.text)
    assert sentence.startswith("For SMB\\* the Closed + Commit comes closest (18% off")
    assert bt.verdicts({"SMB*": result}).startswith("For SMB* the ")

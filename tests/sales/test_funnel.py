"""Funnel and velocity (docs/metrics.md#11-funnel-and-velocity) on a hand-computed fixture."""

import pytest

from sales import formatting as fmt
from sales.db import connect
from sales.funnel import WON, funnel, velocity
from tests.helpers import d, run_page, seed, tiles

D1, D2, D3, D4, A = (d(x) for x in ("2026-01-05", "2026-01-12", "2026-01-26", "2026-02-09",
                                    "2026-11-20"))
WINDOW = (d("2026-01-01"), d("2026-06-30"))
DISC, SCOP, TECH, PROP, NEG = ("1-Discovery", "2-Scoping", "3-Technical Evaluation",
                               "4-Proposal", "5-Negotiating")
CAT = {DISC: "Pipeline", SCOP: "Pipeline", TECH: "Best Case", PROP: "Commit", NEG: "Commit",
       "7-Closed Won": "Closed", "8-Closed Lost": "Omitted"}
# id: created, amount, close, stage at D1, D2, D3, D4, A
LIVES = {
    "F1": ("2026-01-01", 100, "2026-02-05", [DISC, SCOP, PROP, "7-Closed Won", "7-Closed Won"]),
    "F2": ("2025-12-20", 50, "2026-01-20", [DISC, TECH, "8-Closed Lost", "8-Closed Lost",
                                              "8-Closed Lost"]),
    "F3": ("2025-12-22", 60, "2026-01-25", [DISC, DISC, "8-Closed Lost", "8-Closed Lost",
                                              "8-Closed Lost"]),
    "F4": ("2025-12-01", 300, "2026-01-22", [TECH, NEG, "7-Closed Won", "7-Closed Won",
                                               "7-Closed Won"]),
    "F5": ("2026-01-02", 70, "2026-12-01", [DISC, DISC, DISC, DISC, SCOP]),  # still open
}


def build(path):
    """The fixture above in a database at `path`."""
    con = connect(path)
    seed(con, [{"id": i, "stage": stages[-1], "category": CAT[stages[-1]], "amount": amount,
                "close": close, "owner": "Ann", "account_employees": 100, "created_date": created}
               for i, (created, amount, close, stages) in LIVES.items()],
         {day: [(i, stages[k], CAT[stages[k]], amount, close, "Ann")
                for i, (_, amount, close, stages) in LIVES.items()]
          for k, day in enumerate((D1, D2, D3, D4, A))})
    return con


@pytest.fixture
def con(tmp_path):
    con = build(tmp_path / "funnel.duckdb")
    yield con
    con.close()


def test_how_far_deals_get_and_how_long_each_stage_takes(con):
    rows = funnel(con, *WINDOW, A).set_index("stage")
    # Cohort: F1–F4 (closed in the window; F5 is open). Furthest: F1 won, F2 3-Technical
    # Evaluation, F3 1-Discovery, F4 won — a win passes every stage, skipped ones too.
    assert rows["reached"].to_dict() == {DISC: 4, SCOP: 3, TECH: 3, PROP: 2, NEG: 2, WON: 2}
    # 3 / 4, 3 / 3, 2 / 3, 2 / 2, 2 / 2 into won.
    assert rows["conversion"].round(4).tolist()[:5] == [0.75, 1.0, 0.6667, 1.0, 1.0]
    # Days, snapshot to snapshot: 1-Discovery F1 7, F2 7, F3 21 → 7; 2-Scoping F1 14;
    # 3-Technical Evaluation F2 14, F4 7 → 10.5; 4-Proposal F1 14; 5-Negotiating F4 14.
    assert rows["median_days"].tolist()[:5] == [7, 14, 10.5, 14, 14]
    assert rows.loc[TECH, "category"] == "Best Case"


def test_won_deals_cycle_and_size(con):
    found = velocity(con, *WINDOW, A)
    # F1 2026-01-01 → 02-05 = 35 days, F4 2025-12-01 → 2026-01-22 = 52 days: median 43.5;
    # average won size (100 + 300) / 2 = 200; 4 deals closed in the window.
    assert (found.won, found.median_cycle_days, found.average_won_amount, found.cohort) == (
        2, 43.5, 200, 4)
    assert found.won_share == 0.5  # 2 of 4


def test_the_page_a_manager_reads(tmp_path, monkeypatch):
    build(tmp_path / "page.duckdb").close()
    at = run_page("funnel.py", tmp_path / "page.duckdb", monkeypatch)
    # As of 2026-11-20 the window is FY2025-Q4 … FY2026-Q3: F1–F4 closed in it.
    shown = tiles(at)
    assert shown["Deals closed in the window"] == ("4", "2 won")
    assert shown["Median sales cycle (won)"][0] == "44 days"  # 43.5
    assert shown["Average won deal"][0] == "$200"
    assert shown["Won of those that closed"][0] == "50%"
    text = " ".join(m.value for m in at.markdown)
    # 1-Discovery 4 → 3-Technical Evaluation 3: 75%, after 7 + 14 = 21 days in Pipeline stages.
    assert (f"75% of the deals that reached {fmt.text('1-Discovery')} got to "
            f"{fmt.text('3-Technical Evaluation')}") in text  # stage names shown as text
    assert "21 days in Pipeline stages" in text
    # F2 and F3 lost without a reason or competitor: no decision, 2 of 2 losses.
    assert "Lost to no decision**: 2 (100% of losses)" in text


def test_the_handbook_reading(con):
    from sales.funnel import pipeline_to_best_case
    from sales.rates import outcomes

    # 1-Discovery (first Pipeline stage) 4 → 3-Technical Evaluation (first Best Case) 3: 75%,
    # after 7 (1-Discovery) + 14 (2-Scoping) = 21 median days in Pipeline stages.
    handoff = pipeline_to_best_case(funnel(con, *WINDOW, A))
    assert (handoff.from_stage, handoff.to_stage) == (DISC, TECH)
    assert (handoff.share, handoff.days_in_pipeline) == (0.75, 21)
    # F2 and F3 lost without a reason or a competitor: both no decision.
    assert outcomes(con, *WINDOW, A).loss_shares() == (1.0, 0.0)


def test_the_report_carries_the_funnel_and_capacity(con):
    from sales.periods import parse_period
    from sales.report import full_report
    from sales.view import View

    # As of 2026-11-20 the FY2026-Q4 report's window is FY2025-Q4 … FY2026-Q3: F1–F4 closed.
    report = full_report(con, View(parse_period("FY2026-Q4"), A)).as_report()
    funnel_keys, capacity_keys = report["funnel"], report["capacity"]
    # Won F1 (35 days, 100) and F4 (52 days, 300): median 43.5 days, average 200, 2 of 4.
    assert (funnel_keys["cohort"], funnel_keys["won"], funnel_keys["won_share"]) == (4, 2, 0.5)
    assert (funnel_keys["median_cycle_days"], funnel_keys["average_won_amount"]) == (43.5, 200)
    assert funnel_keys["pipeline_to_best_case"] == {"from": DISC, "to": TECH, "share": 0.75,
                                                    "days_in_pipeline": 21}
    assert funnel_keys["stages"][0]["stage"] == DISC and funnel_keys["stages"][-1]["stage"] == WON
    # Capacity from the data: 43.5 days (1.45 months); F2, F3 lost to no decision, none to a
    # competitor, so the win rate is 2 / 2 = 1.0 and a deal takes 1.45 months on average;
    # 40 / 1.45 = 27.6 a month. Nobody has an acceptance date: no pace, no reps.
    assert (capacity_keys["days_to_close"], capacity_keys["win_rate"]) == (43.5, 1.0)
    assert capacity_keys["days_to_close_source"] == capacity_keys["win_rate_source"] == "data"
    assert capacity_keys["needed_per_month"] == pytest.approx(40 / 1.45)
    assert (capacity_keys["accepted_per_rep_month"], capacity_keys["reps"]) == (None, 0)

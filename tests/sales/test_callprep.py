"""The forecast call's sections on a hand-computed fixture of seven deals over three
weekly snapshots; every number below is worked out in the comments."""

from datetime import datetime

import pytest

from sales.callprep import (
    NEW_AND_EXPANSION,
    RENEWALS,
    default_last_call,
    forecast_at_last_call,
    last_call_choices,
    prepare_call,
    saved_call_on,
)
from sales.calls import call_history
from sales.db import connect
from sales.generated import pipeline_generated
from sales.inblood import DEFAULT_RULES
from sales.periods import parse_period
from sales.settings import load_settings
from sales.view import Filters, Measure, View
from tests.cases.callprep import S0, S1, W1, _deals, _snapshots
from tests.helpers import add_target, d, seed

Q4 = parse_period("FY2026-Q4")  # 2026-10-01 … 2026-12-31, fiscal year start 1







@pytest.fixture
def con(tmp_path):
    con = connect(tmp_path / "call.duckdb")
    seed(con, _deals(), _snapshots())
    add_target(con, "FY2026-Q4", "company", "", 3000)
    yield con
    con.close()


def view(**filters) -> View:
    return View(Q4, S1, Filters.of(**filters))


def test_last_call_choices_and_default(con):
    assert last_call_choices(con, S1) == [S0, W1]  # every earlier snapshot, newest first
    assert default_last_call(con, S1) == S0  # the latest a week or more before
    assert default_last_call(con, d("2026-11-19")) == W1  # as of 19 Nov: S0 is 6 days back
    assert default_last_call(con, W1) is None  # nothing a week before the first snapshot


def test_categories_then_and_now(con):
    prep = prepare_call(con, view(), S0)
    assert (prep.since, prep.now, prep.target) == (S0, S1, 3000)
    # At S0: Closed F 1,000; Commit B 800 + C 300; Best Case A 500; Pipeline D 200 + G 100.
    assert prep.categories_then == {"Closed": Measure(1000, 1), "Commit": Measure(1100, 2),
                                    "Best Case": Measure(500, 1), "Pipeline": Measure(300, 2)}
    # At S1: Closed F + C = 1,300; Commit A 600 + B 800; Best Case E 400; G slipped, D lost.
    assert prep.categories_now == {"Closed": Measure(1300, 2), "Commit": Measure(1400, 2),
                                   "Best Case": Measure(400, 1), "Pipeline": Measure(0, 0)}


def test_new_and_expansion_apart_from_renewals(con):
    split = prep_split(prepare_call(con, view(), S0))
    # Renewals: B Commit 800 at both dates; E arrives in Best Case (400).
    assert split[(RENEWALS, "Commit")] == (800, 800, 0)
    assert split[(RENEWALS, "Best Case")] == (0, 400, 400)
    # New & Expansion: C won (+300 closed), A Best Case 500 → Commit 600, D and G gone.
    assert split[(NEW_AND_EXPANSION, "Closed")] == (1000, 1300, 300)
    assert split[(NEW_AND_EXPANSION, "Commit")] == (300, 600, 300)
    assert split[(NEW_AND_EXPANSION, "Best Case")] == (500, 0, -500)
    assert split[(NEW_AND_EXPANSION, "Pipeline")] == (300, 0, -300)


def prep_split(prep):
    return {(r.group, r.category): (r.amount_then, r.amount_now, r.change)
            for r in prep.by_type.itertuples()}


def test_renewals_at_risk(con):
    prep = prepare_call(con, view(), S0)
    # Open renewals in Q4: B At Risk 800 (listed first), E Early Warning 400.
    assert prep.renewal_risks.opportunity_id.tolist() == ["B", "E"]
    assert prep.renewal_risk_total == {"At Risk": Measure(800, 1), "Early Warning": Measure(400, 1)}


def test_renewals_at_risk_listed_up_to_the_cap_totals_over_all(con, monkeypatch):
    import sales.callprep

    monkeypatch.setattr(sales.callprep, "RENEWAL_RISK_ROWS", 1)
    prep = prepare_call(con, view(), S0)
    assert prep.renewal_risks.opportunity_id.tolist() == ["B"]  # the riskiest first
    assert prep.renewal_risk_total["Early Warning"] == Measure(400, 1)  # E still counted
    assert prep.renewals_flagged == 2  # B and E, though one is listed


def test_closed_since_last_call(con):
    prep = prepare_call(con, view(), S0)
    # C won 300; D lost 200 to Rival (a competitor named: competition). F was won before S0.
    assert (prep.won_since, prep.lost_since) == (Measure(300, 1), Measure(200, 1))
    rows = prep.closed_since.set_index("opportunity_id")
    assert rows.loc["C", "outcome"] == "won" and rows.loc["C", "category_then"] == "Commit"
    assert (rows.loc["D", "outcome"], rows.loc["D", "loss_class"], rows.loc["D", "competitor"]) \
        == ("lost", "competition", "Rival")


def test_movement_in_the_call(con):
    moves = prepare_call(con, view(), S0).movement
    # Commit 1,100 + A moved in at 600 − C won 300 = 1,400.
    commit = moves["Commit"]
    assert (commit.start, commit.end) == (1100, 1400)
    assert {p: v for p, v in commit.parts.items() if v} == {"moved_in": 600, "won": -300}
    # Best Case 500 + E new 400 − A moved out 500 = 400.
    best = moves["Best Case"]
    assert {p: v for p, v in best.parts.items() if v} == {"new": 400, "moved_out": -500}
    # Pipeline 300 − D lost 200 − G slipped 100 = 0.
    pipeline = moves["Pipeline"]
    assert {p: v for p, v in pipeline.parts.items() if v} == {"lost": -200, "slipped_out": -100}
    assert pipeline.end == 0


def test_bar_deals(con):
    bars = prepare_call(con, view(), S0).bar_deals
    commit_in = bars[(bars.category == "Commit") & (bars.part == "moved_in")]
    assert commit_in.opportunity_id.tolist() == ["A"]
    assert (commit_in.movement.iloc[0], commit_in.category_then.iloc[0]) == (600, "Best Case")
    assert "unchanged" not in set(bars.part)


def test_key_deals_with_what_changed(con):
    keys = prepare_call(con, view(), S0).key_deals.set_index("opportunity_id")
    # The open deals in Q4 now, largest first: B 800, A 600, E 400.
    assert keys.index.tolist() == ["B", "A", "E"]
    b, a, e = keys.loc["B"], keys.loc["A"], keys.loc["E"]
    # B: never changed; in 4-Proposal since W1 → 14 days; close date never pushed.
    assert (b.push_count, b.days_in_stage, b.change) == (0, 14, "")
    assert not (b.category_changed or b.amount_changed or b.close_changed or b.new_since_call)
    # A: close moved from Q3 to Q4 once; entered 4-Proposal at S1 → 0 days; Best Case 500 →
    # Commit 600 since the last call, close date unchanged.
    assert (a.push_count, a.days_in_stage, a.next_step) == (1, 0, "Security review")
    assert (a.category_changed, a.amount_changed, a.close_changed) == (True, True, False)
    assert a.change == "Best Case → Commit; amount 500 → 600"
    # E: new since the last call.
    assert e.new_since_call and e.change == "new since the last call"


def test_forecast_at_last_call_default_rules_then_saved_call(con):
    settings = load_settings(con)
    prep = prepare_call(con, view(), S0)
    # No saved call: default rules at S0 → closed 1,000 + Commit 1,100 = 2,100; upside Best Case 500.
    assert saved_call_on(con, view(), S0) is None
    then = forecast_at_last_call(prep, None, settings)
    assert (then.number, then.upside, then.source) == (2100, 500, DEFAULT_RULES)
    # A call saved at S0 that also took A (Best Case 500) in: 1,000 + 800 + 300 + 500 = 2,600.
    con.execute("insert into forecast_calls (call_id, period, call_date, saved_at, saved_by, "
                "closed_won) values (1, 'FY2026-Q4', ?, ?, 'Lee', 1000)",
                [S0, datetime(2026, 11, 13, 10)])
    con.executemany("insert into forecast_call_decisions values (1, ?, ?, null, ?, ?)",
                    [["A", True, 500, "Best Case"], ["B", True, 800, "Commit"],
                     ["C", True, 300, "Commit"], ["D", False, 200, "Pipeline"]])
    then = forecast_at_last_call(prep, saved_call_on(con, view(), S0), settings)
    assert (then.number, then.upside, then.source) == (2600, 0, "saved call 2026-11-13 10:00:00")
    # The same as the call history says it committed to.
    assert call_history(con, view())["in_blood"].tolist() == [2600]
    # Saved without its closed-won figure: closed won as it stood at the last call (1,000).
    con.execute("update forecast_calls set closed_won = null")
    assert forecast_at_last_call(prep, saved_call_on(con, view(), S0), settings).number == 2600
    # Comparing with W1 instead: that call came later, so the default rules at W1 apply.
    assert saved_call_on(con, view(), W1) is None
    # A call for another filter scope does not count for this view.
    assert saved_call_on(con, view(segment="SMB"), S0) is None


def test_filters_cut_both_dates(con):
    prep = prepare_call(con, view(segment="Enterprise"), S0)
    # E is SMB: without it Best Case goes 500 → 0 (A moved to Commit), nothing new.
    best = prep.movement["Best Case"]
    assert (best.start, best.end, best.parts["new"], best.parts["moved_out"]) == (500, 0, 0, -500)
    assert prep.renewal_risks.opportunity_id.tolist() == ["B"]
    assert prep.target is None  # no Enterprise target in this fixture


def test_pipeline_generated(con):
    generated = pipeline_generated(con, view(), S0)
    # Since the last call (after 2026-11-13): E, accepted 2026-11-17, at 400.
    assert (generated.since_start, generated.since) == (S0, Measure(400, 1))
    # Quarter to date (from 2026-10-01): accepted C 300 (10-05), E 400, F 1,000 (10-02), at
    # their amounts; without an acceptance date, first seen qualified at W1: A at 500 (its
    # amount in that snapshot, 600 now), D 200, G 100.
    # B was accepted in September. 300 + 400 + 1,000 + 500 + 200 + 100 = 2,500 in 6 deals.
    assert (generated.quarter_start, generated.quarter) == (d("2026-10-01"), Measure(2500, 6))
    # The view's period is the quarter, up to as-of: the same 2,500 in 6 deals.
    assert generated.period == Measure(2500, 6)
    # Filters apply: Enterprise leaves E out.
    assert pipeline_generated(con, view(segment="Enterprise"), S0).quarter == Measure(2100, 5)
    # A month view, FY2026-M11 (November, up to as-of 11-20): E 400 (accepted 11-17) and the
    # three first seen qualified at W1 (11-06), A 500, D 200, G 100 → 1,200 in 4 deals.
    month = View(parse_period("FY2026-M11"), S1)
    assert pipeline_generated(con, month, S0).period == Measure(1200, 4)


def test_the_report_says_what_moved_since_the_last_call(con):
    from sales.report import full_report, with_movement

    report = with_movement(con, full_report(con, view(), since=S0), S0).as_report()
    # Now (default rules): closed F 1,000 + C 300 = 1,300; Commit A 600 + B 800 included →
    # in-blood 2,700; upside Best Case E 400. At the last call: 2,100 and 500 (above), closed
    # F 1,000. So in-blood +600, upside −100, closed won +300.
    assert (report["in_blood"]["number"], report["in_blood"]["upside"]) == (2700, 400)
    assert report["movement"]["change"] == {"in_blood": 600, "upside": -100, "closed_won": 300}
    # Against the 3,000 target: closed 1,300 / 3,000; in-blood 0.9; top of the range 3,100.
    assert report["attainment"] == pytest.approx(
        {"closed_won": 1300 / 3000, "in_blood": 0.9, "range_high": 3100 / 3000})
    assert prepare_call(con, view(), S0).closed_share == pytest.approx(1300 / 3000)

"""The in-blood board, saved calls and accuracy, on hand-computed fixtures."""

import math
from datetime import datetime

import pytest

from sales.backtest import DEFAULT_RULES as DEFAULT_RULES_METHOD
from sales.backtest import SAVED_CALLS, error_by_week, rules_by_snapshot, track_record
from sales.calls import call_diff, call_export, call_history, gone_since_call, save_call
from sales.db import connect, write_transaction
from sales.inblood import (
    DEFAULT_RULES,
    BoardFilter,
    Change,
    board_members,
    board_page,
    board_sql,
    board_summary,
    changes_for,
    default_totals,
    in_blood,
    totals,
)
from sales.periods import parse_period
from sales.settings import load_settings
from sales.view import Filters, View
from tests.helpers import d, private_copy, seed

Q4 = parse_period("FY2026-Q4")
NOW = d("2026-11-20")


def view(as_of=NOW, **filters):
    return View(Q4, as_of, Filters.of(**filters))


def save(con, changes, who="Lee", at="2026-11-20 10:00:00", as_of=NOW, start=None):
    settings = load_settings(con)
    with write_transaction(con) as cur:
        return save_call(cur, view(as_of), settings, start, changes, who,
                         saved_at=datetime.fromisoformat(at))


def test_board_starts_from_the_default_rules(metrics_con):
    board = board_summary(metrics_con, view(), load_settings(metrics_con))
    # conftest: Commit D2 100 + D3 200 + D4 300; Best Case D5 400 + D6 500; Pipeline D7 600.
    assert board.totals == {"Commit": 600, "Best Case": 900, "Pipeline": 600}
    assert board.counts == {"Commit": 3, "Best Case": 2, "Pipeline": 1}
    assert board.start_included == {"Commit": 600, "Best Case": 0, "Pipeline": 0}
    assert (board.closed_won, board.source) == (500, DEFAULT_RULES)
    # Closed 500 + Commit 600 = 1,100; upside = Best Case 900.
    assert totals(board, {})[:2] == (1100, 900)


def test_toggles_move_the_totals_like_the_spec_example(metrics_con):
    board = board_summary(metrics_con, view(), load_settings(metrics_con))
    changes = {"D4": Change(False, "timing", 300, "Commit", True),
               "D5": Change(True, "PO in flight", 400, "Best Case", False)}
    # 1,100 − 300 (D4 out) + 400 (D5 in) = 1,200; upside 900 + 300 − 400 = 800.
    assert totals(board, changes)[:2] == (1200, 800)
    # Setting a deal back to where it started is no change at all.
    changes["D4"] = Change(True, "", 300, "Commit", True)
    assert totals(board, changes)[:2] == (1500, 500)


def test_saving_and_reloading_reproduces_the_number(metrics_con):
    settings = load_settings(metrics_con)
    changes = {"D4": Change(False, "timing", 300, "Commit", True),
               "D5": Change(True, "PO in flight", 400, "Best Case", False)}
    call_id = save(metrics_con, changes)
    board = board_summary(metrics_con, view(), settings)
    assert board.call_id == call_id and board.source == "saved call 2026-11-20 10:00:00"
    assert board.start_included == {"Commit": 300, "Best Case": 400, "Pipeline": 0}
    assert totals(board, {})[:2] == (1200, 800)
    assert in_blood(metrics_con, view(), settings).number == 1200
    # Every open deal got a decision, with its amount and category at that moment and reasons.
    exported = call_export(metrics_con, call_id).set_index("opportunity_id")
    assert sorted(exported.index) == ["D2", "D3", "D4", "D5", "D6", "D7"]
    assert exported.loc["D4", "reason"] == "timing" and not exported.loc["D4", "included"]
    assert exported.loc["D5", "amount"] == 400 and exported.loc["D5", "forecast_category"] == "Best Case"


def test_two_sessions_saving_keep_both_calls_and_the_latest_leads(metrics_con):
    settings = load_settings(metrics_con)
    first = save(metrics_con, {"D4": Change(False, "", 300, "Commit", True)}, who="Ann",
                 at="2026-11-20 09:00:00")
    second = save(metrics_con, {"D6": Change(True, "", 500, "Best Case", False)}, who="Bob",
                  at="2026-11-20 09:05:00")
    history = call_history(metrics_con, view())
    assert list(history.call_id) == [first, second]
    # Ann: 500 + 100 + 200 = 800. Bob (from the rules): 500 + 600 + 500 = 1,600.
    assert list(history.in_blood) == [800, 1600]
    assert list(history.upside) == [1200, 400]
    assert in_blood(metrics_con, view(), settings).number == 1600
    diff = call_diff(metrics_con, first, second).set_index("opportunity_id")
    assert set(diff.index) == {"D4", "D6"}
    assert diff.loc["D6", "change"] == "now included" and diff.loc["D4", "change"] == "now included"


def test_a_failed_save_keeps_earlier_calls(metrics_con):
    save(metrics_con, {})
    with pytest.raises(ValueError, match="who is saving"):
        save(metrics_con, {}, who="  ")
    assert metrics_con.execute("select count(*) from forecast_calls").fetchone()[0] == 1
    assert metrics_con.execute("select count(*) from forecast_call_decisions").fetchone()[0] == 6


def test_bulk_members_and_reset(metrics_con):
    settings = load_settings(metrics_con)
    members = board_members(metrics_con, view(), settings, None,
                            BoardFilter(categories=("Best Case",)))
    changes = changes_for(members, True, "bulk")
    board = board_summary(metrics_con, view(), settings)
    # All Best Case in: 1,100 + 900 = 2,000; upside 0.
    assert totals(board, changes)[:2] == (2000, 0)
    back = changes_for(members, None)
    assert totals(board, back)[:2] == (1100, 900)
    page, total = board_page(metrics_con, view(), settings, None, BoardFilter(owners=("Cat",)))
    assert total == 2 and list(page.opportunity_id) == ["D6", "D5"]  # largest first


# A fixture for flags and carried-over decisions: three weekly snapshots in FY2026-Q4.
S1, S2, S3 = d("2026-11-06"), d("2026-11-13"), d("2026-11-20")


def _row(i, stage, cat, amount, close, owner="Ann"):
    return (i, stage, cat, amount, close, owner)


@pytest.fixture
def flags_con(tmp_path):
    con = connect(tmp_path / "flags.duckdb")
    deals = [dict(id=i, stage="4-Proposal", category="Commit", amount=100, close="2026-12-15",
                  owner="Ann", account_employees=9000, account_name=f"Acct {i}")
             for i in ("P1", "P2", "N1", "C1", "E1", "E2", "W1")]
    pictures = {
        S1: [_row("P1", "4-Proposal", "Commit", 100, "2026-09-15"),
             _row("P2", "4-Proposal", "Commit", 100, "2026-06-30"),
             _row("C1", "3-Technical Evaluation", "Best Case", 100, "2026-12-01"),
             _row("E1", "3-Technical Evaluation", "Best Case", 100, "2026-12-01"),
             _row("E2", "4-Proposal", "Commit", 100, "2026-12-01"),
             _row("W1", "4-Proposal", "Commit", 100, "2026-12-01")],
        S2: [_row("P1", "4-Proposal", "Commit", 100, "2026-10-15"),
             _row("P2", "4-Proposal", "Commit", 100, "2026-08-30"),
             _row("C1", "3-Technical Evaluation", "Best Case", 100, "2026-12-01"),
             _row("E1", "3-Technical Evaluation", "Best Case", 100, "2026-12-01"),
             _row("E2", "4-Proposal", "Commit", 100, "2026-12-01"),
             _row("W1", "4-Proposal", "Commit", 100, "2026-12-01")],
        S3: [_row("P1", "5-Negotiating", "Commit", 100, "2026-11-10"),
             _row("P2", "4-Proposal", "Commit", 100, "2026-11-25"),
             _row("N1", "4-Proposal", "Commit", 100, "2026-12-20"),
             _row("C1", "4-Proposal", "Commit", 150, "2026-12-01"),
             _row("E1", "4-Proposal", "Commit", 100, "2026-12-01"),
             _row("E2", "3-Technical Evaluation", "Best Case", 100, "2026-12-01"),
             _row("W1", "7-Closed Won", "Closed", 100, "2026-11-18")],
    }
    seed(con, deals, pictures)
    yield con
    con.close()


def test_flags_and_carried_decisions(flags_con):
    settings = load_settings(flags_con)
    # The call at S2 (as of 2026-11-13): C1 Best Case excluded by default; E1 Best Case
    # explicitly included; E2 Commit explicitly excluded; W1 Commit included (default).
    call_id = save(flags_con, {"E1": Change(True, "exec sponsor", 100, "Best Case", False),
                               "E2": Change(False, "legal", 100, "Commit", True)},
                   at="2026-11-13 10:00:00", as_of=S2)
    page, _ = board_page(flags_con, view(), settings, call_id)
    b = page.set_index("opportunity_id")
    # P1: close Q3 → Q4 (one push, then pulled in inside Q4); P2: Q2 → Q3 → Q4 (two pushes).
    assert (b.loc["P1", "push_count"], b.loc["P2", "push_count"]) == (1, 2)
    assert not b.loc["P1", "flag_pushed"] and b.loc["P2", "flag_pushed"]
    assert b.loc["P1", "flag_past_close"]  # closes 2026-11-10, before as-of 2026-11-20
    # P1 entered 5-Negotiating at S3: 0 days; P2 in 4-Proposal since S1: 14 days.
    assert (b.loc["P1", "days_in_stage"], b.loc["P2", "days_in_stage"]) == (0, 14)
    # N1 did not exist at the call; P2 closed in Q3 then, so it was not on that board either.
    # P1 (close 2026-10-15 at S2) was.
    assert b.loc["N1", "flag_new"] and b.loc["P2", "flag_new"] and not b.loc["P1", "flag_new"]
    # C1 moved Best Case → Commit and grew 100 → 150 since the call: flagged; its decision
    # (excluded) only followed Best Case's default, so it starts at Commit's default: in.
    assert b.loc["C1", "flag_changed"] and b.loc["C1", "start_included"]
    # E1 was included on purpose as Best Case; now Commit: still included, flagged changed.
    assert b.loc["E1", "start_included"] and b.loc["E1", "flag_changed"]
    # E2 was excluded on purpose as Commit; now Best Case: the exclusion stands.
    assert not b.loc["E2", "start_included"]
    # Commit risk: the last third of Q4 starts 2026-12-01 (92 days, 30 left); as of 11-20 no.
    assert not page.flag_commit_risk.any()
    late, _ = board_page(flags_con, view(as_of=d("2026-12-05")), settings, call_id)
    assert late.set_index("opportunity_id").loc["P2", "flag_commit_risk"]  # 4-Proposal
    assert not late.set_index("opportunity_id").loc["P1", "flag_commit_risk"]  # redlining
    # W1 won since the call: listed apart with what happened.
    gone = gone_since_call(flags_con, view(), call_id).set_index("opportunity_id")
    assert gone.loc["W1", "what_happened"] == "won"


def test_the_board_without_history_facts_starts_the_same(flags_con):
    # Totals and saving read the board without the history (facts=False); every deal must
    # start exactly as on the full board, carried-over decisions included (C1, E1, E2 above).
    settings = load_settings(flags_con)
    call_id = save(flags_con, {"E1": Change(True, "exec sponsor", 100, "Best Case", False),
                               "E2": Change(False, "legal", 100, "Commit", True)},
                   at="2026-11-13 10:00:00", as_of=S2)
    columns = "opportunity_id, category, amount, start_included, start_reason, default_included"
    read = {}
    for facts in (True, False):
        board = board_sql(flags_con, view(), settings, call_id, facts=facts)
        read[facts] = flags_con.execute(
            f"select {columns} from ({board}) order by opportunity_id", dict(board.params)
        ).fetchall()
    assert read[True] == read[False] and len(read[True]) == 6  # P1 P2 N1 C1 E1 E2 (W1 won)
    slim = board_sql(flags_con, view(), settings, call_id, facts=False)
    assert "opportunity_history" not in slim.text


def test_accuracy_of_calls_and_rules(flags_con):
    # Period FY2026-Q4 seen from 2027-01-05, when it is complete. Actual: W1 won 100 (as of the
    # last snapshot S3 nothing else closed). Rules at S1: Commit in Q4 = E2, W1 → 200 (P1, P2
    # close outside Q4); at S2 P1 (close 2026-10-15) joins → 300; at S3: closed W1 100 +
    # Commit P1, P2, N1, C1, E1 = 100 + 100 + 100 + 150 + 100 = 550 → 650.
    settings = load_settings(flags_con)
    save(flags_con, {"E2": Change(False, "legal", 100, "Commit", True)},
         at="2026-11-13 10:00:00", as_of=S2)
    rules = rules_by_snapshot(flags_con, view(), settings)
    assert list(rules.in_blood) == [200, 300, 650]
    result = track_record(flags_con, View(parse_period("FY2027-Q1"), d("2027-01-05")),
                          settings, n=1)
    assert result.periods == ("FY2026-Q4",)
    # Week w is seen from its first day A_w = 2026-10-01 + 7·(w − 1): A_7 = 11-12 reads S1
    # (11-06), A_8 = 11-19 reads S2 (11-13), A_9 … A_14 read S3 (11-20); weeks 1–6 come before
    # the first snapshot. The call (dated S2, 11-13, day 43) is first seen at A_8. It is
    # closed 0 + included P1 100 + W1 100 (E2 excluded; C1, E1 Best Case out) = 200.
    by_week = error_by_week(result).set_index("week")
    assert list(by_week.index) == list(range(7, 15))
    # Week 7: rules 200 / 100 − 1 = 100% off, no call yet; week 8: rules 300 → 200% off, the
    # call 200 → 100% off; weeks 9–14: rules 650 → 550% off, the call still 100% off.
    assert by_week.loc[7, DEFAULT_RULES_METHOD] == pytest.approx(1.0)
    assert math.isnan(by_week.loc[7, SAVED_CALLS])
    assert by_week.loc[8, DEFAULT_RULES_METHOD] == pytest.approx(2.0)
    assert by_week.loc[8, SAVED_CALLS] == pytest.approx(1.0)
    assert by_week.loc[14, DEFAULT_RULES_METHOD] == pytest.approx(5.5)
    assert by_week.loc[14, SAVED_CALLS] == pytest.approx(1.0)


def test_the_default_rules_number_and_upside(metrics_con):
    # Default settings: Commit in, Best Case and Pipeline out. Closed 500 + Commit 600 =
    # 1,100; upside = Best Case 900 (Pipeline is neither); a missing category counts 0.
    settings = load_settings(metrics_con)
    found = default_totals(500, {"Commit": 600, "Best Case": 900, "Pipeline": 600}, settings)
    assert found == (1100, 900, 500, 600)
    assert default_totals(0, {"Best Case": 50}, settings)[:2] == (0, 50)


def test_an_import_keeps_every_call_and_decision(tmp_path):
    from sales.db import swap_in
    from tests.conftest import DEALS, _picture

    path = tmp_path / "calls.duckdb"
    con = connect(path)
    seed(con, DEALS, {S3: _picture(DEALS)})
    call_id = save(con, {"D4": Change(False, "timing", 300, "Commit", True)})
    con.close()

    def reimport(cur):  # what a full re-import does: replace every opportunity row
        cur.execute("create temp table keep as select * from opportunities")
        cur.execute("delete from opportunities")
        cur.execute("insert into opportunities select * from keep")
        cur.execute("update opportunities set amount = 350 where opportunity_id = 'D4'")

    swap_in(path, reimport)
    con = connect(path)
    assert con.execute("select count(*) from forecast_call_decisions where call_id = ?",
                       [call_id]).fetchone()[0] == 6
    settings = load_settings(con)
    assert board_summary(con, view(), settings).call_id == call_id
    # D4 stays excluded (keyed by opportunity id) though its amount moved in the opportunities
    # table; the snapshot still says 300, so the board's totals are unchanged: 500 + 300 = 800.
    assert in_blood(con, view(), settings).number == 800


def test_a_restart_keeps_every_call(tmp_path):
    from tests.conftest import DEALS, _picture

    path = tmp_path / "restart.duckdb"
    con = connect(path)
    seed(con, DEALS, {S3: _picture(DEALS)})
    first = save(con, {"D4": Change(False, "timing", 300, "Commit", True)}, at="2026-11-20 09:00:00")
    second = save(con, {}, who="Bob", at="2026-11-20 09:30:00")
    con.close()  # the process ends
    con = connect(path)
    history = call_history(con, view())
    assert list(history.call_id) == [first, second]
    assert list(history.in_blood) == [800, 1100]  # 500 + 300 (D4 out); 500 + 600


@pytest.mark.slow
def test_held_open_deal_facts_give_the_same_board(demo_db, tmp_path):
    # The app holds pushes and days in stage for every open deal per snapshot; the board, its
    # flags, bulk members and the call's key deals must read the same as computing them.
    import pandas as pd

    from sales.callprep import prepare_call
    from sales.query import default_as_of, snapshot_on_or_before
    from sales.slippage import open_deal_facts

    con = private_copy(demo_db, tmp_path)
    settings = load_settings(con)
    latest = default_as_of(con)
    for as_of in (latest, latest.fromordinal(latest.toordinal() - 20)):  # now and a past week
        facts = open_deal_facts(con, snapshot_on_or_before(con, as_of), Q4.fy_start_month)
        for filters in ({}, {"segment": "Enterprise"}, {"region": "EMEA"}):
            v = view(as_of, **filters)
            for where in (BoardFilter(), BoardFilter(flags=("pushed", "stuck"))):
                held, held_total = board_page(con, v, settings, None, where, 500, 0, facts)
                fresh, fresh_total = board_page(con, v, settings, None, where, 500, 0)
                pd.testing.assert_frame_equal(held, fresh)
                assert held_total == fresh_total
                members = [board_members(con, v, settings, None, where, *held_or_not)
                           .sort_values("opportunity_id", ignore_index=True)
                           for held_or_not in ((facts,), ())]
                pd.testing.assert_frame_equal(*members)
            pd.testing.assert_frame_equal(prepare_call(con, v, facts=facts).key_deals,
                                          prepare_call(con, v).key_deals)
        assert facts.num_rows > 0
    con.close()

"""The forecast roll-up (docs/metrics.md#14-the-forecast-roll-up), worked by hand on
tests/cases/rollup.py: every `rollup` key of every user."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sales.hierarchy import hierarchy_at
from sales.people_calls import due_moments, latest_due
from sales.periods import parse_period
from sales.report import full_report
from sales.settings import Settings, load_settings
from sales.team_rollup import amounts_cube, calls_over_period, team_rollup
from sales.view import Filters, View
from tests.cases import rollup as case

Q1 = parse_period(case.PERIOD)


@pytest.fixture
def con(tmp_path):
    return case.build(tmp_path / "rollup.duckdb")


# Every key of every user at as-of 2026-02-11 (due moment Mon 2026-02-09 12:00).
# CRM amounts, each deal under its owner's place at as-of (Dee under Ned since 02-01):
#   Ann: closed A1 100; commit A2 200; best case A3 50 (X1 closes in Q2, out)
#   Bob: commit B1 300; pipeline B2 400 (L1 lost, out)
#   Dee: closed D1 150; commit D2 60.   Cal: closed C2 70; best case C1 500.  Mia owns M1 40.
#   Mia = Mia + Ann + Bob: closed 100; commit 40 + 200 + 300 = 540; best 50; pipeline 400
#   Ned = Ned + Cal + Dee: closed 70 + 150 = 220; commit 60; best 500; pipeline 0
#   Vic = both: closed 320; commit 600; best 550; pipeline 400
# Calls (latest by the end of 02-11):
#   Ann 280/60 at 02-09 13:00 (after 12:00: not stale); Bob 250 at 02-09 11:59 (stale);
#   Dee 200/20 at 02-10, entered by Ned; Cal none: crm = closed 70 + commit 0 = 70, stale.
#   Mia 600/100: team = Ann 280 + Bob 250 = 530; adjustment = 600 − (530 + her M1 40) = 30.
#   Ned none: team = Cal 70 + Dee 200 = 270; roll-up = 270 + own 0 = 270; stale.
#   Vic 900 at 02-11 23:59:59 (the 5,000 of 02-12 is after as-of): team = Mia 600 + Ned 270
#   = 870; adjustment = 900 − (870 + 0) = 30.
EXPECTED = {
    "Vic": dict(forecast=900.0, upside=0.0, submitted_at="2026-02-11T23:59:59", stale=False,
                effective_forecast=900.0, source="call", team_forecast=870.0, adjustment=30.0,
                closed=320.0, commit=600.0, best_case=550.0, pipeline=400.0),
    "Mia": dict(forecast=600.0, upside=100.0, submitted_at="2026-02-10T09:00:00", stale=False,
                effective_forecast=600.0, source="call", team_forecast=530.0, adjustment=30.0,
                closed=100.0, commit=540.0, best_case=50.0, pipeline=400.0),
    "Ann": dict(forecast=280.0, upside=60.0, submitted_at="2026-02-09T13:00:00", stale=False,
                effective_forecast=280.0, source="call", team_forecast=None, adjustment=None,
                closed=100.0, commit=200.0, best_case=50.0, pipeline=0.0),
    "Bob": dict(forecast=250.0, upside=0.0, submitted_at="2026-02-09T11:59:00", stale=True,
                effective_forecast=250.0, source="call", team_forecast=None, adjustment=None,
                closed=0.0, commit=300.0, best_case=0.0, pipeline=400.0),
    "Ned": dict(forecast=None, upside=None, submitted_at=None, stale=True,
                effective_forecast=270.0, source="roll-up", team_forecast=270.0,
                adjustment=None, closed=220.0, commit=60.0, best_case=500.0, pipeline=0.0),
    "Cal": dict(forecast=None, upside=None, submitted_at=None, stale=True,
                effective_forecast=70.0, source="crm", team_forecast=None, adjustment=None,
                closed=70.0, commit=0.0, best_case=500.0, pipeline=0.0),
    "Dee": dict(forecast=200.0, upside=20.0, submitted_at="2026-02-10T08:00:00", stale=False,
                effective_forecast=200.0, source="call", team_forecast=None, adjustment=None,
                closed=150.0, commit=60.0, best_case=0.0, pipeline=0.0),
}
# The page's figures, also keys: in-blood under the default rules = closed + commit (Vic
# 320 + 600 = 920, Mia 640, Ann 300, Bob 300, Ned 280, Cal 70, Dee 210); the change since
# the latest call a week earlier (by the end of 02-04, only Ann had one, 250: +30); without
# adjustments = effective forecast − adjustment (Vic 900 − 30 = 870, Mia 600 − 30 = 570, the
# others their effective forecast).
for _name, _blood, _without in (("Vic", 920.0, 870.0), ("Mia", 640.0, 570.0),
                                ("Ann", 300.0, 280.0), ("Bob", 300.0, 250.0),
                                ("Ned", 280.0, 270.0), ("Cal", 70.0, 70.0), ("Dee", 210.0, 200.0)):
    EXPECTED[_name].update(in_blood=_blood, without_adjustments=_without,
                           change_since_week=30.0 if _name == "Ann" else None)


def test_every_rollup_key_of_every_user(con):
    rows = team_rollup(con, View(Q1, case.A), load_settings(con))
    assert {name: row.as_report() for name, row in rows.items()} == EXPECTED
    # Reading order: each top's subtree, each level sorted.
    assert list(rows) == ["Vic", "Mia", "Ann", "Bob", "Ned", "Cal", "Dee"]
    assert rows["Dee"].submitted_by == "Ned" and rows["Dee"].manager == "Ned"
    assert rows["Ned"].directs == ("Cal", "Dee")


def test_the_report_carries_the_rollup(con):
    assert full_report(con, View(Q1, case.A)).as_report()["rollup"] == EXPECTED


def test_the_rest_of_a_row(con):
    rows = team_rollup(con, View(Q1, case.A), load_settings(con))
    # In-blood under the default rules (Commit in, Best Case and Pipeline out) = closed +
    # commit: Mia 100 + 540 = 640; Ned 220 + 60 = 280.
    assert (rows["Mia"].in_blood, rows["Ned"].in_blood) == (640.0, 280.0)
    # Change since a week earlier (the latest call by the end of 02-04): Ann 280 − 250 = +30;
    # Bob, Dee, Mia and Vic had none then.
    assert rows["Ann"].change_since_week == 30.0
    assert [rows[n].change_since_week for n in ("Bob", "Dee", "Mia", "Vic", "Cal")] == [None] * 5


def test_before_the_move_dee_rolls_up_under_mia(con):
    # 2026-01-20: no call yet; the latest due moment is Mon 01-19 12:00, so everyone is stale.
    # Mia = Ann crm (100 + 200) + Bob crm (0 + 300) + Dee crm (150 + 60) = 810, + her own 40
    # = 850 (roll-up); Ned = Cal 70; Vic = 850 + 70 = 920. Mia's closed 100 + 150 = 250.
    rows = team_rollup(con, View(Q1, case.BEFORE_MOVE), load_settings(con))
    assert rows["Dee"].manager == "Mia" and rows["Mia"].directs == ("Ann", "Bob", "Dee")
    assert (rows["Mia"].effective_forecast, rows["Mia"].source, rows["Mia"].closed) == (
        850.0, "roll-up", 250.0)
    assert (rows["Ned"].effective_forecast, rows["Vic"].effective_forecast) == (70.0, 920.0)
    assert all(r.stale and r.forecast is None for r in rows.values())


def test_the_view_filters_apply_to_the_crm_amounts_only(con):
    # Only Ann's deals: Mia's amounts are Ann's (closed 100, commit 200, best 50); Bob's are
    # 0, but his call of 250 stands: calls are per person.
    rows = team_rollup(con, View(Q1, case.A, Filters.of(owner="Ann")), load_settings(con))
    assert (rows["Mia"].closed, rows["Mia"].commit, rows["Mia"].best_case) == (100.0, 200.0, 50.0)
    assert (rows["Bob"].commit, rows["Bob"].forecast) == (0.0, 250.0)
    # Mia's adjustment is against her own deals' closed + commit in the view (M1 filtered
    # out): 600 − (530 + 0) = 70.
    assert rows["Mia"].adjustment == 70.0


@pytest.mark.parametrize("filters", [Filters(), Filters.of(owner="Ann"),
                                     Filters.of(owner=["Ann", "Dee"])])
def test_the_held_amounts_give_the_same_rollup(con, filters):
    """What the app holds per period and date (every filter dimension kept), summed through
    the view's filters, is the roll-up read from the deals: EXPECTED above, and Ann's view."""
    view = View(Q1, case.A, filters)
    cube = amounts_cube(con, Q1, case.A)
    assert team_rollup(con, view, load_settings(con), cube) == team_rollup(
        con, view, load_settings(con))
    if not filters.active():
        rows = team_rollup(con, view, load_settings(con), cube)
        assert {n: rows[n].as_report() for n in EXPECTED}["Vic"]["closed"] == 320.0


def test_due_moments_and_staleness_follow_the_settings():
    settings = Settings(call_due_weekday="Friday", call_due_time="17:30")
    # Fridays in Jan–Mar 2026: Jan 2 … Mar 27, thirteen of them.
    moments = due_moments(Q1, settings)
    assert (moments[0], moments[-1], len(moments)) == (
        datetime(2026, 1, 2, 17, 30), datetime(2026, 3, 27, 17, 30), 13)
    assert latest_due(Q1, case.A, settings) == datetime(2026, 2, 6, 17, 30)
    assert latest_due(Q1, Q1.start, Settings()) is None  # Thu Jan 1: no Monday yet


def test_hierarchy_at_each_side_of_the_move(con):
    before, after = hierarchy_at(con, case.MOVE - timedelta(days=1)), hierarchy_at(con, case.MOVE)
    assert before.manager_of("Dee") == "Mia" and after.manager_of("Dee") == "Ned"
    assert after.chain("Dee") == ["Ned", "Vic"] and after.tops() == ["Vic"]
    assert after.subtree("Mia") == ["Mia", "Ann", "Bob"]
    assert after.user_for_email(" ANN@example.COM ").name == "Ann"


def test_calls_over_period_steps_with_each_call(con):
    frame = calls_over_period(con, View(Q1, case.A), "Ann")
    # Days: Ann's call days (02-02, 02-09) and as-of (no snapshots); her amounts stand still.
    assert [str(d) for d in frame["date"]] == ["2026-02-02", "2026-02-09", "2026-02-11"]
    assert frame["forecast"].tolist() == [250.0, 280.0, 280.0]
    assert frame[["closed", "commit", "best_case"]].iloc[-1].tolist() == [100.0, 200.0, 50.0]

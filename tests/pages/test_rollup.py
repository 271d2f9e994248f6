"""The Roll-up page as a manager reads it, on the hand-computed fixture of conftest.py with a
hierarchy and calls on top: each person's call beside their pipeline, a manager's adjustment,
drilling in, submitting a call and seeing it."""

import base64
import json
from datetime import datetime

import numpy
import pytest

from sales import people_calls
from sales.db import connect
from sales.hierarchy import User, hierarchy_at, replace_hierarchy
from sales.people_calls import people_call_history, submit_call
from tests.cases import rollup as rollup_case
from tests.helpers import d, metrics, run_page, tiles

# FY2026-Q4 as of 2026-11-20 (conftest.py). Dee (VP) ← Ann; Dee ← Eve ← Bob, Cat.
# Each one's deals in the period: Ann Closed 500 (D1), Commit 100 (D2), Pipeline 600 (D7);
# Bob Commit 500 (D3 200 + D4 300); Cat Best Case 900 (D5 400 + D6 500).
PEOPLE = [User("Dee", "dee@example.com", None, "VP Sales"),
          User("Ann", "ann@example.com", "Dee", "AE"),
          User("Eve", "eve@example.com", "Dee", "Manager"),
          User("Bob", "bob@example.com", "Eve", "AE"),
          User("Cat", "cat@example.com", "Eve", "AE")]
# Calls are due Mondays 12:00: the latest due moment before as-of is Mon 16 Nov 12:00.
CALLS = [("Ann", 600, 0, "2026-11-09 13:00", "Ann"),    # a week earlier
         ("Ann", 700, 100, "2026-11-17 09:00", "Ann"),  # on time; +100 on the week
         ("Cat", 300, 400, "2026-11-18 10:00", "Eve"),  # entered by her manager
         ("Eve", 900, 0, "2026-11-18 11:00", "Eve")]    # Bob has none: stale, the CRM's 500


@pytest.fixture
def rollup_db(seeded_path):
    con = connect(seeded_path)
    with con.cursor() as cur:
        replace_hierarchy(cur, PEOPLE, d("2026-10-01"), "test")
        for user, forecast, upside, at, by in CALLS:
            submit_call(cur, user, "FY2026-Q4", forecast, upside,
                        at=datetime.fromisoformat(at), by=by)
    con.close()
    return seeded_path


def test_the_top_reads_each_direct_beside_their_pipeline(rollup_db, monkeypatch):
    at = run_page("rollup.py", rollup_db, monkeypatch)
    assert at.selectbox(key="rollup_root").value == "Dee"  # local mode: from the top
    tiles = metrics(at)
    # Dee has no call: team's calls = Ann 700 + Eve 900 = 1,600, no adjustment; Dee's part of
    # the CRM under the default rules: Closed 500 + Commit 600 = 1,100.
    assert tiles["Call"] == "—"
    assert tiles["Team's calls"] == "$1.6K"
    assert tiles["Adjustment"] == "—"
    assert tiles["Without adjustments"] == "$1.6K"
    assert tiles["Their pipeline says"] == "$1.1K"
    rows = at.dataframe[0].value.set_index("user")
    assert list(rows.index) == ["Ann", "Eve"]
    ann, eve = rows.loc["Ann"], rows.loc["Eve"]
    assert (ann.forecast, ann.upside, ann.change_since_week) == (700, 100, 100)  # 700 − 600
    assert not ann.stale and ann.source == "call"
    assert (ann.closed, ann["commit"], ann.pipeline, ann.in_blood) == (500, 100, 600, 600)
    # Eve: 900 against her team's Bob 500 (no call: Closed + Commit) + Cat 300 = 800 → +100.
    assert (eve.forecast, eve.team_forecast, eve.adjustment) == (900, 800, 100)
    assert eve.without_adjustment == 800
    assert (eve["commit"], eve.best_case, eve.in_blood) == (500, 900, 500)


def test_drilling_into_a_manager_reroots_on_their_team(rollup_db, monkeypatch):
    at = run_page("rollup.py", rollup_db, monkeypatch, rollup_root="Eve")
    tiles = metrics(at)
    assert (tiles["Call"], tiles["Team's calls"], tiles["Adjustment"]) == ("$900", "$800", "$100")
    rows = at.dataframe[0].value.set_index("user")
    assert rows.loc["Bob", "stale"] and rows.loc["Bob", "source"] == "crm"
    assert rows.loc["Bob", "effective_forecast"] == 500
    assert rows.loc["Cat", "forecast"] == 300 and not rows.loc["Cat", "stale"]
    assert any("Reports to Dee" in c.value for c in at.caption)


def test_a_reps_deals(rollup_db, monkeypatch):
    at = run_page("rollup.py", rollup_db, monkeypatch, rollup_root="Bob")
    deals = at.dataframe[0].value  # Bob has no reports: his deals
    assert sorted(deals.opportunity_id) == ["D3", "D4"]  # 200 + 300 Commit


def test_a_manager_submits_a_call_for_a_direct_and_sees_it(rollup_db, monkeypatch):
    # The page records a call at this moment: the day before as-of, here.
    monkeypatch.setattr(people_calls, "now_in", lambda settings: datetime(2026, 11, 19, 15))
    at = run_page("rollup.py", rollup_db, monkeypatch, rollup_root="Eve")
    at.selectbox(key="call_by").select("Eve").run()
    at.selectbox(key="call_user").select("Bob")
    at.number_input(key="call_forecast").set_value(450.0)
    at.number_input(key="call_upside").set_value(50.0)
    [b for b in at.button if b.label == "Submit call"][0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("submitted for Bob" in s.value and "by Eve" in s.value for s in at.success)
    rows = at.dataframe[0].value.set_index("user")
    # Bob now calls 450: Eve's team 450 + 300 = 750; her 900 adjusts it by +150.
    assert rows.loc["Bob", "forecast"] == 450 and not rows.loc["Bob", "stale"]
    assert metrics(at)["Adjustment"] == "$150"
    con = connect(rollup_db)
    calls = people_call_history(con, "FY2026-Q4", "Bob")
    con.close()
    assert list(calls.submitted_by) == ["Eve"]


def test_a_rep_calls_for_themselves_only(rollup_db, monkeypatch):
    at = run_page("rollup.py", rollup_db, monkeypatch, rollup_root="Eve")
    at.selectbox(key="call_by").select("Bob").run()
    assert at.selectbox(key="call_user").options == ["Bob"]


def test_a_refused_call_says_why_and_writes_nothing(rollup_db, monkeypatch):
    monkeypatch.setattr(people_calls, "now_in", lambda settings: datetime(2027, 1, 4, 9))
    at = run_page("rollup.py", rollup_db, monkeypatch)
    at.selectbox(key="call_by").select("Dee").run()
    at.number_input(key="call_forecast").set_value(2000.0)
    [b for b in at.button if b.label == "Submit call"][0].click().run()
    assert any("Not submitted" in e.value and "ended on" in e.value for e in at.error), \
        [e.value for e in at.error]
    con = connect(rollup_db)
    assert len(people_call_history(con, "FY2026-Q4")) == len(CALLS)
    con.close()


def test_no_hierarchy_says_how_to_import_one(fixture_db, monkeypatch):
    at = run_page("rollup.py", fixture_db, monkeypatch)
    shown = " ".join(i.value for i in at.info)
    assert "python -m sales import" in shown and "--kind hierarchy" in shown
    assert "Access" in shown


def test_a_call_after_the_views_day_says_when_it_counts(rollup_db, monkeypatch):
    monkeypatch.setattr(people_calls, "now_in", lambda settings: datetime(2026, 11, 23, 15))
    at = run_page("rollup.py", rollup_db, monkeypatch)
    at.selectbox(key="call_by").select("Dee").run()
    at.number_input(key="call_forecast").set_value(2000.0)
    [b for b in at.button if b.label == "Submit call"][0].click().run()
    assert any("counts from 23 Nov 2026 on" in s.value for s in at.success)
    assert metrics(at)["Call"] == "—"  # as of 20 Nov, Dee had not called yet


def test_the_forecast_call_tiles_gain_the_viewers_call_and_team(rollup_db, monkeypatch):
    at = run_page("forecast_call.py", rollup_db, monkeypatch)
    shown = tiles(at)
    # Locally the viewer is the one top, Dee: no call. Her team now Ann 700 + Eve 900 = 1,600;
    # at the last call (13 Nov): Ann 600 + Eve's roll-up (Bob Commit 500 + Cat nothing yet —
    # D5 was Pipeline then) 500 = 1,100 → +500.
    assert shown["Dee's call"] == ("—", "")
    assert shown["Their team's roll-up"] == ("$1.6K", "$500")


def test_a_call_from_the_board_counts_on_the_deals_ticked(rollup_db, monkeypatch):
    monkeypatch.setattr(people_calls, "now_in", lambda settings: datetime(2026, 11, 19, 15))
    at = run_page("inblood.py", rollup_db, monkeypatch)
    editor = at.data_editor[0]
    rows = list(editor.value["Opportunity"])
    at.session_state[editor.key] = {"edited_rows": {rows.index("D5"): {"Include": True}},
                                    "added_rows": [], "deleted_rows": []}
    at.run()
    at.selectbox(key="board_call_by").select("Eve").run()
    # Default rules plus D5: Closed 500 + Commit 600 + D5 400 = 1,500; upside D6 500.
    suggested = {n.label: n.value for n in at.number_input if n.form_id == "board_call"}
    assert suggested == {"Forecast": 1500, "Upside": 500}
    [b for b in at.button if b.label == "Submit call"][0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("counting on 4 deals" in s.value for s in at.success)
    con = connect(rollup_db)
    call = people_call_history(con, "FY2026-Q4", "Eve").iloc[-1]
    con.close()
    assert (call.forecast, list(call.deals)) == (1500, ["D2", "D3", "D4", "D5"])


def _save_person(at, name: str, manager: str | None, effective: str):
    form = [s for s in at.selectbox if s.form_id == "hierarchy_person"]
    form[0].select(name)
    form[1].select(manager)
    [x for x in at.date_input if x.form_id == "hierarchy_person"][0].set_value(d(effective))
    [b for b in at.button if b.label == "Save person"][0].click().run()
    return at


def test_an_analyst_moves_a_rep_and_a_cycle_is_refused(rollup_db, monkeypatch):
    at = run_page("data_access.py", rollup_db, monkeypatch)
    at = _save_person(at, "Bob", "Ann", "2026-11-16")
    assert not at.exception, [e.value for e in at.exception]
    assert any("Bob saved in the hierarchy from 16 Nov 2026" in s.value for s in at.success)
    con = connect(rollup_db)
    assert hierarchy_at(con, d("2026-11-15")).manager_of("Bob") == "Eve"  # history kept
    assert hierarchy_at(con, d("2026-11-16")).manager_of("Bob") == "Ann"
    con.close()
    at = _save_person(at, "Dee", "Cat", "2026-11-16")  # Cat → Eve → Dee → Cat
    assert any("Nothing changed" in e.value and "cycle" in e.value for e in at.error)
    con = connect(rollup_db)
    assert hierarchy_at(con, d("2026-11-20")).manager_of("Dee") is None
    con.close()


# --- On the domain's hand-computed company (tests/cases/rollup.py).

@pytest.fixture
def company(tmp_path):
    path = tmp_path / "company.duckdb"
    rollup_case.build(path).close()
    return path


def test_a_manager_reads_her_team_on_the_hand_computed_company(company, monkeypatch):
    at = run_page("rollup.py", company, monkeypatch, as_of=rollup_case.A,
                  period=rollup_case.PERIOD, rollup_root="Mia")
    # Mia's team at 11 Feb: Ann 280 + Bob 250 = 530 (Dee moved to Ned on 1 Feb); her own M1
    # Commit 40 → 570 without adjustments; her call 600 adjusts it by +30. Her part of the
    # CRM: Closed 100 (A1) + Commit 200 + 300 + 40 = 640.
    assert metrics(at) == {"Call": "$600", "Team's calls": "$530", "Adjustment": "$30",
                           "Without adjustments": "$570", "Their pipeline says": "$640"}
    rows = at.dataframe[0].value.set_index("user")
    assert list(rows.index) == ["Ann", "Bob"]
    # Ann 280, +30 on her call of 2 Feb, on time; Bob's 11:59 call missed Monday's noon.
    assert (rows.loc["Ann", "forecast"], rows.loc["Ann", "change_since_week"]) == (280, 30)
    assert not rows.loc["Ann", "stale"] and rows.loc["Bob", "stale"]


def test_who_calls_it_right_on_the_hand_computed_company(company, monkeypatch):
    at = run_page("forecast_accuracy.py", company, monkeypatch, as_of=d("2026-04-15"),
                  period="FY2026-Q2")
    people = next(df.value for df in at.dataframe if "adjustment_helped" in df.value)
    people = people.set_index("user")
    # FY2026-Q1, weeks from 1 Jan: Ann's calls stand at week 6 (5 Feb: 250) and weeks 7–13
    # (280) against her closed won 100 → errors 1.5 and 7 × 1.8: mean 14.1 / 8 = 1.7625.
    assert people.loc["Ann", "mean_abs_error"] == pytest.approx(1.7625)
    assert people.loc["Ann", "role"] == "rep"
    # Mia: 600 from week 7 against her team's 100 → 5.0; the raw sum Ann 280 + Bob 250 =
    # 530 → 4.3 over the same weeks: her adjustment took the number further off.
    assert people.loc["Mia", "mean_abs_error"] == pytest.approx(5.0)
    assert people.loc["Mia", "team_raw_mean_abs_error"] == pytest.approx(4.3)
    assert not people.loc["Mia", "adjustment_helped"]


def _values(encoded) -> list[float]:
    """A chart's numbers as Plotly writes them (a list, or typed binary)."""
    if isinstance(encoded, dict):
        return numpy.frombuffer(base64.b64decode(encoded["bdata"]), encoded["dtype"]).tolist()
    return [float(v) for v in encoded]


def test_a_persons_calls_across_the_period(company, monkeypatch):
    at = run_page("rollup.py", company, monkeypatch, as_of=rollup_case.A,
                  period=rollup_case.PERIOD, rollup_root="Mia",
                  rollup_tabs="Calls across the period", rollup_person="Ann")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    traces = {t["name"]: {"y": _values(t["y"])} for t in spec["data"]}
    # Ann's calls: 250 from 2 Feb, 280 from 9 Feb (no snapshot: the days with a call, and
    # as-of); upside 50 then 60. Her closed won A1 100 beneath them.
    assert traces["Call"]["y"] == [250, 280, 280]
    assert traces["Call + upside"]["y"] == [300, 340, 340]
    assert traces["Closed"]["y"] == [100, 100, 100]
    assert not at.dataframe  # the table's tab is closed: not computed


def test_the_demo_has_a_team_to_read(demo_db, monkeypatch):
    at = run_page("rollup.py", demo_db, monkeypatch)
    shown = metrics(at)
    assert shown["Call"].startswith("$") and shown["Team's calls"].startswith("$")
    rows = at.dataframe[0].value
    assert len(rows) >= 2 and (rows["directs"] > 0).all()  # the top's leaders, each a team
    assert rows["forecast"].notna().any()

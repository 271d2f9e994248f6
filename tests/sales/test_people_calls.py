"""The hierarchy and the people's calls: refusals (one line, nothing written), the commands'
exit codes, the hierarchy import (a Salesforce User export too), and that both survive
imports."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from sales.cli import main
from sales.db import connect, write_transaction
from sales.hierarchy import HierarchyError, User, hierarchy_at, replace_hierarchy
from sales.people_calls import CallError, people_call_history, submit_call
from tests.cases import rollup as case
from tests.helpers import FIXTURES, content


@pytest.fixture
def path(tmp_path):
    case.build(tmp_path / "calls.duckdb").close()
    return tmp_path / "calls.duckdb"


@pytest.mark.parametrize(("users", "message"), [
    ([User("A", "a@x.com", "C"), User("B", "b@x.com", "A"), User("C", "c@x.com", "B")],
     "cycle: A → C → B → A"),
    ([User("A", "a@x.com", "Zed")], "manager 'Zed' of 'A' is not a user"),
    ([User("A", "a@x.com", None), User("B", " A@X.com", "A")], "two users share a@x.com (A and B)"),
])
def test_a_hierarchy_that_cannot_stand_is_refused_and_nothing_written(path, users, message):
    con = connect(path)
    before = content_of(con)
    with pytest.raises(HierarchyError) as refused, write_transaction(con) as cur:
        replace_hierarchy(cur, users, date(2026, 3, 1), "test")
    assert str(refused.value) == message
    assert content_of(con) == before


def content_of(con):
    return [con.execute(f"select * from {t} order by all").fetchall()  # noqa: S608 - constants
            for t in ("users", "memberships", "people_calls", "audit_log")]


def test_a_file_is_the_whole_hierarchy_from_its_day(path):
    con = connect(path)
    # From 03-01 Cal is gone and Bob reports to Ned; the past stays as it was.
    kept = [u for u in case.users("Ned") if u.name != "Cal"]
    kept = [User(u.name, u.email, "Ned" if u.name == "Bob" else u.manager, u.title) for u in kept]
    with write_transaction(con) as cur:
        summary = replace_hierarchy(cur, kept, date(2026, 3, 1), "test")
    assert summary == ("hierarchy from 2026-03-01: 6 users; 0 joined, 1 moved, 1 left "
                       "(moved: Bob)")
    now, before = hierarchy_at(con, date(2026, 3, 1)), hierarchy_at(con, date(2026, 2, 28))
    assert "Cal" not in now.users and now.directs("Ned") == ["Bob", "Dee"]
    assert before.directs("Ned") == ["Cal", "Dee"] and before.manager_of("Bob") == "Mia"


@pytest.mark.parametrize(("user", "amounts", "at", "by", "message"), [
    ("Zed", (1, 0), "2026-02-10 09:00", None,
     "unknown user 'Zed': not in the hierarchy on 2026-02-10"),
    ("Ann", (-1, 0), "2026-02-10 09:00", None, "forecast and upside are amounts of 0 or more"),
    ("Ann", (1, -5), "2026-02-10 09:00", None, "forecast and upside are amounts of 0 or more"),
    ("Ann", (1, 0), "2026-04-01 00:00", None,
     "FY2026-Q1 ended on 2026-03-31, before 2026-04-01 00:00"),
    # Mia was Dee's manager until 01-31; on 02-10 Dee's chain is Ned → Vic.
    ("Dee", (1, 0), "2026-02-10 09:00", "Mia",
     "'Mia' may not submit for 'Dee': only they or someone above them (on 2026-02-10: "
     "Ned → Vic)"),
    ("Mia", (1, 0), "2026-02-10 09:00", "Ann",
     "'Ann' may not submit for 'Mia': only they or someone above them (on 2026-02-10: Vic)"),
])
def test_a_call_that_cannot_be_made_is_refused_and_nothing_written(path, user, amounts, at, by,
                                                                     message):
    con = connect(path)
    before = content_of(con)
    with pytest.raises(CallError) as refused, write_transaction(con) as cur:
        submit_call(cur, user, case.PERIOD, *amounts, at=datetime.fromisoformat(at), by=by)
    assert str(refused.value) == message
    assert content_of(con) == before


def test_before_the_move_mia_may_enter_dees_call_and_everything_is_audited(path):
    con = connect(path)
    with write_transaction(con) as cur:
        call = submit_call(cur, "Dee", case.PERIOD, 210, at=datetime(2026, 1, 20, 9), by="Mia",
                           deals=("D2", "D2", "D1"))
    assert (call.submitted_by, call.deals, call.upside) == ("Mia", ("D2", "D1"), 0.0)
    history = people_call_history(con, case.PERIOD, "Dee")
    assert history["deals"].map(list).tolist() == [["D1", "D2"], []]
    trail = con.execute("select who, summary from audit_log where action = 'saved call' "
                        "order by audit_id").fetchall()
    assert len(trail) == len(case.CALLS) + 1
    assert trail[-1] == ("Mia", "Dee's call for FY2026-Q1: forecast 210, upside 0 (entered by "
                                "Mia)")


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_forecast_commands_and_their_exit_codes(path, capsys):
    db = ("--db", str(path))
    code, out, _ = run(capsys, "forecast", "submit", "--as", "Cal", "--period", "FY2026-Q1",
                       "--forecast", "75", "--upside", "5", "--note", "C1 slips",
                       "--at", "2026-02-11T10:00", *db)
    assert code == 0 and out.startswith("Cal's call 8 for FY2026-Q1: forecast 75.00")
    before = content(path)
    for argv, status in [
        (("--as", "Cal", "--period", "FY2026-Q1", "--forecast", "-1"), 1),
        (("--as", "Nobody", "--period", "FY2026-Q1", "--forecast", "1",
          "--at", "2026-02-11T10:00"), 1),
        (("--as", "Cal", "--period", "FY2026-Q1", "--forecast", "1", "--by", "Mia",
          "--at", "2026-02-11T10:00"), 1),
        (("--as", "Cal", "--period", "FY2025-Q4", "--forecast", "1"), 1),
        (("--as", "Cal", "--period", "Q1-2026", "--forecast", "1"), 2),
        (("--as", "Cal", "--period", "FY2026-Q1", "--forecast", "lots"), 2),
        (("--as", "Cal", "--period", "FY2026-Q1", "--forecast", "1", "--at", "soon"), 2),
    ]:
        with pytest.raises(SystemExit) if status == 2 else _nothing() as exited:
            code, _, err = run(capsys, "forecast", "submit", *argv, *db)
        assert (exited.value.code if status == 2 else code) == status, argv
        if status == 1:
            assert err.startswith("error: ") and err.count("\n") == 1
    assert content(path) == before
    code, out, _ = run(capsys, "forecast", "history", "--user", "Cal", "--format", "json", *db)
    assert code == 0 and [(c["forecast"], c["upside"], c["note"], c["submitted_at"])
                          for c in json.loads(out)] == [(75.0, 5.0, "C1 slips",
                                                         "2026-02-11T10:00:00")]
    code, out, _ = run(capsys, "forecast", "history", "--period", "FY2026-Q1", "--format",
                       "csv", *db)
    assert code == 0 and len(out.strip().splitlines()) == 1 + len(case.CALLS) + 1


class _nothing:
    value = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_import_a_hierarchy_file_and_a_salesforce_user_export(tmp_path, capsys):
    db = tmp_path / "h.duckdb"
    plain = tmp_path / "hierarchy.csv"
    plain.write_text("user,email,manager,title\nVic,vic@x.com,,VP\nMia,mia@x.com,Vic,Manager\n"
                     "Ann,ann@x.com,Mia,AE\n")
    assert main(["import", str(plain), "--kind", "hierarchy", "--as-of", "2026-01-01",
                 "--db", str(db)]) == 0
    # A Salesforce User export: the manager by ManagerId beside the users' Id.
    export = tmp_path / "User.csv"
    export.write_text("Id,Name,Email,ManagerId,Title\n005A,Vic,VIC@x.com,,VP\n"
                      "005B,Mia,mia@x.com,005A,Manager\n005C,Ann,ann@x.com,005D,AE\n"
                      "005D,Ned,ned@x.com,005A,Manager\n")
    assert main(["import", str(export), "--as-of", "2026-02-01", "--db", str(db)]) == 0
    con = connect(db)
    jan, feb = hierarchy_at(con, date(2026, 1, 31)), hierarchy_at(con, date(2026, 2, 1))
    assert jan.chain("Ann") == ["Mia", "Vic"] and feb.chain("Ann") == ["Ned", "Vic"]
    assert feb.users["Vic"] == User("Vic", "vic@x.com", None, "VP")
    con.close()
    # A cycle: exit 1, the file unchanged.
    looped = tmp_path / "loop.csv"
    looped.write_text("user,email,manager\nA,a@x.com,B\nB,b@x.com,A\n")
    before = content(db)
    capsys.readouterr()
    assert main(["import", str(looped), "--kind", "hierarchy", "--db", str(db)]) == 1
    assert "cycle: A → B → A" in capsys.readouterr().err
    assert content(db) == before


def test_the_hierarchy_and_calls_survive_a_reimport(path):
    saved = {t: content(path)[t] for t in ("users", "memberships", "people_calls")}
    assert main(["import", str(FIXTURES / "opportunities.csv"), "--db", str(path),
                 "--as-of", "2026-02-20"]) == 0
    assert main(["import", str(FIXTURES / "opportunities.csv"), "--db", str(path),
                 "--as-of", "2026-02-27"]) == 0
    after = content(path)
    assert all(after[t] == rows for t, rows in saved.items())


def test_backtest_people_keys(path, capsys):
    # FY2026-Q1 seen from 2026-04-15: A_w = Jan 1 + 7·(w − 1), so w6 = Feb 5, w7 = Feb 12.
    # Actual = closed won in Q1 of the subtree at as-of: Ann 100, Mia 100 (Ann's A1), Dee 150,
    # Ned 70 + 150 = 220, Vic 320, Bob 0.
    assert main(["backtest", "--periods", "FY2026-Q1", "--as-of", "2026-04-15",
                 "--db", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    ann = report["people"]["Ann"]["FY2026-Q1"]
    # w5 (Jan 29): no call yet. w6: 250 (02-02) → (250 − 100) / 100 = 1.5; w7 on: 280 → 1.8.
    assert ann["w5"] == {"forecast": None, "actual": 100.0, "error": None}
    assert ann["w6"] == {"forecast": 250.0, "actual": 100.0, "error": 1.5}
    assert ann["w13"] == {"forecast": 280.0, "actual": 100.0, "error": pytest.approx(1.8)}
    # Ann over w6–w13: (1.5 + 7 × 1.8) / 8 = 14.1 / 8 = 1.7625, all over: bias the same.
    assert report["people_summary"]["Ann"] == {"mean_abs_error": pytest.approx(1.7625),
                                               "bias": pytest.approx(1.7625), "weeks": 8}
    # Vic's 5,000 of 02-12 08:00 is his latest by the end of w7's day: (5,000 − 320) / 320.
    assert report["people"]["Vic"]["FY2026-Q1"]["w7"]["error"] == pytest.approx(14.625)
    # Bob's subtree won nothing: no error to judge him by.
    assert report["people_summary"]["Bob"] == {"mean_abs_error": None, "bias": None, "weeks": 0}
    # Dee under Ned at as-of: 200 against 150 from w7 → +1/3 for seven weeks.
    assert report["people_summary"]["Dee"]["bias"] == pytest.approx(1 / 3)

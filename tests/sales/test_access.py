"""Serving a team: roles, scopes enforced on every query path, access managed from the command
line and the Access page, and the audit trail of every write."""

import json
import time
from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from sales import access
from sales.access import AccessError
from sales.audit import trail
from sales.callprep import prepare_call
from sales.cli import main
from sales.db import connect
from sales.explorer import DealQuery, export_rows
from sales.inblood import board_page, board_summary
from sales.periods import parse_period
from sales.pivots import cell_deals
from sales.report import full_report, with_movement
from sales.rollup import category_rollup, rollup_by
from sales.settings import load_settings
from sales.stages import TOTAL_CATEGORIES
from sales.view import NOTHING, Filters, View
from tests.helpers import ROOT, TIMEOUT, d

Q4, A = parse_period("FY2026-Q4"), d("2026-11-20")
T1 = Filters.of(team="T1")  # conftest: D1, D2, D9, D10 (and W1, L1, W3) are team T1


def test_a_selection_inside_a_scope_never_widens_it():
    scope = Filters.of(team=["T1", "T2"], region="EMEA")
    assert Filters().within(scope) == scope  # nothing chosen: the whole scope
    assert Filters.of(team="T2").within(scope) == Filters.of(team="T2", region="EMEA")
    assert Filters.of(team="T3").within(scope).team == (NOTHING,)  # outside: nothing, not all
    assert Filters.of(segment="SMB").within(scope).segment == ("SMB",)  # other dimensions free
    view = View(Q4, A, Filters.of(team="T3"), scope=T1)
    assert view.filters.team == (NOTHING,)
    assert replace(view, filters=Filters()).filters == T1  # replacing the filters narrows again


@pytest.mark.parametrize("asked", [Filters(), Filters.of(team="T1")])
def test_a_scoped_view_is_the_scope_on_every_query_path(metrics_con, asked):
    scoped, analyst = View(Q4, A, asked, scope=T1), View(Q4, A, T1)
    assert category_rollup(metrics_con, scoped) == category_rollup(metrics_con, analyst)
    report = with_movement(metrics_con, full_report(metrics_con, scoped), None).as_report()
    assert report == with_movement(metrics_con, full_report(metrics_con, analyst),
                                   None).as_report()
    # T1: Closed D1 500; Commit D2 100 (D10 closes in January); the T1 month targets 350.
    assert report["categories"]["Closed"]["amount"] == 500
    assert report["target"] == 350


def test_a_view_outside_the_scope_shows_nothing(metrics_con):
    outside = View(Q4, A, Filters.of(team="T3"), scope=T1)
    settings = load_settings(metrics_con)
    assert all(m.amount == 0 and m.count == 0 for m in category_rollup(metrics_con, outside).values())
    assert rollup_by(metrics_con, outside, "segment").empty
    deals, total, _ = cell_deals(metrics_con, outside, TOTAL_CATEGORIES, "segment", None)
    assert deals.empty and total == 0
    assert export_rows(metrics_con, outside, DealQuery())[1] == 0
    assert board_page(metrics_con, outside, settings, None)[1] == 0
    assert board_summary(metrics_con, outside, settings).closed_won == 0
    prep = prepare_call(metrics_con, outside)
    assert all(m.start == 0 and m.end == 0 for m in prep.movement.values())
    report = full_report(metrics_con, outside).as_report()
    assert report["in_blood"]["number"] == 0 and report["target"] is None


def test_grants_are_checked_and_audited(metrics_con):
    made = access.grant(metrics_con, " Ann@Example.COM ", access.MANAGER, teams=("T1",),
                        by="boss@example.com")
    assert (made.email, made.describe()) == ("ann@example.com", "manager of team T1")
    assert access.grant_for(metrics_con, "ANN@example.com").scope() == T1
    with pytest.raises(AccessError, match="unknown team T9; known: T1, T2, T3"):
        access.grant(metrics_con, "bob@example.com", access.VIEWER, teams=("T9",), by="x")
    with pytest.raises(AccessError, match="analyst sees everything"):
        access.grant(metrics_con, "bob@example.com", access.ANALYST, regions=("EMEA",), by="x")
    with pytest.raises(AccessError, match="not an email"):
        access.grant(metrics_con, "bob", access.VIEWER, by="x")
    access.grant(metrics_con, "ann@example.com", access.VIEWER, by="boss@example.com")
    assert access.revoke(metrics_con, "ann@example.com", by="boss@example.com")
    assert not access.revoke(metrics_con, "ann@example.com", by="boss@example.com")
    assert trail(metrics_con)["summary"].tolist() == [
        "revoked ann@example.com (viewer)",
        "changed ann@example.com from manager of team T1 to viewer",
        "granted ann@example.com manager of team T1"]
    assert set(trail(metrics_con)["who"]) == {"boss@example.com"}


def test_access_from_the_command_line(seeded_path, capsys):
    assert main(["access", "grant", "Lead@Example.com", "--role", "viewer", "--region", "EMEA",
                 "--db", str(seeded_path)]) == 0
    assert "lead@example.com: viewer of region EMEA" in capsys.readouterr().out
    assert main(["access", "grant", "x@example.com", "--role", "manager", "--team", "Nope",
                 "--db", str(seeded_path)]) == 1
    assert "unknown team Nope; known: T1, T2, T3" in capsys.readouterr().err
    assert main(["access", "list", "--format", "json", "--db", str(seeded_path)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(g["email"], g["role"], g["regions"]) for g in listed] == [
        ("lead@example.com", "viewer", "EMEA")]
    assert main(["access", "revoke", "lead@example.com", "--db", str(seeded_path)]) == 0
    assert main(["access", "revoke", "lead@example.com", "--db", str(seeded_path)]) == 1
    con = connect(seeded_path, read_only=True)
    assert trail(con)["action"].tolist() == ["access", "access"]
    assert trail(con)["who"].str.endswith("(command line)").all()
    con.close()


# --- Team mode in the app (AppTest plays the signed-in user, as Streamlit's st.user) --------


@pytest.fixture
def team_db(seeded_path, monkeypatch):
    con = connect(seeded_path)
    access.grant(con, "viewer@example.com", access.VIEWER, by="test")
    access.grant(con, "manager@example.com", access.MANAGER, teams=("T1",), by="test")
    access.grant(con, "analyst@example.com", access.ANALYST, by="test")
    con.close()
    monkeypatch.setenv("SALES_DB", str(seeded_path))
    return seeded_path


def _run(script: str, user: dict, **session) -> AppTest:
    at = AppTest.from_file(str(ROOT / script), default_timeout=TIMEOUT)
    at.user = user
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def signed_in(email: str, expires_in: float = 3600) -> dict:
    return {"is_logged_in": True, "email": email, "exp": time.time() + expires_in}


def test_signed_out_sees_only_the_sign_in_screen(team_db):
    at = _run("app.py", {"is_logged_in": False})
    assert not at.metric and not at.dataframe
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.sidebar.multiselect  # no filters, no values from the data


def test_signed_in_without_a_role_sees_no_figures(team_db):
    at = _run("app.py", signed_in("stranger@example.com"))
    assert not at.metric and not at.dataframe
    assert any("have no access yet" in i.value for i in at.info)


def test_an_expired_identity_is_signed_out(team_db):
    at = _run("app.py", signed_in("viewer@example.com", expires_in=-60))
    assert not at.metric and "Sign in" in [b.label for b in at.button]


@pytest.mark.slow
def test_a_viewer_sees_the_numbers_but_not_the_data_pages(team_db):
    at = _run("app.py", signed_in("viewer@example.com"))
    assert at.metric  # the Overview
    for page in ("database.py", "data_import.py", "data_sync.py", "data_settings.py", "data_sql.py",
                 "data_access.py", "data_audit.py"):
        refused = _run(f"pages/{page}", signed_in("viewer@example.com"))
        assert any("is for analysts" in e.value for e in refused.error), page
        assert not refused.dataframe and not refused.text_input
    inblood = _run("pages/inblood.py", signed_in("viewer@example.com"))
    assert "Save call" not in [b.label for b in inblood.button]


def test_an_analyst_reaches_the_data_pages(team_db):
    at = _run("pages/data_access.py", signed_in("analyst@example.com"))
    assert not at.error
    emails = at.dataframe[0].value["email"].tolist()
    assert emails == ["analyst@example.com", "manager@example.com", "viewer@example.com"]


def test_a_manager_sees_the_scope_even_when_asked_for_another_team(team_db):
    mine = _run("pages/overview.py", signed_in("manager@example.com"))
    tiles = {m.label: m.value for m in mine.metric}
    # T1's closed won is D1 500 (the company's is 500 too; T1's in-blood adds only D2's 100).
    assert tiles["In-blood number"] == "$600"
    other = _run("pages/overview.py", signed_in("manager@example.com"), team=["T3"])
    assert {m.label: m.value for m in other.metric}["In-blood number"] == "$0"


def test_a_managers_pickers_list_only_the_scopes_values(team_db):
    # T1's deals belong to Ann and Bob; Cat's are all in T2 and T3.
    at = _run("pages/inblood.py", signed_in("manager@example.com"))
    assert at.multiselect(key="board_owners").options == ["Ann", "Bob"]
    app = _run("app.py", signed_in("manager@example.com"))
    assert app.sidebar.multiselect(key="owner").options == ["Ann", "Bob"]
    assert app.sidebar.multiselect(key="team").options == ["T1"]

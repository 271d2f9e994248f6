"""The Forecast call page runs the handbook's whole agenda on the demo: new and expansion
business, renewals, the lead pipeline and the follow-ups; follow-ups are added, carried and
closed on the page; an empty database and a database without leads say what to do."""

from __future__ import annotations

import shutil

import pytest

from sales.db import connect
from tests.helpers import plain, run_page

PAGE = "forecast_call.py"


@pytest.fixture
def demo_copy(demo_db, tmp_path):
    """A copy of the demo to write follow-ups into (the shared demo stays as built)."""
    path = tmp_path / "call.duckdb"
    shutil.copyfile(demo_db, path)
    return path


def markdown(at) -> str:
    return "\n".join(plain(m.value) for m in at.markdown)


def test_the_demo_call_shows_all_five_parts_of_the_agenda(demo_db, monkeypatch):
    at = run_page(PAGE, demo_db, monkeypatch)
    headings = [s.value for s in at.subheader]
    for part in ("Forecast now and at the last call", "New & Expansion and Renewals",
                 "Key deals", "Lead pipeline", "Follow-ups"):
        assert part in headings, headings
    assert headings.index("Lead pipeline") > headings.index("New & Expansion and Renewals")
    labels = [m.label for m in at.metric]
    assert any(label.startswith("MQLs in FY") for label in labels)
    assert "Pipeline from this period's MQLs" in labels
    assert "Open follow-ups" in labels
    # The demo's earlier calls left items open: the call opens with them, overdue flagged.
    shown = markdown(at)
    assert "raised at the call of" in shown and "Overdue" in shown
    assert not at.info  # leads are loaded: no how-to-load message


def test_an_empty_database_says_how_to_load_data(empty_db, monkeypatch):
    at = run_page(PAGE, empty_db, monkeypatch)
    assert "No opportunities in this database yet" in at.info[0].value


def test_without_leads_the_section_says_how_to_load_them(demo_copy, monkeypatch):
    con = connect(demo_copy)
    con.execute("delete from lead_history; delete from lead_snapshot_dates; delete from leads")
    con.close()
    at = run_page(PAGE, demo_copy, monkeypatch)
    assert any("No leads are loaded" in plain(i.value) and "python -m sales import" in
               plain(i.value) for i in at.info)
    assert "Open follow-ups" in [m.label for m in at.metric]  # the call goes on


@pytest.mark.slow
def test_a_follow_up_is_saved_with_the_call_and_closed_with_a_note(demo_copy, monkeypatch):
    at = run_page(PAGE, demo_copy, monkeypatch)
    before = int(next(m.value for m in at.metric if m.label == "Open follow-ups"))
    at.text_input(key="saved_by").input("Jordan").run()
    at.text_input(key="follow_up_text_0").input("Book the exec sponsor call")
    owner = at.selectbox(key="follow_up_owner_0")
    owner.select(owner.options[0])
    at.button(key="FormSubmitter:new_follow_up_0-Save follow-up").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Follow-up saved with the call" in s.value for s in at.success)
    assert int(next(m.value for m in at.metric if m.label == "Open follow-ups")) == before + 1
    con = connect(demo_copy)
    follow_up_id, created_by = con.execute(
        "select follow_up_id, created_by from follow_ups "
        "where text = 'Book the exec sponsor call'").fetchall()[0]
    con.close()
    assert created_by == "Jordan"
    assert "Book the exec sponsor call" in markdown(at)
    at.text_input(key=f"follow_up_note_{follow_up_id}").input("booked for Tuesday")
    at.button(key=f"follow_up_close_{follow_up_id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert int(next(m.value for m in at.metric if m.label == "Open follow-ups")) == before
    con = connect(demo_copy)
    assert con.execute("select closed_by, close_note from follow_ups where follow_up_id = ?",
                       [follow_up_id]).fetchall() == [("Jordan", "booked for Tuesday")]
    assert con.execute("select count(*) from audit_log where action = 'follow-up'"
                       ).fetchall()[0][0] == 2
    con.close()


def test_a_refused_follow_up_says_why_and_saves_nothing(demo_copy, monkeypatch):
    at = run_page(PAGE, demo_copy, monkeypatch)
    at.button(key="FormSubmitter:new_follow_up_0-Save follow-up").click().run()
    assert any("what is to be done" in plain(e.value) for e in at.error)
    con = connect(demo_copy)
    assert con.execute("select count(*) from audit_log where action = 'follow-up'"
                       ).fetchall()[0][0] == 0
    con.close()

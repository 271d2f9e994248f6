"""The in-blood page as a manager uses it: tick deals, watch the totals, save, reload."""

import pytest
from streamlit.testing.v1 import AppTest

from sales.db import connect
from tests.helpers import ROOT, TIMEOUT, metrics


@pytest.fixture
def fixture_db(seeded_path, monkeypatch):
    monkeypatch.setenv("SALES_DB", str(seeded_path))
    return seeded_path


def tick(at: AppTest, decisions: dict[str, bool]) -> AppTest:
    """Set Include for deals by id through the editor's edit state, as a click would."""
    editor = at.data_editor[0]
    rows = list(editor.value["Opportunity"])
    edits = {rows.index(deal): {"Include": include} for deal, include in decisions.items()}
    at.session_state[editor.key] = {"edited_rows": edits, "added_rows": [], "deleted_rows": []}
    return at.run()


def test_ticking_deals_moves_the_totals_then_saving_keeps_them(fixture_db):
    at = AppTest.from_file(str(ROOT / "pages/inblood.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    # Default rules: Closed 500 + Commit 600 = 1,100; upside Best Case 900.
    assert metrics(at)["In-blood number"] == "$1.1K" and metrics(at)["Upside"] == "$900"
    # docs/metrics.md#8-in-blood-number: drop D4 (Commit 300), include D5 (Best Case 400) → 1,200 and 800.
    at = tick(at, {"D4": False, "D5": True})
    tiles = metrics(at)
    assert (tiles["In-blood number"], tiles["Upside"]) == ("$1.2K", "$800")
    assert tiles["Unsaved changes"] == "2"

    at.text_input(key="saved_by").input("Lee")
    [b for b in at.button if b.label == "Save call"][0].click().run()
    assert not at.exception
    assert any("saved for FY2026-Q4" in s.value for s in at.success)

    # A new session (a reload, a restart) starts from the saved call and shows the same number.
    again = AppTest.from_file(str(ROOT / "pages/inblood.py"), default_timeout=TIMEOUT).run()
    assert metrics(again)["In-blood number"] == "$1.2K"
    assert any("Starting from the call saved" in i.value and "Lee" in i.value for i in again.info)
    con = connect(fixture_db)
    assert con.execute("select count(*) from forecast_calls").fetchone()[0] == 1


def test_bulk_include_a_category(fixture_db):
    at = AppTest.from_file(str(ROOT / "pages/inblood.py"), default_timeout=TIMEOUT).run()
    at.selectbox(key="bulk_action").select("Include")
    at.selectbox(key="bulk_scope").select("a category")
    at.selectbox(key="bulk_category").select("Best Case")
    at.button(key="bulk_apply").click().run()
    # 1,100 + Best Case 900 = 2,000; nothing left as upside.
    assert metrics(at)["In-blood number"] == "$2.0K" and metrics(at)["Upside"] == "$0"
    at.button(key="reset_call").click().run()
    assert metrics(at)["In-blood number"] == "$1.1K"


def test_saving_without_a_name_says_so_and_saves_nothing(fixture_db):
    at = AppTest.from_file(str(ROOT / "pages/inblood.py"), default_timeout=TIMEOUT).run()
    [b for b in at.button if b.label == "Save call"][0].click().run()
    assert any("not saved" in e.value for e in at.error)
    con = connect(fixture_db)
    assert con.execute("select count(*) from forecast_calls").fetchone()[0] == 0

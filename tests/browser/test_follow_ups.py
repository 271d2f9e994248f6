"""Follow-ups in a real browser: added on the Forecast call page and saved with the call, still
there after a reload (a new session), then closed with one click and a note."""

from __future__ import annotations

import shutil

import pytest

from sales.db import open_for_reading

pytestmark = pytest.mark.browser
ITEM = "Call the CFO about the Q4 signature"


@pytest.fixture(scope="module")
def call_db(demo_db, tmp_path_factory):
    """A copy of the demo: this test writes to it."""
    path = tmp_path_factory.mktemp("browser-follow-ups") / "call.duckdb"
    shutil.copyfile(demo_db, path)
    return path


@pytest.fixture(scope="module")
def call_url(call_db, serve):
    with serve(call_db) as url:
        yield url


def _item(page):
    """The row that holds the follow-up: the nearest block around its text with a Close button."""
    return page.get_by_text(ITEM).locator(
        "xpath=ancestor::div[.//button[normalize-space()='Close']][1]")


def test_add_save_reload_and_close_a_follow_up(call_url, call_db, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(f"{call_url}/forecast_call")
    page.get_by_role("heading", name="Follow-ups").wait_for(timeout=60_000)
    name = page.get_by_role("textbox", name="Your name")
    name.fill("Jordan Blake")
    name.press("Tab")
    page.wait_for_timeout(500)
    page.get_by_role("textbox", name="What is to be done").fill(ITEM)
    owner = page.locator('[data-testid="stSelectbox"]').filter(has_text="Owner")
    owner.click()
    page.keyboard.type("Dana Whitfield")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Save follow-up").click()
    page.get_by_text("Follow-up saved with the call").wait_for(timeout=30_000)

    page.reload()  # a new session reads it back from the database
    page.get_by_role("heading", name="Follow-ups").wait_for(timeout=60_000)
    box = _item(page)
    box.wait_for(timeout=30_000)
    name = page.get_by_role("textbox", name="Your name")  # asked once per session
    name.fill("Jordan Blake")
    name.press("Tab")
    page.wait_for_timeout(500)
    assert "Dana Whitfield" in box.inner_text()
    note = box.get_by_placeholder("Note (optional)")
    note.fill("CFO signs on Tuesday")
    note.press("Tab")
    page.wait_for_timeout(500)
    box.get_by_role("button", name="Close").click()
    page.get_by_text("Follow-up closed.").wait_for(timeout=30_000)
    # The open item leaves the page; its text stays in the grid of follow-ups closed since the
    # last call, whose cells the grid keeps as hidden text, so only a visible match counts.
    page.get_by_text(ITEM).filter(visible=True).wait_for(state="detached", timeout=60_000)
    page.close()

    con = open_for_reading(call_db)
    try:
        assert con.execute("select created_by, closed_by, close_note from follow_ups "
                           "where text = ?", [ITEM]).fetchall() == [
            ("Jordan Blake", "Jordan Blake", "CFO signs on Tuesday")]
    finally:
        con.close()

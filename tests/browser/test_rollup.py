"""The roll-up in a real browser, in team mode (the local OpenID Connect provider of
this folder's conftest): a rep signs in and submits their call, their manager sees it in the roll-up and
submits an adjusted team call, and the top of the hierarchy sees both."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from sales import access
from sales.db import connect
from sales.hierarchy import User, replace_hierarchy
from tests.browser.signin import metric, signed_in, wait_title

pytestmark = pytest.mark.browser
REP, MANAGER, TOP = "rep@example.com", "manager@example.com", "top@example.com"
BOSS, CHIEF = "Morgan Manager", "Tess Top"


@pytest.fixture(scope="module")
def hierarchy_app(provider, tmp_path_factory, serve_team_mode):
    """A demo as of today (calls are recorded now, so the view must reach today) with a
    three-level hierarchy: Tess Top ← Morgan Manager ← the demo's busiest owner."""
    from sales.demo import build_demo

    folder = tmp_path_factory.mktemp("rollup")
    database = folder / "rollup.duckdb"
    build_demo(database, opportunities=2000, seed=11, as_of=date.today())
    con = connect(database)
    rep = con.execute("select owner from opportunities group by 1 order by count(*) desc, 1 "
                      "limit 1").fetchone()[0]
    with con.cursor() as cur:
        replace_hierarchy(cur, [User(CHIEF, TOP, None, "VP Sales"),
                                User(BOSS, MANAGER, CHIEF, "Manager"),
                                User(rep, REP, BOSS, "AE")],
                          date.today() - timedelta(days=60), "test")
    access.grant(con, REP, access.REP, by="test")
    access.grant(con, MANAGER, access.MANAGER, by="test")
    access.grant(con, TOP, access.VIEWER, by="test")
    con.close()
    with serve_team_mode(database, folder, provider) as url:
        yield url, rep


def _submit(page, forecast: int) -> None:
    page.get_by_role("spinbutton", name="Forecast").fill(str(forecast), timeout=30_000)
    page.get_by_role("button", name="Submit call").click()
    page.get_by_text("submitted for").wait_for(timeout=30_000)


def test_a_rep_calls_the_manager_adjusts_the_top_sees_both(hierarchy_app, browser):
    url, rep = hierarchy_app
    page = signed_in(browser, url, REP)
    page.goto(f"{url}/rollup")
    wait_title(page, "Roll-up")
    page.get_by_text(f"Submitting as {rep}").wait_for(timeout=30_000)
    _submit(page, 1_234_567)
    assert metric(page, "Call") == "$1.2M"
    page.context.close()

    # The manager's team is the rep: their call is the team's; +265,433 on top of it.
    page = signed_in(browser, url, MANAGER)
    page.goto(f"{url}/rollup")
    wait_title(page, "Roll-up")
    assert metric(page, "Team's calls") == "$1.2M"
    _submit(page, 1_500_000)
    assert metric(page, "Call") == "$1.5M"
    assert metric(page, "Adjustment") == "$265.4K"
    page.context.close()

    page = signed_in(browser, url, TOP)
    page.goto(f"{url}/rollup")
    wait_title(page, "Roll-up")
    assert metric(page, "Team's calls") == "$1.5M"  # the manager's adjusted call
    page.get_by_role("combobox", name="Team of").click()
    page.get_by_role("option", name=f"{BOSS} — Manager").click()
    page.wait_for_timeout(1500)
    assert metric(page, "Call") == "$1.5M"
    assert metric(page, "Team's calls") == "$1.2M"  # the rep's call beneath it
    assert metric(page, "Adjustment") == "$265.4K"
    page.context.close()

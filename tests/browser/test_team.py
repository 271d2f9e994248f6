"""Team mode in a real browser: `streamlit run` with sign-in configured against a local OpenID
Connect provider (oidc-provider-mock), as the README's "Serve a team" section sets it up.
Signed out and signed in without a role see no figures; a viewer cannot reach Import, an
analyst can; a manager scoped to one team sees that team's numbers even when the URL asks for
another; and the audit shows the writes made."""

from __future__ import annotations

import re
import shutil

import pytest

from sales import access
from sales import formatting as fmt
from sales.db import connect, open_current
from sales.periods import QUARTER, period_containing
from sales.query import default_as_of
from sales.report import headline
from sales.view import Filters, View
from tests.browser.signin import metric, signed_in, wait_title

pytestmark = pytest.mark.browser
VIEWER, MANAGER, ANALYST = "viewer@example.com", "manager@example.com", "analyst@example.com"




@pytest.fixture(scope="module")
def team(demo_db, provider, tmp_path_factory, serve_team_mode):
    """The demo with three grants, served in team mode; yields (url, database, the manager's
    team and another team)."""
    folder = tmp_path_factory.mktemp("team")
    database = folder / "team.duckdb"
    shutil.copyfile(demo_db, database)
    con = connect(database)
    teams = [r[0] for r in con.execute("select distinct team from opportunities order by 1")
             .fetchall()]
    access.grant(con, VIEWER, access.VIEWER, by="test")
    access.grant(con, MANAGER, access.MANAGER, teams=(teams[0],), by="test")
    access.grant(con, ANALYST, access.ANALYST, by="test")
    con.close()
    with serve_team_mode(database, folder, provider) as url:
        yield url, database, teams[0], teams[1]






def _page_links(page) -> list[str]:
    """Every page the sidebar lists (Streamlit folds a long list behind "View … more")."""
    more = page.get_by_text(re.compile(r"^View \d+ more$"))
    if more.count():
        more.first.click()
        page.wait_for_timeout(300)
    # Each link reads "<icon name>\n\n<title>".
    return [t.split("\n")[-1].strip()
            for t in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]


def _settled(page) -> None:
    page.wait_for_timeout(1500)  # let the rerun finish drawing before reading what is absent




def test_signed_out_sees_only_the_sign_in(team, browser):
    url, *_ = team
    page = browser.new_context().new_page()
    page.goto(url)
    page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
    _settled(page)
    assert page.locator('[data-testid="stMetric"]').count() == 0
    assert page.get_by_role("link", name="Overview").count() == 0  # no page list either
    page.context.close()


def test_signed_in_without_a_role_sees_no_figures(team, browser):
    url, *_ = team
    page = signed_in(browser, url, "stranger@example.com")
    page.get_by_text("have no access yet").wait_for(timeout=60_000)
    _settled(page)
    assert page.locator('[data-testid="stMetric"]').count() == 0
    page.context.close()


def test_a_viewer_cannot_reach_import_an_analyst_can(team, browser):
    url, *_ = team
    viewer = signed_in(browser, url, VIEWER)
    wait_title(viewer, "Overview")
    links = _page_links(viewer)
    assert "Overview" in links and "Deal explorer" in links
    assert not {"Database", "Import", "SQL", "Access", "Audit"} & set(links)
    viewer.goto(f"{url}/data_import")
    viewer.get_by_role("heading", name="Overview").or_(
        viewer.get_by_text("is for analysts")).first.wait_for(timeout=60_000)
    _settled(viewer)
    assert viewer.get_by_role("heading", name="Import data").count() == 0
    viewer.context.close()
    analyst = signed_in(browser, url, ANALYST)
    wait_title(analyst, "Overview")
    assert {"Import", "SQL", "Access", "Audit"} <= set(_page_links(analyst))
    analyst.goto(f"{url}/data_import")
    wait_title(analyst, "Import data")
    analyst.context.close()


def test_a_manager_sees_the_team_even_when_the_url_asks_for_another(team, browser):
    url, database, mine, other = team
    con = open_current(database)
    as_of = default_as_of(con)
    period = period_containing(as_of, QUARTER, 1)
    expected = headline(con, View(period, as_of, Filters.of(team=mine))).as_report()
    con.close()
    page = signed_in(browser, url, MANAGER)
    wait_title(page, "Overview")
    assert metric(page, "Closed won") == fmt.money(expected["categories"]["Closed"]["amount"])
    page.goto(f"{url}/?team={other.replace(' ', '+')}")
    wait_title(page, "Overview")
    _settled(page)
    assert metric(page, "Closed won") in (
        fmt.money(expected["categories"]["Closed"]["amount"]), fmt.money(0))  # never the other
    # A manager saves the call as the signed-in identity: no name to type.
    page.goto(f"{url}/inblood")
    wait_title(page, "In-blood call")
    assert page.get_by_role("textbox", name="Your name").count() == 0
    page.get_by_role("button", name="Save call").click(timeout=30_000)
    page.get_by_text("saved for").wait_for(timeout=30_000)
    page.context.close()


def test_the_audit_shows_the_writes(team, browser):
    url, *_ = team
    page = signed_in(browser, url, ANALYST)
    wait_title(page, "Overview")
    page.goto(f"{url}/data_audit")
    wait_title(page, "Audit")
    # The grid draws on a canvas; its cells are in the page for screen readers.
    for line in ("granted manager@example.com", "call "):  # the grants, the manager's call
        page.get_by_text(line).first.wait_for(state="attached", timeout=30_000)
    assert page.get_by_text(MANAGER, exact=True).count() >= 1  # the call's who
    page.context.close()

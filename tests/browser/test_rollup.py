"""The roll-up in a real browser, in team mode (the local OpenID Connect provider of
test_team.py): a rep signs in and submits their call, their manager sees it in the roll-up and
submits an adjusted team call, and the top of the hierarchy sees both."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

import pytest

from bench.load import free_port
from sales import access
from sales.db import connect
from sales.hierarchy import User, replace_hierarchy
from tests.browser.test_team import _metric, _signed_in, _wait_title, provider  # noqa: F401

pytestmark = pytest.mark.browser
REP, MANAGER, TOP = "rep@example.com", "manager@example.com", "top@example.com"
BOSS, CHIEF = "Morgan Manager", "Tess Top"


@pytest.fixture(scope="module")
def hierarchy_app(provider, tmp_path_factory, serve):  # noqa: F811 - the provider fixture
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
    port = free_port()
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text(f"""[auth]
redirect_uri = "http://localhost:{port}/oauth2callback"
cookie_secret = "{secrets.token_urlsafe(32)}"
client_id = "sales-dashboard"
client_secret = "{secrets.token_urlsafe(16)}"
server_metadata_url = "{provider}/.well-known/openid-configuration"
""")
    with serve(database, port=port, host="localhost",
               options=("--secrets.files", str(secrets_file))) as url:
        yield url, rep


def _submit(page, forecast: int) -> None:
    page.get_by_role("spinbutton", name="Forecast").fill(str(forecast), timeout=30_000)
    page.get_by_role("button", name="Submit call").click()
    page.get_by_text("submitted for").wait_for(timeout=30_000)


def test_a_rep_calls_the_manager_adjusts_the_top_sees_both(hierarchy_app, browser):
    url, rep = hierarchy_app
    page = _signed_in(browser, url, REP)
    page.goto(f"{url}/rollup")
    _wait_title(page, "Roll-up")
    page.get_by_text(f"Submitting as {rep}").wait_for(timeout=30_000)
    _submit(page, 1_234_567)
    assert _metric(page, "Call") == "$1.2M"
    page.context.close()

    # The manager's team is the rep: their call is the team's; +265,433 on top of it.
    page = _signed_in(browser, url, MANAGER)
    page.goto(f"{url}/rollup")
    _wait_title(page, "Roll-up")
    assert _metric(page, "Team's calls") == "$1.2M"
    _submit(page, 1_500_000)
    assert _metric(page, "Call") == "$1.5M"
    assert _metric(page, "Adjustment") == "$265.4K"
    page.context.close()

    page = _signed_in(browser, url, TOP)
    page.goto(f"{url}/rollup")
    _wait_title(page, "Roll-up")
    assert _metric(page, "Team's calls") == "$1.5M"  # the manager's adjusted call
    page.get_by_role("combobox", name="Team of").click()
    page.get_by_role("option", name=f"{BOSS} — Manager").click()
    page.wait_for_timeout(1500)
    assert _metric(page, "Call") == "$1.5M"
    assert _metric(page, "Team's calls") == "$1.2M"  # the rep's call beneath it
    assert _metric(page, "Adjustment") == "$265.4K"
    page.context.close()

"""Two `streamlit run` processes behind Debian's nginx running the README's configuration
(tests/browser/conftest.py `nginx_in_front`): a browser stays on the process that served it,
signs in through it, and when that process is killed with SIGKILL it carries on, still signed
in, on the other one. With the state in PostgreSQL, a call saved through one process is seen
through the other and survives the kill."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import urllib.request
from contextlib import ExitStack

import pytest

from bench import load
from sales import access
from sales.db import connect
from tests.browser.conftest import nginx_in_front
from tests.browser.signin import signed_in, wait_title
from tests.helpers import ROOT

pytestmark = pytest.mark.browser
MANAGER = "manager@example.com"
ROUTE = "sales_route"
NOTE = "Saved through nginx on the first process"


def _grant_manager(database) -> None:
    con = connect(database)
    access.grant(con, MANAGER, access.MANAGER, by="test")
    con.close()


@pytest.fixture(scope="module")
def fleet(demo_db, provider, postgres, tmp_path_factory):
    """Two app processes in team mode on one demo file, its state in PostgreSQL, behind nginx;
    yields (nginx URL, the two servers)."""
    folder = tmp_path_factory.mktemp("nginx")
    ports = [load.free_port(), load.free_port()]
    nginx_port_folder = folder / "nginx"
    nginx_port_folder.mkdir()
    database = folder / "demo.duckdb"
    # As the README's app.env: one server cookie secret for every process (Streamlit takes it
    # from the environment only), and the state in PostgreSQL.
    env = {"STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_urlsafe(32),
           "SALES_STATE_URL": postgres.new_database()}
    shutil.copyfile(demo_db, database)
    _grant_manager(database)
    # The demo's state, with the grant, moves to PostgreSQL.
    subprocess.run([sys.executable, "-m", "sales", "state", "migrate", "--to",
                    env["SALES_STATE_URL"], "--db", str(database)], cwd=ROOT,
                   check=True, capture_output=True)
    with ExitStack() as stack:
        url = stack.enter_context(nginx_in_front(ports, nginx_port_folder))
        secrets_file = folder / "secrets.toml"
        # One [auth] for every process: the redirect comes back through nginx, and a browser
        # moved to the other process keeps a sign-in cookie that process can read.
        secrets_file.write_text(f"""[auth]
redirect_uri = "{url}/oauth2callback"
cookie_secret = "{secrets.token_urlsafe(32)}"
client_id = "sales-dashboard"
client_secret = "{secrets.token_urlsafe(16)}"
server_metadata_url = "{provider}/.well-known/openid-configuration"
""")
        options = ("--secrets.files", str(secrets_file))
        servers = [stack.enter_context(load.serving(database, port, options=options, env=env))
                   for port in ports]
        yield url, servers


def _served_by(url: str, route: str) -> int:
    """The app port nginx sends a browser with this route cookie to."""
    request = urllib.request.Request(f"{url}/_stcore/health",
                                     headers={"Cookie": f"{ROUTE}={route}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.headers["X-Upstream"].rsplit(":", 1)[1])


def _context_on(browser, url: str, port: int):
    """A browser context whose route cookie nginx hashes to the process on `port`."""
    for n in range(200):
        if _served_by(url, f"probe{n}") == port:
            context = browser.new_context()
            context.add_cookies([{"name": ROUTE, "value": f"probe{n}", "url": url}])
            return context
    raise AssertionError(f"no route cookie reaches port {port}")


def _port(server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def test_nginx_sets_a_route_cookie_and_keeps_to_it(fleet):
    url, servers = fleet
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as response:
        cookie, = (c for c in response.headers.get_all("Set-Cookie") if c.startswith(ROUTE))
    route = cookie.split(";")[0].split("=", 1)[1]
    assert "HttpOnly" in cookie and len(route) == 32  # nginx's request id
    # The same cookie, the same process, every time; and both processes get browsers.
    assert len({_served_by(url, route) for _ in range(5)}) == 1
    assert {_served_by(url, f"r{n}") for n in range(40)} == {_port(s) for s in servers}


def test_a_browser_keeps_its_process_and_moves_on_when_it_dies(fleet, browser):
    url, servers = fleet
    first, second = (_context_on(browser, url, _port(s)) for s in servers)
    page = signed_in(browser, url, MANAGER, context=first)
    wait_title(page, "Overview")
    other = signed_in(browser, url, MANAGER, context=second)
    wait_title(other, "Overview")
    _save_a_call(page)
    _see_the_call(other)
    servers[0].kill()
    # The open tab reconnects through nginx to the survivor, still signed in, and works.
    _open_after_reconnect(page, "In-blood call")
    response = page.reload()
    assert int(response.headers["x-upstream"].rsplit(":", 1)[1]) == _port(servers[1])
    wait_title(page, "In-blood call")
    assert page.get_by_role("button", name="Sign in").count() == 0
    _see_the_call(page)  # nothing saved was lost with the process
    first.close()
    second.close()


def _open_after_reconnect(page, title: str) -> None:
    """Open a page from the sidebar of a tab whose process just died. A click made before
    the tab has noticed and reconnected is lost with the old connection (as a person's would
    be); like them, click again."""
    lost = pytest.importorskip("playwright.sync_api").TimeoutError
    for _ in range(6):
        page.get_by_role("link", name=title).click(timeout=30_000)
        try:
            page.get_by_role("heading", name=title).wait_for(timeout=10_000)
            return
        except lost:
            page.get_by_role("link", name="Overview").click(timeout=30_000)
    raise AssertionError(f"the tab never showed {title!r} again after its process died")


def _save_a_call(page) -> None:
    page.get_by_role("link", name="In-blood call").click(timeout=60_000)
    wait_title(page, "In-blood call")
    page.get_by_role("textbox", name="Note").fill(NOTE, timeout=30_000)
    page.get_by_role("button", name="Save call").click(timeout=30_000)
    page.get_by_text("saved for").wait_for(timeout=30_000)


def _see_the_call(page) -> None:
    """The call saved with NOTE is in the page's call history (the grid draws on a canvas; its
    cells are in the page for screen readers)."""
    if "inblood" not in page.url:
        page.get_by_role("link", name="In-blood call").click(timeout=60_000)
        wait_title(page, "In-blood call")
    page.get_by_role("tab", name="Call history").click(timeout=30_000)
    page.locator('[role="gridcell"]', has_text=NOTE).first.wait_for(state="attached",
                                                                     timeout=30_000)

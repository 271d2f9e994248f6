"""Text from data and from users reads as text in the real browser: an owner named with
Markdown and a link, and a saved call whose name and note are Markdown, render literally with
no live link: a value from a CRM export must not become a phishing link on a shared screen."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.cases.hostile import HOSTILE
from tests.cases.hostile import build as build_hostile

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hostile_url(tmp_path_factory, serve):
    path = build_hostile(tmp_path_factory.mktemp("hostile"))
    with serve(path) as url:
        yield url


def _shown(locator) -> str:
    """The text a person reads (the word joiners that break up addresses are invisible)."""
    return locator.inner_text().replace("\u2060", "")


def _no_evil_link(page) -> None:
    assert page.locator('a[href*="evil.example"]').count() == 0
    assert page.locator("script:has-text('alert(1)')").count() == 0


def _read(browser, url: str, heading: str, starting: str) -> str:
    """The text a person reads in the first element starting with `starting`, on the page
    at `url` once its heading shows; checks that no hostile link or script made it in."""
    page = browser.new_page()
    page.goto(url)
    page.get_by_role("heading", name=heading).wait_for(timeout=60_000)
    element = page.get_by_text(starting).first
    element.wait_for(timeout=30_000)
    text = _shown(element)
    _no_evil_link(page)
    page.close()
    return text


def test_an_owner_filter_reads_as_text(hostile_url, browser):
    text = _read(browser, f"{hostile_url}/?owner={urllib.parse.quote(HOSTILE)}", "Overview",
                 "filters: owner:")
    assert f"owner: {HOSTILE}" in text


def test_a_saved_calls_name_and_note_read_as_text(hostile_url, browser):
    text = _read(browser, f"{hostile_url}/inblood", "In-blood call",
                 "Starting from the call saved")
    assert "[click me](https://evil.example)" in text
    assert "**urgent** <script>alert(1)</script>" in text

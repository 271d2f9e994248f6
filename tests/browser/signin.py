"""Signing in to the app in team mode through the local OpenID Connect provider (the
`provider` and `serve_team_mode` fixtures of this folder's conftest), and reading a page."""

from __future__ import annotations

import time


def signed_in(browser, url: str, email: str, context=None):
    """A fresh browser context (or `context`) signed in as `email` through the provider's
    form."""
    page = (context or browser.new_context()).new_page()
    page.goto(url)
    page.get_by_role("button", name="Sign in").click(timeout=60_000)
    page.locator('input[name="sub"]').fill(email, timeout=30_000)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{url}/**", timeout=30_000)
    return page


def wait_title(page, title: str) -> None:
    page.get_by_role("heading", name=title).wait_for(timeout=60_000)


def metric(page, label: str) -> str:
    deadline = time.monotonic() + 30
    tile = page.locator('[data-testid="stMetric"]', has_text=label).first
    while time.monotonic() < deadline:
        value = tile.locator('[data-testid="stMetricValue"]').all_inner_texts()
        if value and value[0].strip():
            return value[0].strip()
        page.wait_for_timeout(200)
    raise AssertionError(f"no tile {label!r}")

"""The forecast call and coverage pages in a real browser: they load through the app's
navigation, and clicking a waterfall bar lists that bar's deals."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_clicking_a_waterfall_bar_lists_its_deals(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(f"{app_url}/forecast_call")
    page.get_by_role("heading", name="Forecast movement").wait_for(timeout=60_000)
    chart = page.locator(".js-plotly-plot").first
    chart.wait_for(timeout=30_000)
    assert page.get_by_text("Won: ").count() == 0  # another bar is listed at first
    # The "Won" bar: the ninth of twelve (start, ten parts, end). Plotly takes the click on
    # its drag layer, so click where the bar is drawn.
    bar = chart.locator(".bars .point").nth(8)
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    # The bar's deals are listed under it, with its amount.
    page.get_by_text("Won: ").first.wait_for(timeout=30_000)
    page.close()


def test_coverage_page_loads_from_navigation(app_url, browser):
    page = browser.new_page()
    page.goto(app_url)
    page.get_by_role("link", name="Coverage").click()
    page.get_by_role("heading", name="Coverage by segment").wait_for(timeout=60_000)
    page.get_by_role("heading", name="Rep annual coverage", exact=False).wait_for(timeout=30_000)
    assert "/coverage" in page.url
    page.close()

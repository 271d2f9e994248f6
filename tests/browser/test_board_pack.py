"""The board pack's HTML export in a real browser with the network cut off: every section is
there and every chart draws (Plotly's JavaScript is inside the file)."""

from __future__ import annotations

import shutil

import pytest

from sales.cli import main
from tests.helpers import CHARTS

pytestmark = pytest.mark.browser
SECTIONS = {"the-call": "The call", "at-bats": "Enough at-bats?",
            "convincing-or-closing": "Convincing or closing?", "diagnosis": "The diagnosis",
            "track-record": "Track record"}


def test_the_html_export_opens_offline_with_every_section(demo_db, tmp_path, capsys,
                                                          browser):
    demo = tmp_path / "demo.duckdb"  # a copy: a page test in this process may hold the file
    shutil.copyfile(demo_db, demo)
    assert main(["board-pack", "--db", str(demo), "--period", "FY2026-Q4", "--out",
                 str(tmp_path), "--format", "html"]) == 0
    (html,) = capsys.readouterr().out.split()
    context = browser.new_context(offline=True)
    asked = []

    def only_the_file(route):
        asked.append(route.request.url)
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_the_file)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"file://{html}")
    for slug, title in SECTIONS.items():
        section = page.locator(f"section#{slug}")
        section.get_by_role("heading", name=title).wait_for(timeout=30_000)
        assert section.locator("footer").inner_text().startswith("FY2026-Q4")
    # Every chart drew its SVG: Plotly ran from the file itself.
    assert page.locator(".chart").count() == CHARTS
    page.wait_for_function("[...document.querySelectorAll('.chart')]"
                           ".every(chart => chart.querySelector('.js-plotly-plot .main-svg'))",
                           timeout=30_000)
    assert not errors, errors
    assert [url for url in asked if not url.startswith("file:")] == []
    context.close()

"""Importing through the Import page in a real browser: the upload is checked and imported by
the worker process that `streamlit run` starts, and the new deals show."""

from __future__ import annotations

import pytest

from sales.db import connect
from tests.helpers import FIXTURES

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def empty_app_url(tmp_path_factory, serve):
    path = tmp_path_factory.mktemp("browser-import") / "empty.duckdb"
    connect(path).close()
    with serve(path) as url:
        yield url, path


def test_upload_check_and_import(empty_app_url, browser):
    url, _ = empty_app_url
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(f"{url}/data_import")
    page.get_by_role("heading", name="Import data").wait_for(timeout=60_000)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(
        str(FIXTURES / "opportunities.csv"))
    page.get_by_text("Every check passed").wait_for(timeout=60_000)
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text("Imported (data version").wait_for(timeout=60_000)
    page.get_by_text("8 opportunities → the current deals").wait_for(timeout=30_000)
    page.close()

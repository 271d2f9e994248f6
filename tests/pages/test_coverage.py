"""The coverage page on the hand-computed fixture of test_coverage.py: what a manager reads."""

import pytest
from streamlit.testing.v1 import AppTest

from sales.coverage import IN_BAND, NO_TARGET, SHORT, WATCH
from tests.cases.coverage import build
from tests.helpers import ROOT, TIMEOUT

PAGE = str(ROOT / "pages/coverage.py")


@pytest.fixture
def page_db(tmp_path, monkeypatch):
    path = tmp_path / "coverage.duckdb"
    build(path)
    monkeypatch.setenv("SALES_DB", str(path))
    return path


def frame_with(at: AppTest, column: str):
    return next(df.value for df in at.dataframe if column in df.value.columns)


@pytest.mark.slow
def test_segments_against_their_lines(page_db):
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    segments = frame_with(at, "segment").set_index("segment")
    # Enterprise (500 + 200 + 400) / 1,000 = 1.1× against 3×; SMB 3.5× against 1 / 25% = 4×.
    assert segments.loc["Enterprise", "coverage"] == pytest.approx(1.1)
    assert (segments.loc["Enterprise", "required"], segments.loc["Enterprise", "health"]) \
        == (3.0, SHORT)
    assert (segments.loc["SMB", "coverage"], segments.loc["SMB", "required"]) == (3.5, 4.0)
    assert segments.loc["SMB", "health"] == WATCH
    text = " ".join(c.value for c in at.caption)
    # No deal in the fixture records when it was created, so none counts as new: E = 0.
    assert "Expected new pipeline (SMB $0)" in text and "SMB 25% → 4.0×" in text


def test_regions_owners_and_the_smb_month_view(page_db):
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    regions = frame_with(at, "region").set_index("region")
    assert regions.loc["AMER", "coverage"] == pytest.approx(1.0)  # (200 + 500 + 300) / 1,000
    assert regions.loc["APAC", "health"] == NO_TARGET
    at.radio(key="coverage_by").set_value("team").run()
    assert "team" in frame_with(at, "team").columns
    at.radio(key="smb_view").set_value("month").run()
    months = frame_with(at, "month").set_index("month")
    assert months["smb"].round(2).tolist() == [3.33, 1.67, 5.0]  # 100/30, 50/30, 200/40


def test_same_week_of_past_quarters_and_reps(page_db):
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    same = frame_with(at, "quarter").set_index("quarter")
    assert same.loc["FY2026-Q3", "coverage"] == pytest.approx(0.6)  # X3 Commit 600 / 1,000
    assert same.loc["FY2026-Q4", "coverage"] == pytest.approx(1550 / 1600)
    reps = frame_with(at, "open_pipeline").set_index("owner")
    assert reps.loc["Ann", "coverage"] == pytest.approx(2.6) and reps.loc["Ann", "health"] == IN_BAND

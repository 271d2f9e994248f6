"""The SMB forecast page on the hand-computed fixture of test_smb.py: what a manager reads."""

import pytest

from tests.cases.smb import build
from tests.helpers import add_target, run_page, tiles


@pytest.fixture
def page_db(tmp_path):
    path = tmp_path / "smb.duckdb"
    con = build(path)
    add_target(con, "FY2026-Q4", "segment", "SMB", 2000)
    con.close()
    return path


def test_the_forecast_its_terms_and_the_comparison(page_db, monkeypatch):
    at = run_page("smb_forecast.py", page_db, monkeypatch)
    shown = tiles(at)
    # 700 + 0.4 × 1,000 + 0 × 500 + 1.0 × 200 + 0.75 × 400 = 1,600 against the SMB target 2,000.
    assert shown["Weighted forecast"] == ("$1.6K", "80% of target")
    assert shown["Target"] == ("$2.0K", "gap $400")
    # In-blood by the default rules: Closed 700 + Commit 1,000 = 1,700.
    assert shown["In-blood number"][0] == "$1.7K"
    terms = next(t.value for t in at.dataframe if "term" in t.value.columns).set_index("term")
    assert terms.loc["Commit", "rate"] == pytest.approx(0.4)
    assert terms.loc["New pipeline", "amount"] == 400
    history = next(t.value for t in at.dataframe if "period" in t.value.columns)
    assert history["used"].tolist() == [False, True]  # FY2026-Q2 skipped, FY2026-Q3 read
    # No submissions: the in-blood number stands in; 1,700 / 1,600 = 106%, inside the bands.
    assert any("in-blood number stands in" in c.value for c in at.caption)
    assert shown["Bottom-up: In-blood number"] == ("$1.7K", "106% of top-down")
    assert any("agree within the bands 85% – 115%" in s.value for s in at.success)


def test_a_view_without_an_smb_segment_says_so(page_db, monkeypatch):
    at = run_page("smb_forecast.py", page_db, monkeypatch, segment=["Enterprise"])
    assert any("forecast with the SMB method" in i.value for i in at.info)
    assert not at.metric

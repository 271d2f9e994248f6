"""Coverage by dimension, the SMB method, the same-week trend, rep annual coverage and the SMB
month view, on a hand-computed fixture (arithmetic in the comments)."""

from dataclasses import replace

import pandas as pd
import pytest

from sales.coverage import (
    COMFORTABLE,
    ENTERPRISE_METHOD,
    HEALTHY,
    IN_BAND,
    NO_QUOTA,
    NO_TARGET,
    SHORT,
    SMB_METHOD,
    THIN,
    WATCH,
    coverage_by,
    coverage_trend,
    health,
    rep_annual_coverage,
    same_week,
    smb_monthly,
)
from sales.db import connect
from sales.periods import parse_period
from sales.settings import load_settings
from sales.smb import smb_segments
from sales.view import Filters, View
from tests.cases.coverage import NOW, build
from tests.helpers import d, private_copy

Q4 = parse_period("FY2026-Q4")  # 2026-10-01 … 2026-12-31; as of 2026-11-20 → 50 days in





@pytest.fixture
def con(tmp_path):
    build(tmp_path / "coverage.duckdb")
    con = connect(tmp_path / "coverage.duckdb")
    yield con
    con.close()


def view(**filters) -> View:
    return View(Q4, NOW, Filters.of(**filters))


def test_health_levels():
    assert health(3.0, 3.0) == HEALTHY
    assert health(2.4, 3.0) == WATCH  # within 80% of the required 3×
    assert health(2.39, 3.0) == SHORT
    assert health(None, 3.0) == health(1.0, None) == NO_TARGET


def test_coverage_by_segment_enterprise_and_smb_methods(con):
    settings = load_settings(con)
    assert smb_segments(settings) == ("SMB",)
    rows = coverage_by(con, view(), "segment", settings).set_index("segment")
    ent, mid, smb = rows.loc["Enterprise"], rows.loc["Mid-Market"], rows.loc["SMB"]
    # Enterprise: (Closed 200 + Commit 500 + Best Case 400) / 1,000 = 1.1× (Pipeline 900 left
    # out); remaining (500 + 400) / (1,000 − 200) = 1.125×; short of 3× (below 2.4×).
    assert (ent.method, ent.enterprise, ent.remaining) == (ENTERPRISE_METHOD, 1.1, 1.125)
    assert (ent.required, ent.coverage, ent.health) == (3.0, 1.1, SHORT)
    # Mid-Market: Commit 300 / 500 = 0.6×.
    assert (mid.enterprise, mid.health) == (pytest.approx(0.6), SHORT)
    # SMB: (Closed 100 + Commit 50 + Pipeline 200) / 100 = 3.5×. Trailing close rate: SW1 won,
    # SL1 and SL2 no decision, SL3 to Acme → 1 / 4 = 25% → required 4×; 3.5 ≥ 0.8 × 4 → watch.
    assert (smb.method, smb.smb, smb.close_rate, smb.required) == (SMB_METHOD, 3.5, 0.25, 4.0)
    assert (smb.coverage, smb.health) == (3.5, WATCH)


def test_coverage_by_region_team_owner(con):
    settings = load_settings(con)
    rows = coverage_by(con, view(), "region", settings).set_index("region")
    # AMER: (E1 200 + E2 500 + M1 300) / 1,000 = 1.0×; EMEA: E3 400 / 500 = 0.8×; APAC has no
    # target.
    assert rows.loc["AMER", "coverage"] == pytest.approx(1.0)
    assert rows.loc["EMEA", "coverage"] == pytest.approx(0.8)
    assert rows.loc["APAC", "health"] == NO_TARGET and pd.isna(rows.loc["APAC", "coverage"])
    # Cut by segment too: region targets no longer fit the view.
    cut = coverage_by(con, view(segment="Enterprise"), "region", settings)
    assert cut["target"].isna().all() and set(cut["health"]) == {NO_TARGET}
    # A view cut to SMB segments uses the SMB method: all pipeline against 1 / close rate.
    smb = coverage_by(con, view(segment="SMB"), "owner", settings)
    assert smb["method"].tolist() == [SMB_METHOD] and smb["required"].tolist() == [4.0]
    with pytest.raises(ValueError):
        coverage_by(con, view(), "stage", settings)


def test_trend_against_the_same_week_of_past_quarters(con):
    trend = coverage_trend(con, view(), load_settings(con))
    assert list(dict.fromkeys(trend["quarter"])) == ["FY2025-Q4", "FY2026-Q1", "FY2026-Q2",
                                                      "FY2026-Q3", "FY2026-Q4"]
    now = trend[trend["current"]]
    # This quarter stops at as-of: 50 days in (weekly points 0 … 49, then 50).
    assert now["offset_days"].max() == 50 and now["day"].max() == NOW
    at = same_week(trend).set_index("quarter")
    # FY2026-Q4 on 2026-11-20: Closed 300 + Commit 850 + Best Case 400 = 1,550 / 1,600.
    assert at.loc["FY2026-Q4", "forecastable"] == 1550
    assert at.loc["FY2026-Q4", "coverage"] == pytest.approx(1550 / 1600)
    # FY2026-Q3, 50 days in = 2026-08-20: the 2026-08-01 snapshot had X3 in Commit at 600
    # (Y3 was Pipeline, left out) → 600 / 1,000.
    assert at.loc["FY2026-Q3", "day"] == d("2026-08-20")
    assert at.loc["FY2026-Q3", "coverage"] == pytest.approx(0.6)
    # Before the first snapshot nothing existed; older quarters have no target.
    q3 = trend[trend["quarter"] == "FY2026-Q3"].set_index("offset_days")
    assert q3.loc[0, "forecastable"] == 0 and q3.loc[91, "forecastable"] == 600
    assert pd.isna(at.loc["FY2026-Q1", "coverage"])


def test_rep_annual_coverage(con):
    reps = rep_annual_coverage(con, view(), load_settings(con)).set_index("owner")
    # Ann, FY2026: won E1 200 + X3 600 = 800; open E2 500 + E3 400 + E4 900 = 1,800; quota
    # 4 × 250 = 1,000 → 2.6×, inside the 2.5–3× band.
    ann = reps.loc["Ann"]
    assert (ann.closed_won, ann.open_pipeline, ann.quota) == (800, 1800, 1000)
    assert (ann.coverage, ann.health) == (pytest.approx(2.6), IN_BAND)
    # Bob has targets for three quarters only: no annual quota.
    assert reps.loc["Bob", "health"] == NO_QUOTA and reps.loc["Bob", "closed_won"] == 200
    low = rep_annual_coverage(con, view(), replace(load_settings(con), rep_coverage_low=2.7))
    assert low.set_index("owner").loc["Ann", "health"] == THIN
    high = rep_annual_coverage(con, view(), replace(load_settings(con), rep_coverage_high=2.6))
    assert high.set_index("owner").loc["Ann", "health"] == COMFORTABLE


def test_smb_month_by_month(con):
    months = smb_monthly(con, view(), load_settings(con)).set_index("month")
    # October: SC won 100 / 30; November: S3 Commit 50 / 30; December: S2 Pipeline 200 / 40.
    assert months["smb"].round(4).to_dict() == {"FY2026-M10": 3.3333, "FY2026-M11": 1.6667,
                                                "FY2026-M12": 5.0}
    # Against 1 / 25% = 4×: 3.33 ≥ 3.2 watch, 1.67 short, 5.0 healthy.
    assert months["health"].tolist() == [WATCH, SHORT, HEALTHY]
    assert smb_monthly(con, view(segment="Enterprise"), load_settings(con)).empty


def test_held_trend_events_serve_every_filter(demo_db, tmp_path):
    # The Coverage page holds the filter-free events per data version and quarters and filters
    # them per view: the trend must equal reading the history for the view itself.
    from sales.coverage import trend_events, trend_quarters
    from sales.query import default_as_of

    con = private_copy(demo_db, tmp_path)
    settings = load_settings(con)
    as_of = default_as_of(con)
    period = parse_period("FY2026-Q4")
    quarters = trend_quarters(View(period, as_of))
    held = trend_events(con, quarters[0].start, quarters[-1].end, period.fy_start_month)
    owner = con.execute("select owner from opportunities order by amount desc limit 1").fetchone()[0]
    for filters in (Filters(), Filters.of(segment="SMB"), Filters.of(region="EMEA", type="Renewal"),
                    Filters.of(owner=owner), Filters.of(channel="Partner")):
        v = View(period, as_of, filters)
        fresh = coverage_trend(con, v, settings)
        assert fresh["forecastable"].sum() > 0
        pd.testing.assert_frame_equal(coverage_trend(con, v, settings, events=held), fresh)
    con.close()

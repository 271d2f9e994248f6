"""The Forecast accuracy page: what a user sees on the demo, through a segment filter, with
nothing closed to judge by, and the way there from the In-blood page."""

from __future__ import annotations

from sales import backtest as bt
from sales.db import connect
from sales.settings import load_settings
from sales.view import Filters
from tests.helpers import run_page, tiles


def test_the_demo_shows_every_method_and_who_wins(demo_db, monkeypatch):
    at = run_page("forecast_accuracy.py", demo_db, monkeypatch)
    assert at.title[0].value == "Forecast accuracy"
    sentence = at.info[0].value
    # One clause per segment of the demo.
    assert sentence.startswith("For Enterprise the ") and "; for SMB the " in sentence
    shown = tiles(at)
    assert set(shown) == {"Closest method", "Its average error", "Within 10% from"}
    assert shown["Closest method"][0] in bt.METHOD_LABELS.values()
    assert shown["Its average error"][0].endswith("%")
    charts = at.get("plotly_chart")
    assert len(charts) == 2
    # The table: every method at every week of the four quarters.
    frame = at.dataframe[0].value
    # the projection trains a model per period: only when the toggle asks for it
    assert set(frame["method"]) == set(bt.METHODS) - {bt.PROJECTION}
    assert frame["period"].nunique() == 4
    # Then who calls it right: the demo's reps and managers have called every week.
    assert [b.label for b in at.get("download_button")] == ["Download CSV", "Download XLSX",
                                                            "Download CSV"]
    people = at.dataframe[1].value
    assert set(people["role"]) == {"rep", "manager"}
    assert people["adjustment_helped"].notna().any()


def test_the_page_tiles_are_the_backtests(demo_db, monkeypatch):
    at = run_page("forecast_accuracy.py", demo_db, monkeypatch, segment=["SMB"])
    con = connect(demo_db)
    try:
        settings = load_settings(con)
        as_of = bt.snapshot_dates_of(con)[-1]
        result = bt.backtest(con, bt.default_periods(as_of, 1), as_of,
                             Filters.of(segment="SMB"), settings, projection=False)
    finally:
        con.close()
    method, mae = bt.winner(result)
    assert tiles(at)["Closest method"][0] == bt.METHOD_LABELS[method]
    assert tiles(at)["Its average error"][0] == f"{mae:.0%}"
    assert at.info[0].value.startswith("For SMB the ") and "Enterprise" not in at.info[0].value


def test_an_empty_database_says_how_to_get_data(empty_db, monkeypatch):
    at = run_page("forecast_accuracy.py", empty_db, monkeypatch)
    assert at.title[0].value == "Forecast accuracy"
    assert any("No opportunities in this database yet" in i.value for i in at.info)
    assert not at.metric and not at.get("plotly_chart") and not at.dataframe


def test_months_work_too(demo_db, monkeypatch):
    at = run_page("forecast_accuracy.py", demo_db, monkeypatch, accuracy_kind="M")
    assert at.dataframe[0].value["period"].str.contains("-M").all()


def test_no_history_inside_the_periods_says_what_to_do(seeded_path, monkeypatch):
    # The fixture's snapshots start 2026-11-13, after the four quarters replayed.
    at = run_page("forecast_accuracy.py", seeded_path, monkeypatch)
    assert any("No method had anything to forecast with during FY2025-Q4, FY2026-Q1, "
               "FY2026-Q2, FY2026-Q3" in i.value for i in at.info)
    assert not at.metric and not at.get("plotly_chart")


def test_nothing_closed_says_what_to_do(seeded_path, monkeypatch):
    # Cat's deals: no win in any of the four quarters (U1 unqualified in FY2026-Q2).
    at = run_page("forecast_accuracy.py", seeded_path, monkeypatch, owner=["Cat"])
    assert any("Nothing closed won in FY2025-Q4, FY2026-Q1, FY2026-Q2, FY2026-Q3 for this "
               "view" in i.value for i in at.info)
    assert not at.metric


def test_the_in_blood_accuracy_panel_links_here(demo_db, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.helpers import ROOT, TIMEOUT

    monkeypatch.setenv("SALES_DB", str(demo_db))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.switch_page("pages/inblood.py")
    at.session_state["inblood_tabs"] = "Accuracy of past calls"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    links = at.get("page_link")
    assert any("forecast_accuracy" in link.proto.page for link in links)

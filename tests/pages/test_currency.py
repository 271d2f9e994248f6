"""Which currency a screen shows: the corporate one by default, or a display currency picked in
the sidebar at the latest rate in force today (docs/data-model.md#currencies)."""

from __future__ import annotations

from datetime import date, timedelta

from streamlit.testing.v1 import AppTest

from sales.ingest import ImportRequest, read_bytes, run_import
from tests.helpers import ROOT, TIMEOUT, run_page, tiles

TODAY = date.today()
# EUR: 0.80 per USD in force today (a dated range holding today), 0.50 static (not used);
# deal A: €80,000 closing in 30 days → $100,000; deal B: $30,000.
RATES = (f"iso_code,start_date,rate\nEUR,,0.50\nEUR,{TODAY - timedelta(days=400)},0.80\n"
         ).encode()
EXPORT = (f"Opportunity ID,Stage,Forecast Category,Amount,Opportunity Currency,Close Date,"
          f"Opportunity Owner\nA,7-Closed Won,Closed,80000,EUR,{TODAY},Ann\n"
          f"B,7-Closed Won,Closed,30000,USD,{TODAY},Bob\n").encode()


def _database(tmp_path):
    db = tmp_path / "c.duckdb"
    for name, data in (("rates.csv", RATES), ("deals.csv", EXPORT)):
        run_import(db, ImportRequest([read_bytes(name, data)], as_of=TODAY))
    return db


def test_overview_in_the_corporate_then_a_display_currency(tmp_path, monkeypatch):
    db = _database(tmp_path)
    # Closed won: A $100,000 (€80,000 ÷ 0.80) + B $30,000 = $130,000
    shown = tiles(run_page("overview.py", db, monkeypatch))
    assert shown["Closed won"][0] == "$130.0K"
    # In EUR at today's rate (0.80 per USD): 130,000 × 0.80 = €104,000
    shown = tiles(run_page("overview.py", db, monkeypatch, display_currency="EUR"))
    assert shown["Closed won"][0] == "€104.0K"


def test_the_sidebar_says_the_currency_and_offers_the_others(tmp_path, monkeypatch):
    monkeypatch.setenv("SALES_DB", str(_database(tmp_path)))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.sidebar.selectbox(key="display_currency").options == ["USD", "EUR"]
    assert any("Amounts in USD, the corporate currency" in c.value for c in at.sidebar.caption)
    # (a fresh run with EUR picked: AppTest shows no sidebar on a rerun of the app)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.session_state["display_currency"] = "EUR"
    at.run()
    assert not at.exception
    assert any("Amounts in EUR, converted from USD at today's rate: 1 USD = 0.8000 EUR"
               in c.value for c in at.sidebar.caption)
    assert at.metric[0].value == "€104.0K"

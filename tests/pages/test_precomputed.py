"""The pages of the default view read the intermediates an import or demo build stored in the
file: rendering them builds none, and after a later write they are built again."""

from __future__ import annotations

import functools
import shutil

import pytest
import streamlit as st

from sales import backtest, coverage, generated, leads, movement, slippage, team_rollup
from sales.db import connect, write_transaction
from tests.helpers import run_page
from ui import data

# Every build `sales.precomputed.defaults` stores, where `ui.data` calls it from.
_BUILDS = [(movement, "changed_deals"), (slippage, "open_deal_facts"),
           (generated, "first_qualified"), (team_rollup, "amounts_cube"), (leads, "mql_leads"),
           (coverage, "trend_events"), (backtest, "cube")]
_PAGES = ["forecast_call.py", "forecast_accuracy.py", "coverage.py", "inblood.py", "rollup.py"]


@pytest.fixture
def built(monkeypatch):
    """The builds that ran, by name (each still runs: the spy keeps the name the stored
    tables are keyed by)."""
    ran: list[str] = []
    for module, name in _BUILDS:
        original = getattr(module, name)

        @functools.wraps(original)
        def spy(*args, _original=original, **kwargs):
            ran.append(_original.__qualname__)
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)
    st.cache_data.clear()
    data.clear_held()
    yield ran
    st.cache_data.clear()
    data.clear_held()


def test_the_default_view_builds_nothing_stored(demo_db, tmp_path, monkeypatch, built):
    path = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_db, path)
    for page in _PAGES:
        run_page(page, path, monkeypatch)
    assert built == []


def test_after_a_write_the_pages_build_them_again(demo_db, tmp_path, monkeypatch, built):
    path = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_db, path)
    con = connect(path)
    with write_transaction(con):  # the data version moves on: the stored ones no longer answer
        pass
    con.close()
    run_page("forecast_accuracy.py", path, monkeypatch)
    run_page("forecast_call.py", path, monkeypatch)
    assert {"cube", "changed_deals", "open_deal_facts", "mql_leads", "amounts_cube"} <= set(built)

"""One DuckDB connection per process, the current view, and caches keyed by data version."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import duckdb
import streamlit as st

from sales.db import connect, data_version, db_path, is_empty
from sales.periods import QUARTER, parse_period, period_containing
from sales.query import FILTER_COLUMNS, Filters, default_as_of
from sales.settings import load_settings
from sales.view import View

# First-run demo size: big enough for every page to show something true, small enough to
# build in a few seconds on a laptop.
FIRST_RUN_DEMO_OPPORTUNITIES = 20_000
_build_lock = threading.Lock()


def database_path() -> str:
    return str(db_path().resolve())


@st.cache_resource(show_spinner=False)
def _connection(path: str) -> duckdb.DuckDBPyConnection:
    return connect(path)


def connection() -> duckdb.DuckDBPyConnection:
    """The process-wide connection; callers take a `.cursor()` per query or thread."""
    return _connection(database_path())


def cursor() -> duckdb.DuckDBPyConnection:
    return connection().cursor()


def ensure_database() -> None:
    """First run: no database file yet → build the demo there, showing progress."""
    path = Path(database_path())
    if path.exists():
        return
    with _build_lock:
        if path.exists():  # another session built it while we waited
            return
        from sales.demo import build_demo

        with st.status("First run: building the demo database…", expanded=True) as status:
            bar = st.progress(0.0, text="Starting")
            build_demo(path, opportunities=FIRST_RUN_DEMO_OPPORTUNITIES,
                       progress=lambda fraction, message: bar.progress(fraction, text=message))
            status.update(label=f"Demo database ready at {path}", state="complete",
                          expanded=False)


def version() -> int:
    """The data version; every cached query takes it as an argument so new data shows."""
    return data_version(cursor())


@st.cache_data(show_spinner=False, max_entries=32)
def settings(path: str, data_version: int) -> dict[str, object]:
    return load_settings(_connection(path).cursor())


@st.cache_data(show_spinner=False, max_entries=32)
def _empty(path: str, data_version: int) -> bool:
    return is_empty(_connection(path).cursor())


def database_is_empty() -> bool:
    return _empty(database_path(), version())


@st.cache_data(show_spinner=False, max_entries=32)
def _default_as_of(path: str, data_version: int) -> date:
    return default_as_of(_connection(path).cursor())


def fy_start_month() -> int:
    return int(settings(database_path(), version())["fiscal_year_start_month"])


def default_view_as_of() -> date:
    return _default_as_of(database_path(), version())


def current_view() -> View:
    """The view the sidebar selected; defaults when a page runs on its own."""
    as_of = st.session_state.get("as_of") or default_view_as_of()
    fy_start = fy_start_month()
    label = st.session_state.get("period")
    try:
        period = parse_period(label, fy_start) if label else period_containing(as_of, QUARTER, fy_start)
    except ValueError:
        period = period_containing(as_of, QUARTER, fy_start)
    filters = Filters.of(**{name: st.session_state.get(name) or () for name in FILTER_COLUMNS})
    return View(period, as_of, filters)

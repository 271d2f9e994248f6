"""One DuckDB connection per process, the current view, and caches keyed by data version.

Cached functions take the database path and data version as arguments (and ignore them in the
body): they are the cache key, so a new import or a saved setting misses every cache at once.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date
from pathlib import Path

import duckdb
import streamlit as st

from sales.currency import display_database, display_factor, load_rates
from sales.db import (
    connect,
    data_version,
    db_path,
    file_identity,
    file_lock,
    is_empty,
    private_copy,
    shared_store,
    upgrade_file,
    write_transaction,
)
from sales.periods import QUARTER, parse_period, period_containing
from sales.query import default_as_of
from sales.settings import Settings, load_settings
from sales.state.replica import Replica
from sales.view import FILTER_DIMENSIONS, Filters, View

# DuckDB's buffer pool otherwise grows towards 80% of the machine's memory; the app process
# must stay under 1.5 GB (docs/budgets.md#budgets) with Python, pandas and Streamlit on top of it.
APP_DUCKDB_MEMORY_LIMIT = "900MB"
# First-run demo size: big enough for every page to show something true, small enough to
# build in a few seconds on a laptop.
FIRST_RUN_DEMO_OPPORTUNITIES = 20_000
_build_lock = threading.Lock()
# With the state in PostgreSQL, how often a process asks whether another one wrote: a write
# shows everywhere within this and the catch-up (docs/budgets.md: within 1 s).
STATE_POLL_S = 0.25


def database_path() -> str:
    return _resolved(str(db_path()))


@functools.lru_cache(maxsize=8)
def _resolved(path: str) -> str:
    # Resolving walks every directory of the path (a system call each); the sidebar and every
    # cached question ask for the path, dozens of times a render, so it is resolved once.
    return str(Path(path).resolve())


class DatabaseHeld(Exception):
    """Another process holds the database file for writing (DuckDB allows one)."""


def _held_message(path: str, error: Exception) -> str:
    pid = re.search(r"PID (\d+)", str(error))
    holder = f" (process {pid.group(1)})" if pid else ""
    return (f"Another process{holder} holds the database file {path} for writing, and DuckDB "
            "lets one process write a file. Stop the other app server or program using it, or "
            "point this one at another file with SALES_DB. The README's \"Scaling\" section "
            "says how to serve more people from one database.")


class SharedConnection:
    """The process's one connection to the database file, reopened when an import swaps a new
    file into place. Queries run inside `reading()`, which hands out a cursor and keeps the
    connection from being swapped underneath them."""

    def __init__(self, path: str) -> None:
        self.path = path
        # With the state in PostgreSQL: the file read-only beside PostgreSQL's state
        # (sales.state.replica); None when the state lives in the file.
        self.store = shared_store()
        self.replica: Replica | None = None
        self._polled = 0.0
        self._changed = threading.Condition()
        self._readers = 0
        self.writes = 0  # odd while a write is under way; moves on when one starts or ends
        self._open()

    def _open(self) -> None:
        self.identity = file_identity(self.path)
        if self.store is not None:
            self._open_replica()
            return
        try:
            self.con = connect(self.path)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower():
                raise
            raise DatabaseHeld(_held_message(self.path, error)) from None
        self.con.execute(f"set memory_limit = '{APP_DUCKDB_MEMORY_LIMIT}'")  # a constant
        self.known_version: int | None = None

    def _open_replica(self) -> None:
        if self.replica is None:
            upgrade_file(self.path)
            self.replica = Replica(self.path, self.store)
            self.con = self.replica.con
            self.con.execute(f"set memory_limit = '{APP_DUCKDB_MEMORY_LIMIT}'")  # a constant
        else:
            with self.replica.lock:  # not beside a catch-up's transaction
                self.replica.attach()  # the new file; the state tables stay, at their version
        self.known_version = None

    def state_version(self) -> int:
        """PostgreSQL's state version as this process holds it, looked up at most every
        STATE_POLL_S (a render asks dozens of times); a newer one is brought in first."""
        now = time.monotonic()
        if now - self._polled >= STATE_POLL_S:
            self._polled = now
            if self.store.poll_version() != self.replica.state_version:
                self.replica.refresh()
        return self.replica.state_version

    def version(self) -> int | tuple[int, int]:
        """What caches key on: the data version, and with the state in PostgreSQL the state
        version too."""
        if self.replica is None:
            return self.data_version()
        return self.data_version(), self.state_version()

    def data_version(self) -> int:
        """The data version. It changes only by a write through this connection (which forgets
        it, see `writing`) or by an import swapping a new file in (which reopens): while the
        file is the same, the version read once holds, and a page's dozen queries skip a
        dozen lookups."""
        if file_identity(self.path) == self.identity and self.known_version is not None:
            return self.known_version
        writes = self.writes
        with self.reading() as cur:
            found = data_version(cur)
        if writes == self.writes and writes % 2 == 0:  # no write began or ended meanwhile
            self.known_version = found
        return found

    def _reopen_if_swapped(self) -> None:
        if file_identity(self.path) == self.identity:
            return
        with self._changed:
            self._changed.wait_for(lambda: self._readers == 0)
            if file_identity(self.path) != self.identity:
                if self.replica is None:
                    self.con.close()
                self._open()

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self._reopen_if_swapped()
        with self._changed:
            self._readers += 1
        cur = self.con.cursor()
        try:
            yield cur
        finally:
            cur.close()
            with self._changed:
                self._readers -= 1
                self._changed.notify_all()


@st.cache_resource(show_spinner=False)
def _shared(path: str) -> SharedConnection:
    return SharedConnection(path)


def reading() -> AbstractContextManager[duckdb.DuckDBPyConnection]:
    """A cursor on the current database file for the duration of a query; with a display
    currency picked in the sidebar, on the file's amounts in that currency."""
    code = display_currency()
    if code:
        return _display_reading(code)
    return _shared(database_path()).reading()


# The sidebar's display currency (session state; a query parameter like the filters).
DISPLAY_KEY = "display_currency"


def display_currency() -> str | None:
    """The display currency this session picked, None for the corporate currency."""
    code = st.session_state.get(DISPLAY_KEY)
    if not code:
        return None
    shared = _shared(database_path())
    if code == settings(database_path(), shared.version()).corporate_currency:
        return None
    return code


def cache_path() -> str:
    """What cached answers are keyed by: the database, and the display currency when one is
    picked (its amounts differ)."""
    code = display_currency()
    return database_path() + (f"#{code}" if code else "")


@contextmanager
def _display_reading(code: str) -> Iterator[duckdb.DuckDBPyConnection]:
    cur = _display(database_path(), version(), code, date.today()).cursor()
    try:
        yield cur
    finally:
        cur.close()


@st.cache_resource(show_spinner="Converting every amount to the display currency…",
                   max_entries=4)
def _display(path: str, data_version: int, code: str, today: date) -> duckdb.DuckDBPyConnection:
    """The database with every amount in `code` at the latest rate in force `today`
    (`sales.currency.display_database`, over a private copy of this data version)."""
    shared = _shared(path)
    with shared.reading() as cur:
        factor = display_factor(cur, code, today)
        if shared.replica is not None:  # the file is only read here: no copy needed
            return display_database(path, factor, state=cur)
    return display_database(str(private_copy(path)), factor)


@st.cache_data(show_spinner=False, max_entries=32)
def display_choices(path: str, data_version: int) -> tuple[str, dict[str, float]]:
    """The corporate currency and every currency with a rate, each with its latest rate in
    force today (units per corporate unit), for the sidebar."""
    with _shared(path).reading() as cur:
        corporate = load_settings(cur).corporate_currency
        table = load_rates(cur)
    today = date.today()
    return corporate, {code: float(table.rate(code, corporate, today))
                       for code in table.codes()
                       if code != corporate and table.rate(code, corporate, today)}


@contextmanager
def writing() -> Iterator[duckdb.DuckDBPyConnection]:
    """One all-or-nothing write from the app: under the file lock (so it never interleaves with
    an import), bumping the data version, and checkpointed so other processes can copy the file."""
    shared = _shared(database_path())
    if shared.replica is not None:
        # The state in PostgreSQL: queued behind other processes' writers there; the file is
        # never written while serving.
        with shared.reading(), shared.replica.writing() as tx:
            yield tx
        shared._polled = 0.0  # look again at once: this write moved the state on
        return
    with file_lock(shared.path), shared.reading() as cur:
        shared.writes += 1
        shared.known_version = None
        try:
            with write_transaction(cur) as tx:
                yield tx
            cur.execute("checkpoint")
        finally:
            shared.writes += 1
            shared.known_version = None  # read again: this write moved it on


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
            build_demo(path, opportunities=FIRST_RUN_DEMO_OPPORTUNITIES, by="the app's first run",
                       progress=lambda fraction, message: bar.progress(fraction, text=message))
            status.update(label=f"Demo database ready at {path}", state="complete",
                          expanded=False)


def version() -> int | tuple[int, int]:
    """The data version (and the shared state's version when it lives in PostgreSQL); every
    cached query takes it as an argument so new data and every saved change show."""
    return _shared(database_path()).version()


def held_state_version() -> int | None:
    """The shared state's version this process holds (no lookup), None in embedded mode."""
    replica = _shared(database_path()).replica
    return None if replica is None else replica.state_version


@st.cache_data(show_spinner=False, max_entries=32)
def settings(path: str, data_version: int) -> Settings:
    with _shared(path).reading() as cur:
        return load_settings(cur)


@st.cache_data(show_spinner=False, max_entries=32)
def _empty(path: str, data_version: int) -> bool:
    with reading() as cur:
        return is_empty(cur)


def database_is_empty() -> bool:
    return _empty(database_path(), version())


@st.cache_data(show_spinner=False, max_entries=32)
def _default_as_of(path: str, data_version: int) -> date:
    with reading() as cur:
        return default_as_of(cur)


def fy_start_month() -> int:
    return settings(database_path(), version()).fiscal_year_start_month


def default_view_as_of() -> date:
    return _default_as_of(database_path(), version())


def view_as_of() -> date:
    """The sidebar's as-of; the latest snapshot's day when a page runs on its own."""
    return st.session_state.get("as_of") or default_view_as_of()


def current_view(scope: Filters = Filters()) -> View:
    """The view the sidebar selected, within the session's scope (`ui.auth.Identity.scope`); defaults
    when a page runs on its own."""
    as_of = view_as_of()
    fy_start = fy_start_month()
    label = st.session_state.get("period")
    try:
        period = parse_period(label, fy_start) if label else period_containing(as_of, QUARTER, fy_start)
    except ValueError:
        period = period_containing(as_of, QUARTER, fy_start)
    filters = Filters.of(**{name: st.session_state.get(name) or () for name in FILTER_DIMENSIONS})
    return View(period, as_of, filters, scope)

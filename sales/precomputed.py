"""The default view's filter-free intermediates, built once per data version into the file.

The app holds a few filter-free intermediates per data version (the MQL leads, the changed
deals between two calls, the facts about open deals, the backtest cube...: see `ui.data`) and
filters them for each view. Built from the history they take seconds at 1,000,000
opportunities, so the first render of a page in every app process paid for them. An import, a
CRM sync and a demo build (which write a new file anyway) now build the ones the default view
asks for — as-of the latest snapshot, its quarter, the default last call, the backtest's
quarters and months — into the file, and a process reads them back in milliseconds.

Each is a table `precomputed_<n>`, listed in `precomputed` with the key it answers (the build
function and its arguments) and the data version it was built at. Any later write (a saved
call, an edited map) moves the data version on — or, with the state in PostgreSQL, the state
version (`sales.state.replica.mark_state_version`) — and the stored tables stop answering: a
stored table never answers for data or state it was not built from. They are derived data: `refresh`
drops and rebuilds them all, and the display-currency copy does not carry them (their amounts
are in the corporate currency).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing

import duckdb
import pyarrow as pa

from sales import (
    backtest,
    callprep,
    coverage,
    generated,
    lead_snapshots,
    leads,
    movement,
    team_rollup,
)
from sales.db import PRECOMPUTED, data_version, is_precomputed_table, transaction
from sales.periods import MONTH, QUARTER, period_containing
from sales.query import default_as_of, snapshot_on_or_before, state_key
from sales.settings import load_settings
from sales.slippage import open_deal_facts
from sales.state.replica import held_state_version
from sales.view import Filters, View

CATALOG = PRECOMPUTED  # also the prefix of the stored tables' names
Build = Callable[..., pa.Table]


def key(build: Build, args: tuple) -> str:
    """What a stored table answers: the build function and its arguments (dates, periods and
    numbers, whose reprs are stable)."""
    return f"{build.__module__}.{build.__qualname__}{args!r}"


def default_view(con: duckdb.DuckDBPyConnection) -> View:
    """The view a page opens on: as-of the latest snapshot, its quarter, no filter."""
    as_of = default_as_of(con)
    fy_start = load_settings(con).fiscal_year_start_month
    return View(period_containing(as_of, QUARTER, fy_start), as_of, Filters(), Filters())


def defaults(con: duckdb.DuckDBPyConnection) -> Iterator[tuple[Build, tuple]]:
    """The intermediates the default view's pages hold, with the arguments `ui.data` builds
    them with (a test renders those pages on stored tables and checks nothing is built)."""
    view = default_view(con)
    as_of, fy_start = view.as_of, view.period.fy_start_month
    since = callprep.default_last_call(con, as_of)
    win = movement.window(con, as_of, since)
    yield movement.changed_deals, (win.then_read, win.now_read)
    yield open_deal_facts, (snapshot_on_or_before(con, as_of), fy_start)
    yield generated.first_qualified, (generated.earliest_window(con, view, since), as_of)
    for day in (as_of, since) if since else (as_of,):  # the call's tiles: now, at the last call
        yield team_rollup.amounts_cube, (view.period, day)
    if leads.leads_loaded(con):
        yield leads.mql_leads, (lead_snapshots.lead_state_key(con, as_of), state_key(con, as_of))
    quarters = coverage.trend_quarters(view)
    yield coverage.trend_events, (quarters[0].start, quarters[-1].end, fy_start)
    count = load_settings(con).history_periods
    for kind in (QUARTER, MONTH):
        periods = tuple(backtest.default_periods(as_of, fy_start, kind))
        yield backtest.cube, (periods, as_of, count)


def refresh(con: duckdb.DuckDBPyConnection, progress: Callable[[str], None] | None = None
            ) -> int:
    """Drop every stored intermediate and build the default view's at the file's data
    version, in one transaction that leaves the data version as it is (they are derived from
    it, not a change to it). Returns how many were stored."""
    # Reads on cursors of their own (a build may leave a result unread on the one it is given);
    # the writes on one cursor, in one transaction.
    wanted = list(defaults(con.cursor()))
    version = data_version(con.cursor()), held_state_version(con.cursor())
    with closing(con.cursor()) as cur, transaction(cur):
        _drop_all(cur)
        cur.execute(f"""create table {CATALOG} (key varchar primary key,
                        data_version bigint not null, table_name varchar not null,
                        state_version bigint)""")
        for number, (build, args) in enumerate(wanted):
            if progress:
                progress(f"precomputing {build.__qualname__}")
            _store(cur, version, f"{CATALOG}_{number}", key(build, args),
                   build(con.cursor(), *args))
    return len(wanted)


def adopt(con: duckdb.DuckDBPyConnection, state_version: int) -> int:
    """The stored tables built with the state in the file answer at PostgreSQL's
    `state_version` from now on: `python -m sales state migrate` has just copied that very state
    there. Without this, a file whose state moved to PostgreSQL had no stored table answering
    until its next import (the Forecast call's first render: 2.7–3.1 s instead of 0.9 s at a
    million deals). They then answer with the state in PostgreSQL only: opened on its own,
    the file builds them at first render again until its next import. Returns how many were
    adopted (none without the catalog)."""
    with closing(con.cursor()) as cur, transaction(cur):
        try:
            return cur.execute(f"""update {CATALOG} set state_version = ?
                                   where state_version is null and data_version = ?""",  # noqa: S608
                               [state_version, data_version(cur)]).fetchone()[0]
        except duckdb.CatalogException:
            return 0


def _drop_all(cur: duckdb.DuckDBPyConnection) -> None:
    names = [r[0] for r in cur.execute(
        "select table_name from duckdb_tables() where database_name = current_database()"
    ).fetchall() if is_precomputed_table(r[0])]
    for name in names:  # our own names
        cur.execute(f'drop table "{name}"')


def _store(cur: duckdb.DuckDBPyConnection, version: tuple[int, int | None], name: str,
           answers: str,
           table: pa.Table) -> None:
    cur.register("precomputed_rows", table)
    try:
        cur.execute(f"create table {name} as select * from precomputed_rows")  # noqa: S608 - our name
    finally:
        cur.unregister("precomputed_rows")
    cur.execute(f"insert into {CATALOG} values (?, ?, ?, ?)",  # noqa: S608
                [answers, version[0], name, version[1]])


def load(con: duckdb.DuckDBPyConnection, build: Build, args: tuple) -> pa.Table | None:
    """The stored `build(con, *args)` when the file holds it for its current data version;
    None otherwise (never stored, another data version, or a file without the catalog)."""
    name = stored_table(con, build, args)
    if name is None:
        return None
    cur = con.cursor()
    try:
        return cur.sql(f'select * from "{name}"').to_arrow_table()  # noqa: S608
    except duckdb.CatalogException:
        return None
    finally:
        cur.close()


def stored_table(con: duckdb.DuckDBPyConnection, build: Build, args: tuple) -> str | None:
    """The name of the table holding `build(con, *args)` when the file stores it for its
    current data and state version (a caller may read it in place); None otherwise."""
    cur = con.cursor()
    try:
        rows = cur.execute(f"""select table_name from {CATALOG} where key = ?
                               and data_version = ?
                               and state_version is not distinct from ?""",  # noqa: S608
                           [key(build, args), data_version(cur),
                            held_state_version(cur)]).fetchall()
        return rows[0][0] if rows else None
    except duckdb.CatalogException:
        return None
    finally:
        cur.close()


def stored_keys(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Every stored key and the data version it was built at (empty without the catalog)."""
    try:
        return dict(con.cursor().execute(
            f"select key, data_version from {CATALOG}").fetchall())  # noqa: S608
    except duckdb.CatalogException:
        return {}


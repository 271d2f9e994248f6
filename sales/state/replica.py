"""A process's DuckDB view of one database file with the state from PostgreSQL: a `:memory:`
connection that ATTACHes the file read-only, names each analytical table by a view (so every
query's table names work unchanged) and holds the state tables as memory tables at a state
version, brought forward by PostgreSQL's change records."""

# Identifiers here are our own names, checked by `quoted`.
# ruff: noqa: S608
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import duckdb

from sales.db import bump_data_version, transaction
from sales.state import store as state_store
from sales.state.store import Store, apply_changes, load_tables, record_changes
from sales.state.tables import META_TABLE, STATE_TABLES, quoted, state_schema

ANALYTICAL = "analytical"  # the attached file's name inside the replica


class Replica:
    """The file (read-only) and PostgreSQL's state at `state_version`, in one connection."""

    def __init__(self, path: str | Path, store: Store) -> None:
        self.path = str(path)
        self.store = store
        # Changes to the memory state tables, one at a time (a catch-up or a write).
        self.lock = threading.Lock()
        self.con = duckdb.connect(":memory:")
        # Loading millions of decisions takes seconds: no progress bar on stdout (the command
        # line's JSON goes there).
        self.con.execute("set enable_progress_bar = false")
        schema = state_schema()
        for sequence, _, _ in schema.sequences:
            self.con.execute(f"create sequence {quoted(sequence)} start 1")
        for ddl in schema.ddl.values():
            self.con.execute(ddl)
        self.attach()
        with store.transaction(snapshot=True) as pg:
            self.state_version = state_store.state_version(pg)
            load_tables(pg, self.con)
        mark_state_version(self.con, self.state_version)

    def attach(self) -> None:
        """(Re)attach the file as it is now and name its analytical tables; call with no
        query running (the caller waits for its readers)."""
        attached = self.con.execute("select count(*) from duckdb_databases() "
                                    "where database_name = ?", [ANALYTICAL]).fetchone()[0]
        if attached:
            self.con.execute(f"detach {ANALYTICAL}")
        self.con.execute(f"attach {state_store._sql_string(self.path)} as {ANALYTICAL} "
                         "(read_only)")
        names = self.con.execute(
            "select table_name from duckdb_tables() where database_name = ? union "
            "select view_name from duckdb_views() where database_name = ? and not internal",
            [ANALYTICAL, ANALYTICAL]).fetchall()
        for (name,) in names:
            if name in STATE_TABLES or name == META_TABLE:
                continue
            try:
                table = quoted(name)
            except ValueError:
                continue  # not a name our schema gives: nothing of ours reads it
            self.con.execute(f"create or replace view {table} as "
                             f"select * from {ANALYTICAL}.{table}")
        # The file's versions, as a table of its own: a write's bookkeeping goes there.
        self.con.execute(f"create or replace table {META_TABLE} as "
                         f"select * from {ANALYTICAL}.{META_TABLE}")
        if hasattr(self, "state_version"):  # a re-attach: the state held stays as it was
            mark_state_version(self.con, self.state_version)

    def catch_up(self, pg, version: int) -> None:
        """Bring the state tables to `version` (call holding `lock`)."""
        if version == self.state_version:
            return
        with closing(self.con.cursor()) as cur, transaction(cur):
            if not apply_changes(pg, cur, self.state_version, version):
                load_tables(pg, cur)
            mark_state_version(cur, version)
        self.state_version = version

    def refresh(self, blocking: bool = False) -> bool:
        """Catch up with PostgreSQL's latest state; without `blocking`, give up at once when a
        write or another catch-up is under way (this render uses the version it has)."""
        if not self.lock.acquire(blocking):
            return False
        try:
            with self.store.transaction(snapshot=True) as pg:
                self.catch_up(pg, state_store.state_version(pg))
            return True
        finally:
            self.lock.release()

    @contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One all-or-nothing write of the shared state: queued behind every other writer
        (PostgreSQL's advisory lock), on the latest state, its changes recorded in PostgreSQL
        before this copy commits them."""
        with self.lock, self.store.transaction(lock=True) as pg:
            self.catch_up(pg, state_store.state_version(pg))
            with closing(self.con.cursor()) as tx, closing(self.con.cursor()) as before, \
                    transaction(tx):
                yield tx
                version = record_changes(pg, tx, before)
                if version is not None:
                    mark_state_version(tx, version)
                pg.commit()  # PostgreSQL first: this copy commits only what it holds
            if version is not None:
                self.state_version = version


def build_with_state(store: Store, con: duckdb.DuckDBPyConnection,
                     build: Callable[[duckdb.DuckDBPyConnection], object],
                     finish: Callable[[], None],
                     after: Callable[[duckdb.DuckDBPyConnection], object] | None = None
                     ) -> object:
    """`swap_in` with the state in PostgreSQL: the building file's state tables get
    PostgreSQL's rows first, `build` runs on them, what it changed goes to PostgreSQL, `finish`
    swaps the file in, and only then does PostgreSQL commit.

    If the process dies after the swap and before the commit, the new file is in place and
    PostgreSQL keeps the state as it was before the build (its changes to the state — an
    import's stage probabilities, its audit line — are lost, the file's copy of them is not
    read in this mode); the other order would leave the state naming an import whose data
    never arrived."""
    with store.transaction(lock=True) as pg:
        con.execute("set enable_progress_bar = false")
        with transaction(con):
            load_tables(pg, con)
        with closing(con.cursor()) as tx, closing(con.cursor()) as before, transaction(tx):
            result = build(tx)
            bump_data_version(tx)
            record_changes(pg, tx, before)
            # The state this file's derived tables (`after`) are built from.
            mark_state_version(tx, state_store.state_version(pg))
        if after is not None:  # on the committed copy, before anyone sees the file
            after(con)
        finish()
    return result


def mark_state_version(cur: duckdb.DuckDBPyConnection, version: int) -> None:
    """Write in `meta` the state version a connection holds (a replica) or a file's derived
    tables were built at (`sales.precomputed`, which answers only at that state version)."""
    cur.execute("delete from meta where key = 'state_version'")
    cur.execute("insert into meta values ('state_version', ?)", [str(version)])


def held_state_version(cur: duckdb.DuckDBPyConnection) -> int | None:
    """The state version `mark_state_version` wrote, None where none was (state in the file)."""
    row = cur.execute("select value from meta where key = 'state_version'").fetchone()
    return int(row[0]) if row else None


def open_replica(path: str | Path, store: Store) -> duckdb.DuckDBPyConnection:
    """A connection for the command line: the file read-only and PostgreSQL's state."""
    return Replica(path, store).con

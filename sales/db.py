"""Opening the database file, the data version, and write transactions."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from sales.schema import upgrade

DEFAULT_DB_PATH = "data/forecast.duckdb"
DB_ENV_VAR = "SALES_DB"


def db_path() -> Path:
    """Where the app's database lives: $SALES_DB, else data/forecast.duckdb."""
    return Path(os.environ.get(DB_ENV_VAR) or DEFAULT_DB_PATH)


def connect(path: str | os.PathLike, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) and upgrade a database file; ':memory:' works for tests."""
    if str(path) != ":memory:" and not read_only:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    if not read_only:
        upgrade(con)
    return con


def data_version(con: duckdb.DuckDBPyConnection) -> int:
    """A counter bumped by every write of data; caches key on it so sessions see new data."""
    row = con.execute("select value from meta where key = 'data_version'").fetchone()
    return int(row[0]) if row else 0


def bump_data_version(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "insert or replace into meta values ('data_version', ?)", [str(data_version(con) + 1)]
    )


@contextmanager
def write_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All-or-nothing write on a cursor of `con`; bumps the data version on commit."""
    cur = con.cursor()
    cur.execute("begin transaction")
    try:
        yield cur
        bump_data_version(cur)
        cur.execute("commit")
    except BaseException:
        cur.execute("rollback")
        raise
    finally:
        cur.close()


def is_empty(con: duckdb.DuckDBPyConnection) -> bool:
    """True when no opportunities are loaded (the app then shows how to import or build the demo)."""
    return con.cursor().execute("select count(*) from opportunities").fetchone()[0] == 0

"""The state tables in PostgreSQL: their schema (derived from ours), the state version, and
moving rows between PostgreSQL and DuckDB.

Rows travel as CSV through COPY on both sides (exact for every type we use; lists as
PostgreSQL arrays one way and JSON the other), never as formatted SQL. Every write records
what it changed per table in `<table>__changes` with the new state version, so another process
brings its copy up to date by applying the difference instead of reloading every table.
"""

# Identifiers in this module's SQL are our own table and column names, checked by `quoted`
# or `sql.Identifier`; values travel as CSV or bound parameters.
# ruff: noqa: S608
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import psycopg
from psycopg import sql

from sales.schema import MIGRATIONS, SCHEMA_VERSION, upgrade
from sales.state import redact, redact_text
from sales.state.tables import Column, StateSchema, quoted, state_schema

# Writers to the shared state queue on this advisory lock (a transaction-level one: it is let
# go by the commit or rollback, even when the process dies).
WRITE_LOCK_KEY = 725_2501
# Change records kept per table: a process further behind than this reloads the tables.
CHANGES_KEPT = 1000
_META = "sales_state_meta"
_VERSIONS = "sales_state_versions"


class StateStoreError(RuntimeError):
    """The shared state store cannot be used; the message is safe to show (no password)."""


def _ident(name: str) -> sql.Identifier:
    quoted(name)  # refuses anything but our own lower-case names
    return sql.Identifier(name)


def _changes(table: str) -> sql.Identifier:
    return _ident(f"{table}__changes")


def _columns(columns: tuple[Column, ...]) -> sql.Composed:
    return sql.SQL(", ").join(_ident(c.name) for c in columns)


class Store:
    """The state store at one URL. Connections are short-lived except the polling one."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._poller: psycopg.Connection | None = None
        self._ensured = False  # the store's tables exist at our schema version

    def __repr__(self) -> str:
        return f"Store({redact(self.url)})"

    def connect(self, autocommit: bool = False) -> psycopg.Connection:
        try:
            return psycopg.connect(self.url, autocommit=autocommit, connect_timeout=10)
        except psycopg.Error as error:
            raise StateStoreError(f"cannot reach the state store {redact(self.url)}: "
                                  f"{redact_text(_first_line(error), self.url)}") from None

    @contextmanager
    def transaction(self, lock: bool = False,
                    snapshot: bool = False) -> Iterator[psycopg.Connection]:
        """One PostgreSQL transaction on the current schema (created or upgraded first);
        `lock` queues it behind every other writer; `snapshot` reads every table as of one
        moment (repeatable read)."""
        if not self._ensured:
            # On a connection of its own: a snapshot taken before another process created
            # the tables would not see them.
            with self._refusing(), self.connect() as pg:
                ensure_schema(pg)
                pg.commit()
            self._ensured = True
        with self.connect() as pg:
            if snapshot:
                pg.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            try:
                if lock:
                    pg.execute("select pg_advisory_xact_lock(%s)", [WRITE_LOCK_KEY])
                yield pg
                pg.commit()
            except psycopg.Error as error:
                pg.rollback()
                raise self._refused(error) from None
            except BaseException:
                pg.rollback()
                raise

    def _refused(self, error: psycopg.Error) -> StateStoreError:
        return StateStoreError(f"the state store {redact(self.url)} refused: "
                               f"{redact_text(_first_line(error), self.url)}")

    @contextmanager
    def _refusing(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as error:
            raise self._refused(error) from None

    def poll_version(self) -> int:
        """The state version now, on a connection kept open for it (a polling read is one
        round trip of a fraction of a millisecond on a local network)."""
        for attempt in (0, 1):
            try:
                if self._poller is None or self._poller.closed:
                    self._poller = self.connect(autocommit=True)
                return state_version(self._poller)
            except psycopg.OperationalError:
                self._poller = None
                if attempt:
                    raise StateStoreError(f"lost the state store {redact(self.url)}") from None
        raise AssertionError("unreachable")


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def state_version(pg: psycopg.Connection) -> int:
    row = pg.execute(sql.SQL("select value from {} where key = 'state_version'").format(
        _ident(_META))).fetchone()
    return int(row[0]) if row else 0


def stored_schema_version(pg: psycopg.Connection) -> int | None:
    exists = pg.execute("select to_regclass(%s) is not null", [_META]).fetchone()[0]
    if not exists:
        return None
    row = pg.execute(sql.SQL("select value from {} where key = 'schema_version'").format(
        _ident(_META))).fetchone()
    return int(row[0]) if row else None


def ensure_schema(pg: psycopg.Connection) -> None:
    """Create the store's tables on first use, upgrade an older store (loading it into DuckDB
    at its version and running our later migrations), refuse a newer one."""
    version = stored_schema_version(pg)
    if version == SCHEMA_VERSION:
        return
    pg.execute("select pg_advisory_xact_lock(%s)", [WRITE_LOCK_KEY])
    version = stored_schema_version(pg)  # another process may have done it while we waited
    if version == SCHEMA_VERSION:
        return
    if version is not None and version > SCHEMA_VERSION:
        raise StateStoreError(
            f"the state store holds schema version {version}, newer than this code "
            f"({SCHEMA_VERSION}): upgrade the application before pointing it at this store")
    if version is None:
        _create(pg, state_schema(SCHEMA_VERSION))
        pg.execute(sql.SQL("insert into {} values ('schema_version', %s), "
                           "('state_version', '0')").format(_ident(_META)),
                   [str(SCHEMA_VERSION)])
        return
    older = duckdb.connect()
    upgrade(older, MIGRATIONS[:version])
    load_tables(pg, older, state_schema(version))
    upgrade(older)
    _drop(pg, state_schema(version))
    _create(pg, state_schema(SCHEMA_VERSION))
    pg.execute(sql.SQL("update {} set value = %s where key = 'schema_version'").format(
        _ident(_META)), [str(SCHEMA_VERSION)])
    replace_all(pg, older)
    older.close()


def _create(pg: psycopg.Connection, schema: StateSchema) -> None:
    pg.execute(sql.SQL("create table if not exists {} (key text primary key, value text not null)")
               .format(_ident(_META)))
    pg.execute(sql.SQL("create table if not exists {} (state_version bigint primary key, "
                       "tables text[] not null, everything boolean not null default false, "
                       "written_at timestamptz not null default now())").format(_ident(_VERSIONS)))
    for table, columns in schema.columns.items():
        defs = sql.SQL(", ").join(sql.SQL("{} {}").format(_ident(c.name), sql.SQL(c.pg_type))
                                  for c in columns)
        pg.execute(sql.SQL("create table {} ({})").format(_ident(table), defs))
        pg.execute(sql.SQL("create table {} ({}, _change smallint not null, "
                           "_version bigint not null)").format(_changes(table), defs))
        pg.execute(sql.SQL("create index on {} (_version)").format(_changes(table)))


def _drop(pg: psycopg.Connection, schema: StateSchema) -> None:
    for table in schema.columns:
        pg.execute(sql.SQL("drop table if exists {}, {}").format(_ident(table), _changes(table)))


# --- moving rows -------------------------------------------------------------------------------

def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _pg_out(columns: tuple[Column, ...]) -> sql.Composed:
    """PostgreSQL's select list for CSV that DuckDB reads back exactly (arrays as JSON)."""
    return sql.SQL(", ").join(
        sql.SQL("to_json({})").format(_ident(c.name)) if c.is_list else _ident(c.name)
        for c in columns)


def _duck_out(columns: tuple[Column, ...], prefix: str = "") -> str:
    """DuckDB's select list for CSV that PostgreSQL reads back exactly (lists as array text)."""
    parts = []
    for c in columns:
        name = prefix + quoted(c.name)
        if c.is_list:
            element = "'\"' || replace(replace(x, '\\', '\\\\'), '\"', '\\\"') || '\"'"
            parts.append(f"case when {name} is null then null else '{{' || "
                         f"coalesce(array_to_string(list_transform({name}, lambda x: {element}), ','),"
                         f" '') || '}}' end")
        else:
            parts.append(name)
    return ", ".join(parts)


def _duck_read(columns: tuple[Column, ...], path: Path, extra: tuple[str, ...] = ()) -> str:
    """DuckDB's select of a CSV file PostgreSQL wrote (`extra`: trailing integer columns)."""
    types = [(c.name, "VARCHAR" if c.is_list else c.duckdb_type) for c in columns]
    types += [(name, "BIGINT") for name in extra]
    spec = ", ".join(f"{_sql_string(name)}: {_sql_string(kind)}" for name, kind in types)
    select = ", ".join(f"{quoted(c.name)}::json::varchar[] as {quoted(c.name)}" if c.is_list
                       else quoted(c.name) for c in columns)
    select += "".join(f", {quoted(name)}" for name in extra)
    return (f"select {select} from read_csv({_sql_string(str(path))}, columns = {{{spec}}}, "
            "header = false, auto_detect = false, allow_quoted_nulls = false)")


def _copy_out(pg: psycopg.Connection, query: sql.Composable, path: Path) -> None:
    statement = sql.SQL("copy ({}) to stdout with (format csv)").format(query)
    with pg.cursor() as cur, open(path, "wb") as out, cur.copy(statement) as copy:
        for block in copy:
            out.write(block)


def _copy_in(pg: psycopg.Connection, table: sql.Identifier, columns: sql.Composable,
             path: Path) -> None:
    statement = sql.SQL("copy {} ({}) from stdin with (format csv)").format(table, columns)
    with pg.cursor() as cur, open(path, "rb") as source, cur.copy(statement) as copy:
        while chunk := source.read(1 << 20):
            copy.write(chunk)


@contextmanager
def _scratch() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="sales-state-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def load_tables(pg: psycopg.Connection, duck: duckdb.DuckDBPyConnection,
                schema: StateSchema | None = None) -> dict[str, int]:
    """Replace every state table of `duck` with PostgreSQL's rows (in the caller's
    transactions); returns rows per table."""
    schema = schema or state_schema()
    counts = {}
    with _scratch() as folder:
        for table, columns in schema.columns.items():
            path = folder / f"{table}.csv"
            _copy_out(pg, sql.SQL("select {} from {}").format(_pg_out(columns), _ident(table)),
                      path)
            duck.execute(f"delete from {quoted(table)}")
            duck.execute(f"insert into {quoted(table)} ({_names(columns)}) "
                         f"{_duck_read(columns, path)}")
            counts[table] = duck.execute(f"select count(*) from {quoted(table)}").fetchone()[0]
    advance_sequences(duck, schema)
    return counts


def _names(columns: tuple[Column, ...]) -> str:
    return ", ".join(quoted(c.name) for c in columns)


def advance_sequences(duck: duckdb.DuckDBPyConnection, schema: StateSchema) -> None:
    """Move each id sequence past the largest id stored, so the next row gets a new id."""
    for sequence, table, column in schema.sequences:
        largest = duck.execute(f"select coalesce(max({quoted(column)}), 0) "
                               f"from {quoted(table)}").fetchone()[0]
        last = duck.execute("select coalesce(last_value, start_value - 1) from duckdb_sequences() "
                            "where sequence_name = ? and database_name = current_database()",
                            [sequence]).fetchone()[0]
        if largest > last:
            duck.execute("select max(nextval(?)) from range(?)", [sequence, largest - last])


def replace_all(pg: psycopg.Connection, duck: duckdb.DuckDBPyConnection,
                progress=None) -> dict[str, int]:
    """Replace PostgreSQL's state with `duck`'s (in the caller's transaction); every process
    reloads. Returns rows per table."""
    schema = state_schema()
    counts = {}
    with _scratch() as folder:
        for index, (table, columns) in enumerate(schema.columns.items()):
            if progress:
                progress(index / len(schema.columns), table)
            path = folder / f"{table}.csv"
            duck.execute(f"copy (select {_duck_out(columns)} from {quoted(table)}) "
                         f"to {_sql_string(str(path))} (format csv, header false)")
            pg.execute(sql.SQL("truncate {}, {}").format(_ident(table), _changes(table)))
            _copy_in(pg, _ident(table), _columns(columns), path)
            counts[table] = pg.execute(sql.SQL("select count(*) from {}").format(
                _ident(table))).fetchone()[0]
    _bump(pg, list(schema.columns), everything=True)
    if progress:
        progress(1.0, "done")
    return counts


def _bump(pg: psycopg.Connection, tables: list[str], everything: bool = False) -> int:
    version = pg.execute(sql.SQL(
        "update {} set value = (value::bigint + 1)::text where key = 'state_version' "
        "returning value::bigint").format(_ident(_META))).fetchone()[0]
    pg.execute(sql.SQL("insert into {} (state_version, tables, everything) values (%s, %s, %s)")
               .format(_ident(_VERSIONS)), [version, tables, everything])
    pg.execute(sql.SQL("delete from {} where state_version <= %s").format(_ident(_VERSIONS)),
               [version - CHANGES_KEPT])
    return version


# --- differences -------------------------------------------------------------------------------

def fingerprints(duck: duckdb.DuckDBPyConnection, schema: StateSchema) -> dict[str, tuple]:
    """Per state table, its row count and a sum of row hashes: cheap (tens of milliseconds for
    millions of rows) and enough to tell which tables a write touched."""
    parts = [f"select {_sql_string(t)}, count(*), coalesce(sum(hash({_names(cs)})), 0)::varchar "
             f"from {quoted(t)}" for t, cs in schema.columns.items()]
    return {name: (n, h) for name, n, h in duck.execute(" union all ".join(parts)).fetchall()}


def record_changes(pg: psycopg.Connection, after: duckdb.DuckDBPyConnection,
                   before: duckdb.DuckDBPyConnection) -> int | None:
    """Write to PostgreSQL what differs between two views of the same state tables: `after`,
    the writing transaction's cursor, and `before`, a cursor seeing what was last committed.
    Returns the new state version, None when nothing changed. In the caller's transaction."""
    schema = state_schema()
    now, then = fingerprints(after, schema), fingerprints(before, schema)
    changed = [table for table in schema.columns if now[table] != then[table]]
    if not changed:
        return None
    version = _bump(pg, changed)
    with _scratch() as folder:
        for table in changed:
            _record_table(pg, table, schema.columns[table], after, before, folder, version)
            pg.execute(sql.SQL("delete from {} where _version <= %s").format(
                _changes(table)), [version - CHANGES_KEPT])
    return version


def _multiset_rows(cur: duckdb.DuckDBPyConnection, table: str, columns: tuple[Column, ...],
                   hashes: str, change: int, path: Path) -> None:
    """Write to `path` the rows of `table` whose hash `hashes` (h, n) lists, n of each."""
    cur.execute(f"""
        copy (select {_duck_out(columns, 'x.')}, {change}
              from (select *, hash({_names(columns)}) as _h from {quoted(table)}) x
              join {hashes} d on x._h = d.h
              qualify row_number() over (partition by x._h) <= d.n)
        to {_sql_string(str(path))} (format csv, header false)""")


def _record_table(pg: psycopg.Connection, table: str, columns: tuple[Column, ...],
                  after: duckdb.DuckDBPyConnection, before: duckdb.DuckDBPyConnection,
                  folder: Path, version: int) -> None:
    rows = f"select hash({_names(columns)}) as h from {quoted(table)}"
    after.register("_before_h", before.sql(rows).to_arrow_table())
    try:
        # Per distinct row (its hash), copies now minus copies before: one aggregation.
        net = after.sql(f"select h, sum(n)::bigint as n from (select h, 1 as n from ({rows}) "
                        "union all select h, -1 from _before_h) group by h having sum(n) <> 0"
                        ).to_arrow_table()
    finally:
        after.unregister("_before_h")
    after.register("_net", net)
    try:
        added = after.sql("select h, n from _net where n > 0").to_arrow_table()
        removed = after.sql("select h, -n as n from _net where n < 0").to_arrow_table()
    finally:
        after.unregister("_net")
    after.register("_added", added)
    before.register("_removed", removed)
    try:
        _multiset_rows(after, table, columns, "_added", 1, folder / "added.csv")
        _multiset_rows(before, table, columns, "_removed", -1, folder / "removed.csv")
    finally:
        after.unregister("_added")
        before.unregister("_removed")
    delta = _ident(f"{table}__delta")
    pg.execute(sql.SQL("create temp table {} on commit drop as select {}, 0::smallint as _change "
                       "from {} where false").format(delta, _columns(columns), _ident(table)))
    names = sql.SQL("{}, _change").format(_columns(columns))
    _copy_in(pg, delta, names, folder / "added.csv")
    _copy_in(pg, delta, names, folder / "removed.csv")
    if removed.num_rows:
        _delete_removed(pg, table, columns, delta)
    pg.execute(sql.SQL("insert into {} ({}) select {} from {} where _change > 0").format(
        _ident(table), _columns(columns), _columns(columns), delta))
    pg.execute(sql.SQL("insert into {} ({}, _change, _version) select {}, _change, %s from {}")
               .format(_changes(table), _columns(columns), _columns(columns), delta), [version])
    pg.execute(sql.SQL("drop table {}").format(delta))


def _delete_removed(pg: psycopg.Connection, table: str, columns: tuple[Column, ...],
                    delta: sql.Identifier) -> None:
    """Delete as many copies of each removed row as were removed. Only the rows equal to a
    removed one are numbered (a scan, not a sort of the whole table: a saved call's table holds
    millions of decisions)."""
    matches = sql.SQL(" and ").join(sql.SQL("x.{0} is not distinct from d.{0}").format(
        _ident(c.name)) for c in columns)
    pg.execute(sql.SQL("""
        with gone as (select {cols}, count(*) as n from {delta} where _change < 0
                      group by {cols}),
        candidates as (select x.ctid, {xcols},
                              row_number() over (partition by {xcols}) as rn
                       from {table} x where exists (select 1 from gone d where {matches}))
        delete from {table} where ctid in (
            select x.ctid from candidates x join gone d on {matches} where x.rn <= d.n)""")
        .format(table=_ident(table), cols=_columns(columns), delta=delta, matches=matches,
                xcols=sql.SQL(", ").join(sql.SQL("x.{}").format(_ident(c.name))
                                         for c in columns)))


def apply_changes(pg: psycopg.Connection, duck: duckdb.DuckDBPyConnection, since: int,
                  until: int) -> bool:
    """Bring `duck`'s state tables from version `since` to `until` by PostgreSQL's change
    records (in the caller's transactions). False when the records do not reach back that far
    (or a version replaced everything): then the caller reloads every table."""
    if until == since:
        return True
    rows = pg.execute(sql.SQL("select tables, everything from {} where state_version > %s and "
                              "state_version <= %s").format(_ident(_VERSIONS)),
                      [since, until]).fetchall()
    if len(rows) != until - since or any(everything for _, everything in rows):
        return False
    schema = state_schema()
    tables = sorted({table for names, _ in rows for table in names})
    with _scratch() as folder:
        for table in tables:
            _apply_table(pg, duck, table, schema.columns[table], since, until, folder)
    advance_sequences(duck, schema)
    return True


def _apply_table(pg: psycopg.Connection, duck: duckdb.DuckDBPyConnection, table: str,
                 columns: tuple[Column, ...], since: int, until: int, folder: Path) -> None:
    path = folder / f"{table}.csv"
    # The net change per distinct row over the versions: a row added then removed nets out.
    _copy_out(pg, sql.SQL(
        "select {}, sum(_change) from {} where _version > {} and _version <= {} "
        "group by {} having sum(_change) <> 0").format(
            _pg_out(columns), _changes(table), sql.Literal(since), sql.Literal(until),
            _columns(columns)), path)
    delta = quoted(f"{table}__delta")
    duck.execute(f"create temp table {delta} as {_duck_read(columns, path, ('n',))}")
    matches = " and ".join(f"x.{quoted(c.name)} is not distinct from d.{quoted(c.name)}"
                           for c in columns)
    names = _names(columns)
    if duck.execute(f"select count(*) from {delta} where n < 0").fetchone()[0]:
        _delete_in_duckdb(duck, table, delta, names, matches)
    duck.execute(f"insert into {quoted(table)} ({names}) select {_names(columns)} "
                 f"from {delta}, range(greatest({delta}.n, 0))")
    duck.execute(f"drop table {delta}")


def _delete_in_duckdb(duck: duckdb.DuckDBPyConnection, table: str, delta: str, names: str,
                      matches: str) -> None:
    duck.execute(f"""
        delete from {quoted(table)} where rowid in (
            select x.rid
            from (select rowid as rid, {names},
                         row_number() over (partition by {names}) as rn from {quoted(table)}) x
            join {delta} d on {matches}
            where d.n < 0 and x.rn <= -d.n)""")

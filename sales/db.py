"""Opening the database file, the data version, write transactions, and sharing the file
between the app and the command line.

DuckDB lets one process hold a file for writing, and then no other process may open it, not
even to read. So the running app keeps its one read-write connection, and everyone else works
around it under an advisory lock file (`<db>.lock`):

- the app writes only while holding the lock and checkpoints before releasing it, so under the
  lock the file on disk is complete;
- another process that finds the file busy reads a copy taken under the lock
  (`open_for_reading`);
- bulk changes (imports, demo builds) are built on a copy and swapped into place with
  `os.replace` (`swap_in`): readers never see a half-written state, a killed import leaves the
  old file, and the app notices the new file (its inode changed) and reopens.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import duckdb

from sales.schema import SCHEMA_VERSION, schema_version, upgrade

DEFAULT_DB_PATH = "data/forecast.duckdb"
# Derived tables (`sales.precomputed`): its catalog, and its tables named with the prefix.
PRECOMPUTED = "precomputed"
DB_ENV_VAR = "SALES_DB"
# How long a writer waits for another one (an import of a large file, a demo build) before
# giving up with a message; long enough for a 1M-row import on a small machine.
LOCK_TIMEOUT_S = 300.0


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


def is_precomputed_table(name: str) -> bool:
    """Whether a table is derived data `sales.precomputed` stores (not the user's, not data)."""
    return name == PRECOMPUTED or name.startswith(f"{PRECOMPUTED}_")


def data_version(con: duckdb.DuckDBPyConnection) -> int:
    """A counter bumped by every write of data; caches key on it so sessions see new data."""
    row = con.execute("select value from meta where key = 'data_version'").fetchone()
    return int(row[0]) if row else 0


def bump_data_version(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "insert or replace into meta values ('data_version', ?)", [str(data_version(con) + 1)]
    )


@contextmanager
def transaction(cur: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One DuckDB transaction on `cur`: committed when the block ends, rolled back (and the
    error raised again) when it raises."""
    cur.execute("begin transaction")
    try:
        yield cur
        cur.execute("commit")
    except BaseException:
        cur.execute("rollback")
        raise


@contextmanager
def write_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All-or-nothing write on a cursor of `con`; bumps the data version on commit."""
    with closing(con.cursor()) as cur, transaction(cur):
        yield cur
        bump_data_version(cur)


def opportunity_count(con: duckdb.DuckDBPyConnection) -> int:
    """How many opportunities today's picture holds."""
    return con.cursor().execute("select count(*) from opportunities").fetchone()[0]


def is_empty(con: duckdb.DuckDBPyConnection) -> bool:
    """True when no opportunities are loaded (the app then shows how to import or build the demo)."""
    return opportunity_count(con) == 0


class DatabaseBusy(RuntimeError):
    """Another writer kept the database locked for longer than we were willing to wait."""


@contextmanager
def file_lock(path: str | os.PathLike, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the advisory write lock of a database file (`<path>.lock`), waiting up to `timeout`."""
    lock_path = Path(f"{path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DatabaseBusy(f"{path} is being written by another process (an import "
                                       "or demo build); try again when it has finished") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def file_identity(path: str | os.PathLike) -> tuple[int, int] | None:
    """(device, inode) of the file, which changes when a new file is swapped in; None if absent."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def _copy_database(source: Path, target: Path) -> None:
    """Copy a database file and its write-ahead log, if any (call under the file lock)."""
    shutil.copyfile(source, target)
    wal = Path(f"{source}.wal")
    if wal.exists():
        shutil.copyfile(wal, Path(f"{target}.wal"))


def private_copy(path: str | os.PathLike) -> Path:
    """A copy of the database file taken under the lock, in a folder deleted when the process
    exits: for a reader that cannot open the file beside this process's writing connection."""
    folder = Path(tempfile.mkdtemp(prefix="sales-read-"))
    copy = folder / Path(path).name
    with file_lock(path):
        _copy_database(Path(path), copy)
    _remove_later(folder)
    return copy


def shared_store():
    """The PostgreSQL state store when $SALES_STATE_URL names one, else None (state in the file)."""
    from sales.state import state_url

    url = state_url()
    if not url:
        return None
    from sales.state.store import Store

    return Store(url)


def upgrade_file(path: str | os.PathLike) -> None:
    """Bring a file of an older schema up to date, under the lock (before reading it read-only)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        current = schema_version(con) >= SCHEMA_VERSION
    finally:
        con.close()
    if not current:
        with file_lock(path):
            connect(path).close()


def open_for_reading(path: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    """A connection for reading `path`; with the state in PostgreSQL, the file read-only beside
    PostgreSQL's state (sales.state.replica)."""
    store = shared_store()
    if store is not None:
        from sales.state.replica import open_replica

        upgrade_file(path)
        return open_replica(path, store)
    return open_file_for_reading(path)


def open_file_for_reading(path: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    """A connection for reading `path`, even while the app holds it: read-only when the file is
    free, else a private copy taken under the lock (deleted when the process exits). The app
    may hold it in another process (a lock) or in this one (DuckDB then refuses a read-only
    connection beside the writing one)."""
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as error:
        if "lock" not in str(error).lower():
            raise
    except duckdb.ConnectionException as error:
        if "different configuration" not in str(error):
            raise
    folder = Path(tempfile.mkdtemp(prefix="sales-read-"))
    copy = folder / Path(path).name
    with file_lock(path):
        _copy_database(Path(path), copy)
    con = duckdb.connect(str(copy), read_only=True)
    _remove_later(folder)
    _copied_from[str(copy)] = Path(path).resolve()
    return con


# The file each private copy was taken from: what is cached beside a database (the projection's
# model and scores) goes beside the file itself, not beside a copy deleted at exit.
_copied_from: dict[str, Path] = {}


def source_file(path: str | os.PathLike) -> Path:
    """The database file a connection's file stands for: itself, or what it is a copy of."""
    return _copied_from.get(str(path), Path(path))


def open_current(path: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    """`open_for_reading`, after bringing a file of an older schema up to date once (the
    command line reading a database an earlier version wrote)."""
    if shared_store() is not None:
        return open_for_reading(path)
    con = open_for_reading(path)
    if schema_version(con) < SCHEMA_VERSION:
        con.close()
        connect(path).close()
        con = open_for_reading(path)
    return con


def _remove_later(folder: Path) -> None:
    import atexit

    atexit.register(shutil.rmtree, folder, True)


def swap_in(path: str | os.PathLike, build: Callable[[duckdb.DuckDBPyConnection], object],
            start_empty: bool = False,
            progress: Callable[[float, str], None] | None = None,
            after: Callable[[duckdb.DuckDBPyConnection], object] | None = None,
            shared_state: bool = True) -> object:
    """Apply `build` to a copy of the database (or to a new, empty one) in one transaction, then
    atomically replace the file with it. Returns what `build` returned. `after` runs on the
    committed copy before the swap (`sales.precomputed.refresh`: derived tables built once).

    If `build` raises, or the process dies, the file at `path` is untouched. With the state in
    PostgreSQL (and `shared_state`), `build` sees PostgreSQL's state and its changes to it are
    written back there.
    """
    store = shared_store() if shared_state else None
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(f"{target}.building")
    with file_lock(target):
        _discard(building)
        if target.exists() and not start_empty:
            if progress:
                progress(0.0, "Copying the current database")
            _copy_database(target, building)
        con = connect(building)
        if store is not None:
            from sales.state.replica import build_with_state

            try:
                return build_with_state(store, con, build,
                                        lambda: _finish(con, building, target), after)
            except BaseException:
                con.close()
                _discard(building)
                raise
        try:
            with write_transaction(con) as cur:
                result = build(cur)
            if after is not None:  # on the committed data, before anyone sees the file
                after(con)
        except BaseException:
            con.close()
            _discard(building)
            raise
        _finish(con, building, target)
    return result


def write_state(path: str | os.PathLike,
                build: Callable[[duckdb.DuckDBPyConnection], object]) -> object:
    """A write of state tables only (a grant, a rep's call, a delivery record) from the command
    line: with the state in PostgreSQL, there, without copying or touching the file; else as
    `swap_in`, on a copy swapped in (the app may hold the file)."""
    store = shared_store()
    if store is None:
        return swap_in(path, build)
    from sales.state.replica import Replica

    upgrade_file(path)
    with Replica(path, store).writing() as tx:
        return build(tx)


def _finish(con: duckdb.DuckDBPyConnection, building: Path, target: Path) -> None:
    """Write the built copy out and swap it into place."""
    con.execute("checkpoint")
    con.close()
    with open(building, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(building, target)
    # The old file's log (already copied and checkpointed into the new file) must not be
    # replayed against the new one.
    Path(f"{target}.wal").unlink(missing_ok=True)


def _discard(path: Path) -> None:
    path.unlink(missing_ok=True)
    Path(f"{path}.wal").unlink(missing_ok=True)

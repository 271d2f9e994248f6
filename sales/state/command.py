"""`python -m sales state migrate`: copy the state tables from a database file into PostgreSQL,
or from PostgreSQL into a database file (replacing what the target holds, all or nothing)."""

from __future__ import annotations

import argparse
import sys
from contextlib import closing
from pathlib import Path

import duckdb

from sales import precomputed
from sales.db import (
    DatabaseBusy,
    db_path,
    file_lock,
    open_file_for_reading,
    swap_in,
    upgrade_file,
)
from sales.progress import ProgressBar
from sales.state import is_postgres_url, redact, state_url
from sales.state.store import (
    StateStoreError,
    Store,
    load_tables,
    replace_all,
    state_version,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="state_action", required=True)
    migrate = actions.add_parser(
        "migrate", help="copy the state into PostgreSQL (--to postgresql://…) or back into a "
                        "database file (--to FILE.duckdb)")
    migrate.add_argument("--to", required=True, metavar="URL_OR_FILE",
                         help="postgresql://… to move the state there, or a .duckdb file to "
                              "bring it back")
    migrate.add_argument("--from", dest="source", default=None, metavar="URL",
                         help="with --to FILE: the PostgreSQL state to copy (default: "
                              "$SALES_STATE_URL)")
    migrate.add_argument("--db", type=Path, default=None,
                         help="with --to postgresql://…: the database file whose state to copy "
                              "(default: $SALES_DB or data/forecast.duckdb)")


def run(args: argparse.Namespace) -> int:
    try:
        if is_postgres_url(args.to):
            counts, source, target = _to_postgres(args.db or db_path(), args.to)
        else:
            counts, source, target = _to_file(Path(args.to), args.source or state_url())
    except (StateStoreError, _Refused) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rows = ", ".join(f"{table} {count:,}" for table, count in counts.items())
    print(f"Copied the state from {source} to {target}: {sum(counts.values()):,} rows in "
          f"{len(counts)} tables ({rows})")
    return 0


class _Refused(Exception):
    pass


def _to_postgres(path: Path, url: str) -> tuple[dict[str, int], str, str]:
    if not path.exists():
        raise _Refused(f"no database at {path}: name the file whose state to copy with --db")
    upgrade_file(path)
    con = open_file_for_reading(path)
    try:
        with Store(url).transaction(lock=True) as pg:
            counts = replace_all(pg, con, progress=ProgressBar())
            version = state_version(pg)
    finally:
        con.close()
    _adopt(path, version)
    return counts, str(path), redact(url)


def _adopt(path: Path, version: int) -> None:
    """The file's stored intermediates answer at the state version the copy gave PostgreSQL
    (`sales.precomputed.adopt`). An app process holding the file keeps it as it is: they are
    then built again at the next import."""
    try:
        with file_lock(path), closing(duckdb.connect(str(path))) as con:
            precomputed.adopt(con, version)
    except (duckdb.IOException, duckdb.ConnectionException, DatabaseBusy):
        print(f"note: {path} is open in another process; its stored intermediates are built "
              "again at the next import", file=sys.stderr)


def _to_file(path: Path, url: str | None) -> tuple[dict[str, int], str, str]:
    if not url or not is_postgres_url(url):
        raise _Refused("name the PostgreSQL state to copy with --from postgresql://… "
                       "(or set SALES_STATE_URL)")
    store = Store(url)
    bar = ProgressBar()
    with store.transaction(snapshot=True) as pg:
        counts = swap_in(path, lambda cur: load_tables(pg, cur), start_empty=not path.exists(),
                         progress=bar, shared_state=False)
    bar(1.0, "done")
    return counts, redact(url), str(path)

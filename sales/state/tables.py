"""Which tables are state and which analytical, and the state tables' shape, derived from the
DuckDB schema (sales.schema's migrations are the one definition of every table).

State tables are small, written by people through the app and the command line, and read on
every render; in PostgreSQL mode they live in PostgreSQL. Every other table of the file is
analytical: written only by imports, syncs and demo builds (on a copy swapped in), and read
from the file by every process (docs/data-model.md#state-and-analytical-tables).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import duckdb

from sales.schema import MIGRATIONS, SCHEMA_VERSION, upgrade

# The allow-list: every identifier the state store writes into SQL comes from here or from the
# columns our own migrations give these tables.
STATE_TABLES: tuple[str, ...] = (
    "settings", "stage_map", "loss_reason_map", "lead_status_map", "currency_rates", "targets",
    "forecast_calls", "forecast_call_decisions", "submissions", "users", "memberships",
    "people_calls", "people_call_deals", "follow_ups", "access", "audit_log", "delivery_log",
    "alerts_sent",
)
# The file's own bookkeeping (schema and data versions): copied, never shared.
META_TABLE = "meta"

_PG_TYPES = {"VARCHAR": "text", "INTEGER": "integer", "BIGINT": "bigint", "DATE": "date",
             "TIMESTAMP": "timestamp", "BOOLEAN": "boolean", "DOUBLE": "double precision"}


@dataclass(frozen=True)
class Column:
    name: str
    duckdb_type: str

    @property
    def is_list(self) -> bool:
        return self.duckdb_type.endswith("[]")

    @property
    def pg_type(self) -> str:
        return pg_type(self.duckdb_type)


@dataclass(frozen=True)
class StateSchema:
    """The state tables at one schema version: columns, DuckDB DDL, and the sequences whose
    next value must follow the largest id stored."""

    version: int
    columns: dict[str, tuple[Column, ...]]
    ddl: dict[str, str]
    sequences: tuple[tuple[str, str, str], ...]  # (sequence, table, column)


def pg_type(duckdb_type: str) -> str:
    """PostgreSQL's type for one of ours; a type we have not mapped is an error, not a guess."""
    if duckdb_type.endswith("[]"):
        return pg_type(duckdb_type[:-2]) + "[]"
    if duckdb_type.startswith("DECIMAL"):
        return "numeric" + duckdb_type[len("DECIMAL"):]
    try:
        return _PG_TYPES[duckdb_type]
    except KeyError:
        raise ValueError(f"no PostgreSQL type for DuckDB's {duckdb_type}: add it to "
                         "sales.state.tables") from None


@functools.lru_cache(maxsize=4)
def state_schema(version: int = SCHEMA_VERSION) -> StateSchema:
    """The state tables as our migrations up to `version` define them (built in memory)."""
    con = duckdb.connect()
    upgrade(con, MIGRATIONS[:version])
    present = {name for (name,) in con.execute(
        "select table_name from duckdb_tables() where table_name = any(?)",
        [list(STATE_TABLES)]).fetchall()}
    names = [name for name in STATE_TABLES if name in present]
    columns = {name: tuple(Column(c, t) for c, t in con.execute(
        "select column_name, data_type from duckdb_columns() where table_name = ? "
        "order by column_index", [name]).fetchall()) for name in names}
    ddl = dict(con.execute("select table_name, sql from duckdb_tables() where table_name = any(?)",
                           [names]).fetchall())
    sequences = tuple(
        (re.search(r"nextval\('([a-z_]+)'\)", default).group(1), table, column)
        for table, column, default in con.execute(
            "select table_name, column_name, column_default from duckdb_columns() "
            "where table_name = any(?) and column_default like 'nextval(%'", [names]).fetchall())
    con.close()
    return StateSchema(version, columns, ddl, sequences)


def quoted(name: str) -> str:
    """A table or column name of ours, double-quoted for SQL (names come from the allow-list)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"not one of our identifiers: {name!r}")
    return f'"{name}"'

"""Read-only SQL for analysts: one SELECT at a time against a read-only copy of the database,
with external file access disabled, a row cap, a byte cap and a time limit.

Why a copy: inside the app process DuckDB refuses a second connection to the same file with a
different configuration (read_only, no external access) while the app's read-write connection
is open, and other processes cannot open the file at all. The options measured on this 2-core
machine:

- a copy per data version, taken under the write lock (so it is complete): 0.2 s warm / 0.6 s
  cold for the 270 MB file of a 1,000,000-deal demo, 0.01 s at 100,000 deals; opening it
  read-only takes 0.03 s. The copy cannot be written (read_only), cannot read or write other
  files or load extensions (enable_external_access = false, then the configuration is
  locked), and has its own memory limit, so a runaway query cannot starve the app's pages.
- a cursor on the app's own connection with statement-type checks: no copy, but
  `enable_external_access` is per database, so turning it off would turn it off for the app
  too, and a SELECT can still change state (`nextval`), so safety would rest on parsing alone.
- a subprocess: would need the same copy (the app holds the file), plus a process per query.

So: the copy, made on the first query after a data change and reused until the next one; at
most one copy per database per process, removed when superseded and at exit.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from sales.db import DatabaseBusy, file_lock

# Rows a query returns to the screen; enough to eyeball a result, small enough for a browser.
# An analyst who needs all rows aggregates in SQL or opens the file in their own tool.
ROW_CAP = 10_000
# Bytes a query returns to the screen (Arrow's measure of the values): the row cap alone let
# 10,000 rows of 300 kB each through, 3 GB built in the app's memory. 50 MB still draws.
BYTE_CAP = 50_000_000
# Seconds a query may run before it is interrupted; the app's pages share the machine.
TIME_LIMIT_S = 20.0
# Rows per Arrow batch read from the result: the most a batch can overshoot the byte cap before
# it is cut. 64 reads 10,000 rows of the opportunities table in 0.05 s (2,048: 0.02 s). DuckDB
# itself still computes 2,048 rows at a time, so a query of very wide rows can take memory
# there, inside the copy's own limit, before the first batch is seen.
_BATCH_ROWS = 64
# The copy's own limits, so one heavy query leaves room for the app's connection.
_COPY_CONFIG = {"enable_external_access": False, "autoinstall_known_extensions": False,
                "autoload_known_extensions": False, "threads": 2, "memory_limit": "1GB"}
_ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}

# What each table holds, shown beside the editor (the README has the same table).
TABLE_NOTES = {
    "opportunities": "Current state, one row per opportunity (the latest snapshot); amount in "
                     "the corporate currency (setting corporate_currency), amount_original in "
                     "the deal's own currency (ISO code).",
    "opportunity_history": "Snapshots stored as changes: one row per stretch in which a deal kept "
                           "the same stage, category, amount, close date and owner; valid_from "
                           "inclusive, valid_to exclusive (null while current).",
    "opportunity_snapshots": "View: the full picture of every deal at every snapshot date.",
    "departed_opportunities": "Deals a full export no longer has (deleted in the CRM), with the "
                              "descriptive fields they last had and departed_on.",
    "known_opportunities": "View: every deal ever in a full picture, current ones and departed "
                           "ones, each once; past views read descriptive fields from it.",
    "snapshot_dates": "The dates a full picture was taken.",
    "stage_map": "Stage → forecast category and flags (qualified, closed, won, redlining), and "
                 "the stage's probability in percent with its source (default, import, "
                 "analyst) for the stage-weighted forecast.",
    "loss_reason_map": "Lost reason → loss class (competition, no_decision, excluded).",
    "targets": "Plan per period (FY2027-Q4, FY2027-M10), scope and scope value.",
    "forecast_calls": "Saved in-blood calls: period, call date, who, note, filter scope.",
    "forecast_call_decisions": "Per saved call and deal: included, reason, amount and category "
                               "at that moment.",
    "submissions": "Retired: the reps' numbers before people's calls (copied into people_calls "
                   "by the schema upgrade; no longer written or read).",
    "users": "The people in the forecast hierarchy: name (as the deals' owner field spells it), "
             "email, title.",
    "memberships": "Who reported to whom, effective-dated: name, manager, valid_from inclusive, "
                   "valid_to exclusive (null while current).",
    "people_calls": "Each person's call for a period (never overwritten): forecast, upside, "
                    "note, submitted_at and by whom.",
    "people_call_deals": "The Commit and Best Case deals a person's call counts on.",
    "settings": "Settings stored as text (defaults apply to names not stored).",
    "meta": "schema_version and data_version.",
    "access": "Who may sign in (team mode): email, role (viewer, rep, manager, analyst) and scope "
              "(teams, regions, owners), who granted it and when.",
    "audit_log": "Every write: when, who, what (import, edit, saved call, access, demo, "
                 "follow-up, sync) and a short summary.",
    "leads": "Every lead seen in a full leads export, as the latest one described it: status, "
             "MQL date, owner, source, segment, region, conversion, recycle or junk reason.",
    "lead_history": "Lead snapshots stored as changes (status, owner, conversion, reason); "
                    "valid_from inclusive, valid_to exclusive (null while current).",
    "lead_snapshot_dates": "The dates a full leads export was recorded.",
    "lead_status_map": "Lead status → group (open, qualified, recycled, junk, purchased) and "
                       "whether it is at or past sales acceptance.",
    "follow_ups": "The forecast call's action items: text, owner, due date, optional deal, the "
                  "call they were raised at, who created and closed them.",
    "crm_sync": "Per CRM (salesforce, hubspot), the last sync: high-water mark (the data's own "
                "last-modified time), when, how long, records read, changed, deleted.",
    "crm_records": "The CRM's records as the last sync read them (JSON text): the picture the "
                   "next incremental sync merges into. Never a credential.",
    "crm_stages": "Each CRM stage's probability as the CRM reports it.",
    "delivery_log": "Every digest, alert and reminder message sent or refused: run, kind, "
                    "channel, recipient, when, whether the server accepted it, its message.",
    "alerts_sent": "Each alert a recipient has been sent (recipient, deal, rule, change), so a "
                   "rerun sends it once.",
    "currency_rates": "Rate tables by version (recorded_on): iso_code, rate (units of the "
                      "currency per one corporate unit), dated (false: the static rate), "
                      "start_date, next_start_date; a deal converts at the rate holding its "
                      "close date.",
}
EXAMPLES = {
    "Pipeline by stage": "select stage, count(*) as deals, sum(amount) as amount\n"
                         "from opportunities\ngroup by stage\norder by amount desc",
    "State on a date": "select * from opportunity_history\n"
                       "where valid_from <= date '2026-10-01'\n"
                       "  and (valid_to is null or valid_to > date '2026-10-01')\nlimit 100",
    "Deals that changed stage most": "select opportunity_id, count(distinct stage) as stages\n"
                                     "from opportunity_history\ngroup by 1\norder by 2 desc\n"
                                     "limit 20",
}


class QueryRejected(ValueError):
    """The SQL was not run: not one read-only statement, a syntax error, or too slow."""


@dataclass(frozen=True)
class QueryResult:
    """Up to ROW_CAP rows and BYTE_CAP bytes of a query; `truncated` says the query returns
    more, and `cut` says in a sentence what was left out and why (None: nothing was)."""

    frame: pd.DataFrame
    truncated: bool
    seconds: float
    statement: str
    cut: str | None = None


class _Copies:
    """One read-only copy per database path, refreshed when the data version moves on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, tuple[int, Path, duckdb.DuckDBPyConnection]] = {}
        atexit.register(self.close_all)

    def connection(self, path: str, data_version: int) -> duckdb.DuckDBPyConnection:
        with self._lock:
            current = self._open.get(path)
            if current is not None and current[0] == data_version:
                return current[2]
            if current is not None:
                self._close(path)
            folder = Path(tempfile.mkdtemp(prefix="sales-sql-"))
            copy = folder / Path(path).name
            with file_lock(path):  # the app checkpoints before releasing it: the file is whole
                shutil.copyfile(path, copy)
                wal = Path(f"{path}.wal")
                if wal.exists():
                    shutil.copyfile(wal, Path(f"{copy}.wal"))
            con = duckdb.connect(str(copy), read_only=True, config=dict(_COPY_CONFIG))
            con.execute("set lock_configuration = true")
            self._open[path] = (data_version, folder, con)
            return con

    def _close(self, path: str) -> None:
        _, folder, con = self._open.pop(path)
        con.close()
        shutil.rmtree(folder, ignore_errors=True)

    def close_all(self) -> None:
        with self._lock:
            for path in list(self._open):
                self._close(path)


_COPIES = _Copies()


def check_statement(sql: str) -> str:
    """The one SELECT (or EXPLAIN) in `sql`; QueryRejected otherwise."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        raise QueryRejected(f"not valid SQL: {_first_line(error)}") from None
    if not statements:
        raise QueryRejected("write a SELECT statement")
    if len(statements) > 1:
        raise QueryRejected("one statement at a time, please (remove the extra ';')")
    statement = statements[0]
    if statement.type not in _ALLOWED:
        raise QueryRejected(f"only SELECT queries run here (this is {statement.type.name}); the "
                            "database is read-only on this page")
    return statement.query


def run_query(path: str, data_version: int, sql: str, row_cap: int = ROW_CAP,
              time_limit: float = TIME_LIMIT_S, byte_cap: int = BYTE_CAP) -> QueryResult:
    """Run one read-only statement on the copy of `path` at `data_version`; the rows come back
    in Arrow batches, and reading stops at the row cap, the byte cap or the time limit."""
    statement = check_statement(sql)
    try:
        cur = _COPIES.connection(path, data_version).cursor()
    except DatabaseBusy as error:
        raise QueryRejected(str(error)) from None
    # The timer interrupts DuckDB wherever it is: planning, computing, or between batches.
    timer = threading.Timer(time_limit, cur.interrupt)
    started = time.perf_counter()
    timer.start()
    try:
        reader = cur.sql(statement).to_arrow_reader(_BATCH_ROWS)
        batches, cut = _read(reader, row_cap, byte_cap, started + time_limit)
        table = pa.Table.from_batches(batches, schema=reader.schema)
    except duckdb.InterruptException:
        raise QueryRejected(f"stopped after {time_limit:.0f} s: aggregate more, or add a "
                            "limit or a where clause") from None
    except duckdb.Error as error:
        raise QueryRejected(_first_line(error)) from None
    finally:
        timer.cancel()
        cur.close()
    seconds = time.perf_counter() - started
    frame = table.to_pandas()
    message = _cut_message(cut, len(frame), byte_cap, time_limit) if cut else None
    return QueryResult(frame, cut is not None, seconds, statement, message)


def _read(reader: pa.RecordBatchReader, row_cap: int, byte_cap: int,
          deadline: float) -> tuple[list[pa.RecordBatch], str | None]:
    """Batches up to the caps, and what stopped the reading early: "rows", "bytes", "first
    row" (the first row alone is over the byte cap), "time", or None (the result is whole).
    An interrupt before any row is the caller's to report; after some, they are kept."""
    batches: list[pa.RecordBatch] = []
    rows = size = 0
    try:
        for batch in reader:
            fit = _rows_that_fit(batch, min(batch.num_rows, row_cap - rows), byte_cap - size)
            if fit:
                kept = batch.slice(0, fit)
                batches.append(kept)
                rows, size = rows + fit, size + kept.nbytes
            if fit < batch.num_rows:
                return batches, ("rows" if rows >= row_cap else "bytes" if rows else "first row")
            if time.perf_counter() > deadline:
                return batches, "time"
    except duckdb.InterruptException:
        if not rows:
            raise
        return batches, "time"
    return batches, None


def _rows_that_fit(batch: pa.RecordBatch, most: int, room: int) -> int:
    """How many of the batch's first `most` rows fit in `room` bytes (a binary search over
    the sizes of its leading slices)."""
    low, high = 0, max(most, 0)
    if batch.slice(0, high).nbytes <= room:  # the usual case: all of it
        return high
    while low < high:
        middle = (low + high + 1) // 2
        if batch.slice(0, middle).nbytes <= room:
            low = middle
        else:
            high = middle - 1
    return low


def _cut_message(cut: str, rows: int, byte_cap: int, time_limit: float) -> str:
    """What the page says about rows it does not show."""
    cap = f"{byte_cap / 1e6:,.0f} MB"
    if cut == "first row":
        return (f"the first row alone is over {cap}, the most this page shows: select fewer or "
                "shorter columns")
    if cut == "time":
        return (f"the first {rows:,} rows: reading stopped at the {time_limit:.0f} s limit; "
                "aggregate more, or add a limit or a where clause")
    why = f" ({cap}, the most this page shows)" if cut == "bytes" else ""
    return (f"the first {rows:,} rows{why}; the query returns more: aggregate, select fewer "
            "columns or add a limit")


def schema_columns(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every table and view with its columns and types, and what each table holds.
    Grain: one row per column."""
    frame = con.cursor().execute("""
        select table_name, column_name, data_type
        from information_schema.columns
        where table_schema = 'main' and table_catalog = current_database()
        order by table_name, ordinal_position""").df()
    frame["about"] = frame["table_name"].map(TABLE_NOTES).fillna("")
    rank = {name: index for index, name in enumerate(TABLE_NOTES)}
    order = frame["table_name"].map(rank).fillna(len(rank))
    return frame.assign(_rank=order).sort_values("_rank", kind="stable").drop(columns="_rank")


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__

"""The deal explorer: every column of every deal as of the view's date, filtered, sorted and
paged in DuckDB, so only one page (or one capped download) ever reaches pandas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from sales.export import write_file
from sales.query import deals_sql, state_key
from sales.sql import Sql, sql
from sales.view import View

# Output columns, in order (the deals relation's, `sales.query.deals_sql`); also the
# allow-list for sorting. `category` is the report category (Closed, Commit, …, Unqualified,
# Omitted) the deal counts in as of the view's date.
COLUMNS = ("opportunity_id", "name", "account_name", "account_employees", "segment", "region",
           "team", "owner", "type", "channel", "stage", "forecast_category", "category",
           "amount", "close_date", "created_date", "sales_accepted_date", "lost_reason",
           "competitor", "loss_class", "renewal_risk", "next_step", "lead_source",
           "amount_original", "currency")
STATUSES = ("open", "won", "lost")
_STATUS_SQL = {"open": "not closed", "won": "closed and won", "lost": "closed and not won"}
PAGE_SIZES = (50, 100, 250, 500, 1000)
# A page is for reading on screen; more rows than this slow the browser without helping.
MAX_PAGE_ROWS = 1_000
# Downloads are built in memory by the app process: 100,000 deals is ~25 MB of CSV; beyond it,
# the SQL page or the DuckDB file itself (README, "SQL and the schema for analysts") is the tool.
DOWNLOAD_ROW_CAP = 100_000
# openpyxl writes ~10,000 rows a second; past this a workbook takes longer than anyone waits.
XLSX_ROW_CAP = 20_000
# A worksheet holds 1,048,576 rows, the header included (the command line's XLSX limit).
XLSX_SHEET_ROWS = 1_048_575


@dataclass(frozen=True)
class DealQuery:
    """The explorer's own filters on top of the view (period is not one of them: the explorer
    shows every deal; close dates filter by range). Hashable, so it can key a cache."""

    search: str = ""
    stages: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    close_from: date | None = None
    close_to: date | None = None
    amount_min: float | None = None
    amount_max: float | None = None
    sort: str = "amount"
    descending: bool = True


def _condition(query: DealQuery) -> Sql:
    """The explorer's own filters over the deals relation's columns (`true` when none)."""
    clauses, values = [], {}
    if query.search.strip():
        clauses.append("(contains(lower(opportunity_id), $search) or contains(lower(name), "
                       "$search) or contains(lower(account_name), $search))")
        values["search"] = query.search.strip().lower()
    for chosen, column in ((query.stages, "stage"), (query.categories, "category")):
        if chosen:
            clauses.append(f"list_contains($picked_{column}, {column})")
            values[f"picked_{column}"] = list(chosen)
    statuses = [s for s in query.statuses if s in _STATUS_SQL]
    if statuses:
        clauses.append("(" + " or ".join(_STATUS_SQL[s] for s in statuses) + ")")
    for value, clause, name in ((query.close_from, "close_date >= $close_from", "close_from"),
                                (query.close_to, "close_date <= $close_to", "close_to"),
                                (query.amount_min, "amount >= $amount_min", "amount_min"),
                                (query.amount_max, "amount <= $amount_max", "amount_max")):
        if value is not None:
            clauses.append(clause)
            values[name] = value
    return sql(" and ".join(clauses) or "true", **values)


def _base(con: duckdb.DuckDBPyConnection, view: View, query: DealQuery) -> Sql:
    """select <every column> from <deals as of the view's date, through its filters> where
    <the explorer's filters>."""
    deals = deals_sql(state_key(con, view.as_of), view.filters)
    where = _condition(query)
    return sql(f"select {', '.join(COLUMNS)} from ({deals}) d where {where}",  # noqa: S608
               deals, where)


def _count(con: duckdb.DuckDBPyConnection, base: Sql) -> int:
    return int(con.cursor().execute(*sql(f"select count(*) from ({base})", base)  # noqa: S608
                                     ).fetchall()[0][0])


def _order(query: DealQuery) -> str:
    column = query.sort if query.sort in COLUMNS else "amount"
    return f"order by {column} {'desc' if query.descending else 'asc'} nulls last, opportunity_id"


def explore(con: duckdb.DuckDBPyConnection, view: View, query: DealQuery, page: int = 1,
            page_size: int = 100) -> tuple[pd.DataFrame, int]:
    """One page of deals and how many match. Grain: one row per opportunity."""
    size = max(1, min(int(page_size), MAX_PAGE_ROWS))
    base = _base(con, view, query)
    offset = (max(int(page), 1) - 1) * size
    frame = con.cursor().execute(*sql(
        f"select * from ({base}) {_order(query)} limit $size offset $offset",  # noqa: S608
        base, size=size, offset=offset)).df()
    return _tidy(frame), _count(con, base)


def export_rows(con: duckdb.DuckDBPyConnection, view: View, query: DealQuery,
                limit: int | None = DOWNLOAD_ROW_CAP) -> tuple[pd.DataFrame, int]:
    """Every matching deal up to `limit` (None: all), in the explorer's order, and how many
    match. Grain: one row per opportunity."""
    base = _base(con, view, query)
    total = _count(con, base)
    rows = total if limit is None else max(int(limit), 0)
    frame = con.cursor().execute(*sql(
        f"select * from ({base}) {_order(query)} limit $rows", base, rows=rows)).df()  # noqa: S608
    return _tidy(frame), total


def write_deals(con: duckdb.DuckDBPyConnection, view: View, query: DealQuery,
                path: str | Path) -> int:
    """Every matching deal to a CSV or XLSX file (by its suffix), through the one writer;
    returns how many. ValueError when an XLSX sheet cannot hold them all."""
    if Path(path).suffix.lower() == ".xlsx":
        total = _count(con, _base(con, view, query))
        if total > XLSX_SHEET_ROWS:
            raise ValueError(f"{total:,} deals do not fit in one XLSX sheet "
                             f"({XLSX_SHEET_ROWS:,} rows); write a .csv file")
    frame, _ = export_rows(con, view, query, limit=None)
    write_file(frame, path, sheet="Deals")
    return len(frame)


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    frame["amount"] = frame["amount"].astype("float64")
    return frame


def stage_options(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Stages for the explorer's picker, in stage-map order, then any the map lacks."""
    return [r[0] for r in con.cursor().execute("""
        select stage from (
            select stage, sort_order from stage_map
            union all
            select distinct stage, null from opportunities
            where stage not in (select stage from stage_map)
        ) order by sort_order nulls last, stage""").fetchall()]

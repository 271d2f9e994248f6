"""The deal explorer: every column of every deal as of the view's date, filtered, sorted and
paged in DuckDB, so only one page (or one capped download) ever reaches pandas."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from sales.export import write_file
from sales.query import REPORT_CATEGORY_SQL, state_key, state_sql
from sales.view import View

# Output columns, in order; also the allow-list for sorting. `category` is the report category
# (Closed, Commit, …, Unqualified, Omitted) the deal counts in as of the view's date.
COLUMNS = ("opportunity_id", "name", "account_name", "account_employees", "segment", "region",
           "team", "owner", "type", "channel", "stage", "forecast_category", "category",
           "amount", "close_date", "created_date", "sales_accepted_date", "lost_reason",
           "competitor", "loss_class", "renewal_risk", "next_step", "lead_source")
_SOURCES = {c: f"o.{c}" for c in COLUMNS}
_SOURCES.update({c: f"s.{c}" for c in ("opportunity_id", "owner", "stage", "forecast_category",
                                        "amount", "close_date")})
_SOURCES["category"] = REPORT_CATEGORY_SQL
STATUSES = ("open", "won", "lost")
_STATUS_SQL = {"open": "not coalesce(m.closed, false)",
               "won": "coalesce(m.closed, false) and coalesce(m.won, false)",
               "lost": "coalesce(m.closed, false) and not coalesce(m.won, false)"}
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


def _where(view: View, query: DealQuery) -> tuple[list[str], list]:
    clauses, params = [], []
    condition, filter_params = view.filters.where()
    if condition:
        clauses.append(condition)
        params += filter_params
    if query.search.strip():
        clauses.append("(contains(lower(s.opportunity_id), ?) or contains(lower(o.name), ?) "
                       "or contains(lower(o.account_name), ?))")
        params += [query.search.strip().lower()] * 3
    for values, sql in ((query.stages, "s.stage"), (query.categories, REPORT_CATEGORY_SQL)):
        if values:
            clauses.append(f"({sql}) in ({', '.join('?' * len(values))})")
            params += list(values)
    statuses = [s for s in query.statuses if s in _STATUS_SQL]
    if statuses:
        clauses.append("(" + " or ".join(_STATUS_SQL[s] for s in statuses) + ")")
    for value, sql in ((query.close_from, "s.close_date >= ?"), (query.close_to, "s.close_date <= ?"),
                       (query.amount_min, "s.amount >= ?"), (query.amount_max, "s.amount <= ?")):
        if value is not None:
            clauses.append(sql)
            params.append(value)
    return clauses, params


def _base(con: duckdb.DuckDBPyConnection, view: View, query: DealQuery) -> tuple[str, list]:
    """select <every column> from <deals as of the view's date> where <filters>."""
    snapshot = state_key(con, view.as_of)
    select = ", ".join(f"{source} as {name}" for name, source in _SOURCES.items())
    clauses, params = _where(view, query)
    where = f"where {' and '.join(clauses)}" if clauses else ""
    if snapshot is None:  # the current state is the opportunities table: one scan, no join
        sql = f"""select {select} from opportunities o left join stage_map m on m.stage = o.stage
                  {where}"""  # noqa: S608 - identifiers are constants; values are bound
        return re.sub(r"\bs\.", "o.", sql), params
    state, state_params = state_sql(snapshot)
    sql = f"""select {select} from ({state}) s
              left join opportunities o using (opportunity_id)
              left join stage_map m on m.stage = s.stage
              {where}"""  # noqa: S608 - identifiers are constants; values are bound
    return sql, state_params + params


def _order(query: DealQuery) -> str:
    column = query.sort if query.sort in COLUMNS else "amount"
    return f"order by {column} {'desc' if query.descending else 'asc'} nulls last, opportunity_id"


def explore(con: duckdb.DuckDBPyConnection, view: View, query: DealQuery, page: int = 1,
            page_size: int = 100) -> tuple[pd.DataFrame, int]:
    """One page of deals and how many match. Grain: one row per opportunity."""
    size = max(1, min(int(page_size), MAX_PAGE_ROWS))
    base, params = _base(con, view, query)
    cur = con.cursor()
    total = cur.execute(f"select count(*) from ({base})", params).fetchall()[0][0]  # noqa: S608
    offset = (max(int(page), 1) - 1) * size
    frame = cur.execute(f"select * from ({base}) {_order(query)} limit ? offset ?",  # noqa: S608
                        params + [size, offset]).df()
    return _tidy(frame), int(total)


def export_rows(con: duckdb.DuckDBPyConnection, view: View, query: DealQuery,
                limit: int | None = DOWNLOAD_ROW_CAP) -> tuple[pd.DataFrame, int]:
    """Every matching deal up to `limit` (None: all), in the explorer's order, and how many
    match. Grain: one row per opportunity."""
    base, params = _base(con, view, query)
    cur = con.cursor()
    total = cur.execute(f"select count(*) from ({base})", params).fetchall()[0][0]  # noqa: S608
    rows = total if limit is None else max(int(limit), 0)
    frame = cur.execute(f"select * from ({base}) {_order(query)} limit ?",  # noqa: S608
                        params + [rows]).df()
    return _tidy(frame), int(total)


def write_deals(con: duckdb.DuckDBPyConnection, view: View, query: DealQuery,
                path: str | Path) -> int:
    """Every matching deal to a CSV or XLSX file (by its suffix), through the one writer;
    returns how many. ValueError when an XLSX sheet cannot hold them all."""
    if Path(path).suffix.lower() == ".xlsx":
        base, params = _base(con, view, query)
        total = con.cursor().execute(f"select count(*) from ({base})",  # noqa: S608
                                     params).fetchall()[0][0]
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

"""Currencies (docs/data-model.md#currencies): every amount the metrics read is in the corporate
currency; a deal also keeps the amount and currency its CRM holds.

A rate is Salesforce's: units of the currency per one unit of the rate table's base (its
CurrencyType.ConversionRate, its DatedConversionRate.ConversionRate). A table holds static
rates (one per currency) and dated ones (a currency's rates by [start_date, next_start_date));
an amount converts at the dated rate whose range holds its date, else at the static rate —
as Salesforce's own convertCurrency() converts an opportunity at its CloseDate. Rates are
stored relative to any base and rebased on the corporate currency's own rate (1 when the table
has none), so a file of rates against EUR works in a USD company.

The table is versioned by the day it was recorded (`recorded_on`: a sync's or an import's
as-of date): the table "as it stood" on a day is the latest version recorded on or before it,
and the first version stands for every earlier day (history rebuilt on a first sync converts
at the rates of that sync). So a snapshot keeps the converted amount of its week, and the
movement's currency part compares two versions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import duckdb

from sales.db import is_precomputed_table
from sales.settings import load_settings

DEFAULT_CORPORATE = "USD"
# An ISO 4217 code as every CRM writes it.
_ISO = re.compile(r"[A-Z]{3}")
_CENT = Decimal("0.01")
# Salesforce stores open-ended ranges as 0001-01-01 and 9999-12-31: kept as they are.
OPEN_START, OPEN_END = date(1, 1, 1), date(9999, 12, 31)


class CurrencyError(ValueError):
    """A rate table or an amount that cannot be converted; the message is one line naming it."""


@dataclass(frozen=True)
class Rate:
    """One rate: static (`dated` false, the range open) or dated ([start, next_start))."""

    iso_code: str
    rate: Decimal
    dated: bool = False
    start_date: date = OPEN_START
    next_start_date: date = OPEN_END

    def holds(self, day: date) -> bool:
        return self.start_date <= day < self.next_start_date


def is_code(text: str | None) -> bool:
    return bool(text) and bool(_ISO.fullmatch(text))


@dataclass(frozen=True)
class RateTable:
    """A whole rate table; `rate(code, day)` is units of `code` per one corporate unit."""

    rates: tuple[Rate, ...] = ()

    def codes(self) -> list[str]:
        return sorted({r.iso_code for r in self.rates})

    def _raw(self, code: str, day: date | None) -> Decimal | None:
        dated = [r for r in self.rates if r.iso_code == code and r.dated]
        if dated and day is not None:
            held = next((r for r in dated if r.holds(day)), None)
            if held is not None:
                return held.rate
        static = next((r for r in self.rates if r.iso_code == code and not r.dated), None)
        if static is not None:
            return static.rate
        if dated:  # no date, or a date no range holds: the range in force nearest to it
            before = [r for r in dated if day is None or r.start_date <= day]
            return max(before or dated, key=lambda r: r.start_date).rate
        return None

    def rate(self, code: str, corporate: str, day: date | None) -> Decimal | None:
        """Units of `code` per one unit of `corporate` on `day`; None without a rate."""
        if code == corporate:
            return Decimal(1)
        raw = self._raw(code, day)
        if raw is None:
            return None
        base = self._raw(corporate, day) or Decimal(1)
        return raw / base

    def convert(self, amount: float | Decimal, code: str, corporate: str,
                day: date | None) -> Decimal | None:
        """`amount` in `code` as corporate currency, to the cent; None without a rate."""
        rate = self.rate(code, corporate, day)
        if rate is None:
            return None
        return (Decimal(str(amount)) / rate).quantize(_CENT, rounding=ROUND_HALF_UP)


def check_rates(rates: list[Rate]) -> None:
    """Refuse (CurrencyError) a rate ≤ 0 or a code that is not three capital letters."""
    for r in rates:
        if not is_code(r.iso_code):
            raise CurrencyError(f"currency code {r.iso_code!r} is not an ISO 4217 code (three "
                                "capital letters, e.g. EUR)")
        if not r.rate > 0:
            raise CurrencyError(f"the rate of {r.iso_code} from {r.start_date} is {r.rate}: a "
                                "rate must be above 0 (units of the currency per one unit of "
                                "the corporate currency)")


def dated_ranges(rows: list[tuple[str, date | None, Decimal]]) -> list[Rate]:
    """(iso_code, start_date or None, rate) rows as rates: a row without a start date is the
    currency's static rate; dated rows run until the currency's next start date."""
    static = [Rate(code, rate) for code, start, rate in rows if start is None]
    dated = sorted((code, start, rate) for code, start, rate in rows if start is not None)
    out = []
    for index, (code, start, rate) in enumerate(dated):
        following = dated[index + 1] if index + 1 < len(dated) else None
        end = following[1] if following and following[0] == code else OPEN_END
        out.append(Rate(code, rate, True, start, end))
    return static + out


def _version(con: duckdb.DuckDBPyConnection, day: date | None) -> date | None:
    """The recorded_on of the table as it stood on `day` (the first version before any)."""
    cur = con.cursor()
    latest, first = cur.execute(
        "select max(recorded_on) filter (where $day is null or recorded_on <= $day), "
        "min(recorded_on) from currency_rates", {"day": day}).fetchall()[0]
    return latest or first


def load_rates(con: duckdb.DuckDBPyConnection, day: date | None = None) -> RateTable:
    """The rate table as it stood on `day` (default: the latest)."""
    version = _version(con, day)
    if version is None:
        return RateTable()
    rows = con.cursor().execute(
        """select iso_code, rate, dated, start_date, next_start_date from currency_rates
           where recorded_on = ? order by iso_code, dated, start_date""", [version]).fetchall()
    return RateTable(tuple(Rate(code, Decimal(str(rate)), dated, start, end)
                           for code, rate, dated, start, end in rows))


def store_rates(con: duckdb.DuckDBPyConnection, table: RateTable, day: date) -> bool:
    """Record `table` as the rates from `day` unless it equals the table standing then;
    returns whether a version was written. Inside the caller's transaction."""
    check_rates(list(table.rates))
    if set(load_rates(con, day).rates) == set(table.rates) and _version(con, day) is not None:
        return False
    con.execute("delete from currency_rates where recorded_on = ?", [day])
    con.executemany("insert into currency_rates values (?, ?, ?, ?, ?, ?)",
                    [[day, r.iso_code, str(r.rate), r.dated, r.start_date, r.next_start_date]
                     for r in table.rates])
    return True


def corporate_currency(con: duckdb.DuckDBPyConnection) -> str:
    """The `corporate_currency` setting (USD until a sync or a person sets it)."""
    return load_settings(con).corporate_currency


def display_factor(con: duckdb.DuckDBPyConnection, code: str, today: date) -> Decimal:
    """Units of `code` per corporate unit at the latest rate in force `today` (dated, else
    static); CurrencyError when there is none."""
    code = code.strip().upper()
    corporate = corporate_currency(con)
    if not is_code(code):
        raise CurrencyError(f"{code!r} is not a currency code (three letters, e.g. EUR)")
    rate = load_rates(con).rate(code, corporate, today)
    if rate is None:
        raise CurrencyError(f"no rate for {code}: sync the CRM's rates or import them with "
                            "`import FILE --kind currency_rates`")
    return rate


# SQL: the corporate_currency setting, for queries that do not bind it.
CORPORATE_SQL = ("(select coalesce(max(value), 'USD') from settings "
                 "where name = 'corporate_currency')")


def convert_sql(amount: str, currency: str, day: str, version: str,
                corporate: str = "$corporate") -> str:
    """SQL: `amount` in `currency` as corporate currency, to the cent, at the dated rate whose
    range holds `day` (else the static rate) of the table recorded on `version` (SQL
    expressions; ours, never input; `corporate` the bound `$corporate` unless given). Null
    without a rate."""
    def raw(code: str) -> str:
        return f"""coalesce(
            (select r.rate from currency_rates r where r.recorded_on = {version}
               and r.iso_code = {code} and r.dated
               and r.start_date <= {day} and {day} < r.next_start_date),
            (select r.rate from currency_rates r where r.recorded_on = {version}
               and r.iso_code = {code} and not r.dated))"""  # noqa: S608 - ours
    return f"""case when {currency} = {corporate} or {currency} is null then {amount}
        else round({amount} * coalesce({raw(corporate)}, 1) / {raw(currency)}, 2) end"""


def version_sql(day: str) -> str:
    """SQL: the recorded_on of the table as it stood on `day` (an SQL expression)."""
    return f"""coalesce((select max(recorded_on) from currency_rates where recorded_on <= {day}),
                        (select min(recorded_on) from currency_rates))"""  # noqa: S608


# Every stored money column in the corporate currency, by table: what a display currency
# scales (rates, counts and dates are not money).
MONEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "opportunities": ("amount",),
    "departed_opportunities": ("amount",),
    "opportunity_history": ("amount",),
    "targets": ("amount",),
    "submissions": ("forecast", "upside"),
    "forecast_call_decisions": ("amount",),
    "forecast_calls": ("closed_won",),
    "people_calls": ("forecast", "upside"),
}


def show_in(con: duckdb.DuckDBPyConnection, code: str, today: date
            ) -> tuple[duckdb.DuckDBPyConnection, str]:
    """A read-only connection on the same file whose every corporate amount reads in `code` at
    the latest rate in force `today` (the command line's `report --currency`), and the code;
    `con` is closed when another is returned. CurrencyError without a rate."""
    code = code.strip().upper()
    factor = display_factor(con, code, today)
    if code == corporate_currency(con):
        return con, code
    from sales.state.replica import ANALYTICAL

    # With the state in PostgreSQL, `con` is the file attached beside the state tables.
    attached = dict(con.execute("select database_name, path from duckdb_databases()").fetchall())
    if ANALYTICAL in attached:
        shown = display_database(attached[ANALYTICAL], factor, state=con)
        con.close()
        return shown, code
    path = con.execute("select path from duckdb_databases() "
                       "where database_name = current_database()").fetchall()[0][0]
    con.close()
    return display_database(path, factor), code


def display_database(path: str, factor: Decimal,
                     state: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory database over the file at `path` (attached read-only) in which every
    corporate amount reads multiplied by `factor`, to the cent.

    It has a view over each of the file's tables (the money columns scaled) and the file's own
    views on top of them, so every query and every cursor reads the scaled amounts without a
    change to any metric. The file must not be open for writing in this process (the app
    hands it a private copy). With `state` (the state in PostgreSQL), the state tables are
    read from that connection instead of the file's copy of them."""
    from sales.state.tables import STATE_TABLES

    shown = duckdb.connect()
    shown.execute("attach ? as stored (read_only)", [path])
    if state is not None:
        shown.execute("create schema shared_state")
    for (table,) in shown.execute("select table_name from duckdb_tables() "
                                  "where database_name = 'stored'").fetchall():
        if is_precomputed_table(table):  # corporate amounts: the copy builds its own
            continue
        columns = MONEY_COLUMNS.get(table, ())
        scaled = ", ".join(f"round({c} * {factor}, 2)::decimal(18, 2) as {c}" for c in columns)
        body = f"select * replace ({scaled})" if columns else "select *"
        source = f'stored.main."{table}"'
        if state is not None and table in STATE_TABLES:
            shown.register("state_rows", state.sql(f'select * from "{table}"').to_arrow_table())  # noqa: S608
            shown.execute(f'create table shared_state."{table}" as select * from state_rows')  # noqa: S608
            shown.unregister("state_rows")
            source = f'shared_state."{table}"'
        shown.execute(f'create view "{table}" as {body} from {source}')  # noqa: S608
    for (text,) in shown.execute("select sql from duckdb_views() "
                                 "where database_name = 'stored' and not internal").fetchall():
        shown.execute(text)  # the file's own views, over the scaled tables
    return shown

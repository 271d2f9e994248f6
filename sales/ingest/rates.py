"""A currency rate file (`import FILE --kind currency_rates`): iso_code, start_date, rate, the
rate as Salesforce defines it (units of the currency per one unit of the corporate currency).

The file is the whole rate table from the import's as-of date (docs/import.md#currencies): a
row without a start date is the currency's static rate; dated rows run until the currency's
next start date. Ranges may start at 0001-01-01 or end at 9999-12-31, as Salesforce stores
them: the import's 1900–2200 rule is for deal dates, not for these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

import duckdb
import pandas as pd

from sales.currency import RateTable, dated_ranges, is_code, store_rates
from sales.ingest.headers import CURRENCY_RATES, check_required, resolve
from sales.ingest.mapping import Mapping
from sales.ingest.readers import Source
from sales.ingest.validate import ERROR, Findings
from sales.ingest.values import clean_text, parse_dates


@dataclass
class PreparedRates:
    source: Source
    columns: dict[str, str]
    ignored: list[str]
    frame: pd.DataFrame
    table: RateTable


def prepare(source: Source, mapping: Mapping | None, findings: Findings) -> PreparedRates | None:
    """Check a rate file; None when its columns are unusable (the findings say why)."""
    columns, ignored, _ = resolve(source.headers, CURRENCY_RATES, None, strict=False)
    if not check_required(source.name, CURRENCY_RATES, columns, findings,
                          "a rate file has the columns iso_code, start_date, rate"):
        return None
    raw = source.frame
    codes = clean_text(raw[columns["iso_code"]]).str.upper()
    findings.add(ERROR, "bad_currency", source.name, columns["iso_code"],
                 "not a currency code", "write the ISO 4217 code: three letters, e.g. EUR",
                 ~codes.fillna("").str.fullmatch("[A-Z]{3}").to_numpy(dtype=bool), codes)
    rates = pd.Series([_decimal(v) for v in clean_text(raw[columns["rate"]])], index=raw.index,
                      dtype=object)
    bad = rates.map(lambda r: r is None or not r > 0).to_numpy(dtype=bool)
    findings.add(ERROR, "bad_rate", source.name, columns["rate"],
                 "the rate is not a number above 0",
                 "write units of the currency per one unit of the corporate currency, e.g. "
                 "0.92 for EUR in a USD company", bad, raw[columns["rate"]])
    starts = pd.Series(None, index=raw.index, dtype=object)
    if "start_date" in columns:
        text = clean_text(raw[columns["start_date"]])
        starts = pd.Series([_day(v, mapping) for v in text], index=raw.index, dtype=object)
        unreadable = (text.notna() & starts.isna()).to_numpy(dtype=bool)
        findings.add(ERROR, "bad_date", source.name, columns["start_date"],
                     "not a date we can read", "write dates as YYYY-MM-DD (0001-01-01 for "
                     "a rate in force since always)", unreadable, raw[columns["start_date"]])
    frame = pd.DataFrame({"iso_code": codes, "start_date": starts, "rate": rates})
    repeated = frame.duplicated(["iso_code", "start_date"], keep=False).to_numpy()
    findings.add(ERROR, "duplicate_rate", source.name, columns["iso_code"],
                 "the same currency and start date are on more than one row",
                 "keep one rate per currency and start date", repeated, codes)
    usable = frame[frame["iso_code"].fillna("").map(is_code) & ~bad]
    rows = [(code, start if isinstance(start, date) else None, rate)
            for code, start, rate in usable.itertuples(index=False)]
    return PreparedRates(source, columns, ignored, frame, RateTable(tuple(dated_ranges(rows))))


def _day(text: object, mapping: Mapping | None) -> date | None:
    """A start date; ISO dates of any year (0001-01-01 included) read directly."""
    if text is None or pd.isna(text):
        return None
    value = str(text).strip()
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        parsed, bad = parse_dates(pd.Series([value]), mapping.date_format if mapping else None)
        return None if bad[0] or pd.isna(parsed.iloc[0]) else parsed.iloc[0].date()


def _decimal(text: object) -> Decimal | None:
    if text is None or pd.isna(text):
        return None
    try:
        value = Decimal(str(text).replace(",", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def write(con: duckdb.DuckDBPyConnection, prepared: PreparedRates, as_of: date) -> str:
    """Record the file as the rate table from `as_of`; returns what was done."""
    table = prepared.table
    codes = ", ".join(table.codes())
    if not store_rates(con, table, as_of):
        return f"the rates of {codes} are the ones already recorded; nothing changed"
    return f"the rate table from {as_of}: {len(table.rates):,} rate(s) for {codes}"

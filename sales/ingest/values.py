"""Parsing columns of text into dates, amounts, whole numbers and categories, all at once.

Each parser returns the parsed column and a mask of the values it could not read, so the
caller can report those rows. Missing values are never "bad": whether a value is required is
the caller's rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sales.deal_types import SPELLINGS as TYPE_SPELLINGS
from sales.stages import BEST_CASE, CLOSED, COMMIT, OMITTED, PIPELINE

# Non-ISO date layouts, tried in this order; the one that reads most of a column is used for
# all of it, so a file never mixes day-first and month-first readings. Month-first comes first
# because Salesforce's default locale (en_US) writes 8/22/2018.
DATE_FORMATS = ("%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%b-%Y", "%d %b %Y",
                "%b %d, %Y", "%d-%m-%Y", "%m/%d/%y", "%d/%m/%y", "%Y%m%d")
# Dates outside these years are typing mistakes, not deals.
MIN_YEAR, MAX_YEAR = 1900, 2200
# Excel stores dates as days since 1899-12-30; a bare number in this range in a date column of
# a workbook is one (1955-01-01 … 2119-01-01).
_EXCEL_SERIALS = (20_000, 80_000)
_EXCEL_EPOCH = np.datetime64("1899-12-30")
# Patterns avoid \s and \u escapes, which would send pandas from pyarrow's regex engine to
# Python's, row by row (ten times slower on a large export).
_TIME_SUFFIX = r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?: *[AaPp][Mm])?(?:Z|[+-]\d{2}:?\d{2})?)$"
_CURRENCY_CODE = r"^[A-Z]{3} *| *[A-Z]{3}$"
_MONEY_NOISE = "[() \t\u00a0'$€£¥]"
# The largest amount decimal(18, 2) holds.
MAX_AMOUNT = 1e16

# Forecast category spellings (folded: lower case, letters only) → the canonical category.
# Salesforce's API values: Forecast is the Commit category; Most Likely sits between Best Case
# and Commit and is read as Best Case, the cautious side (map it in [categories] to change).
_CATEGORIES = {
    "pipeline": PIPELINE, "bestcase": BEST_CASE, "upside": BEST_CASE, "mostlikely": BEST_CASE,
    "commit": COMMIT, "forecast": COMMIT, "closed": CLOSED, "closedwon": CLOSED, "won": CLOSED,
    "omitted": OMITTED, "omit": OMITTED,
}


def clean_text(column: pd.Series) -> pd.Series:
    """Trim spaces; empty text becomes missing."""
    text = column.astype("string").str.strip()
    return text.mask(text == "")


def parse_dates(column: pd.Series, date_format: str | None = None) -> tuple[pd.Series, np.ndarray]:
    """Text → datetime64 (time of day dropped); returns (dates, mask of unreadable values)."""
    text = clean_text(column)
    present = text.notna().to_numpy()
    result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[s]")
    if not present.any():
        return result, np.zeros(len(text), bool)
    stripped = text.str.replace(_TIME_SUFFIX, "", regex=True).str.strip()
    iso = stripped.str.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}").fillna(False).to_numpy()
    if iso.any():
        result[iso] = pd.to_datetime(stripped[iso], format="%Y-%m-%d", errors="coerce")
    rest = present & ~iso
    if rest.any():
        serial = stripped.str.fullmatch(r"\d{5}(?:\.0+)?").fillna(False).to_numpy() & rest
        if serial.any():
            days = pd.to_numeric(stripped[serial], errors="coerce")
            inside = days.between(*_EXCEL_SERIALS)
            result[serial] = (_EXCEL_EPOCH + days.where(inside).to_numpy()
                              .astype("timedelta64[D]", copy=False)).astype("datetime64[s]")
            rest &= ~serial
    if rest.any():
        formats = (date_format,) if date_format else DATE_FORMATS
        pending = stripped[rest]
        best = max(((f, pd.to_datetime(pending, format=f, errors="coerce")) for f in formats),
                   key=lambda pair: int(pair[1].notna().sum()))
        result[rest] = best[1]
    years = result.dt.year
    result = result.mask((years < MIN_YEAR) | (years > MAX_YEAR))
    bad = present & result.isna().to_numpy()
    return result, bad


def parse_amounts(column: pd.Series, decimal: str = ".") -> tuple[pd.Series, np.ndarray]:
    """Money text → float (currency signs, codes and thousands separators dropped; (1,200) is
    negative); returns (amounts, mask of unreadable values)."""
    text = clean_text(column)
    present = text.notna().to_numpy()
    negative = text.str.fullmatch(r"\(.*\)").fillna(False)
    cleaned = (text.str.replace(_CURRENCY_CODE, "", regex=True)
               .str.replace(_MONEY_NOISE, "", regex=True))
    if decimal == ",":
        cleaned = cleaned.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        cleaned = cleaned.str.replace(",", "", regex=False)
    amounts = pd.to_numeric(cleaned, errors="coerce").astype("float64")
    amounts = amounts.where(~negative.to_numpy(), -amounts)
    amounts = amounts.where(np.isfinite(amounts) & (amounts.abs() < MAX_AMOUNT))
    bad = present & amounts.isna().to_numpy()
    return amounts.round(2), bad


def parse_whole_numbers(column: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Counts such as employees: whole numbers ≥ 0; returns (Int64 values, mask of bad values)."""
    numbers, bad = parse_amounts(column)
    ok = numbers.notna() & (numbers >= 0) & (numbers == numbers.round(0))
    bad = bad | (numbers.notna() & ~ok).to_numpy()
    return numbers.where(ok).astype("Int64"), bad


def parse_flags(column: pd.Series) -> pd.Series:
    """true/false, 1/0, yes/no → boolean (missing where it is neither)."""
    folded = clean_text(column).str.lower()
    return folded.map({"true": True, "1": True, "yes": True, "y": True, "false": False, "0": False,
                       "no": False, "n": False}).astype("boolean")


def fold_value(text: str) -> str:
    return "".join(ch for ch in str(text).lower() if ch.isalnum())


def parse_types(column: pd.Series, extra: dict[str, str] | None = None
                ) -> tuple[pd.Series, np.ndarray]:
    """Deal type text → New Business, Expansion or Renewal where the spelling is known
    (sales.deal_types, then the mapping file's [types]); other values are kept as written.
    Returns (types, mask of values kept as written)."""
    text = clean_text(column)
    folded = text.str.lower().str.replace(r"[^0-9a-z]", "", regex=True)
    lookup = dict(TYPE_SPELLINGS)
    lookup.update({fold_value(k): v for k, v in (extra or {}).items()})
    types = folded.map(lookup)
    unknown = text.notna().to_numpy() & types.isna().to_numpy()
    return types.fillna(text).astype("string"), unknown


def parse_categories(column: pd.Series, extra: dict[str, str] | None = None
                     ) -> tuple[pd.Series, np.ndarray]:
    """Forecast category text → canonical category; returns (categories, mask of unknown values)."""
    text = clean_text(column)
    lookup = dict(_CATEGORIES)
    lookup.update({fold_value(k): v for k, v in (extra or {}).items()})
    folded = text.str.lower().str.replace(r"[^0-9a-z]", "", regex=True)
    categories = folded.map(lookup)
    bad = text.notna().to_numpy() & categories.isna().to_numpy()
    return categories.astype("string"), bad

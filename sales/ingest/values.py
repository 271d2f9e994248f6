"""Parsing columns of text into dates, amounts, whole numbers and categories, all at once.

Each parser returns the parsed column and a mask of the values it could not read, so the
caller can report those rows. Missing values are never "bad": whether a value is required is
the caller's rule.

Amounts: the decimal separator is decided once for a whole column (or a file's money columns,
`decide_decimal`), never value by value, because `1.234` is 1234 in a file of `1.234,50` and
1.234 in a file of `1,234.50`. Each value votes with its shape:

- both `.` and `,`: the last one is the decimal separator (1,234.50 and 1.234,50);
- one of them twice or more: it groups thousands (1,234,567 and 1.234.567);
- one separator not followed by exactly three digits: it is the decimal one (83500,00, 12.5);
- one separator followed by exactly three digits on formatted money (a currency sign or code):
  thousands, as money is shown with 0 or 2 decimals ($1,234 and €1.234);
- anything else (1,234 or 1.234, no currency) reads either way and does not vote.

Spaces, apostrophes and no-break spaces group thousands in either format (1 234,50, 1'234.50).
The majority decides; a value against the decided format is unreadable, never rescaled. A
column whose values never vote but hold some that read either way is ambiguous: the caller
refuses it and says how to settle it (`[format] decimal` in the mapping file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sales.deal_types import SPELLINGS as TYPE_SPELLINGS
from sales.stages import BEST_CASE, CLOSED, COMMIT, OMITTED, PIPELINE

# Non-ISO date layouts, tried in this order; the one that reads most of a column is used for
# all of it, so a file never mixes day-first and month-first readings. Month-first comes first
# because Salesforce's default locale (en_US) writes 8/22/2018.
DATE_FORMATS = ("%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%b-%Y", "%d %b %Y",
                "%b %d, %Y", "%d-%m-%Y", "%m/%d/%y", "%d/%m/%y", "%Y%m%d")
# Dates outside these years are typing mistakes (0026 for 2026), not deals: read, then refused
# saying the range (`outside_years`).
MIN_YEAR, MAX_YEAR = 1900, 2200
# Excel stores dates as days since 1899-12-30; a bare number in this range in a date column of
# a workbook is one (1955-01-01 … 2119-01-01).
_EXCEL_SERIALS = (20_000, 80_000)
_EXCEL_EPOCH = np.datetime64("1899-12-30")
# Patterns avoid \s and \u escapes, which would send pandas from pyarrow's regex engine to
# Python's, row by row (ten times slower on a large export).
_TIME_SUFFIX = r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?: *[AaPp][Mm])?(?:Z|[+-]\d{2}:?\d{2})?)$"
_CURRENCY_CODE = r"^[A-Z]{3} *| *[A-Z]{3}$"
_CURRENCY_SIGN = "[$€£¥]"
# Currencies shown with three decimals: their 1.234 may be 1.234, so the code does not vote.
_THREE_DECIMALS = r"^(?:BHD|IQD|JOD|KWD|LYD|OMR|TND)|(?:BHD|IQD|JOD|KWD|LYD|OMR|TND)$"
_MONEY_NOISE = "[() \t\u00a0\u202f'$€£¥]"
POINT, COMMA = ".", ","
# What a value may look like once its currency and spacing are dropped, per decimal separator.
_SHAPES = {
    POINT: r"[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?",
    COMMA: r"[+-]?(?:[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]*)(?:,[0-9]*)?",
}
# One separator followed by exactly three digits: 1,234 or 1.234 (not 0.123).
_EITHER_WAY = {POINT: r"[+-]?[1-9][0-9]{0,2}\.[0-9]{3}", COMMA: r"[+-]?[1-9][0-9]{0,2},[0-9]{3}"}
_EITHER = "either"
# The same patterns for Python's re, applied once per shape of value (digits 1-9 written as 9,
# zeros kept: 0.123 is a decimal, 9,999 reads either way).
_EITHER_SHAPE = {POINT: re.compile(r"[+-]?9[09]{0,2}\.[09]{3}"),
                 COMMA: re.compile(r"[+-]?9[09]{0,2},[09]{3}")}
_MONEY_RE = re.compile(f"{_CURRENCY_SIGN}|{_CURRENCY_CODE}")
_THREE_DECIMALS_RE = re.compile(_THREE_DECIMALS)
_CURRENCY_CODE_RE = re.compile(_CURRENCY_CODE)
_MONEY_NOISE_RE = re.compile(_MONEY_NOISE)
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
    """Text → datetime64 (time of day dropped); returns (dates, mask of unreadable values).
    Dates of any year come back; `outside_years` says which the import refuses."""
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
    bad = present & result.isna().to_numpy()
    return result, bad


def outside_years(dates: pd.Series) -> np.ndarray:
    """Mask of dates before MIN_YEAR or after MAX_YEAR."""
    years = dates.dt.year
    return ((years < MIN_YEAR) | (years > MAX_YEAR)).fillna(False).to_numpy(dtype=bool)


@dataclass(frozen=True)
class NumberFormat:
    """A column's decimal separator as its values show it: "." or ",", or None when no value
    shows it; `example` is a value that reads either way, kept when nothing settled it."""

    separator: str | None
    example: str | None = None
    mixed: bool = False  # as many values show a decimal point as a decimal comma

    @property
    def ambiguous(self) -> bool:
        return self.separator is None and (self.example is not None or self.mixed)


def _money_text(column: pd.Series) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """(trimmed text, the digits, signs and separators left once currency and spacing are
    dropped, mask of values in parentheses)."""
    text = clean_text(column)
    negative = text.str.fullmatch(r"\(.*\)").fillna(False).to_numpy(dtype=bool)
    cleaned = (text.str.replace(_CURRENCY_CODE, "", regex=True)
               .str.replace(_MONEY_NOISE, "", regex=True))
    return text, cleaned, negative


def _vote(shape: str) -> str | None:
    """What one value's shape (its digits 1-9 written as 9) says: POINT or COMMA for the decimal
    separator it shows, _EITHER for a shape that reads both ways, None for no separator."""
    money = bool(_MONEY_RE.search(shape)) and not _THREE_DECIMALS_RE.search(shape)
    bare = _MONEY_NOISE_RE.sub("", _CURRENCY_CODE_RE.sub("", shape))
    dot, comma = bare.rfind("."), bare.rfind(",")
    if dot >= 0 and comma >= 0:
        return POINT if dot > comma else COMMA
    if dot < 0 and comma < 0:
        return None
    sep, other = (POINT, COMMA) if dot >= 0 else (COMMA, POINT)
    if bare.count(sep) > 1:
        return other  # it groups thousands: 1,234,567
    if _EITHER_SHAPE[sep].fullmatch(bare):
        return other if money else _EITHER  # formatted money shows 0 or 2 decimals
    return sep


def decide_decimal(columns: list[pd.Series]) -> NumberFormat:
    """The decimal separator the values of these columns show, by majority (a tie shows
    none, and is ambiguous). Values are grouped by shape first (digits as 9), so the rules run
    once per shape, not once per value (a 100,000-row column has a few hundred)."""
    votes = {POINT: 0, COMMA: 0}
    example = None
    for column in columns:
        text = clean_text(column)
        shapes = text.str.replace("[1-9]", "9", regex=True)
        for shape, count in shapes.value_counts().items():
            vote = _vote(str(shape))
            if vote in votes:
                votes[vote] += int(count)
            elif vote == _EITHER and example is None:
                example = str(text[(shapes == shape).fillna(False)].iloc[0])
    if votes[POINT] != votes[COMMA]:
        return NumberFormat(POINT if votes[POINT] > votes[COMMA] else COMMA)
    return NumberFormat(None, example, mixed=bool(votes[POINT]))


def parse_amounts(column: pd.Series, decimal: str | None = None) -> tuple[pd.Series, np.ndarray]:
    """Money text → float (currency signs, codes and thousands separators dropped; (1,200) is
    negative), with `decimal` as the decimal separator, or the one the column shows (values
    that read either way are then unreadable); returns (amounts, mask of unreadable values)."""
    text, cleaned, negative = _money_text(column)
    present = text.notna().to_numpy()
    undecided = np.zeros(len(text), dtype=bool)
    if decimal is None:
        decision = decide_decimal([column])
        decimal = decision.separator or POINT
        if decision.ambiguous:
            either = f"(?:{_EITHER_WAY[POINT]}|{_EITHER_WAY[COMMA]})"
            undecided = cleaned.str.fullmatch(either).fillna(False).to_numpy(dtype=bool)
    shaped = cleaned.str.fullmatch(_SHAPES[decimal]).fillna(False).to_numpy(dtype=bool)
    if decimal == COMMA:
        cleaned = cleaned.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        cleaned = cleaned.str.replace(",", "", regex=False)
    amounts = pd.to_numeric(cleaned.where(shaped & ~undecided), errors="coerce").astype("float64")
    amounts = amounts.where(~negative, -amounts)
    amounts = amounts.where(np.isfinite(amounts) & (amounts.abs() < MAX_AMOUNT))
    bad = present & amounts.isna().to_numpy()
    return amounts.round(2), bad


def parse_whole_numbers(column: pd.Series, decimal: str | None = None
                        ) -> tuple[pd.Series, np.ndarray]:
    """Counts such as employees: whole numbers ≥ 0; returns (Int64 values, mask of bad values).
    Without a decimal separator from the file, a count's 1,200 or 1.200 groups thousands (a
    count has no decimals to show)."""
    if decimal is None:
        decision = decide_decimal([column])
        decimal = decision.separator or (COMMA if decision.example and "." in decision.example
                                         else POINT)
    numbers, bad = parse_amounts(column, decimal)
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

"""Files people take away: the one writer of every CSV and XLSX the product produces.

Every cell of text that a spreadsheet would read as a formula (it starts with `=`, `+`, `-`,
`@`, a tab or a carriage return) is written with a leading `'`, as OWASP recommends against
"CSV injection": an account named `=HYPERLINK(...)` in a CRM must not become a live link, or a
command, in the board's copy of Excel. Numbers stay numbers (a negative amount is a number, and
so is text that only spells one, like `-250`), and the caller's frame is never changed. Column
names are cells too: a query's aliases and an uploaded file's headers go through the same rule.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The first characters that make Excel, LibreOffice or Google Sheets evaluate a cell.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_PATTERN = "^[=+@\t\r-]"
# Text that only spells a number is evaluated as that number, never as a formula.
_NUMBER = re.compile(r"[+-]?[\d.,]*\d[\d.,]*(?:[eE][+-]?\d+)?")
_NUMBER_PATTERN = r"^[+-]?[0-9.,]*[0-9][0-9.,]*(?:[eE][+-]?[0-9]+)?$"
# Excel's sheet names are at most 31 characters.
_SHEET_NAME_CHARS = 31


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells and column names cannot be read as formulas."""
    safe = frame.copy(deep=False)
    for position in range(safe.shape[1]):
        column = safe.iloc[:, position]
        if column.dtype == object or pd.api.types.is_string_dtype(column) or isinstance(
                column.dtype, pd.CategoricalDtype):
            safe.isetitem(position, _neutral_column(column))
    safe.columns = [neutral_text(str(name)) for name in safe.columns]
    return safe


def neutral_text(value: str) -> str:
    """One piece of text, quoted when a spreadsheet would run it."""
    if value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _neutral_column(column: pd.Series) -> pd.Series:
    if column.dtype == object or isinstance(column.dtype, pd.CategoricalDtype):
        # Mixed columns (text beside numbers, dates or None): only the text is looked at.
        values = column.astype(object).to_numpy()
        risky = np.fromiter((isinstance(v, str) and v.startswith(_FORMULA_START)
                             and not _NUMBER.fullmatch(v) for v in values), bool, len(values))
        if not risky.any():
            return column
        values = values.copy()
        values[risky] = ["'" + v for v in values[risky]]
        return pd.Series(values, index=column.index, name=column.name, dtype=object)
    risky = (column.str.contains(_FORMULA_PATTERN, regex=True)
             & ~column.str.contains(_NUMBER_PATTERN, regex=True)).fillna(False)
    if not risky.any():
        return column
    return column.mask(risky, "'" + column)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """A download: the frame as UTF-8 CSV, formulas neutralised."""
    return neutralise(frame).to_csv(index=False).encode()


def xlsx_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    """One workbook, a sheet per frame (names cut to Excel's 31 characters), formulas
    neutralised."""
    buffer = io.BytesIO()
    _write_xlsx(sheets, buffer)
    return buffer.getvalue()


def write_file(frame: pd.DataFrame, path: str | Path, sheet: str = "Sheet1") -> Path:
    """Write `frame` to `path` as CSV or XLSX, by its suffix; ValueError for other suffixes."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ValueError(f"{path.name}: write to a .csv or .xlsx file")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        neutralise(frame).to_csv(path, index=False)
    else:
        _write_xlsx({sheet: frame}, path)
    return path


def _write_xlsx(sheets: dict[str, pd.DataFrame], target: io.BytesIO | Path) -> None:
    with pd.ExcelWriter(target, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            _printable(neutralise(frame)).to_excel(writer, sheet_name=name[:_SHEET_NAME_CHARS],
                                                   index=False)


def _printable(frame: pd.DataFrame) -> pd.DataFrame:
    """Control characters an XLSX file cannot hold (openpyxl refuses the whole workbook over
    one) are dropped from text cells."""
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        if column.dtype == object:
            frame.isetitem(position, column.map(
                lambda v: ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v))
        elif pd.api.types.is_string_dtype(column):
            frame.isetitem(position, column.str.replace(ILLEGAL_CHARACTERS_RE.pattern, "",
                                                        regex=True))
    return frame

"""Reading CSV and XLSX exports into frames of text, one column per header.

Every value stays text here (parsing is validation's job, so a bad value can be reported with
its row); empty cells are missing. CSV files may be UTF-8 (with or without a byte-order mark)
or Windows-1252, separated by commas, semicolons, tabs or pipes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

_DELIMITERS = (",", ";", "\t", "|")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
CSV_SUFFIXES = (".csv", ".txt", ".tsv")


class ReadError(ValueError):
    """A file that cannot be read as a table; the message says why and what to do."""


@dataclass
class Source:
    """One file as read: its name, its table of text and where it came from.

    `frame` keeps the file's row order; its index is the 0-based data row, so the row a user
    sees in a spreadsheet is index + 2 (the header is row 1).
    """

    name: str
    frame: pd.DataFrame
    path: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def headers(self) -> list[str]:
        return [str(c) for c in self.frame.columns]


def read_path(path: str | Path) -> Source:
    """Read a CSV or XLSX file from disk."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ReadError(f"cannot read {path}: {error.strerror}") from None
    source = read_bytes(path.name, data)
    source.path = str(path.resolve())
    return source


def read_bytes(name: str, data: bytes) -> Source:
    """Read an uploaded or loaded file; the kind of file comes from its name (CSV otherwise)."""
    if not data.strip():
        raise ReadError(f"{name} is empty")
    suffix = Path(name).suffix.lower()
    if suffix in XLSX_SUFFIXES or data[:4] == b"PK\x03\x04":
        frame, notes = _read_xlsx(name, data)
    elif suffix == ".xls":
        raise ReadError(f"{name} is an old Excel .xls file; save it as .xlsx or CSV and retry")
    else:
        frame, notes = _read_csv(name, data)
    return _tidy(name, frame, notes)


def _read_csv(name: str, data: bytes) -> tuple[pd.DataFrame, list[str]]:
    notes = []
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        data = data.decode("cp1252", errors="replace").encode("utf-8")
        notes.append("read as Windows-1252 text (not UTF-8)")
    first_line = data.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    delimiter = max(_DELIMITERS, key=first_line.count)
    options = dict(sep=delimiter, dtype=str, keep_default_na=False, na_values=[""])
    try:
        frame = pd.read_csv(io.BytesIO(data), engine="pyarrow", **options)
    except Exception:  # noqa: BLE001 - the C parser reads more shapes and says where it broke
        try:
            frame = pd.read_csv(io.BytesIO(data), **options)
        except (pd.errors.ParserError, ValueError) as error:
            raise ReadError(f"{name} is not a readable CSV file: {error}") from None
    return frame, notes


def _read_xlsx(name: str, data: bytes) -> tuple[pd.DataFrame, list[str]]:
    try:
        book = pd.ExcelFile(io.BytesIO(data), engine="openpyxl")
        frame = pd.read_excel(book, sheet_name=book.sheet_names[0], dtype=str,
                              keep_default_na=False, na_values=[""])
    except Exception as error:  # noqa: BLE001 - openpyxl raises many types for bad files
        raise ReadError(f"{name} is not a readable XLSX workbook: {error}") from None
    notes = []
    if len(book.sheet_names) > 1:
        notes.append(f"read the first sheet, {book.sheet_names[0]!r}, of {len(book.sheet_names)}")
    return frame, notes


def _tidy(name: str, frame: pd.DataFrame, notes: list[str]) -> Source:
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    if frame.columns.empty:
        raise ReadError(f"{name} has no header row")
    for column in frame.columns:
        if frame[column].dtype != object and not pd.api.types.is_string_dtype(frame[column]):
            frame[column] = frame[column].astype("str").where(frame[column].notna())
    blank = frame.isna().all(axis=1)
    if blank.any():
        frame = frame[~blank]
        notes.append(f"skipped {int(blank.sum()):,} empty row(s)")
    return Source(name, frame, notes=tuple(notes))

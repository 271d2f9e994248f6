"""Reading CSV and XLSX exports into frames of text, one column per header.

Every value stays text here (parsing is validation's job, so a bad value can be reported with
its row); empty cells are missing. CSV files are read as UTF-8 (with or without a byte-order
mark, or UTF-16 with one, as Excel's "Unicode text" writes), else as Windows-1252 only when the
whole file decodes cleanly as that; separated by commas, semicolons, tabs or pipes. A UTF-8
file with a few bytes that are not UTF-8 stays UTF-8: the bytes become U+FFFD and the import's
validation report counts them (re-reading the whole file as Windows-1252 would turn every
"Zürich" into "ZÃ¼rich"). A file that is not text at all is refused in one line.

A header that appears twice is kept twice, each as `name (column N)`: which one is meant is
the mapping file's to say (`sales.ingest.headers.repeated`), never the reader's.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sales.ingest.headers import repeated_label

_DELIMITERS = (",", ";", "\t", "|")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
_NOT_A_TABLE = "is not a CSV or Excel file"
# Control characters no text file holds (tab, line feeds, form feed, carriage return and the
# DOS end-of-file mark 0x1A are text). A NUL anywhere, or more than 1% of these in the first
# 64 kB, and the file is binary: a picture, a PDF or a database renamed .csv.
_CONTROL = re.compile(rb"[\x01-\x08\x0e-\x19\x1b-\x1f]")
_SAMPLE_BYTES = 65_536
_CONTROL_SHARE = 0.01
# Bytes that are not UTF-8, as `surrogateescape` decodes them (one lone surrogate per byte).
_ESCAPED = re.compile("[\udc80-\udcff]")
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an .xls (or .doc) file


class ReadError(ValueError):
    """A file that cannot be read as a table; the message says why and what to do."""


@dataclass
class Source:
    """One file as read: its name, its table of text and where it came from.

    `frame` keeps the file's row order; its index is the 0-based data row, so the row a user
    sees in a spreadsheet is index + 2 (the header is row 1). `delimiter` is the CSV separator
    (None for a workbook); `bad_bytes` counts bytes that were not UTF-8 and read as U+FFFD.
    """

    name: str
    frame: pd.DataFrame
    path: str | None = None
    notes: tuple[str, ...] = ()
    delimiter: str | None = None
    bad_bytes: int = 0

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
    """Read an uploaded or loaded file; the kind of file comes from its first bytes, then its
    name (CSV otherwise)."""
    if not data.strip():
        raise ReadError(f"{name} is empty")
    suffix = Path(name).suffix.lower()
    if data.startswith(_OLE2) or suffix == ".xls":
        raise ReadError(f"{name} is an old Excel .xls file; save it as .xlsx or CSV and retry")
    if suffix in XLSX_SUFFIXES or data[:4] == b"PK\x03\x04":
        return _read_xlsx(name, data)
    return _read_csv(name, data)


def _read_csv(name: str, data: bytes) -> Source:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    text, notes, bad_bytes = _decode(name, data)
    if text is not None:
        data = text.encode("utf-8")
    first_line = data.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    delimiter = max(_DELIMITERS, key=first_line.count)
    options = dict(sep=delimiter, dtype=str, keep_default_na=False, na_values=[""])
    try:
        frame = pd.read_csv(io.BytesIO(data), engine="pyarrow", **options)
    except Exception:  # noqa: BLE001 - the C parser reads more shapes and says where it broke
        try:
            frame = pd.read_csv(io.BytesIO(data), **options)
        except (pd.errors.ParserError, ValueError) as error:
            raise ReadError(f"{name} is not a readable CSV file: {_first_line(error)}") from None
    headers = next(csv.reader([first_line.rstrip("\r")], delimiter=delimiter), [])
    return _tidy(name, frame, headers, notes, delimiter, bad_bytes)


def _decode(name: str, data: bytes) -> tuple[str | None, list[str], int]:
    """The file's text when it is not plain UTF-8 (None: it is, read the bytes as they are),
    notes for the summary, and how many bytes were not UTF-8."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), ["read as UTF-16 text"], 0
        except UnicodeDecodeError:
            raise ReadError(f"{name} {_NOT_A_TABLE}: it starts like UTF-16 text but is not; "
                            "save it as CSV UTF-8 and retry") from None
    _refuse_binary(name, data)
    try:
        data.decode("utf-8")
        return None, [], 0
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
    text = data.decode("utf-8", errors="surrogateescape")
    bad = len(_ESCAPED.findall(text))
    # Any character that took several valid UTF-8 bytes says the file is UTF-8; Windows-1252
    # text almost never forms one (an accented capital followed by a symbol).
    if len(text) - len(text.encode("ascii", errors="ignore")) > bad:
        note = (f"{bad:,} byte{'s' if bad != 1 else ''} that {'are' if bad != 1 else 'is'} "
                f"not UTF-8 read as \ufffd (first on line {line:,})")
        return _ESCAPED.sub("\ufffd", text), [note], bad
    try:
        return data.decode("cp1252"), ["read as Windows-1252 text (not UTF-8)"], 0
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ReadError(f"{name} is neither UTF-8 nor Windows-1252 text (byte 0x"
                        f"{data[error.start]:02X} on line {line:,}); save it as CSV UTF-8 and "
                        "retry") from None


def _refuse_binary(name: str, data: bytes) -> None:
    sample = data[:_SAMPLE_BYTES]
    if b"\x00" in data or len(_CONTROL.findall(sample)) > _CONTROL_SHARE * len(sample):
        raise ReadError(f"{name} {_NOT_A_TABLE} (it holds binary data, not text); export the "
                        "data as CSV or XLSX and retry")


def _read_xlsx(name: str, data: bytes) -> Source:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            workbook = "xl/workbook.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        workbook = False
    if not workbook:
        raise ReadError(f"{name} {_NOT_A_TABLE} (not an XLSX workbook); export the data as CSV "
                        "or XLSX and retry")
    try:
        book = pd.ExcelFile(io.BytesIO(data), engine="openpyxl")
        # The header row is read as data, so a header that appears twice stays itself.
        cells = pd.read_excel(book, sheet_name=book.sheet_names[0], dtype=str, header=None,
                              keep_default_na=False, na_values=[""])
    except Exception as error:  # noqa: BLE001 - openpyxl raises many types for bad files
        raise ReadError(f"{name} is not a readable XLSX workbook: {_first_line(error)}") from None
    if cells.empty:
        raise ReadError(f"{name} has no header row")
    headers = ["" if pd.isna(h) else str(h) for h in cells.iloc[0]]
    frame = cells.iloc[1:].reset_index(drop=True)
    frame.columns = [h or f"Unnamed: {i}" for i, h in enumerate(headers)]
    notes = []
    if len(book.sheet_names) > 1:
        notes.append(f"read the first sheet, {book.sheet_names[0]!r}, of {len(book.sheet_names)}")
    return _tidy(name, frame, headers, notes, None, 0)


def _tidy(name: str, frame: pd.DataFrame, headers: list[str], notes: list[str],
          delimiter: str | None, bad_bytes: int) -> Source:
    frame.columns = _labels(frame, headers)
    if frame.columns.empty:
        raise ReadError(f"{name} has no header row")
    for column in frame.columns:
        if frame[column].dtype != object and not pd.api.types.is_string_dtype(frame[column]):
            frame[column] = frame[column].astype("str").where(frame[column].notna())
    blank = frame.isna().all(axis=1)
    if blank.any():
        frame = frame[~blank]
        notes.append(f"skipped {int(blank.sum()):,} empty row(s)")
    return Source(name, frame, notes=tuple(notes), delimiter=delimiter, bad_bytes=bad_bytes)


def _labels(frame: pd.DataFrame, headers: list[str]) -> list[str]:
    """Column names: the file's headers, trimmed; a header written more than once is labelled
    with its column number each time (pandas would call the second `stage.1`, which a mapping
    could not tell from a real header). Headers that could not be read whole (a quoted line
    break in the header row) fall back to the parser's names."""
    names = [str(c) for c in frame.columns]
    if len(headers) == len(names):
        names = [h if h.strip() else n for h, n in zip(headers, names, strict=True)]
    names = [n.strip().lstrip("\ufeff").strip() for n in names]
    counts = pd.Series(names).value_counts()
    return [repeated_label(n, i + 1) if counts[n] > 1 else n for i, n in enumerate(names)]


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__

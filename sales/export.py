"""Files people take away: CSV and XLSX bytes from frames."""

from __future__ import annotations

import io

import pandas as pd

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def xlsx_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    """One workbook, a sheet per frame (names cut to Excel's 31 characters)."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name[:31], index=False)
    return buffer.getvalue()

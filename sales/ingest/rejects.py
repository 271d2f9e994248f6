"""Rejected rows, as the user sent them, with the spreadsheet row number and every reason."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sales.export import write_file
from sales.ingest.readers import Source
from sales.ingest.validate import Findings


def rejected_rows(source: Source, findings: Findings) -> pd.DataFrame:
    """The file's rows that failed a check: `row` (as a spreadsheet numbers it), `problems`
    (every reason with its fix), then the row's own columns."""
    reasons = findings.reasons_by_row(source.name)
    if not reasons:
        return pd.DataFrame(columns=["row", "problems", *source.headers])
    rows = sorted(reasons)
    frame = source.frame.loc[rows].copy()
    frame.insert(0, "problems", ["; ".join(reasons[r]) for r in rows])
    frame.insert(0, "row", [r + 2 for r in rows])
    return frame.reset_index(drop=True)


def rejects_path(folder: str | Path, source_name: str) -> Path:
    return Path(folder) / f"{Path(source_name).stem}.rejected.csv"


def write_rejects(frame: pd.DataFrame, path: str | Path) -> Path:
    """The rejected rows as CSV, through the one writer: they are the user's own cells, and a
    hostile one must not run when the file is opened to fix it."""
    return write_file(frame, path)

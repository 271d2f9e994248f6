"""Frames as the report's rows: plain JSON numbers, text and ISO dates, so a frame a domain
function returns can become report keys at the JSON edge."""

from __future__ import annotations

import math
from datetime import date, datetime

import numpy as np
import pandas as pd


def number(value: object) -> float | int | None:
    """A plain JSON number: NaN and NA become None, numpy scalars Python ones."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    found = float(value)
    return None if math.isnan(found) else found


def records(frame: pd.DataFrame, columns: dict[str, str]) -> list[dict[str, object]]:
    """Rows of a frame as report dicts: {report key: value} for `columns` (frame column →
    key); numbers as plain numbers, text as text, dates as ISO text."""
    rows = []
    for record in frame.to_dict("records"):
        row = {}
        for column, key in columns.items():
            value = record.get(column)
            if isinstance(value, datetime):  # pandas reads DATE columns as timestamps
                row[key] = value.date().isoformat()
            elif isinstance(value, date):
                row[key] = value.isoformat()
            elif isinstance(value, str) or value is None:
                row[key] = value
            else:
                row[key] = number(value)
        rows.append(row)
    return rows


def same_records(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[dict[str, object]]:
    """`records` keeping the frame's column names as the keys."""
    return records(frame, {c: c for c in columns})

"""Customer segment from account size."""

from __future__ import annotations

import numpy as np
import pandas as pd

ENTERPRISE, MID_MARKET, SMB = "Enterprise", "Mid-Market", "SMB"
SEGMENTS = (ENTERPRISE, MID_MARKET, SMB)
ENTERPRISE_MIN_EMPLOYEES = 5_000
MID_MARKET_MIN_EMPLOYEES = 500


def segment_for(employees: int | None, explicit: str | None = None) -> str | None:
    """Enterprise ≥ 5,000 employees, Mid-Market 500–4,999, SMB 0–499; an explicit segment wins."""
    if explicit is not None and str(explicit).strip():
        return str(explicit).strip()
    if employees is None:
        return None
    if employees >= ENTERPRISE_MIN_EMPLOYEES:
        return ENTERPRISE
    if employees >= MID_MARKET_MIN_EMPLOYEES:
        return MID_MARKET
    return SMB


def fill_segments(segment: pd.Series, employees: pd.Series) -> pd.Series:
    """`segment_for` over columns: the explicit segment where there is one, else from the
    number of employees (None where neither is known)."""
    by_size = np.select(
        [employees.ge(ENTERPRISE_MIN_EMPLOYEES).fillna(False).to_numpy(dtype=bool),
         employees.ge(MID_MARKET_MIN_EMPLOYEES).fillna(False).to_numpy(dtype=bool),
         employees.notna().to_numpy()],
        [ENTERPRISE, MID_MARKET, SMB], default=None)
    return segment.where(segment.notna(), pd.Series(by_size, index=segment.index))

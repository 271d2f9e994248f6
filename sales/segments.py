"""Customer segment from account size."""

from __future__ import annotations

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

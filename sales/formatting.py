"""One way to write money, rates and multiples on screen and in reports."""

from __future__ import annotations

NOT_AVAILABLE = "—"


def money(value: float | None, precise: bool = False) -> str:
    """$1.2M, $350K, $900; `precise` gives whole dollars ($1,234,567)."""
    if value is None:
        return NOT_AVAILABLE
    sign = "-" if value < 0 else ""
    size = abs(value)
    if precise:
        return f"{sign}${size:,.0f}"
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if size >= limit:
            return f"{sign}${size / limit:,.1f}{suffix}"
    return f"{sign}${size:,.0f}"


def pct(value: float | None, digits: int = 0) -> str:
    """0.335 → 34% (digits=0) or 33.5% (digits=1)."""
    return NOT_AVAILABLE if value is None else f"{value * 100:.{digits}f}%"


def multiple(value: float | None) -> str:
    """3.04 → 3.0×."""
    return NOT_AVAILABLE if value is None else f"{value:.1f}×"


def count(value: int | None) -> str:
    return NOT_AVAILABLE if value is None else f"{value:,}"

"""One way to write money, rates and multiples on screen and in reports, and to show text from
data or users as text."""

from __future__ import annotations

import re
import threading

NOT_AVAILABLE = "—"


# The sign money is written with, per ISO code; another code is written before the number.
_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}
_shown = threading.local()  # each Streamlit session runs its script in a thread of its own


def use_currency(code: str) -> str:
    """Write money in `code` from now on, in this thread (a page run: the currency its
    amounts are in, corporate or the display currency). Returns the code it replaces."""
    before = getattr(_shown, "code", "USD")
    _shown.code = code
    return before


def money(value: float | None, precise: bool = False) -> str:
    """$1.2M, $350K, $900 (€, £ … or "CHF " in another currency, `use_currency`); `precise`
    gives whole units ($1,234,567)."""
    if value is None:
        return NOT_AVAILABLE
    code = getattr(_shown, "code", "USD")
    unit = _SIGNS.get(code, f"{code}\u00a0")
    sign = "-" if value < 0 else ""
    size = abs(value)
    if precise:
        return f"{sign}{unit}{size:,.0f}"
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if size >= limit:
            return f"{sign}{unit}{size / limit:,.1f}{suffix}"
    return f"{sign}{unit}{size:,.0f}"


def pct(value: float | None, digits: int = 0) -> str:
    """0.335 → 34% (digits=0) or 33.5% (digits=1)."""
    return NOT_AVAILABLE if value is None else f"{value * 100:.{digits}f}%"


def multiple(value: float | None) -> str:
    """3.04 → 3.0×."""
    return NOT_AVAILABLE if value is None else f"{value:.1f}×"


def count(value: int | None) -> str:
    return NOT_AVAILABLE if value is None else f"{value:,}"


# Every ASCII punctuation mark may be backslash-escaped in Markdown; these are the ones that
# start emphasis, links, code, tables, headings, lists, HTML and formulas (`$…$`).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&=])")
# Streamlit makes links of bare addresses (https://…, www.…, name@host) and icons of
# `:material/…:` after escapes are read, so an invisible word joiner breaks them up instead:
# after every colon and at-sign, and between "www" and its dot.
_WORD_JOINER = "\u2060"
_BREAK_AFTER = re.compile(r"[:@]|(?i:www)(?=\\\.)")
_CHART_SPECIAL = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def text(value: object) -> str:
    """A value from data or from a user (an owner, a stage, a saved call's note) for a place
    that renders Markdown — captions, banners, help, the Markdown report — so that it reads as
    the text it is: no emphasis, link, HTML, icon or formula, on one line."""
    flat = " ".join(str(value).split())
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", flat)
    return _BREAK_AFTER.sub(lambda found: found.group() + _WORD_JOINER, escaped)


def chart_text(value: object) -> str:
    """A value from data for a chart's labels: Plotly reads a few HTML tags in them (links,
    bold, line breaks); these show as the characters they are."""
    return "".join(_CHART_SPECIAL.get(c, c) for c in str(value))

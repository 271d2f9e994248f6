"""Shared state: the small tables people write (saved calls, settings, maps, targets, access,
follow-ups, the audit trail) kept in PostgreSQL when `SALES_STATE_URL` is set, so several app
processes and machines share them (docs/data-model.md#state-and-analytical-tables).

Without it (the default) they stay in the database file beside the deals, as always.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit, urlunsplit

STATE_URL_ENV_VAR = "SALES_STATE_URL"


def state_url() -> str | None:
    """The PostgreSQL URL of the shared state, None in embedded mode (state in the file)."""
    return os.environ.get(STATE_URL_ENV_VAR) or None


def is_postgres_url(text: str) -> bool:
    return text.startswith(("postgresql://", "postgres://"))


def redact(url: str) -> str:
    """The URL with its password (if any) replaced by ***: the only form messages and logs show."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def redact_text(text: str, url: str) -> str:
    """`text` (a driver's message) with the URL's password taken out wherever it appears."""
    password = urlsplit(url).password
    text = text.replace(url, redact(url))
    for form in {password, unquote(password or "")} - {None, ""}:
        text = text.replace(form, "***")
    return text

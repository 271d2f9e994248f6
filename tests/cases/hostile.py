"""Text a user should read literally: an owner named with Markdown and a link, and a saved call
whose name and note are Markdown and HTML (the page and browser tests share it)."""

from __future__ import annotations

from pathlib import Path

from sales.calls import save_call
from sales.db import connect
from sales.periods import parse_period
from sales.settings import load_settings
from sales.view import View
from tests.helpers import d, seed

HOSTILE = "**x** [y](https://evil.example) <b>z</b> :red[w] $1+1$"


def build(folder: Path) -> Path:
    """A database in `folder` whose owner and saved call are Markdown and HTML."""
    path = folder / "hostile.duckdb"
    con = connect(path)
    seed(con, [dict(id="H1", stage="4-Proposal", category="Commit", amount=100,
                    close="2026-12-01", owner=HOSTILE, account_employees=9000, region="AMER")],
         {d("2026-11-20"): [("H1", "4-Proposal", "Commit", 100, "2026-12-01", HOSTILE)]})
    view = View(parse_period("FY2026-Q4"), d("2026-11-20"))
    save_call(con, view, load_settings(con), None, {}, "[click me](https://evil.example)",
              note="**urgent** <script>alert(1)</script>")
    con.close()
    return path

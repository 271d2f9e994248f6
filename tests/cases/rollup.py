"""The forecast roll-up's hand-computed company (tests/sales/test_team_rollup.py proves every
`rollup` key from it; the Roll-up page's tests read it).

FY2026-Q1 (Jan–Mar 2026), as of Wednesday 2026-02-11; calls are due Mondays at 12:00 (UTC), so
the latest due moment on or before as-of is Monday 2026-02-09 12:00.

    Vic (VP)                       top
    ├── Mia (manager, owns M1)     Ann, Bob; Dee until 2026-01-31
    └── Ned (manager)              Cal; Dee from 2026-02-01 (the move)
"""

from __future__ import annotations

from datetime import datetime

from sales.db import connect, write_transaction
from sales.hierarchy import User, replace_hierarchy
from sales.people_calls import submit_call
from tests.helpers import d, seed

PERIOD = "FY2026-Q1"
A = d("2026-02-11")
BEFORE_MOVE = d("2026-01-20")
MOVE = d("2026-02-01")

WON, COMMIT, BEST, PIPE, LOST = ("7-Closed Won", "4-Proposal", "3-Technical Evaluation",
                                 "1-Discovery", "8-Closed Lost")
# (id, owner, stage, category, amount, close)
DEALS = [
    ("A1", "Ann", WON, "Closed", 100, "2026-01-15"),
    ("A2", "Ann", COMMIT, "Commit", 200, "2026-03-10"),
    ("A3", "Ann", BEST, "Best Case", 50, "2026-03-20"),
    ("X1", "Ann", COMMIT, "Commit", 999, "2026-04-10"),   # closes in Q2: in no amount
    ("B1", "Bob", COMMIT, "Commit", 300, "2026-03-05"),
    ("B2", "Bob", PIPE, "Pipeline", 400, "2026-03-25"),
    ("L1", "Bob", LOST, "Omitted", 80, "2026-02-01"),    # lost: in no amount
    ("D1", "Dee", WON, "Closed", 150, "2026-01-10"),
    ("D2", "Dee", COMMIT, "Commit", 60, "2026-03-15"),
    ("M1", "Mia", COMMIT, "Commit", 40, "2026-03-30"),   # a manager's own deal
    ("C1", "Cal", BEST, "Best Case", 500, "2026-03-12"),
    ("C2", "Cal", WON, "Closed", 70, "2026-02-05"),
]


def users(dee_manager: str) -> list[User]:
    return [User("Vic", "vic@example.com", None, "VP Sales"),
            User("Mia", "mia@example.com", "Vic", "Manager"),
            User("Ned", "ned@example.com", "Vic", "Manager"),
            User("Ann", "Ann@Example.com", "Mia", "AE"),
            User("Bob", "bob@example.com", "Mia", "AE"),
            User("Dee", "dee@example.com", dee_manager, "AE"),
            User("Cal", "cal@example.com", "Ned", "AE")]


# (user, forecast, upside, submitted at, entered by)
CALLS = [
    ("Ann", 250, 50, "2026-02-02 09:00", None),
    ("Ann", 280, 60, "2026-02-09 13:00", None),   # after the due moment: on time
    ("Bob", 250, 0, "2026-02-09 11:59", None),    # a minute before it: stale
    ("Dee", 200, 20, "2026-02-10 08:00", "Ned"),  # entered by her (new) manager
    ("Mia", 600, 100, "2026-02-10 09:00", None),  # her team's number, adjusted
    ("Vic", 900, 0, "2026-02-11 23:59:59", None),  # by the end of as-of: counts
    ("Vic", 5000, 0, "2026-02-12 08:00", None),   # after as-of: not seen
]


def build(path):
    """The company above in a database at `path` (deals as they stand, no snapshots)."""
    con = connect(path)
    seed(con, [{"id": i, "owner": o, "stage": s, "category": c, "amount": a, "close": close}
               for i, o, s, c, a, close in DEALS])
    with write_transaction(con) as cur:
        replace_hierarchy(cur, users("Mia"), d("2026-01-01"), "test")
        replace_hierarchy(cur, users("Ned"), MOVE, "test")
        for user, forecast, upside, at, by in CALLS:
            submit_call(cur, user, PERIOD, forecast, upside, at=datetime.fromisoformat(at), by=by)
    return con

"""Slippage's hand-computed deals (tests/sales/test_slippage.py works the rates out; the
report's tests read them)."""

from __future__ import annotations

from sales.db import connect
from tests.helpers import d, seed

DAYS = [d(x) for x in ("2026-07-15", "2026-09-10", "2026-09-30", "2026-10-05", "2026-10-15")]


C, P, B, W, L, U = ("4-Proposal", "Commit"), ("1-Discovery", "Pipeline"), \
    ("3-Technical Evaluation", "Best Case"), ("7-Closed Won", "Closed"), \
    ("8-Closed Lost", "Omitted"), ("0-Pending Acceptance", "Pipeline")


# id: owner, then (stage+category, amount, close) at each snapshot (None: not there).
LIVES = {
    # Due in Q3 at 150 on 09-10, pushed to November at Q3's end: slipped out of Q3 at 150.
    "S1": ("Ann", [(C, 100, "2026-09-20"), (C, 150, "2026-09-25"), (C, 150, "2026-11-10"),
                   (C, 150, "2026-11-10"), (C, 150, "2026-11-10")]),
    # Due in Q3 on 07-15 only (moved to October by 09-10): slipped at 200; won in Q4.
    "S2": ("Ann", [(P, 200, "2026-08-30"), (P, 200, "2026-10-05"), (P, 200, "2026-10-05"),
                   (W, 200, "2026-10-05"), (W, 200, "2026-10-05")]),
    # Won in Q3: no slip.
    "S3": ("Ann", [(C, 300, "2026-09-01"), (W, 300, "2026-09-01"), (W, 300, "2026-09-01"),
                   (W, 300, "2026-09-01"), (W, 300, "2026-09-01")]),
    # Lost at Q3's end: no slip.
    "S4": ("Ann", [(B, 50, "2026-09-30"), (B, 50, "2026-09-30"), (L, 50, "2026-09-30"),
                   (L, 50, "2026-09-30"), (L, 50, "2026-09-30")]),
    # Never qualified while due in Q3: no slip.
    "S5": ("Ann", [(U, 70, "2026-09-15"), (U, 70, "2026-09-15"), (U, 70, "2026-12-01"),
                   (U, 70, "2026-12-01"), (U, 70, "2026-12-01")]),
    # Q4, still running: due in December on 10-05, in January by as-of: slipped out of Q4.
    "S7": ("Bob", [None, None, None, (P, 40, "2026-12-15"), (P, 40, "2027-01-20")]),
}


def build(path):
    """The fixture above in a database at `path`; the current state is the last picture."""
    con = connect(path)
    last = {i: life[-1] for i, (_, life) in LIVES.items()}
    seed(con, [{"id": i, "stage": s[0][0], "category": s[0][1], "amount": s[1], "close": s[2],
                "owner": LIVES[i][0], "account_employees": 100} for i, s in last.items()],
         {day: [(i, *life[k][0], *life[k][1:], owner) for i, (owner, life) in LIVES.items()
                if life[k] is not None] for k, day in enumerate(DAYS)})
    return con

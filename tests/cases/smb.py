"""The SMB weighted forecast's hand-computed company (tests/sales/test_smb.py works every rate
out; the SMB forecast page's tests read it)."""

from __future__ import annotations

from sales.db import connect
from tests.helpers import d, seed_lives

A = d("2026-11-20")  # 50 days into Q4


# FY2026-Q3 (Jul–Sep) seen at the same offset: R = 2026-07-01 + 50 days = 2026-08-20; its
# snapshot in [Jul 1, Aug 20] is 2026-08-14, its last one 2026-09-30. FY2026-Q2 has no snapshot
# between Apr 1 and R = May 21, so it is skipped.
R3, END3 = d("2026-08-14"), d("2026-09-30")


PROP, TECH, DISC, WON, LOST = ("4-Proposal", "3-Technical Evaluation", "1-Discovery",
                               "7-Closed Won", "8-Closed Lost")


# id: (created, picture at R3, at Q3's end, now); a picture is (stage, category, amount, close)
LIVES = {
    # At R3 in Commit 100 closing in Q3; won at 120 in Q3.
    "H1": ("2026-07-10", (PROP, "Commit", 100, "2026-09-15"), (WON, "Closed", 120, "2026-09-10"),
           (WON, "Closed", 120, "2026-09-10")),
    # At R3 in Commit 200; lost.
    "H2": ("2026-07-11", (PROP, "Commit", 200, "2026-09-20"), (LOST, "Omitted", 200, "2026-09-18"),
           (LOST, "Omitted", 200, "2026-09-18")),
    # At R3 Best Case 400 in Q3; slipped, won in Q4 (October): not a Q3 win, but Closed now.
    "H3": ("2026-07-12", (TECH, "Best Case", 400, "2026-09-25"), (TECH, "Best Case", 400, "2026-10-15"),
           (WON, "Closed", 400, "2026-10-20")),
    # At R3 Pipeline 50; won at 50 in Q3.
    "H4": ("2026-07-13", (DISC, "Pipeline", 50, "2026-08-30"), (WON, "Closed", 50, "2026-08-30"),
           (WON, "Closed", 50, "2026-08-30")),
    # Created after R (Sep 1), won 300 in Q3: new pipeline, won.
    "H5": ("2026-09-01", None, (WON, "Closed", 300, "2026-09-25"), (WON, "Closed", 300, "2026-09-25")),
    # Created after R (Sep 5), open at Q3's end closing in Q3, lost later: new pipeline, not won.
    "H6": ("2026-09-05", None, (DISC, "Pipeline", 100, "2026-09-29"), (LOST, "Omitted", 100, "2026-10-02")),
    # Created before R, not yet qualified at R, won 70 in Q3: in no term.
    "H7": ("2026-08-01", ("0-Pending Acceptance", "Pipeline", 70, "2026-09-15"),
           (WON, "Closed", 70, "2026-09-15"), (WON, "Closed", 70, "2026-09-15")),
    # This quarter, now: Commit 1,000, Best Case 500, Pipeline 200, won 300 (+ H3's 400).
    "C1": ("2026-10-02", None, None, (PROP, "Commit", 1000, "2026-12-01")),
    "B1": ("2026-10-03", None, None, (TECH, "Best Case", 500, "2026-12-15")),
    "P1": ("2026-10-04", None, None, (DISC, "Pipeline", 200, "2026-12-20")),
    "W1": ("2026-10-05", None, None, (WON, "Closed", 300, "2026-11-05")),
}


def build(path):
    """The fixture above in a database at `path`, learning from the last two periods."""
    con = connect(path)
    seed_lives(con, {i: (created, list(pictures)) for i, (created, *pictures) in LIVES.items()},
               [R3, END3, A], owner="Ann", account_employees=40)  # SMB
    con.execute("insert into settings values ('history_periods', '2')")
    return con

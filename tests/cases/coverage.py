"""Coverage's hand-computed company (tests/sales/test_coverage.py works the numbers out; the
Coverage page's tests read it)."""

from __future__ import annotations

from sales.db import connect
from tests.helpers import add_target, d, seed

NOW, EARLY = d("2026-11-20"), d("2026-08-01")


ENT, MID, SMB = 9000, 600, 100  # employees → segment


# id, stage, category, amount, close, owner, employees, region, extras — the state now.
DEALS = [
    ("E1", "7-Closed Won", "Closed", 200, "2026-10-20", "Ann", ENT, "AMER", {}),
    ("E2", "4-Proposal", "Commit", 500, "2026-12-10", "Ann", ENT, "AMER", {}),
    ("E3", "3-Technical Evaluation", "Best Case", 400, "2026-12-15", "Ann", ENT, "EMEA", {}),
    ("E4", "1-Discovery", "Pipeline", 900, "2026-12-20", "Ann", ENT, "EMEA", {}),
    ("M1", "4-Proposal", "Commit", 300, "2026-12-05", "Bob", MID, "AMER", {}),
    ("SC", "7-Closed Won", "Closed", 100, "2026-10-10", "Bob", SMB, "APAC", {}),
    ("S2", "1-Discovery", "Pipeline", 200, "2026-12-01", "Bob", SMB, "APAC", {}),
    ("S3", "4-Proposal", "Commit", 50, "2026-11-30", "Bob", SMB, "APAC", {}),
    # Last quarter and the trailing rates window (2025-10-01 … 2026-09-30).
    ("X3", "7-Closed Won", "Closed", 600, "2026-09-15", "Ann", ENT, "AMER", {}),
    ("Y3", "8-Closed Lost", "Omitted", 400, "2026-09-20", "Bob", ENT, "EMEA",
     {"lost_reason": "No budget"}),
    ("SW1", "7-Closed Won", "Closed", 100, "2026-03-01", "Bob", SMB, "APAC", {}),
    ("SL1", "8-Closed Lost", "Omitted", 100, "2026-04-01", "Bob", SMB, "APAC",
     {"lost_reason": "No decision"}),
    ("SL2", "8-Closed Lost", "Omitted", 100, "2026-05-01", "Bob", SMB, "APAC",
     {"lost_reason": "No budget"}),
    ("SL3", "8-Closed Lost", "Omitted", 100, "2026-06-01", "Bob", SMB, "APAC",
     {"competitor": "Acme"}),
]


# On 2026-08-01 X3 was Commit 600 and Y3 Pipeline 400; the Q4 deals did not exist yet.
EARLY_CHANGES = {"X3": ("4-Proposal", "Commit"), "Y3": ("1-Discovery", "Pipeline")}


EARLY_IDS = ("X3", "Y3", "SW1", "SL1", "SL2", "SL3")


def build(path) -> None:
    """The fixture database at `path` (closed again, so an app can open it)."""
    con = connect(path)
    deals = [{"id": i, "stage": st, "category": c, "amount": a, "close": cl, "owner": o,
              "account_employees": e, "region": r, "team": "T1", **x}
             for i, st, c, a, cl, o, e, r, x in DEALS]
    now = [(i, st, c, a, cl, o) for i, st, c, a, cl, o, *_ in DEALS]
    early = [(i, *EARLY_CHANGES.get(i, (st, c)), a, cl, o) for i, st, c, a, cl, o, *_ in DEALS
             if i in EARLY_IDS]
    seed(con, deals, {EARLY: early, NOW: now})
    for period, scope, value, amount in [
            ("FY2026-Q4", "company", "", 1600), ("FY2026-Q3", "company", "", 1000),
            ("FY2026-Q4", "segment", "Enterprise", 1000), ("FY2026-Q4", "segment", "Mid-Market", 500),
            ("FY2026-Q4", "segment", "SMB", 100),
            ("FY2026-M10", "segment", "SMB", 30), ("FY2026-M11", "segment", "SMB", 30),
            ("FY2026-M12", "segment", "SMB", 40),
            ("FY2026-Q4", "region", "AMER", 1000), ("FY2026-Q4", "region", "EMEA", 500),
            *[(f"FY2026-Q{q}", "owner", "Ann", 250) for q in (1, 2, 3, 4)],
            *[(f"FY2026-Q{q}", "owner", "Bob", 300) for q in (1, 2, 3)]]:
        add_target(con, period, scope, value, amount)
    con.close()

"""The forecast call's hand-computed deals over three weekly snapshots (tests/sales/
test_callprep.py works the sections out; the Forecast call page's tests read them)."""

from __future__ import annotations

from tests.helpers import d

W1, S0, S1 = d("2026-11-06"), d("2026-11-13"), d("2026-11-20")  # S0 = the last call, S1 = now


TECH, PROP, WON = "3-Technical Evaluation", "4-Proposal", "7-Closed Won"


# (id, stage, category, amount, close) at W1, S0 and S1; None = not there yet.
PICTURES = {
    # A: pushed from Q3 into Q4 at S0 (push 1), Best Case 500 → Commit 600 at S1 (enters 4-Proposal).
    "A": [(TECH, "Best Case", 500, "2026-09-30"), (TECH, "Best Case", 500, "2026-12-15"),
          (PROP, "Commit", 600, "2026-12-15")],
    # B: a renewal At Risk, Commit 800 throughout (in 4-Proposal since W1: 14 days at S1).
    "B": [(PROP, "Commit", 800, "2026-12-01")] * 3,
    # C: Commit 300 at S0, won at S1.
    "C": [("5-Negotiating", "Commit", 300, "2026-12-05"), ("5-Negotiating", "Commit", 300, "2026-12-05"),
          (WON, "Closed", 300, "2026-11-18")],
    # D: Pipeline 200, lost to Rival at S1.
    "D": [("1-Discovery", "Pipeline", 200, "2026-12-10")] * 2
         + [("8-Closed Lost", "Omitted", 200, "2026-11-19")],
    # E: a renewal with an Early Warning, new at S1 as Best Case 400 (accepted 2026-11-17).
    "E": [None, None, (TECH, "Best Case", 400, "2026-12-20")],
    # F: won in October, 1,000, throughout.
    "F": [(WON, "Closed", 1000, "2026-10-10")] * 3,
    # G: Pipeline 100 closing 2026-12-31, slips to January at S1.
    "G": [("2-Scoping", "Pipeline", 100, "2026-12-31")] * 2
         + [("2-Scoping", "Pipeline", 100, "2027-01-15")],
}


DESCRIPTIVE = {
    "A": dict(type="New Business", next_step="Security review"),
    "B": dict(type="Renewal", renewal_risk="At Risk", sales_accepted_date="2026-09-01"),
    "C": dict(type="Expansion", sales_accepted_date="2026-10-05"),
    "D": dict(type="New Business", competitor="Rival", lost_reason="Lost to competitor"),
    "E": dict(type="Renewal", renewal_risk="Early Warning", sales_accepted_date="2026-11-17",
              account_employees=100),  # SMB; every other deal is Enterprise
    "F": dict(type="New Business", sales_accepted_date="2026-10-02"),
    "G": dict(type="New Business"),
}


def _deals():
    deals = []
    for deal_id, states in PICTURES.items():
        stage, category, amount, close = states[-1]
        deals.append({"id": deal_id, "stage": stage, "category": category, "amount": amount,
                      "close": close, "owner": "Ann", "account_employees": 9000, "region": "AMER",
                      "team": "T1", "account_name": f"Account {deal_id}",
                      **DESCRIPTIVE[deal_id]})
    return deals


def _snapshots():
    return {day: [(deal_id, *states[i], "Ann")
                  for deal_id, states in PICTURES.items() if states[i] is not None]
            for i, day in enumerate((W1, S0, S1))}

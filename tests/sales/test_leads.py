"""The lead pipeline and follow-ups on a hand-computed fixture: every `leads.*` and
`follow_ups.*` report key, with the arithmetic in comments.

Period FY2026-Q4 (fiscal year start 1): 2026-10-01 … 2026-12-31, as of 2026-11-20. Deal and lead
snapshots on 2026-11-13 (the last call) and 2026-11-20.

Deals: O1 1-Discovery 1,000 (qualified), O2 0-Pending Acceptance 500 (not qualified),
O3 7-Closed Won 2,000 (qualified).

Leads (MQL date · source · employees → segment · region · owner; status at 11-13 → 11-20):
  L1  10-05 Web    100  SMB        AMER Ann  Qualified → O1 (10-20) both dates
  L2  10-10 Web    9000 Enterprise EMEA Kim  Qualified → O2 (11-01) both dates
  L3  11-15 Event  50   SMB        AMER Sam  (absent) → MQL
  L4  10-20 Web    800  Mid-Market AMER Sam  Accepted → Nurture "Not ready"
  L5  11-18 Event  60   SMB        EMEA Kim  (absent) → Unqualified "Spam"
  L6  10-25 Web    70   SMB        AMER Sam  MQL → Bad Data (no reason)
  L7  11-02 Trial  80   SMB        APAC Kim  Web Portal Purchase both dates
  L8  09-20 Web    90   SMB        AMER Sam  Nurture both dates (MQL in the quarter before)
  L9  —     Web    90   SMB        AMER Sam  Inquiry both dates (never an MQL)
  L10 11-19 Web    40   SMB        AMER Sam  (absent) → Qualifying
  L11 11-13 Web    30   SMB        AMER Cat  Qualifying → Qualified → O3 (11-16)
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from sales.db import connect
from sales.followups import (
    FollowUpError,
    add_follow_up,
    close_follow_up,
    follow_up_counts,
    follow_ups_export,
    follow_ups_of_call,
    open_follow_ups,
)
from sales.ingest import leads as lead_import
from sales.leads import lead_pipeline, lead_review, same_points
from sales.periods import parse_period
from sales.report import full_report
from sales.view import Filters, View
from tests.helpers import d, seed

LAST_CALL, NOW = d("2026-11-13"), d("2026-11-20")
Q4 = parse_period("FY2026-Q4", 1)

DEALS = [
    dict(id="O1", stage="1-Discovery", category="Pipeline", amount=1000, close="2026-12-15",
         owner="Ann", account_employees=100, region="AMER", team="T1", type="New Business"),
    dict(id="O2", stage="0-Pending Acceptance", category="Pipeline", amount=500,
         close="2026-12-20", owner="Ann", account_employees=9000, region="EMEA", team="T1",
         type="New Business"),
    dict(id="O3", stage="7-Closed Won", category="Closed", amount=2000, close="2026-11-18",
         owner="Bob", account_employees=30, region="AMER", team="T2", type="New Business"),
]
# lead id → (created, mql, source, employees, region)
DESCRIBED = {
    "L1": ("2026-10-01", "2026-10-05", "Web", 100, "AMER"),
    "L2": ("2026-10-01", "2026-10-10", "Web", 9000, "EMEA"),
    "L3": ("2026-11-14", "2026-11-15", "Event", 50, "AMER"),
    "L4": ("2026-10-01", "2026-10-20", "Web", 800, "AMER"),
    "L5": ("2026-11-14", "2026-11-18", "Event", 60, "EMEA"),
    "L6": ("2026-10-01", "2026-10-25", "Web", 70, "AMER"),
    "L7": ("2026-10-01", "2026-11-02", "Trial", 80, "APAC"),
    "L8": ("2026-09-01", "2026-09-20", "Web", 90, "AMER"),
    "L9": ("2026-09-01", None, "Web", 90, "AMER"),
    "L10": ("2026-11-14", "2026-11-19", "Web", 40, "AMER"),
    "L11": ("2026-10-01", "2026-11-13", "Web", 30, "AMER"),
}
# date → lead id → (status, owner, converted opportunity, converted date, reason)
STATES = {
    LAST_CALL: {
        "L1": ("Qualified", "Ann", "O1", "2026-10-20", None),
        "L2": ("Qualified", "Kim", "O2", "2026-11-01", None),
        "L4": ("Accepted", "Sam", None, None, None),
        "L6": ("MQL", "Sam", None, None, None),
        "L7": ("Web Portal Purchase", "Kim", None, None, None),
        "L8": ("Nurture", "Sam", None, None, "Not ready"),
        "L9": ("Inquiry", "Sam", None, None, None),
        "L11": ("Qualifying", "Cat", None, None, None),
    },
    NOW: {
        "L1": ("Qualified", "Ann", "O1", "2026-10-20", None),
        "L2": ("Qualified", "Kim", "O2", "2026-11-01", None),
        "L3": ("MQL", "Sam", None, None, None),
        "L4": ("Nurture", "Sam", None, None, "Not ready"),
        "L5": ("Unqualified", "Kim", None, None, "Spam"),
        "L6": ("Bad Data", "Sam", None, None, None),
        "L7": ("Web Portal Purchase", "Kim", None, None, None),
        "L8": ("Nurture", "Sam", None, None, "Not ready"),
        "L9": ("Inquiry", "Sam", None, None, None),
        "L10": ("Qualifying", "Sam", None, None, None),
        "L11": ("Qualified", "Cat", "O3", "2026-11-16", None),
    },
}


def lead_rows(states: dict[str, tuple]) -> pd.DataFrame:
    """A full leads export in canonical columns, as a sync would hand it over."""
    rows = []
    for lead_id, (status, owner, opp, converted, reason) in states.items():
        created, mql, source, employees, region = DESCRIBED[lead_id]
        rows.append({"lead_id": lead_id, "created_date": created, "status": status,
                     "mql_date": mql, "owner": owner, "lead_source": source,
                     "account_employees": str(employees), "region": region,
                     "converted_opportunity_id": opp, "converted_date": converted,
                     "status_reason": reason})
    return pd.DataFrame(rows)


def seed_leads(con) -> None:
    for day, states in STATES.items():
        lead_import.load_lead_rows(con, lead_rows(states), day, "test")


@pytest.fixture
def leads_con(tmp_path):
    con = connect(tmp_path / "leads.duckdb")
    picture = [(x["id"], x["stage"], x["category"], x["amount"], x["close"], x["owner"])
               for x in DEALS]
    seed(con, DEALS, {LAST_CALL: picture, NOW: picture})
    seed_leads(con)
    yield con
    con.close()


def view(as_of: date = NOW, **filters) -> View:
    return View(Q4, as_of, Filters.of(**filters))


def test_every_lead_key_by_hand(leads_con):
    found = full_report(leads_con, view()).as_report()["leads"]
    assert found["loaded"] is True
    # MQL date in 10-01 … 11-20: L1 L2 L3 L4 L5 L6 L7 L10 L11 = 9 (L8 is Q3, L9 never).
    assert found["mql"] == {"count": 9}
    # After the last call (11-13), up to 11-20: L3 11-15, L5 11-18, L10 11-19 = 3 (L11 is on
    # 11-13 itself).
    assert found["mql_since"] == {"after": "2026-11-13", "count": 3}
    # Open: L3 MQL, L10 Qualifying; qualified: L1, L2, L11 (converted); recycled: L4; junk: L5
    # Unqualified, L6 Bad Data; purchased: L7 → 2 + 3 + 1 + 2 + 1 = 9.
    assert found["now"] == {"open": {"count": 2}, "qualified": {"count": 3},
                            "recycled": {"count": 1}, "junk": {"count": 2},
                            "purchased": {"count": 1}}
    # Converted to an opportunity qualified now: L1 → O1 1,000 and L11 → O3 2,000 (won); L2's
    # O2 is 0-Pending Acceptance, not qualified → 3,000 in 2.
    assert found["pipeline"] == {"amount": 3000.0, "count": 2}
    # Recycled and junked: L4 "Not ready", L5 "Spam", L6 none; ties by name.
    assert found["reasons"] == {"(no reason given)": 1, "Not ready": 1, "Spam": 1}
    assert list(found["reasons"]) == ["(no reason given)", "Not ready", "Spam"]


def test_filters_apply_to_leads(leads_con):
    emea = lead_pipeline(leads_con, view(region=["EMEA"]))
    # L2 (qualified, O2 not qualified) and L5 (junk, since the last call).
    assert (emea.mql, emea.mql_since, emea.pipeline.amount) == (2, 1, 0.0)
    assert emea.now["qualified"] == 1 and emea.now["junk"] == 1 and emea.reasons == {"Spam": 1}
    smb = lead_pipeline(leads_con, view(segment=["SMB"]))
    # L1 L3 L5 L6 L7 L10 L11 = 7; since: L3 L5 L10; pipeline L1 + L11 = 3,000.
    assert (smb.mql, smb.mql_since, smb.pipeline.amount, smb.pipeline.count) == (7, 3, 3000.0, 2)
    assert smb.now == {"open": 2, "qualified": 2, "recycled": 0, "junk": 2, "purchased": 1}
    kim = lead_pipeline(leads_con, view(owner=["Kim"]))  # L2 L5 L7
    assert kim.mql == 3 and kim.now["purchased"] == 1
    # Team is not a lead field: it applies through the team's owners. T1's deals (O1, O2) are
    # Ann's, and Ann owns L1 (MQL 10-05, converted to O1 1,000, qualified).
    teamed = lead_pipeline(leads_con, view(team=["T1"]))
    assert (teamed.mql, teamed.pipeline.amount, teamed.note) == (1, 1000.0, "")


def test_where_they_stood_at_the_last_call(leads_con):
    then = lead_pipeline(leads_con, view(as_of=LAST_CALL))
    # Existing at 11-13 with an MQL date in 10-01 … 11-13: L1 L2 L4 L6 L7 L11 = 6.
    assert then.mql == 6
    # Open: L4 Accepted, L6 MQL, L11 Qualifying; qualified: L1, L2; purchased: L7.
    assert then.now == {"open": 3, "qualified": 2, "recycled": 0, "junk": 0, "purchased": 1}
    # Only L1 → O1 1,000 had converted to a qualified deal; no deal snapshot before 11-13, so
    # nothing counts as since the last call.
    assert (then.pipeline.amount, then.pipeline.count, then.mql_since) == (1000.0, 1, 0)


def test_the_call_review_funnel_and_comparison(leads_con):
    review = lead_review(leads_con, view())
    funnel = review.funnel
    # Accepted: L1 L2 L11 (converted), L4 (seen Accepted 11-13), L10 (Qualifying) = 5 of 9.
    assert (funnel.mqls, funnel.accepted, funnel.converted, funnel.pipeline) == (9, 5, 3, 2)
    # Accepted on: the first snapshot in an accepted status, or the conversion if earlier.
    # Days MQL → accepted: L1 15 (converted 10-20, before the 11-13 snapshot), L2 22 (11-01),
    # L4 24 (seen 11-13), L10 1 (seen 11-20), L11 0 (seen 11-13) → median 15.
    assert funnel.days_to_accept == 15
    # MQL → converted: L1 15, L2 22, L11 3 → median 15; accepted → converted: 0, 0, 3 → 0.
    assert funnel.days_to_convert == 15 and funnel.days_accepted_to_converted == 0
    steps = funnel.frame()
    assert steps["leads"].tolist() == [9, 5, 3, 2]
    assert steps["share_of_mqls"].tolist()[1] == pytest.approx(5 / 9)
    # Q3 at the same point (51 days in: 2026-07-01 … 2026-08-20) has no MQL; L8 (09-20) lies
    # after it.
    assert [p.label for p, _ in same_points(Q4, NOW)] == ["FY2026-Q3", "FY2026-Q2",
                                                           "FY2026-Q1", "FY2025-Q4"]
    assert same_points(Q4, NOW)[0][1] == d("2026-08-20")
    sources = review.comparison[review.comparison.dimension == "Source"].set_index("value")
    assert sources.loc["Web", "this_period"] == 6 and sources.loc["Event", "since_last_call"] == 2
    assert review.past_totals == {"FY2026-Q3": 0, "FY2026-Q2": 0, "FY2026-Q1": 0,
                                  "FY2025-Q4": 0}
    # The tile's comparison: (0 + 0 + 0 + 0) / 4 = 0 MQLs at this point on average; the 9 MQLs
    # so far stand 9 - 0 = 9 above it.
    assert review.past_average == 0 and review.vs_past_average == 9
    assert sorted(review.deals.opportunity_id) == ["O1", "O3"]


def test_no_leads_is_null_safe_and_says_how_to_load(tmp_path):
    con = connect(tmp_path / "empty.duckdb")
    seed(con, DEALS)
    found = full_report(con, view()).as_report()
    assert found["leads"]["loaded"] is False
    assert found["leads"]["mql"] == {"count": None}
    assert found["leads"]["now"]["open"] == {"count": None}
    assert found["leads"]["pipeline"] == {"amount": None, "count": None}
    assert found["leads"]["reasons"] == {}
    assert "python -m sales import" in lead_pipeline(con, view()).note
    assert found["follow_ups"]["open"] == {"count": 0}
    con.close()


def test_a_team_scope_sees_its_owners_leads(leads_con):
    # A manager of T2 sees the leads of T2's owners: Bob (O3) owns no lead; of T1, Ann's L1.
    for team, mqls in (("T2", 0), ("T1", 1)):
        found = lead_pipeline(leads_con, View(Q4, NOW, Filters(), Filters.of(team=[team])))
        assert found.applies and found.mql == mqls
    t1 = lead_pipeline(leads_con, View(Q4, NOW, Filters(), Filters.of(team=["T1"])))
    assert t1.as_report()["now"]["qualified"] == {"count": 1}


# --- follow-ups --------------------------------------------------------------------------------

def raise_and_close(con) -> dict[str, int]:
    """F1 raised 11-06 due 11-10; F2 raised 11-13 due 11-25 on O1; F3 raised 11-13 due 11-14,
    closed at the 11-20 call; F4 raised 11-06, closed at the 11-13 call; F5 raised 11-20 in the
    EMEA call (another scope)."""
    at = datetime(2026, 11, 30, 9)
    ids = {
        "F1": add_follow_up(con, view(d("2026-11-06")), "Chase legal", "Dana", d("2026-11-10"),
                            None, "ann@example.com", at),
        "F2": add_follow_up(con, view(LAST_CALL), "Exec call", "Ann", d("2026-11-25"), "O1",
                            "ann@example.com", at),
        "F3": add_follow_up(con, view(LAST_CALL), "Send ROI", "Bob", d("2026-11-14"), None,
                            "ann@example.com", at),
        "F4": add_follow_up(con, view(d("2026-11-06")), "Scrub Best Case", "Cat",
                            d("2026-11-12"), None, "ann@example.com", at),
        "F5": add_follow_up(con, view(region=["EMEA"]), "EMEA item", "Kim", d("2026-11-21"),
                            None, "ann@example.com", at),
    }
    close_follow_up(con, view(), ids["F3"], "sent", "bob@example.com", at)
    close_follow_up(con, view(LAST_CALL), ids["F4"], "", "bob@example.com", at)
    return ids


def test_every_follow_up_key_by_hand(leads_con):
    raise_and_close(leads_con)
    found = full_report(leads_con, view()).as_report()["follow_ups"]
    # Open at 11-20: F1, F2 (F3, F4 closed; F5 is the EMEA call's) = 2; overdue: F1 (due 11-10).
    # Closed after the last call (11-13) up to 11-20: F3 = 1 (F4 closed at the 11-13 call).
    assert found == {"open": {"count": 2}, "overdue": {"count": 1},
                     "closed_since": {"after": "2026-11-13", "count": 1}}
    # As of the last call: F1, F2, F3 open (F3 closed later; F4 closed at that call); F1
    # overdue; no deal snapshot before 11-13, so every close up to it counts: F4.
    then = follow_up_counts(leads_con, view(LAST_CALL), None)
    assert (then.open, then.overdue, then.closed_since) == (3, 1, 1)
    emea = follow_up_counts(leads_con, view(region=["EMEA"]), LAST_CALL)
    assert (emea.open, emea.overdue, emea.closed_since) == (1, 0, 0)


def test_follow_ups_list_export_and_audit(leads_con):
    ids = raise_and_close(leads_con)
    listed = open_follow_ups(leads_con, view())
    assert listed.follow_up_id.tolist() == [ids["F1"], ids["F2"]]  # overdue first
    assert listed.overdue.tolist() == [True, False]
    assert listed.set_index("follow_up_id").loc[ids["F2"], "opportunity_id"] == "O1"
    export = follow_ups_export(leads_con, view(), LAST_CALL)
    assert export.state.tolist() == ["open", "open", "closed since the last call"]
    closed = export[export.state != "open"].iloc[0]
    assert (closed.closed_by, closed.close_note, closed.created_by) == (
        "bob@example.com", "sent", "ann@example.com")
    trail = leads_con.execute("select who, summary from audit_log where action = 'follow-up' "
                              "order by audit_id").fetchall()
    assert len(trail) == 7 and trail[-2][0] == "bob@example.com" and "closed" in trail[-2][1]


def test_follow_ups_refuse_bad_input(leads_con):
    with pytest.raises(FollowUpError, match="what is to be done"):
        add_follow_up(leads_con, view(), "  ", "Ann", NOW, None, "me")
    with pytest.raises(FollowUpError, match="who owns it"):
        add_follow_up(leads_con, view(), "Do it", "", NOW, None, "me")
    with pytest.raises(FollowUpError, match="no deal NOPE"):
        add_follow_up(leads_con, view(), "Do it", "Ann", NOW, "NOPE", "me")
    with pytest.raises(FollowUpError, match="no deal O1"):  # O1 is AMER
        add_follow_up(leads_con, view(region=["EMEA"]), "Do it", "Ann", NOW, "O1", "me")
    item = add_follow_up(leads_con, view(), "Do it", "Ann", NOW, None, "me")
    with pytest.raises(FollowUpError, match="in this view"):  # another scope's call
        close_follow_up(leads_con, view(region=["EMEA"]), item, "", "me")
    close_follow_up(leads_con, view(), item, "", "me")
    with pytest.raises(FollowUpError, match="already closed"):
        close_follow_up(leads_con, view(), item, "", "me")
    assert leads_con.execute("select count(*) from follow_ups").fetchall()[0][0] == 1


def test_a_saved_call_exports_the_follow_ups_raised_at_it(leads_con):
    ids = raise_and_close(leads_con)
    leads_con.execute("insert into forecast_calls (period, call_date, saved_at, saved_by, scope) "
                      "values ('FY2026-Q4', '2026-11-13', '2026-11-13 10:00', 'Lee', '')")
    call_id = leads_con.execute("select max(call_id) from forecast_calls").fetchall()[0][0]
    # Raised at the company call of 11-13: F2 and F3 (F5 is the EMEA call's, F1 and F4 11-06).
    assert follow_ups_of_call(leads_con, call_id).follow_up_id.tolist() == [ids["F2"], ids["F3"]]


def test_the_lead_status_map_is_edited_as_a_whole(leads_con):
    from sales.editors import EditError, lead_status_table, save_lead_statuses

    table = lead_status_table(leads_con)
    assert table.set_index("status").loc["Nurture", "leads"] == 2  # L4 and L8 now
    bad = table.copy()
    bad.loc[bad.status == "MQL", "status_group"] = "hot"
    with pytest.raises(EditError, match="use one of open"):
        save_lead_statuses(leads_con, bad, by="ann")
    with pytest.raises(EditError, match="'Nurture' is used by"):
        save_lead_statuses(leads_con, table[table.status != "Nurture"], by="ann")
    added = pd.concat([table, pd.DataFrame([{"status": "Working", "sort_order": None,
                                              "status_group": "open", "accepted": True}])])
    save_lead_statuses(leads_con, added, by="ann")
    assert leads_con.execute("select status_group, accepted from lead_status_map "
                             "where status = 'Working'").fetchall() == [("open", True)]

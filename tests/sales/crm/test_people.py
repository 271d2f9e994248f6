"""Leads (Lead + LeadHistory) and users with managers (User → the hierarchy) from a Salesforce
org through the local HTTPS stand-in: the weekly call's lead section and the roll-up's
hierarchy fill from a sync alone.

The org: Maya Chen manages Ana Ortiz and Ben Okafor; Raj Patel manages Cleo Park; Old Rep
(inactive) reported to Maya. Deals carry their owner's manager as the team.

Leads (status history; MQL = the first change into MQL, an accepted or a qualified status):
  L1 Ana  created 09-01, Raw → MQL 09-14                               → MQL date 09-14
  L2 Ana  created 09-01, Open - Not Contacted → Working - Contacted 09-21 (accepted)
          → Closed - Converted 10-01 (converted to deal 1)            → MQL date 09-21
  L3 Ben  created 10-01, "Hot Prospect" (a status no map knows)       → kept as open, listed
  L4 Cleo created 09-01, Raw; at the second sync (10-12) → MQL on 10-10 → MQL date 10-10
"""

from __future__ import annotations

from datetime import date

import duckdb

from sales.db import connect
from sales.hierarchy import hierarchy_at
from sales.leads import lead_pipeline
from sales.periods import parse_period
from sales.view import Filters, View
from tests.sales.crm.fakes import numbered, sync

FIRST, SECOND = date(2026, 10, 5), date(2026, 10, 12)
Q3, Q4 = parse_period("FY2026-Q3", 1), parse_period("FY2026-Q4", 1)
IDS = {"Maya Chen": "005D00000000000001", "Ana Ortiz": "005D00000000000002",
       "Ben Okafor": "005D00000000000003", "Raj Patel": "005D00000000000004",
       "Cleo Park": "005D00000000000005", "Old Rep": "005D00000000000006"}


def user(name: str, manager: str | None, role: str, active: bool = True) -> dict:
    return {"Id": IDS[name], "Name": name, "Email": name.lower().replace(" ", ".") + "@acme.test",
            "ManagerId": IDS[manager] if manager else None, "IsActive": active,
            "UserRole.Name": role}


USERS = [user("Maya Chen", None, "VP Sales"), user("Ana Ortiz", "Maya Chen", "AE"),
         user("Ben Okafor", "Maya Chen", "AE"), user("Raj Patel", "Maya Chen", "Manager"),
         user("Cleo Park", "Raj Patel", "AE"), user("Old Rep", "Maya Chen", "AE", active=False)]


def lead(n: int, owner: str, status: str, created: str, **fields) -> dict:
    row = {"Id": f"00QD{n:014d}", "Status": status, "LeadSource": "Web",
           "CreatedDate": f"{created}T09:00:00.000+0000", "Owner.Name": owner,
           "NumberOfEmployees": 120, "ConvertedOpportunityId": None, "ConvertedDate": None,
           "IsConverted": False, "Company": f"Lead Co {n}", "Country": "DE", "IsDeleted": False,
           "SystemModstamp": "2026-10-01T09:00:00.000+0000"}
    row.update(fields)
    return row


def change(n: int, lead_no: int, day: str, old: str, new: str) -> dict:
    return {"Id": f"017D{n:014d}", "LeadId": f"00QD{lead_no:014d}",
            "CreatedDate": f"{day}T10:00:00.000+0000", "Field": "Status", "OldValue": old,
            "NewValue": new}


def people_org(fake) -> None:
    fake.opportunities = [numbered(1), numbered(2, **{"Owner.Name": "Cleo Park",
                                                      "Owner.Manager.Name": "Raj Patel"})]
    fake.users = list(USERS)
    fake.leads = [lead(1, "Ana Ortiz", "MQL", "2026-09-01"),
                  lead(2, "Ana Ortiz", "Closed - Converted", "2026-09-01",
                       ConvertedOpportunityId="006D00000000000001", ConvertedDate="2026-10-01",
                       IsConverted=True),
                  lead(3, "Ben Okafor", "Hot Prospect", "2026-10-01"),
                  lead(4, "Cleo Park", "Raw", "2026-09-01")]
    fake.lead_history = [change(1, 1, "2026-09-14", "Raw", "MQL"),
                         change(2, 2, "2026-09-21", "Open - Not Contacted", "Working - Contacted"),
                         change(3, 2, "2026-10-01", "Working - Contacted", "Closed - Converted")]


def leads_of(db) -> dict[str, tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r[0][-1]: r[1:] for r in con.execute(
            "select lead_id, status, mql_date, owner, converted_opportunity_id from leads"
        ).fetchall()}
    finally:
        con.close()


def test_leads_and_the_hierarchy_from_a_first_sync(org, tmp_path, capsys):  # noqa: F811
    people_org(org)
    db = tmp_path / "p.duckdb"
    assert sync(db, "--as-of", FIRST.isoformat()) == 0
    out = capsys.readouterr().out
    assert "Hot Prospect" in out and "kept as open" in out
    got = leads_of(db)
    assert got["1"] == ("MQL", date(2026, 9, 14), "Ana Ortiz", None)
    assert got["2"] == ("Closed - Converted", date(2026, 9, 21), "Ana Ortiz",
                        "006D00000000000001")
    assert got["3"][:2] == ("Hot Prospect", None) and got["4"][:2] == ("Raw", None)
    con = connect(db)
    # weekly lead snapshots rebuilt back to the earliest lead (09-01): 10-05 − 4 weeks = 09-07
    assert [r[0] for r in con.execute("select snapshot_date from lead_snapshot_dates order by 1"
                                      ).fetchall()] == [date(2026, 9, 7), date(2026, 9, 14),
                                                        date(2026, 9, 21), date(2026, 9, 28),
                                                        FIRST]
    # L2 on 09-28: Working - Contacted (the 09-21 change), not yet converted
    assert con.execute("""select status, converted_opportunity_id from lead_history
                          where lead_id like '%2' and valid_from <= '2026-09-28'
                            and (valid_to is null or valid_to > '2026-09-28')""").fetchall() == [
        ("Working - Contacted", None)]
    # Q3's MQLs: L1 (09-14) and L2 (09-21); L2 converted to deal 1 (50,000, qualified)
    pipeline = lead_pipeline(con, View(Q3, FIRST))
    assert (pipeline.mql, pipeline.pipeline.count) == (2, 1)
    # the first sync's hierarchy stands for all earlier history; the inactive user stays
    early = hierarchy_at(con, date(2020, 1, 1))
    assert early.manager_of("Ana Ortiz") == "Maya Chen"
    assert early.manager_of("Cleo Park") == "Raj Patel"
    assert sorted(early.subtree("Maya Chen")) == sorted(IDS)
    assert early.users["Raj Patel"].title == "Manager"
    con.close()


def test_a_later_sync_moves_a_manager_and_reads_changed_leads(org, tmp_path):  # noqa: F811
    people_org(org)
    db = tmp_path / "p.duckdb"
    assert sync(db, "--as-of", FIRST.isoformat()) == 0
    # A week on: Ben now reports to Ana; L4 became an MQL on 10-10.
    org.users = [dict(u, ManagerId=IDS["Ana Ortiz"]) if u["Name"] == "Ben Okafor" else u
                 for u in USERS]
    org.leads[3].update(Status="MQL", SystemModstamp="2026-10-10T10:00:00.000+0000")
    org.lead_history.append(change(4, 4, "2026-10-10", "Raw", "MQL"))
    assert sync(db, "--as-of", SECOND.isoformat()) == 0
    # only the changed lead was read (SystemModstamp at or after the last mark, 10-01)
    lead_queries = [r for r in org.requests if "FROM+Lead+WHERE" in r]
    assert lead_queries and "SystemModstamp+%3E%3D+2026-10-01T09%3A00%3A00Z" in lead_queries[-1]
    assert leads_of(db)["4"][:2] == ("MQL", date(2026, 10, 10))
    con = connect(db)
    # the change of manager starts on the sync's date; before it Ben was Maya's
    assert hierarchy_at(con, date(2026, 10, 11)).manager_of("Ben Okafor") == "Maya Chen"
    assert hierarchy_at(con, SECOND).manager_of("Ben Okafor") == "Ana Ortiz"
    # A manager scoped to Raj Patel's team (deal 2 is Cleo's) sees Cleo's lead: Q4's one MQL;
    # scoped to Maya Chen's team, none of Q4's MQLs.
    for team, mqls in (("Raj Patel", 1), ("Maya Chen", 0)):
        scoped = View(Q4, SECOND, Filters(), Filters.of(team=[team]))
        assert lead_pipeline(con, scoped).mql == mqls
    con.close()

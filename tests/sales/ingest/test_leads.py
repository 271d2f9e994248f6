"""Importing a leads export: recognised by its headers (canonical names, Salesforce Lead's API
names and report labels), checked all-or-nothing like an opportunity export, recorded as the
lead snapshot of its date; bad files change nothing; follow-ups survive imports and restarts."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from sales.cli import main
from sales.db import connect
from sales.followups import add_follow_up, close_follow_up, open_follow_ups
from sales.ingest import ImportRejected, ImportRequest, read_bytes, read_path
from sales.ingest.headers import LEADS, OPPORTUNITIES, detect_kind
from sales.ingest.leads import LeadRowsRejected, load_lead_rows
from sales.ingest.mapping import MappingError, parse_mapping
from sales.ingest.run import run_import
from sales.periods import parse_period
from sales.view import View
from tests.helpers import FIXTURES

LEADS_DIR = FIXTURES / "leads"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows(path: Path, query: str) -> list[tuple]:
    con = connect(path)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def test_a_leads_file_is_recognised_by_its_headers():
    assert detect_kind(read_path(LEADS_DIR / "Lead.csv").headers) == LEADS
    assert detect_kind(read_path(LEADS_DIR / "lead_report.csv").headers) == LEADS
    assert detect_kind(["lead_id", "status", "mql_date"]) == LEADS
    # An opportunity export with a lead source is still an opportunity export.
    assert detect_kind(read_path(FIXTURES / "opportunities.csv").headers) == OPPORTUNITIES
    assert detect_kind(["Id", "Status", "Custom_MQL__c"], None,
                       {"mql_date": "Custom_MQL__c"}) == LEADS


def test_salesforce_lead_export_imports_with_the_mql_date_mapped(tmp_path):
    path = tmp_path / "sf.duckdb"
    assert main(["import", str(LEADS_DIR / "Lead.csv"), "--mapping", str(LEADS_DIR / "map.toml"),
                 "--db", str(path), "--as-of", "2026-11-20"]) == 0
    found = rows(path, """select lead_id, status, mql_date, owner, lead_source, segment, region,
                                 converted_opportunity_id, converted_date, status_reason
                          from leads order by lead_id""")
    assert found[1] == ("00Q000000000002", "Qualified", date(2026, 10, 6), "005A", "Webinar",
                        "Enterprise", "EMEA", "O1", date(2026, 10, 20), None)
    assert found[2][-1] == "Not ready to buy" and found[2][5] == "Mid-Market"
    assert found[3][2] is None  # an inquiry has no MQL date
    assert rows(path, "select * from lead_snapshot_dates") == [(date(2026, 11, 20),)]
    assert rows(path, "select count(*) from lead_history where valid_to is null") == [(4,)]
    assert "0 → 4 leads" in rows(path, "select summary from audit_log")[0][0]


def test_report_labels_import_without_a_mapping(tmp_path):
    path = tmp_path / "labels.duckdb"
    assert main(["import", str(LEADS_DIR / "lead_report.csv"), "--db", str(path),
                 "--as-of", "2026-11-20"]) == 0
    assert rows(path, "select lead_id, status, mql_date, owner, region, status_reason "
                      "from leads order by 1") == [
        ("L-1", "MQL", date(2026, 10, 5), "Sam Lee", "AMER", None),
        ("L-2", "Unqualified", date(2026, 10, 6), "Sam Lee", "EMEA", "Spam form fill"),
        ("L-3", "Web Portal Purchase", date(2026, 10, 9), "Kim Ho", "APAC", None)]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = "lead_id,status,mql_date\nA,MQL,2026-10-01\nB,Nurture,2026-10-02\n"
BAD = {
    "unknown status": ("lead_id,status,mql_date\nA,MQL,2026-10-01\nB,Working Hard,2026-10-02\n",
                       'lead status "Working Hard" is not in the lead status map'),
    "duplicate id": ("lead_id,status\nA,MQL\nA,Nurture\n", "the same lead id"),
    "bad date": ("lead_id,status,mql_date\nA,MQL,next week\n", "not a date we can read"),
    "missing id": ("lead_id,status\n,MQL\n", "the lead id is empty"),
    "missing status": ("lead_id,status\nA,\n", "the lead status is empty"),
    "empty file": ("lead_id,status,mql_date\n", "no rows to import"),
    "no status column": ("lead_id,Lead Owner,MQL Date\nA,Sam,2026-10-01\n", None),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_leads_change_nothing(case, tmp_path):
    path = tmp_path / "db.duckdb"
    assert main(["import", str(_write(tmp_path, "good.csv", GOOD)), "--db", str(path),
                 "--as-of", "2026-11-13"]) == 0
    before = digest(path)
    text, message = BAD[case]
    source = read_bytes("leads.csv", text.encode())
    request = ImportRequest([source], kind=LEADS if message is None else None,
                            as_of=date(2026, 11, 20))
    with pytest.raises(ImportRejected) as rejected:
        run_import(path, request)
    reasons = " ".join(f.reason for f in rejected.value.plan.findings.errors)
    assert (message or "no column for status") in reasons
    assert digest(path) == before


def test_an_unknown_status_says_how_to_map_it(tmp_path):
    text, _ = BAD["unknown status"]
    path = tmp_path / "db.duckdb"
    assert main(["import", str(_write(tmp_path, "leads.csv", text)), "--db", str(path)]) == 1
    mapping = parse_mapping('[lead_statuses]\n"Working Hard" = { group = "open", '
                            'accepted = true }\n')
    request = ImportRequest([read_bytes("leads.csv", text.encode())], mapping,
                            as_of=date(2026, 11, 20))
    run_import(path, request)
    assert rows(path, "select status_group, accepted from lead_status_map "
                      "where status = 'Working Hard'") == [("open", True)]


def test_a_lead_column_in_columns_says_where_it_goes():
    with pytest.raises(MappingError, match=r"\[lead_columns\]"):
        parse_mapping('[columns]\nmql_date = "MQL__c"\n')
    with pytest.raises(MappingError, match="must map to one of"):
        parse_mapping('[lead_statuses]\n"Working" = "hot"\n')


@pytest.mark.slow
def test_each_import_is_a_lead_snapshot(tmp_path):
    path = tmp_path / "db.duckdb"
    first = "lead_id,status,mql_date\nA,MQL,2026-10-01\nB,MQL,2026-10-02\n"
    second = "lead_id,status,mql_date,status_reason\nA,Nurture,2026-10-01,Later\nC,MQL,2026-11-15,\n"
    for day, text in (("2026-11-13", first), ("2026-11-20", second)):
        assert main(["import", str(_write(tmp_path, f"{day}.csv", text)), "--db", str(path),
                     "--as-of", day]) == 0
    history = rows(path, "select lead_id, valid_from, valid_to, status from lead_history "
                         "order by lead_id, valid_from")
    assert history == [("A", date(2026, 11, 13), date(2026, 11, 20), "MQL"),
                       ("A", date(2026, 11, 20), None, "Nurture"),
                       ("B", date(2026, 11, 13), date(2026, 11, 20), "MQL"),
                       ("C", date(2026, 11, 20), None, "MQL")]
    # The same export again on the same day changes nothing; an earlier one only fills history.
    assert main(["import", str(tmp_path / "2026-11-20.csv"), "--db", str(path),
                 "--as-of", "2026-11-20"]) == 0
    assert rows(path, "select lead_id, valid_from, valid_to, status from lead_history "
                      "order by lead_id, valid_from") == history
    assert main(["import", str(_write(tmp_path, "early.csv", "lead_id,status\nA,Raw\n")),
                 "--db", str(path), "--as-of", "2026-11-06"]) == 0
    assert rows(path, "select status from leads where lead_id = 'A'") == [("Nurture",)]
    assert rows(path, "select valid_from, status from lead_history where lead_id = 'A' "
                      "order by 1")[0] == (date(2026, 11, 6), "Raw")


def test_a_sync_feeds_canonical_rows_through_the_same_checks(tmp_path):
    con = connect(tmp_path / "sync.duckdb")
    frame = pd.DataFrame({"lead_id": ["A", "B"], "status": ["MQL", "Qualified"],
                          "mql_date": [date(2026, 10, 1), date(2026, 10, 2)],
                          "converted_opportunity_id": [None, "O9"],
                          "converted_date": [None, date(2026, 10, 9)]})
    load_lead_rows(con, frame, date(2026, 11, 20), "sync (salesforce)")
    assert con.execute("select count(*) from leads").fetchall() == [(2,)]
    with pytest.raises(LeadRowsRejected, match="Hot"):
        load_lead_rows(con, frame.assign(status=["MQL", "Hot"]), date(2026, 11, 27), "sync")
    con.close()


def test_follow_ups_survive_an_import_and_a_restart(tmp_path):
    path = tmp_path / "db.duckdb"
    assert main(["import", str(FIXTURES / "opportunities.csv"), "--db", str(path),
                 "--as-of", "2026-11-13"]) == 0
    con = connect(path)
    call = View(parse_period("FY2026-Q4", 1), date(2026, 11, 13))
    kept = add_follow_up(con, call, "Chase legal", "Ann", date(2026, 11, 18), None, "ann")
    done = add_follow_up(con, call, "Send ROI", "Bob", date(2026, 11, 18), None, "ann")
    close_follow_up(con, call, done, "sent", "bob")
    con.execute("checkpoint")
    con.close()
    # An import builds on a copy of the file and swaps it in: the items come along.
    assert main(["import", str(FIXTURES / "opportunities_next.csv"), "--db", str(path),
                 "--as-of", "2026-11-20"]) == 0
    assert main(["import", str(LEADS_DIR / "lead_report.csv"), "--db", str(path),
                 "--as-of", "2026-11-20"]) == 0
    con = connect(path)  # a restart: a new process opens the file
    later = View(parse_period("FY2026-Q4", 1), date(2026, 11, 20))
    assert open_follow_ups(con, later).follow_up_id.tolist() == [kept]
    assert con.execute("select closed_by, close_note from follow_ups where follow_up_id = ?",
                       [done]).fetchall() == [("bob", "sent")]
    con.close()

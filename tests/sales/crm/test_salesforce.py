"""`python -m sales sync salesforce` against a local HTTPS server speaking the REST API's shapes
(tests/crm_fakes.py): paging, relationship fields, incremental merges, deletions, failures,
secrecy, a kill mid-sync, the app holding the file, and the same report as weekly CSV imports."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import unquote_plus

import duckdb
import pytest

from sales import cli
from sales.crm import salesforce, stage_probabilities
from sales.db import connect
from sales.ingest import ImportRequest, read_bytes, run_import
from sales.periods import QUARTER, period_containing
from sales.report import full_report, with_movement
from sales.view import Filters, View
from tests.helpers import ROOT
from tests.sales.crm.fakes import TOKEN, Scenario, deals, numbered, one_deal, sync

WEEK0 = date(2026, 10, 5)






@pytest.mark.slow
def test_paging_relationship_fields_and_the_snapshot(org, tmp_path, capsys):
    org.page_size = 2  # 5 deals → 3 pages through nextRecordsUrl
    org.opportunities = [numbered(n) for n in range(1, 5)] + [
        numbered(5, **{"Account.Name": None, "Account.NumberOfEmployees": None,
                       "Owner.Manager.Name": None})]
    db = tmp_path / "f.duckdb"
    assert sync(db, "--as-of", "2026-10-05") == 0
    out = capsys.readouterr()
    assert "5 record(s) read (full read)" in out.out
    assert "Read 4 / 5 opportunities" in out.err and "Read 5 / 5 opportunities" in out.err
    assert sum(r.split("?")[0].endswith("/query/01gD00000000000") for r in org.requests) == 2  # 2 more pages
    got = deals(db)
    assert len(got) == 5
    # name, account, employees, owner, team (the owner's manager), stage, category, amount,
    # close date, region (no mapping: not read)
    assert got["006D00000000000001"][:9] == ("Deal 1", "Acme", 1200, "Ana Ortiz", "Maya Chen",
                                             "Qualification", "Pipeline", 50000, date(2026, 12, 15))
    assert got["006D00000000000005"][1:5] == (None, None, "Ana Ortiz", None)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select list(snapshot_date) from snapshot_dates").fetchall()[0][0] == [
        date(2026, 10, 5)]
    assert con.execute("select segment from opportunities where opportunity_id = "
                       "'006D00000000000001'").fetchall()[0][0] == "Mid-Market"
    audit = con.execute("select action, summary from audit_log").fetchall()
    assert audit[-1][0] == "sync" and "5 read" in audit[-1][1]
    # the org's OpportunityStage.DefaultProbability, as a fraction, for the stage map
    probabilities = stage_probabilities(con)
    assert probabilities["Negotiation/Review"] == 0.9 and probabilities["Closed Lost"] == 0.0
    assert stage_probabilities(con, "hubspot") == {}
    # ... and the stage map's probability (percent) takes the org's, for the stage-weighted
    # forecast, where no analyst set one
    stage_map = dict(con.execute("select stage, probability from stage_map "
                                 "where probability_source = 'import'").fetchall())
    assert stage_map["Negotiation/Review"] == 90 and stage_map["Closed Lost"] == 0


def test_mapping_columns_name_fields_and_paths(org, tmp_path):
    org.opportunities = [one_deal()]
    mapping = tmp_path / "sf.toml"
    mapping.write_text('[columns]\nregion = "Region__c"\nteam = "Owner.UserRole.Name"\n')
    db = tmp_path / "f.duckdb"
    assert sync(db, "--as-of", "2026-10-05", "--mapping", str(mapping)) == 0
    region_soql = [r for r in org.requests if "Region__c" in r]
    assert region_soql and "Owner.UserRole.Name" in region_soql[0]
    got = deals(db)["006D00000000000001"]
    assert got[9] == "EMEA" and got[4] is None  # no role in the org's data: team empty


def test_a_field_missing_from_the_org_is_named(org, tmp_path, capsys):
    org.opportunities = [one_deal()]
    org.hidden_fields = {"Opportunity.Region__c"}
    mapping = tmp_path / "sf.toml"
    mapping.write_text('[columns]\nregion = "Region__c"\n')
    db = tmp_path / "f.duckdb"
    assert sync(db, "--mapping", str(mapping)) == 2
    err = capsys.readouterr().err
    assert 'region = "Region__c"' in err and "does not have on Opportunity" in err
    assert len(err.strip().splitlines()) == 2  # the progress line, then one line of error
    assert not db.exists()


@pytest.mark.slow
def test_incremental_merge_and_deletions(org, tmp_path, capsys):
    org.opportunities = [numbered(n) for n in range(1, 4)]
    db = tmp_path / "f.duckdb"
    assert sync(db, "--as-of", "2026-10-05") == 0
    # A week later: deal 2 moved to Commit, deal 3 was deleted, deal 4 is new; deal 1 did
    # not change (its SystemModstamp is before the mark, so it is not read again).
    org.opportunities[1].update(StageName="Negotiation/Review", ForecastCategoryName="Commit",
                                Amount=65000.0, SystemModstamp="2026-10-09T08:00:00.000+0000")
    org.opportunities[2].update(IsDeleted=True, SystemModstamp="2026-10-10T08:00:00.000+0000")
    org.opportunities.append(numbered(4, SystemModstamp="2026-10-11T08:00:00.000+0000"))
    capsys.readouterr()
    assert sync(db, "--as-of", "2026-10-12") == 0
    out = capsys.readouterr().out
    # read: deals 2, 3 and 4 plus deal 1 again (modified at the mark itself: >= re-reads it)
    assert "(incremental): 2 new or changed, 1 deleted; 3 opportunities" in out
    reads = [unquote_plus(r) for r in org.requests if re.search(r"FROM\+Opportunity(\+|$)", r)]
    assert reads[-1].endswith("FROM Opportunity WHERE SystemModstamp >= 2026-10-01T10:00:00Z OR "
                              "Account.SystemModstamp >= 2026-10-01T10:00:00Z OR "
                              "Owner.SystemModstamp >= 2026-10-01T10:00:00Z")
    got = deals(db)
    assert sorted(got) == ["006D00000000000001", "006D00000000000002", "006D00000000000004"]
    assert got["006D00000000000002"][5:8] == ("Negotiation/Review", "Commit", 65000)
    con = duckdb.connect(str(db), read_only=True)
    # the deleted deal is in last week's picture and not this week's, kept as departed
    assert con.execute("select count(*) from opportunity_snapshots where opportunity_id = "
                       "'006D00000000000003'").fetchall()[0][0] == 1
    assert con.execute("select departed_on from departed_opportunities").fetchall() == [
        (date(2026, 10, 12),)]
    mark = con.execute("select high_water, full_read from crm_sync").fetchall()[0]
    assert mark == ("2026-10-11T08:00:00.000+0000", False)
    con.close()
    # --full re-reads every record and gives the same picture
    assert sync(db, "--as-of", "2026-10-12", "--full") == 0
    assert deals(db) == got


def test_unknown_stage_stops_with_the_import_message(org, tmp_path, capsys):
    org.opportunities = [one_deal(StageName="Contracting")]
    db2 = tmp_path / "g.duckdb"
    assert sync(db2) == 1
    err = capsys.readouterr().err
    assert 'stage "Contracting" is not in the stage map' in err
    assert '"Contracting" = { category = "Pipeline"' in err
    assert f"Nothing was imported: {db2} is unchanged" in err


def test_expired_token_is_one_line_and_changes_nothing(org, tmp_path, capsys, monkeypatch):
    org.opportunities = [one_deal()]
    db = tmp_path / "f.duckdb"
    assert sync(db, "--as-of", "2026-10-05") == 0
    before = db.read_bytes()
    monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", "00Dxx!expired")
    capsys.readouterr()
    assert sync(db, "--as-of", "2026-10-12") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: Salesforce refused the session (INVALID_SESSION_ID)")
    assert "set a fresh SALESFORCE_ACCESS_TOKEN" in err[-1]
    assert db.read_bytes() == before


def test_missing_permission_names_the_fix(org, tmp_path, capsys):
    org.opportunities = [one_deal()]
    org.failures = [(403, [{"message": "Insufficient access", "errorCode": "INSUFFICIENT_ACCESS"}])]
    assert sync(tmp_path / "f.duckdb") == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "INSUFFICIENT_ACCESS" in err and "permission set" in err


@pytest.mark.slow
def test_rate_limit_and_server_errors_are_retried(org, tmp_path, capsys):
    org.page_size = 1
    org.opportunities = [numbered(1), numbered(2)]
    org.failures = [(403, [{"message": "TotalRequests Limit exceeded.",
                            "errorCode": "REQUEST_LIMIT_EXCEEDED"}]),
                    (500, [{"message": "boom", "errorCode": "UNKNOWN_EXCEPTION"}])]
    db = tmp_path / "f.duckdb"
    assert sync(db, "--as-of", "2026-10-05") == 0
    assert len(deals(db)) == 2
    # still failing after every retry: reported, nothing written
    org.failures = [(503, [{"message": "down", "errorCode": "SERVER_UNAVAILABLE"}])] * 4
    before = db.read_bytes()
    capsys.readouterr()
    assert sync(db, "--as-of", "2026-10-12") == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "HTTP 503" in err and "after 3 retries" in err
    assert db.read_bytes() == before
    org.failures = [(403, [{"message": "TotalRequests Limit exceeded.",
                            "errorCode": "REQUEST_LIMIT_EXCEEDED"}])] * 4
    assert sync(db, "--as-of", "2026-10-12") == 1
    assert "REQUEST_LIMIT_EXCEEDED" in capsys.readouterr().err


def test_tls_is_verified(org, tmp_path, capsys, monkeypatch):
    org.opportunities = [one_deal()]
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")  # the public CAs do not know the test CA
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    assert sync(tmp_path / "f.duckdb") == 1
    err = capsys.readouterr().err
    assert "TLS verification failed" in err and "REQUESTS_CA_BUNDLE" in err


def test_no_credentials_is_a_usage_error(tmp_path, capsys, monkeypatch):
    for name in salesforce.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    assert sync(tmp_path / "f.duckdb") == 2
    assert "no Salesforce credentials" in capsys.readouterr().err


def test_credential_flows_from_the_environment():
    token = salesforce.credentials({"SALESFORCE_INSTANCE_URL": "https://x.my.salesforce.com",
                                    "SALESFORCE_ACCESS_TOKEN": "secret-1"})
    password = salesforce.credentials({"SALESFORCE_USERNAME": "u@x.com",
                                       "SALESFORCE_PASSWORD": "secret-2",
                                       "SALESFORCE_SECURITY_TOKEN": "secret-3",
                                       "SALESFORCE_DOMAIN": "test"})
    jwt = salesforce.credentials({"SALESFORCE_USERNAME": "u@x.com",
                                  "SALESFORCE_CONSUMER_KEY": "3MVG9",
                                  "SALESFORCE_PRIVATE_KEY_FILE": "/k.pem"})
    assert (token.flow, password.flow, jwt.flow) == ("access token", "password", "JWT bearer")
    assert dict(password.values)["SALESFORCE_DOMAIN"] == "test"
    assert "secret" not in repr(token) + str(password) + repr(jwt)


def test_the_token_never_reaches_output_or_the_database(org, tmp_path, capsys, monkeypatch):
    org.opportunities = [one_deal()]
    db = tmp_path / "f.duckdb"
    assert sync(db, "--as-of", "2026-10-05") == 0
    monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", TOKEN + "x")  # refused: an error path too
    assert sync(db, "--as-of", "2026-10-12") == 1
    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err
    secret = TOKEN.split("!")[1].encode()
    for file in tmp_path.iterdir():
        if file.is_file():
            assert secret not in file.read_bytes(), file


def test_backfill_rebuilds_weekly_history(org, tmp_path):
    scenario = Scenario(WEEK0 - timedelta(weeks=6))
    for k in range(6, -1, -1):
        scenario.week(WEEK0 - timedelta(weeks=k), new=4 if k > 3 else 1)
    org.opportunities, org.history = scenario.org_rows(), scenario.history
    db = tmp_path / "f.duckdb"
    assert sync(db, "--as-of", WEEK0.isoformat()) == 0
    con = duckdb.connect(str(db), read_only=True)
    dates = [r[0] for r in con.execute("select snapshot_date from snapshot_dates order by 1")
             .fetchall()]
    assert dates == [WEEK0 - timedelta(weeks=k) for k in range(6, -1, -1)]
    # a deal's stage in an early picture is the one its history had then
    first = scenario.history[0]
    assert con.execute("select stage from opportunity_snapshots where opportunity_id = ? and "
                       "snapshot_date = ?", [first["OpportunityId"], dates[0]]
                       ).fetchall()[0][0] == first["StageName"]


def _import(db: Path, as_of: date, name: str, data: bytes, kind: str | None = None) -> None:
    run_import(db, ImportRequest([read_bytes(name, data)], kind=kind, as_of=as_of))


@pytest.mark.slow
def test_weekly_syncs_give_the_same_report_as_weekly_imports(org, tmp_path):
    """The issue's 'done when': a database built by syncing a scenario week by week gives the
    same report (every key) and the same history as one built by importing the weeks' exports
    (the first week with its OpportunityHistory export)."""
    scenario = Scenario(WEEK0 - timedelta(weeks=8))
    for k in range(8, 0, -1):
        scenario.week(WEEK0 - timedelta(weeks=k), new=5 if k > 4 else 2)
    synced, imported = tmp_path / "synced.duckdb", tmp_path / "imported.duckdb"
    org.page_size = 7
    weeks = [WEEK0 + timedelta(weeks=k) for k in range(4)]
    for k, day in enumerate(weeks):
        scenario.week(day, new=2, delete=(k == 2))
        org.opportunities, org.history = scenario.org_rows(), scenario.history
        assert sync(synced, "--as-of", day.isoformat()) == 0
        _import(imported, day, "Opportunity.csv", scenario.export_csv())
        if k == 0:  # README: the export, then its history with --kind history
            _import(imported, day, "OpportunityHistory.csv", scenario.history_csv(), "history")
    tables = ["select * exclude (loss_class) from opportunities order by all",
              "select * from opportunity_history order by all",
              "select * from snapshot_dates order by all",
              "select * from departed_opportunities order by all"]
    a, b = connect(synced), connect(imported)
    for query in tables:
        assert a.execute(query).fetchall() == b.execute(query).fetchall(), query
    assert a.execute("select count(*) from departed_opportunities").fetchall()[0][0] == 1
    # 8 weeks of history rebuilt by the first sync, then the 3 weekly syncs
    assert a.execute("select count(*) from snapshot_dates").fetchall()[0][0] == 12
    for as_of in (weeks[-1], weeks[1], WEEK0 - timedelta(weeks=3)):
        view = View(period_containing(as_of, QUARTER, 1), as_of, Filters())
        assert (with_movement(a, full_report(a, view), None).as_report()
                == with_movement(b, full_report(b, view), None).as_report())
    last = View(period_containing(weeks[-1], QUARTER, 1), weeks[-1], Filters())
    report = with_movement(a, full_report(a, last), None).as_report()
    assert report["categories"]["Commit"]["count"] > 0  # the scenario is not empty
    a.close()
    b.close()


def _spawn_sync(db: Path, as_of: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sales", "sync", "salesforce", "--db", str(db),
                             "--as-of", as_of], cwd=ROOT, env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_a_sync_killed_midway_leaves_the_database_as_it_was(org, tmp_path):
    org.opportunities = [numbered(n) for n in range(1, 4)]
    db = tmp_path / "f.duckdb"
    assert sync(db, "--as-of", "2026-10-05") == 0
    before = deals(db)
    org.opportunities = [numbered(n, StageName="Closed Won", ForecastCategoryName="Closed",
                                  IsClosed=True, IsWon=True,
                                  SystemModstamp="2026-10-09T08:00:00.000+0000")
                         for n in range(1, 4)]
    org.page_size, org.pause_on_more = 1, True
    process = _spawn_sync(db, "2026-10-12")
    try:
        assert org.paused.wait(60), process.communicate(timeout=5)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        org.release.set()
    assert deals(db) == before
    org.pause_on_more = False
    assert sync(db, "--as-of", "2026-10-12") == 0
    assert {v[5] for v in deals(db).values()} == {"Closed Won"}


@pytest.mark.slow
def test_a_sync_killed_while_writing_leaves_the_database_as_it_was(org, tmp_path):
    org.opportunities = [numbered(n) for n in range(1, 4)]
    db = tmp_path / "f.duckdb"
    assert sync(db, "--as-of", "2026-10-05") == 0
    before = deals(db)
    # big enough that checking and writing take a while after the last page is read
    org.opportunities = [numbered(n, SystemModstamp="2026-10-09T08:00:00.000+0000")
                         for n in range(1, 40_001)]
    process = _spawn_sync(db, "2026-10-12")
    seen = []
    for line in process.stderr:  # the progress bar, one line per step (not a terminal)
        seen.append(line.decode())
        if "Writing" in seen[-1]:
            process.send_signal(signal.SIGKILL)
            break
    process.wait(60)
    assert process.returncode == -signal.SIGKILL, seen
    assert deals(db) == before
    org.opportunities = org.opportunities[:5]
    assert sync(db, "--as-of", "2026-10-12") == 0  # the lock and the half-built copy are gone
    assert len(deals(db)) == 5


@pytest.mark.slow
def test_a_sync_while_the_app_holds_the_file(org, tmp_path):
    org.opportunities = [numbered(n) for n in range(1, 3)]
    db = tmp_path / "f.duckdb"
    assert sync(db, "--as-of", "2026-10-05") == 0
    app = connect(db)  # the app's one read-write connection
    try:
        org.opportunities.append(numbered(3, SystemModstamp="2026-10-09T08:00:00.000+0000"))
        process = _spawn_sync(db, "2026-10-12")
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
        assert b"Synced salesforce" in out
    finally:
        app.close()
    assert len(deals(db)) == 3


def test_backfill_keeps_the_owner_of_each_moment(org, tmp_path):
    """Owner changes tracked in OpportunityFieldHistory (each recorded twice by Salesforce:
    with user ids and with names) give each weekly picture the owner of that moment."""
    weeks = [WEEK0 - timedelta(weeks=k) for k in (3, 2, 1, 0)]

    def at(day: date) -> str:
        return f"{day.isoformat()}T09:00:00.000+0000"

    def change(day: date, stage: str, amount: float) -> dict:
        return {"OpportunityId": "006D00000000000001", "CreatedDate": at(day),
                "StageName": stage, "Amount": amount, "CloseDate": "2026-12-15",
                "ForecastCategory": "Pipeline", "IsDeleted": False}

    org.opportunities = [one_deal(**{"Owner.Name": "Ben Okafor",
                                     "Owner.Manager.Name": "Raj Patel"})]
    org.history = [change(weeks[0], "Prospecting", 40000.0),
                   change(weeks[1], "Qualification", 50000.0)]
    moved = weeks[2] - timedelta(days=2)  # handed over mid-week: shows in the next picture
    org.field_history = [
        {"OpportunityId": "006D00000000000001", "CreatedDate": at(moved), "Field": "Owner",
         "OldValue": "005D0000001AbCdEAA", "NewValue": "005D0000002XyZwEAA"},
        {"OpportunityId": "006D00000000000001", "CreatedDate": at(moved), "Field": "Owner",
         "OldValue": "Ana Ortiz", "NewValue": "Ben Okafor"}]
    db = tmp_path / "f.duckdb"
    assert sync(db, "--as-of", WEEK0.isoformat()) == 0
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("select snapshot_date, stage, amount, owner from opportunity_snapshots "
                       "order by 1").fetchall()
    assert rows == [(weeks[0], "Prospecting", 40000, "Ana Ortiz"),
                    (weeks[1], "Qualification", 50000, "Ana Ortiz"),
                    (weeks[2], "Qualification", 50000, "Ben Okafor"),
                    (weeks[3], "Qualification", 50000, "Ben Okafor")]
    con.close()


def test_the_imports_warnings_are_listed(org, tmp_path, capsys):
    org.opportunities = [one_deal(CloseDate="2026-09-01", Amount=None)]
    assert sync(tmp_path / "f.duckdb", "--as-of", "2026-10-05") == 0
    out = capsys.readouterr().out
    assert "Warnings (synced;" in out
    assert "open deal whose close date has passed" in out and "the amount is empty" in out


def test_a_required_field_hidden_from_the_user_names_the_fix(org, tmp_path, capsys):
    org.opportunities = [one_deal()]
    org.hidden_fields = {"Opportunity.Amount"}  # field-level security hides it
    db = tmp_path / "f.duckdb"
    assert sync(db) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "Opportunity field Amount is not visible" in err and "field-level" in err
    assert not db.exists()


def test_a_change_to_the_account_alone_is_read_incrementally(org, tmp_path, capsys):
    """Salesforce does not touch an opportunity's SystemModstamp when its account changes: the
    incremental read asks for the account's (and the owner's) stamp too."""
    org.opportunities = [numbered(1), numbered(2)]
    db = tmp_path / "f.duckdb"
    assert sync(db, "--as-of", "2026-10-05") == 0
    org.opportunities[1].update({"Account.NumberOfEmployees": 9000,
                                 "Account.SystemModstamp": "2026-10-08T08:00:00.000+0000"})
    capsys.readouterr()
    assert sync(db, "--as-of", "2026-10-12") == 0
    assert "1 new or changed" in capsys.readouterr().out
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select segment from opportunities where opportunity_id = "
                       "'006D00000000000002'").fetchall() == [("Enterprise",)]
    con.close()


@pytest.mark.slow
def test_bulk_reads_the_same_picture_through_a_bulk_api_job(org, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(salesforce, "BULK_PAGE", 2)  # 5 deals: three result chunks by locator
    monkeypatch.setattr(salesforce, "BULK_WAIT_S", 0)
    org.opportunities = [numbered(n) for n in range(1, 5)] + [
        numbered(5, **{"Account.Name": None, "Account.NumberOfEmployees": None,
                       "Owner.Manager.Name": None})]
    rest, bulk = tmp_path / "rest.duckdb", tmp_path / "bulk.duckdb"
    assert sync(rest, "--as-of", "2026-10-05") == 0
    assert sync(bulk, "--as-of", "2026-10-05", "--bulk") == 0
    assert any(r.startswith("/services/data/v59.0/jobs/query/750D") for r in org.requests)
    assert deals(bulk) == deals(rest)
    # deletions through the job's queryAll, incrementally
    org.opportunities[0].update(IsDeleted=True, SystemModstamp="2026-10-09T08:00:00.000+0000")
    capsys.readouterr()
    assert sync(bulk, "--as-of", "2026-10-12", "--bulk") == 0
    assert "1 deleted; 4 opportunities" in capsys.readouterr().out
    assert cli.main(["sync", "hubspot", "--db", str(bulk), "--bulk"]) == 2

"""`python -m sales sync hubspot` against a local HTTPS server speaking the CRM v3/v4 API's
shapes (tests/crm_fakes.py): pipelines and stage labels, companies and owners, paging by
`after`, incremental by hs_lastmodifieddate with archived deals, history, failures, secrecy."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pytest

from sales import cli
from sales.crm import hubspot, retry
from sales.db import connect
from sales.hierarchy import hierarchy_at
from tests.sales.crm.fakes import HUBSPOT_MAPPING, HUBSPOT_TOKEN, FakeHubSpot, deals, tls_server


@pytest.fixture
def portal(tmp_path, monkeypatch):
    server, bundle = tls_server(tmp_path)
    fake = FakeHubSpot(
        companies={"501": {"name": "Acme", "numberofemployees": "1200"},
                   "502": {"name": "Globex", "numberofemployees": "90"}},
        owners=[{"id": "71", "firstName": "Ana", "lastName": "Ortiz", "email": "ana@x.com",
                 "teams": [{"id": "9", "name": "EMEA Sales", "primary": True}]},
                {"id": "72", "firstName": "Ben", "lastName": "Okafor", "email": "ben@x.com",
                 "teams": []}])
    fake.install(server)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
    monkeypatch.setenv("HUBSPOT_API_BASE", server.url_for("/").rstrip("/"))
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN)
    monkeypatch.setattr(retry, "RETRY_DELAYS_S", (0.0, 0.0, 0.0))
    mapping = tmp_path / "hubspot.toml"
    mapping.write_text(HUBSPOT_MAPPING)
    yield fake, mapping
    server.clear()
    server.stop()


def deal(n: int, stage: str = "qualifiedtobuy", amount: str = "50000",
         modified: str = "2026-10-01T10:00:00.000Z", company: str | None = "501",
         owner: str = "71", **history) -> dict:
    return {"id": str(n), "company": company,
            "properties": {"dealname": f"Deal {n}", "amount": amount, "dealstage": stage,
                           "closedate": "2026-12-15T00:00:00.000Z", "pipeline": "default",
                           "createdate": "2026-09-01T10:00:00.000Z", "dealtype": "newbusiness",
                           "hubspot_owner_id": owner, "hs_lastmodifieddate": modified,
                           "region": "EMEA"},
            "history": history}


def sync(db, mapping, *options: str) -> int:
    return cli.main(["sync", "hubspot", "--db", str(db), "--mapping", str(mapping), *options])


def test_deals_with_stage_labels_companies_and_owners(portal, tmp_path, capsys):
    fake, mapping = portal
    fake.page_size = 2  # 3 deals: two pages by `after`
    fake.deals = [deal(1), deal(2, stage="contractsent", company="502", owner="72"),
                  deal(3, stage="closedwon", company=None)]
    db = tmp_path / "f.duckdb"
    assert sync(db, mapping, "--as-of", "2026-10-05") == 0
    got = deals(db)
    assert got["1"] == ("Deal 1", "Acme", 1200, "Ana Ortiz", "EMEA Sales", "Qualified To Buy",
                        "Pipeline", 50000, date(2026, 12, 15), "EMEA")
    assert got["2"][1:8] == ("Globex", 90, "Ben Okafor", None, "Contract Sent", "Commit", 50000)
    assert got["3"][1] is None and got["3"][5:7] == ("Closed Won", "Closed")  # the shipped map
    assert any("after=2" in r for r in fake.requests)
    con = duckdb.connect(str(db), read_only=True)
    assert dict(con.execute("select stage, probability from crm_stages").fetchall())[
        "Contract Sent"] == 0.9
    con.close()


def test_unmapped_hubspot_stages_stop_with_the_lines_to_add(portal, tmp_path, capsys):
    fake, _ = portal
    fake.deals = [deal(1, stage="contractsent")]
    bare = tmp_path / "bare.toml"
    bare.write_text('[columns]\nregion = "region"\n')
    db = tmp_path / "f.duckdb"
    assert sync(db, bare) == 1
    err = capsys.readouterr().err
    assert 'stage "Contract Sent" is not in the stage map' in err
    assert '"Contract Sent" = { category = "Pipeline", qualified = true, closed = false' in err
    assert not db.exists()


def test_incremental_by_last_modified_with_archived_deals(portal, tmp_path, capsys):
    fake, mapping = portal
    fake.deals = [deal(1), deal(2), deal(3)]
    db = tmp_path / "f.duckdb"
    assert sync(db, mapping, "--as-of", "2026-10-05") == 0
    fake.deals[1] = deal(2, stage="contractsent", amount="65000",
                         modified="2026-10-09T08:00:00.000Z")
    fake.deals[2]["archivedAt"] = "2026-10-10T08:00:00.000Z"
    fake.deals.append(deal(4, modified="2026-10-11T08:00:00.000Z"))
    capsys.readouterr()
    assert sync(db, mapping, "--as-of", "2026-10-12") == 0
    out = capsys.readouterr().out
    assert "(incremental): 2 new or changed, 1 deleted; 3 opportunities" in out
    assert any(r.startswith("POST /crm/v3/objects/deals/search") for r in fake.requests)
    got = deals(db)
    assert sorted(got) == ["1", "2", "4"]
    assert got["2"][5:8] == ("Contract Sent", "Commit", 65000)
    assert got["4"][1] == "Acme"  # the company of a changed deal, through the v4 associations


def test_first_sync_rebuilds_weekly_history(portal, tmp_path):
    fake, mapping = portal
    fake.deals = [_with_history()]
    db = tmp_path / "f.duckdb"
    assert sync(db, mapping, "--as-of", "2026-10-05") == 0
    con = duckdb.connect(str(db), read_only=True)
    # changes on 09-14 (Mon), 09-22 (Tue) and 10-02 (Fri) land on the weekly snapshots
    # 09-14, 09-28 and 10-05 (as-of, as-of − 7, … : the first one on or after each change)
    rows = con.execute("select snapshot_date, stage, amount from opportunity_snapshots "
                       "order by 1").fetchall()
    assert rows == [(date(2026, 9, 14), "Appointment Scheduled", 50000),
                    (date(2026, 9, 28), "Qualified To Buy", 50000),
                    (date(2026, 10, 5), "Contract Sent", 70000)]
    con.close()


def _with_history() -> dict:
    row = deal(1, stage="contractsent", amount="70000")
    row["history"] = {
        "dealstage": [{"value": "appointmentscheduled", "timestamp": "2026-09-14T09:00:00.000Z"},
                      {"value": "qualifiedtobuy", "timestamp": "2026-09-22T09:00:00.000Z"},
                      {"value": "contractsent", "timestamp": "2026-10-02T09:00:00.000Z"}],
        "amount": [{"value": "50000", "timestamp": "2026-09-14T09:00:00.000Z"},
                   {"value": "70000", "timestamp": "2026-10-02T09:00:00.000Z"}],
        "closedate": [{"value": "2026-12-15T00:00:00.000Z",
                       "timestamp": "2026-09-14T09:00:00.000Z"}]}
    return row


def test_refused_token_and_scopes_are_one_line(portal, tmp_path, capsys, monkeypatch):
    fake, mapping = portal
    fake.deals = [deal(1)]
    db = tmp_path / "f.duckdb"
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-wrong")
    assert sync(db, mapping) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "HubSpot refused the token (401)" in err and "HUBSPOT_ACCESS_TOKEN" in err
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN)
    fake.failures = [(403, {"status": "error", "category": "MISSING_SCOPES"})]
    assert sync(db, mapping) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "MISSING_SCOPES" in err and "crm.objects.deals.read" in err
    assert not db.exists()


def test_rate_limit_and_5xx_are_retried_then_reported(portal, tmp_path, capsys):
    fake, mapping = portal
    fake.deals = [deal(1)]
    fake.failures = [(429, {"status": "error", "category": "RATE_LIMITS"}),
                     (502, {"status": "error"})]
    db = tmp_path / "f.duckdb"
    assert sync(db, mapping, "--as-of", "2026-10-05") == 0
    fake.failures = [(500, {"status": "error"})] * 4
    before = db.read_bytes()
    assert sync(db, mapping, "--as-of", "2026-10-12") == 1
    assert "HTTP 500" in capsys.readouterr().err
    assert db.read_bytes() == before


def test_the_token_never_reaches_output_or_the_database(portal, tmp_path, capsys,
                                                         monkeypatch):
    fake, mapping = portal
    fake.deals = [deal(1)]
    db = tmp_path / "f.duckdb"
    assert sync(db, mapping, "--as-of", "2026-10-05") == 0
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN + "x")
    assert sync(db, mapping, "--as-of", "2026-10-12") == 1
    out = capsys.readouterr()
    assert "fakeHubSpotSecret" not in out.out + out.err
    for file in tmp_path.iterdir():
        if file.is_file():
            assert b"fakeHubSpotSecret" not in file.read_bytes(), file


def test_no_token_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    assert cli.main(["sync", "hubspot", "--db", str(tmp_path / "f.duckdb")]) == 2
    assert "HUBSPOT_ACCESS_TOKEN" in capsys.readouterr().err


def test_a_property_missing_from_the_portal_is_named(portal, tmp_path, capsys):
    fake, _ = portal
    fake.deals = [deal(1)]
    mapping = tmp_path / "bad.toml"
    mapping.write_text('[columns]\nchannel = "sales_channel"\n')
    db = tmp_path / "f.duckdb"
    assert sync(db, mapping) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert 'channel = "sales_channel"' in err and "does not have" in err
    assert not db.exists()


@pytest.mark.slow
def test_more_changes_than_a_search_pages_reads_everything(portal, tmp_path, capsys,
                                                           monkeypatch):
    fake, mapping = portal
    fake.deals = [deal(1), deal(2)]
    db = tmp_path / "f.duckdb"
    assert sync(db, mapping, "--as-of", "2026-10-05") == 0
    monkeypatch.setattr(hubspot, "SEARCH_LIMIT", 1)
    fake.deals = [deal(1, amount="1", modified="2026-10-09T08:00:00.000Z"),
                  deal(2, amount="2", modified="2026-10-09T08:00:00.000Z")]
    capsys.readouterr()
    assert sync(db, mapping, "--as-of", "2026-10-12") == 0
    out = capsys.readouterr().out
    assert "2 record(s) read (full read): 2 new or changed" in out
    assert "more than a search returns (1): read them all" in out
    assert {v[7] for v in deals(db).values()} == {1, 2}


def test_tls_is_verified(portal, tmp_path, capsys, monkeypatch):
    fake, mapping = portal
    fake.deals = [deal(1)]
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")  # the public CAs do not know the test CA
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    assert sync(tmp_path / "f.duckdb", mapping) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "TLS verification failed" in err and "REQUESTS_CA_BUNDLE" in err


@pytest.mark.slow
def test_a_company_or_owner_change_reaches_its_deals_incrementally(portal, tmp_path, capsys):
    """HubSpot does not date a deal by its company's or owner's changes: the incremental read
    re-reads the companies changed since and every owner, and re-links the stored deals."""
    fake, mapping = portal
    fake.deals = [deal(1), deal(2, company="502", owner="72")]
    db = tmp_path / "f.duckdb"
    assert sync(db, mapping, "--as-of", "2026-10-05") == 0
    fake.companies["501"] = {"name": "Acme Group", "numberofemployees": "9000",
                             "hs_lastmodifieddate": "2026-10-08T08:00:00.000Z"}
    fake.owners[1]["teams"] = [{"id": "4", "name": "Mid-Market Sales", "primary": True}]
    capsys.readouterr()
    assert sync(db, mapping, "--as-of", "2026-10-12") == 0
    assert "2 new or changed" in capsys.readouterr().out
    got = deals(db)
    assert got["1"][1:3] == ("Acme Group", 9000) and got["2"][4] == "Mid-Market Sales"
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select segment from opportunities where opportunity_id = '1'"
                       ).fetchall() == [("Enterprise",)]
    # the links are kept for the next sync, not imported as columns
    assert "_company" not in [c[0] for c in con.execute("describe opportunities").fetchall()]
    con.close()


def test_a_multi_currency_portal_converts_at_the_exchange_rate_of_the_close_date(portal, tmp_path):
    """1 EUR = 1.25 USD from 2026-01-01 (Salesforce's 0.80 EUR per USD), 1.50 from 2026-12-20:
    deal 1, €80,000 closing 12-15, is 80,000 × 1.25 = $100,000.00; deal 2 closes 12-15 in USD.
    HubSpot has no managers: the owners join the hierarchy with their team as the title."""
    fake, mapping = portal
    fake.currencies = {"company": "USD", "rates": [
        {"fromCurrencyCode": "EUR", "toCurrencyCode": "USD", "conversionRate": 1.25,
         "effectiveAt": "2026-01-01T00:00:00Z"},
        {"fromCurrencyCode": "EUR", "toCurrencyCode": "USD", "conversionRate": 1.5,
         "effectiveAt": "2026-12-20T00:00:00Z"}]}
    fake.deals = [deal(1, amount="80000"), deal(2, amount="30000")]
    fake.deals[0]["properties"]["deal_currency_code"] = "EUR"
    fake.deals[1]["properties"]["deal_currency_code"] = "USD"
    db = tmp_path / "f.duckdb"
    assert sync(db, mapping, "--as-of", "2026-10-05") == 0
    con = connect(db)
    assert con.execute("select opportunity_id, amount, amount_original, currency "
                       "from opportunities order by 1").fetchall() == [
        ("1", Decimal("100000.00"), Decimal("80000.00"), "EUR"),
        ("2", Decimal("30000.00"), Decimal("30000.00"), "USD")]
    now = hierarchy_at(con, date(2026, 10, 5))
    assert now.users["Ana Ortiz"].title == "EMEA Sales" and now.manager_of("Ana Ortiz") is None
    con.close()


def test_contacts_lifecycle_stages_become_leads(portal, tmp_path, capsys):
    """Lifecycle stages map to the handbook's statuses (marketingqualifiedlead → MQL,
    salesqualifiedlead → Accepted); C1 became an MQL on 09-14 by its history; C2's stage
    `partner` is no status we know: kept as open and listed."""
    fake, mapping = portal
    fake.deals = [deal(1)]
    fake.contacts = [
        {"id": "901", "properties": {"createdate": "2026-09-01T10:00:00.000Z",
                                     "lifecyclestage": "salesqualifiedlead",
                                     "hubspot_owner_id": "71",
                                     "lastmodifieddate": "2026-09-20T10:00:00.000Z"},
         "history": {"lifecyclestage": [
             {"value": "lead", "timestamp": "2026-09-01T10:00:00.000Z"},
             {"value": "marketingqualifiedlead", "timestamp": "2026-09-14T10:00:00.000Z"},
             {"value": "salesqualifiedlead", "timestamp": "2026-09-20T10:00:00.000Z"}]}},
        {"id": "902", "properties": {"createdate": "2026-09-10T10:00:00.000Z",
                                     "lifecyclestage": "partner", "hubspot_owner_id": "72",
                                     "lastmodifieddate": "2026-09-10T10:00:00.000Z"},
         "history": {"lifecyclestage": [
             {"value": "partner", "timestamp": "2026-09-10T10:00:00.000Z"}]}}]
    db = tmp_path / "f.duckdb"
    assert sync(db, mapping, "--as-of", "2026-10-05") == 0
    assert "partner" in capsys.readouterr().out
    con = connect(db)
    assert con.execute("select lead_id, status, mql_date, owner from leads order by 1"
                       ).fetchall() == [("901", "Accepted", date(2026, 9, 14), "Ana Ortiz"),
                                        ("902", "partner", None, "Ben Okafor")]
    # C1 on 09-14 (the weekly lead snapshot of 09-14): MQL
    assert con.execute("""select status from lead_history where lead_id = '901'
                          and valid_from <= '2026-09-14'
                          and (valid_to is null or valid_to > '2026-09-14')""").fetchall() == [
        ("MQL",)]
    con.close()

"""Data › CRM sync as an analyst sees it (AppTest): connection status without a secret on
screen, "Sync now" against a local HTTPS org with progress and the last syncs, the schedule;
and the Overview's caption saying how fresh the data is."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sales import audit
from sales.crm import salesforce
from sales.db import connect
from sales.freshness import freshness
from tests.conftest import DEALS, _earlier_picture, _picture
from tests.helpers import d, plain, run_page, seed
from tests.sales.crm.fakes import TOKEN, FakeSalesforce, numbered, tls_server


def everything(at) -> str:
    parts = [e.value for e in (*at.markdown, *at.caption, *at.success, *at.info, *at.error,
                               *at.code)]
    return plain(" | ".join(str(p) for p in parts))


@pytest.fixture
def empty_db(tmp_path, monkeypatch):
    for name in salesforce.ENV_VARS + ("HUBSPOT_ACCESS_TOKEN", "HUBSPOT_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "empty.duckdb"
    connect(path).close()
    return path


def test_nothing_configured_says_what_to_set(empty_db, monkeypatch):
    at = run_page("data_sync.py", empty_db, monkeypatch)
    text = everything(at)
    assert "Not configured" in text and "SALESFORCE_ACCESS_TOKEN" in text
    assert "No sync yet" in text and "Nothing to sync" in text
    assert "-m sales sync salesforce --db" in text and "OnCalendar=" in text
    assert not at.button


@pytest.mark.slow
def test_sync_now_with_progress_and_the_last_sync(empty_db, tmp_path, monkeypatch):
    server, bundle = tls_server(tmp_path)
    org = FakeSalesforce(opportunities=[numbered(n) for n in range(1, 4)])
    org.install(server)
    try:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
        monkeypatch.setenv("SALESFORCE_INSTANCE_URL", server.url_for("/").rstrip("/"))
        monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", TOKEN)
        at = run_page("data_sync.py", empty_db, monkeypatch)
        assert "Configured: access token (from the environment)" in everything(at)
        assert TOKEN not in everything(at)
        at.button(key="sync_go").click().run()
        assert not at.exception, [e.value for e in at.exception]
        text = everything(at)
        assert "Synced: 3 opportunities" in text, text
        assert "3 record(s) read (full read)" in text
        history = at.dataframe[0].value
        assert history["records_read"].tolist() == [3]
        assert history["source"].tolist() == ["Salesforce"]
        stages = at.dataframe[1].value.set_index("stage")["probability"]
        assert stages["Negotiation/Review"] == 0.9 and stages["Closed Won"] == 1.0
        assert TOKEN not in text
    finally:
        server.clear()
        server.stop()
    con = connect(empty_db)
    assert con.execute("select action, who from audit_log where action = 'sync'").fetchall() == [
        ("sync", "local")]
    assert "Salesforce sync" in freshness(con)
    con.close()


@pytest.mark.slow
def test_a_refused_sync_is_one_message(empty_db, tmp_path, monkeypatch):
    server, bundle = tls_server(tmp_path)
    org = FakeSalesforce(opportunities=[numbered(1)])
    org.install(server)
    try:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
        monkeypatch.setenv("SALESFORCE_INSTANCE_URL", server.url_for("/").rstrip("/"))
        monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", "00Dxx!expired-token")
        at = run_page("data_sync.py", empty_db, monkeypatch)
        at.button(key="sync_go").click().run()
        assert at.error and "INVALID_SESSION_ID" in plain(at.error[0].value)
        assert "expired-token" not in everything(at)
    finally:
        server.clear()
        server.stop()


def test_freshness_names_the_last_load(tmp_path):
    con = connect(tmp_path / "f.duckdb")
    assert freshness(con) == ""
    now = datetime(2026, 11, 30, 9, 0)
    with con.cursor() as cur:
        audit.record(cur, "ana", audit.IMPORT, "import of x.csv", at=now - timedelta(days=3))
        audit.record(cur, "cron", audit.SYNC, "Salesforce sync (incremental): 4 read",
                     at=now - timedelta(hours=5))
        audit.record(cur, "ana", audit.EDIT, "settings", at=now - timedelta(hours=1))
    assert freshness(con, now) == "data from the last Salesforce sync, 30 Nov 2026 04:00 (5 h ago)"
    con.close()


def test_the_overview_caption_says_how_fresh(tmp_path, monkeypatch):
    path = tmp_path / "fixture.duckdb"
    con = connect(path)
    seed(con, DEALS, {d("2026-11-13"): _earlier_picture(), d("2026-11-20"): _picture(DEALS)})
    with con.cursor() as cur:
        audit.record(cur, "cron", audit.SYNC, "HubSpot sync (full): 9 read",
                     at=datetime(2026, 11, 20, 6, 30))
    con.close()
    at = run_page("overview.py", path, monkeypatch)
    captions = " ".join(c.value for c in at.caption)
    assert "data from the last HubSpot sync, 20 Nov 2026 06:30" in captions
    assert "latest snapshot 20 Nov 2026" in captions


@pytest.mark.slow
def test_an_unknown_stage_shows_the_lines_to_add(empty_db, tmp_path, monkeypatch):
    server, bundle = tls_server(tmp_path)
    org = FakeSalesforce(opportunities=[numbered(1, StageName="Contracting")])
    org.install(server)
    try:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
        monkeypatch.setenv("SALESFORCE_INSTANCE_URL", server.url_for("/").rstrip("/"))
        monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", TOKEN)
        at = run_page("data_sync.py", empty_db, monkeypatch)
        at.button(key="sync_go").click().run()
        text = everything(at)
        assert "failed the import's checks; nothing was changed" in text
        assert 'stage "Contracting" is not in the stage map' in text
        assert '"Contracting" = { category = "Pipeline"' in text
    finally:
        server.clear()
        server.stop()
    con = connect(empty_db)
    assert con.execute("select count(*) from opportunities").fetchall()[0][0] == 0
    con.close()

"""Shared fixtures: a hand-computed metrics database, a small demo database, a real SMTP
server (STARTTLS and AUTH) for the digest's tests, and a real PostgreSQL for the shared state."""

from __future__ import annotations

import email
import os
import ssl
from email import policy

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from bench.load import free_port
from sales import delivery
from sales.db import connect
from tests.helpers import add_target, d, seed

# Period under test: FY2026-Q4 with fiscal year start 1 → 2026-10-01 … 2026-12-31.
# Rates window (four completed quarters before): 2025-10-01 … 2026-09-30.
# Snapshots on 2026-11-13 and 2026-11-20; D5 moved from 2-Scoping/Pipeline/350 to
# 3-Technical Evaluation/Best Case/400 between them.
DEALS = [
    # id, stage, category, amount, close, owner, segment-defining employees, extras
    dict(id="D1", stage="7-Closed Won", category="Closed", amount=500, close="2026-10-15",
         owner="Ann", account_employees=9000, region="AMER", team="T1", type="New Business",
         channel="Direct"),
    dict(id="D2", stage="4-Proposal", category="Commit", amount=100, close="2026-12-01",
         owner="Ann", account_employees=6000, region="AMER", team="T1", type="New Business",
         channel="Direct"),
    dict(id="D3", stage="5-Negotiating", category="Commit", amount=200, close="2026-12-10",
         owner="Bob", account_employees=5000, region="EMEA", team="T2", type="Expansion",
         channel="Partner"),
    dict(id="D4", stage="6-Awaiting Signature", category="Commit", amount=300,
         close="2026-11-30", owner="Bob", account_employees=4999, region="EMEA", team="T2",
         type="Renewal", channel="Direct", renewal_risk="At Risk"),
    dict(id="D5", stage="3-Technical Evaluation", category="Best Case", amount=400,
         close="2026-12-15", owner="Cat", account_employees=500, region="APAC", team="T2",
         type="New Business", channel="Direct"),
    dict(id="D6", stage="3-Technical Evaluation", category="Best Case", amount=500,
         close="2026-12-20", owner="Cat", account_employees=499, region="APAC", team="T3",
         type="New Business", channel="Self Serve"),
    dict(id="D7", stage="1-Discovery", category="Pipeline", amount=600, close="2026-12-05",
         owner="Ann", account_employees=10, region="AMER", team="T3", type="Expansion",
         channel="Direct"),
    dict(id="D8", stage="0-Pending Acceptance", category="Pipeline", amount=700,
         close="2026-12-01", owner="Ann", account_employees=20, region="AMER", team="T3",
         type="New Business", channel="Direct"),
    dict(id="D9", stage="8-Closed Lost", category="Omitted", amount=800, close="2026-11-01",
         owner="Bob", account_employees=7000, region="EMEA", team="T1", type="New Business",
         channel="Direct", competitor="Rival", lost_reason="Lost to competitor"),
    dict(id="D10", stage="4-Proposal", category="Commit", amount=1000, close="2027-01-15",
         owner="Ann", account_employees=8000, region="AMER", team="T1", type="New Business",
         channel="Direct"),
    dict(id="D11", stage="9-Unqualified", category="Omitted", amount=50, close="2026-10-20",
         owner="Cat", account_employees=30, region="APAC", team="T3", type="New Business",
         channel="Self Serve"),
    # Closed in the rates window (2025-10-01 … 2026-09-30) unless noted.
    dict(id="W1", stage="7-Closed Won", category="Closed", amount=100, close="2026-03-01",
         owner="Ann", account_employees=9000, region="AMER", team="T1"),
    dict(id="W2", stage="7-Closed Won", category="Closed", amount=300, close="2026-06-01",
         owner="Bob", account_employees=100, region="EMEA", team="T2"),
    dict(id="L1", stage="8-Closed Lost", category="Omitted", amount=200, close="2026-02-01",
         owner="Bob", account_employees=9000, region="EMEA", team="T1", competitor="Acme"),
    dict(id="L2", stage="8-Closed Lost", category="Omitted", amount=400, close="2026-07-01",
         owner="Cat", account_employees=100, region="APAC", team="T3", lost_reason="No budget"),
    dict(id="L3", stage="8-Closed Lost", category="Omitted", amount=1000, close="2026-08-01",
         owner="Cat", account_employees=100, region="APAC", team="T3", lost_reason="Duplicate"),
    dict(id="U1", stage="9-Unqualified", category="Omitted", amount=5000, close="2026-05-01",
         owner="Cat", account_employees=100, region="APAC", team="T3"),
    dict(id="W3", stage="7-Closed Won", category="Closed", amount=999, close="2025-09-30",
         owner="Ann", account_employees=9000, region="AMER", team="T1"),
]


def _picture(deals: list[dict]) -> list[tuple]:
    return [(x["id"], x["stage"], x["category"], x["amount"], x["close"], x["owner"])
            for x in deals]


def _earlier_picture() -> list[tuple]:
    rows = _picture(DEALS)
    return [("D5", "2-Scoping", "Pipeline", 350, "2026-12-15", "Cat") if r[0] == "D5" else r
            for r in rows]


@pytest.fixture
def metrics_con(tmp_path):
    """The hand-computed fixture in a real DuckDB file."""
    con = connect(tmp_path / "metrics.duckdb")
    seed(con, DEALS, {d("2026-11-13"): _earlier_picture(), d("2026-11-20"): _picture(DEALS)})
    add_target(con, "FY2026-Q4", "company", "", 1000)
    add_target(con, "FY2026-Q4", "segment", "Enterprise", 600)
    add_target(con, "FY2026-Q4", "segment", "Mid-Market", 300)
    for month, amount in (("FY2026-M10", 100), ("FY2026-M11", 100), ("FY2026-M12", 150)):
        add_target(con, month, "team", "T1", amount)
    yield con
    con.close()


@pytest.fixture
def seeded_path(tmp_path):
    """The hand-computed fixture in a closed DuckDB file (for pages and the command line), with
    a company target of 1,000 and an Enterprise target of 600 for FY2026-Q4."""
    path = tmp_path / "seeded.duckdb"
    con = connect(path)
    seed(con, DEALS, {d("2026-11-13"): _earlier_picture(), d("2026-11-20"): _picture(DEALS)})
    add_target(con, "FY2026-Q4", "company", "", 1000)
    add_target(con, "FY2026-Q4", "segment", "Enterprise", 600)
    con.close()
    return path


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory):
    """A small demo database shared by the page and command-line tests (built once)."""
    from sales.demo import build_demo

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    build_demo(path, opportunities=3000, seed=7, as_of=d("2026-11-20"))
    return path


@pytest.fixture
def empty_db(tmp_path):
    path = tmp_path / "empty.duckdb"
    connect(path).close()
    return path


@pytest.fixture
def fixture_db(seeded_path, monkeypatch):
    monkeypatch.setenv("SALES_DB", str(seeded_path))
    return seeded_path


class Inbox:
    """Collects what the server accepted; refuses RCPT for addresses starting 'refuse'."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        if address.startswith("refuse"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


@pytest.fixture
def smtp(tmp_path, monkeypatch):
    """A STARTTLS + AUTH SMTP server, and the environment that reaches it."""
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    inbox = Inbox()

    def check(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=(auth_data.login, auth_data.password)
                          == (b"digest", b"s3cret"))

    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, authenticator=check, auth_required=True)
    controller.start()
    for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_USER": "digest",
                        "SMTP_PASSWORD": "s3cret", "SMTP_STARTTLS": "true",
                        "DIGEST_FROM": "forecast@example.com", "SSL_CERT_FILE": str(bundle)
                        }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no secrets file: local mode
    monkeypatch.setattr(delivery, "RETRY_DELAYS_S", (0.0, 0.0))
    yield inbox
    controller.stop()


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server for the session (tests/postgres.py: Debian's initdb and
    pg_ctl in a temporary folder on a free port, trust auth on 127.0.0.1, run as the
    `postgres` user when the tests run as root). `postgres.new_database()` returns the URL of
    a new, empty database; `postgres_url` gives each test one. Skipped when the binaries are
    missing, except under CI (CI set), where that is a failure."""
    from tests.postgres import Postgres, binaries

    found = binaries()
    if found is None:
        message = ("PostgreSQL's initdb/pg_ctl not found (Debian: apt-get install postgresql); "
                   "the shared-state tests need a real server")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = Postgres(found)
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres):
    """The URL of a new, empty PostgreSQL database of its own for this test."""
    return postgres.new_database()

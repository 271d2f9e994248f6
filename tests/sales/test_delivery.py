"""The digest, alerts and reminders against real servers on this machine: aiosmtpd (STARTTLS
with a trustme certificate, AUTH) and a local HTTPS endpoint standing in for Slack's webhook.
Every e-mail is parsed back with the standard library's `email` package."""

from __future__ import annotations

import email
import json
import re
from email import policy

import pytest
from werkzeug import Response

from bench.load import free_port
from sales import access, delivery
from sales.cli import main
from sales.db import connect, open_current
from sales.periods import parse_period
from sales.report import command_report
from sales.view import View
from tests.helpers import d

HOSTILE = "<!channel> *x* <script>alert(1)</script>"
T1_DEALS = {"D1", "D2", "D9", "D10", "W1", "L1", "W3"}






@pytest.fixture
def db(seeded_path):
    con = connect(seeded_path)
    access.grant(con, "vp@example.com", "viewer", by="test")
    access.grant(con, "t1@example.com", "manager", teams=("T1",), by="test")
    con.execute("update opportunities set name = ? where opportunity_id = 'D5'", [HOSTILE])
    con.execute("update opportunities set name = 'Renewal D4' where opportunity_id = 'D4'")
    con.close()
    return seeded_path


def _digest(db, *who: str) -> int:
    return main(["digest", "--db", str(db), "--period", "FY2026-Q4", "--as-of", "2026-11-20",
                 *who])


def _html(message) -> str:
    return message.get_body(("html",)).get_content()


def _text(message) -> str:
    return message.get_body(("plain",)).get_content()


@pytest.mark.slow
def test_each_grant_gets_its_scope_and_the_numbers_equal_the_report(db, smtp):
    assert _digest(db, "--all-grants") == 0
    by_recipient = {rcpt[0]: message for rcpt, message in smtp.messages}
    assert set(by_recipient) == {"vp@example.com", "t1@example.com"}

    con = open_current(db)
    view = View(parse_period("FY2026-Q4", 1), d("2026-11-20"))
    company = command_report(con, view).as_report()
    con.close()
    vp = by_recipient["vp@example.com"]
    # In-blood: closed won 500 + Commit 100 + 200 + 300 = 1,100 → "$1.1K"; the movement since
    # 13 Nov: D5 went Pipeline → Best Case, which the default rules leave out: +$0.
    assert company["in_blood"]["number"] == 1100
    assert vp["Subject"] == "Forecast FY2026-Q4: $1.1K in-blood (+$0 since 13 Nov)"
    assert vp["To"] == "vp@example.com" and vp["From"] == "forecast@example.com"
    assert "In-blood number: $1.1K (110% of target)" in _text(vp)  # 1,100 / 1,000
    assert "Closed won: $500 (50% of $1.0K target)" in _text(vp)

    # The chart: an inline PNG the HTML references by its Content-ID.
    images = [p for p in vp.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1 and images[0].get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f'src="cid:{images[0]["Content-ID"].strip("<>")}"' in _html(vp)

    # The team-scoped manager: no deal of another team anywhere in the message.
    t1 = by_recipient["t1@example.com"]
    named = set(re.findall(r"deals_search=([A-Za-z0-9]+)", _html(t1) + _text(t1)))
    assert named <= T1_DEALS
    assert "D5" not in _text(t1) and "Renewal D4" not in _text(t1)
    assert "team T1" in _text(t1)
    assert "Renewal D4" in _text(vp)  # the company sees the renewal alert


@pytest.mark.slow
def test_a_rerun_sends_no_alert_twice_and_the_run_is_recorded(db, smtp):
    assert _digest(db, "--to", "vp@example.com") == 0
    assert _digest(db, "--to", "vp@example.com") == 0
    first, second = (m for _, m in smtp.messages)
    assert "Renewal at risk: Renewal D4" in _text(first)
    assert "Renewal D4" not in _text(second)  # the digest again, its alert not
    con = open_current(db)
    assert con.execute("select count(*) from alerts_sent").fetchone()[0] == 1
    runs = delivery.last_runs(con)
    con.close()
    assert list(runs["sent"]) == [1, 1] and list(runs["alerts"]) == [0, 1]


@pytest.mark.slow
def test_a_refused_recipient_is_reported_and_the_rest_still_go(db, smtp, capsys):
    assert _digest(db, "--to", "refuse@example.com", "vp@example.com") == 1
    assert [r for r, _ in smtp.messages] == [["vp@example.com"]]
    assert "refused: refuse@example.com: 550 5.1.1 mailbox unavailable" in capsys.readouterr().err
    con = open_current(db)
    runs = delivery.last_runs(con)
    # The refused address got nothing recorded as sent; the other did.
    assert con.execute("select distinct recipient from alerts_sent").fetchall() == [
        ("vp@example.com",)]
    con.close()
    assert runs.loc[0, "failed"] == 1 and "550 5.1.1" in runs.loc[0, "failures"]


def test_an_outage_is_retried_then_exits_non_zero_and_records_nothing_sent(
        db, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(free_port()))  # nobody listens
    monkeypatch.setenv("DIGEST_FROM", "forecast@example.com")
    monkeypatch.setattr(delivery, "RETRY_DELAYS_S", (0.0, 0.0, 0.0))
    assert _digest(db, "--to", "vp@example.com", "t1@example.com") == 1
    # One message tried four times (three retries), then the run stopped: t1 never tried.
    assert "gave up after 4 tries" in capsys.readouterr().err
    con = open_current(db)
    assert con.execute("select count(*) from alerts_sent").fetchone()[0] == 0
    assert con.execute("select ok from delivery_log").fetchall() == [(False,)]
    con.close()


def test_team_mode_refuses_an_address_without_a_grant(db, tmp_path, monkeypatch, capsys):
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('[auth]\nclient_id = "x"\n')
    monkeypatch.chdir(tmp_path)
    assert _digest(db, "--to", "stranger@example.com", "--dry-run", "--out", "x") == 2
    assert "stranger@example.com has no access grant" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_dry_run_writes_each_message_and_escapes_hostile_names(db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sales.digest_command.pngs", lambda figures: [b"\x89PNG"] * len(figures))
    out = tmp_path / "out"
    assert _digest(db, "--to", "vp@example.com", "other@example.com", "--dry-run",
                   "--out", str(out)) == 0
    assert sorted(p.name for p in out.iterdir()) == ["digest-other@example.com.eml",
                                                      "digest-vp@example.com.eml"]
    message = email.message_from_bytes((out / "digest-vp@example.com.eml").read_bytes(),
                                       policy=policy.default)
    html = _html(message)
    assert "<script>" not in html and "<!channel>" not in html
    assert "&lt;!channel&gt; *x* &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert HOSTILE in _text(message)  # plain text is text
    con = open_current(db)
    assert con.execute("select count(*) from delivery_log").fetchone()[0] == 0  # nothing sent
    con.close()


@pytest.fixture
def slack(tmp_path, monkeypatch):
    from tests.sales.crm.fakes import tls_server

    server, bundle = tls_server(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", server.url_for("/services/T0/B0/hook"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(delivery, "RETRY_DELAYS_S", (0.0, 0.0))
    yield server
    server.clear()
    server.stop()


def _texts(blocks: list[dict]) -> list[dict]:
    """Every text object in the blocks."""
    found = []
    for block in blocks:
        for key in ("text",):
            if isinstance(block.get(key), dict):
                found.append(block[key])
        found += block.get("fields", []) + block.get("elements", [])
        accessory = block.get("accessory")
        if accessory:
            found.append(accessory["text"])
    return [t for t in found if "type" in t and "text" in t]


@pytest.mark.slow
def test_slack_gets_blocks_with_data_in_plain_text_only(db, slack):
    posted = []

    def hook(request):
        posted.append(json.loads(request.data))
        return Response("ok", 200)

    slack.expect_request("/services/T0/B0/hook", method="POST").respond_with_handler(hook)
    assert _digest(db, "--slack") == 0
    payload = posted[0]
    texts = _texts(payload["blocks"])
    assert any(t["text"].startswith(HOSTILE) for t in texts if t["type"] == "plain_text")
    for t in texts:  # mrkdwn would read <!channel> and *x*: no data value goes there
        assert t["type"] == "plain_text" or HOSTILE not in t["text"]
    assert "<" not in payload["text"] and payload["text"].startswith("Forecast FY2026-Q4")
    assert any(b["type"] == "actions" for b in payload["blocks"])


@pytest.mark.slow
def test_a_slack_outage_is_retried_then_reported(db, slack, capsys):
    slack.expect_request("/services/T0/B0/hook").respond_with_data("upstream down", 503)
    assert _digest(db, "--slack") == 1
    assert "503 upstream down" in capsys.readouterr().err
    assert len(slack.log) == 3  # the first try and two retries


def test_escaping_for_slack_mrkdwn():
    from sales.digest import slack_escape

    assert slack_escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"

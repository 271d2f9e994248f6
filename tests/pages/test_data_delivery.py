"""Data › Delivery as an analyst sees it (AppTest): which variables are set (never a value),
who gets what, the last runs with the server's message, "send a test to me" against a real
SMTP server, the schedule lines."""

from __future__ import annotations

from sales import access, delivery
from sales.db import connect, open_current
from tests.helpers import plain, run_page


def everything(at) -> str:
    parts = [e.value for e in (*at.markdown, *at.caption, *at.success, *at.info, *at.error,
                               *at.code)]
    return plain(" | ".join(str(p) for p in parts))


def test_nothing_sent_yet_says_what_to_do(empty_db, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in (*delivery.SMTP_VARIABLES, delivery.SLACK_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    at = run_page("data_delivery.py", empty_db, monkeypatch)
    assert not at.exception
    text = everything(at)
    assert "· `SMTP_HOST`" in text and "No one has access yet" in text
    assert "Nothing sent yet" in text
    assert "sales digest --all-grants --db" in text and "OnCalendar=Mon" in text


def test_a_test_message_goes_and_the_run_is_listed(seeded_path, monkeypatch, smtp):  # noqa: F811
    con = connect(seeded_path)
    access.grant(con, "t1@example.com", "manager", teams=("T1",), by="test")
    con.close()
    at = run_page("data_delivery.py", seeded_path, monkeypatch)
    text = everything(at)
    assert "✓ `SMTP_HOST`" in text and "s3cret" not in text
    assert "t1@example.com" in at.dataframe[0].value["email"].tolist()
    at.text_input(key="delivery_test_to").set_value("me@example.com")
    at.button(key="delivery_test_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Sent to me@example.com" in plain(at.success[0].value)
    rcpts, message = smtp.messages[0]
    assert rcpts == ["me@example.com"] and "test" in message["Subject"]
    con = open_current(seeded_path)
    runs = delivery.last_runs(con)
    con.close()
    assert runs.loc[0, "recipients"] == "me@example.com" and runs.loc[0, "sent"] == 1

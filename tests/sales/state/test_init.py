"""The state URL and its redaction: a password never leaves in a message."""

from sales.state import redact, redact_text


def test_redact_replaces_only_the_password():
    assert redact("postgresql://ann:pa%40ss@db.example:5433/forecast?sslmode=require") == (
        "postgresql://ann:***@db.example:5433/forecast?sslmode=require")
    assert redact("postgresql://ann@db.example/forecast") == "postgresql://ann@db.example/forecast"
    assert redact("postgresql://db.example/forecast") == "postgresql://db.example/forecast"


def test_redact_text_takes_the_password_out_of_a_drivers_message():
    url = "postgresql://ann:s3cret@db/forecast"
    text = f"connection to {url} failed; password s3cret rejected"
    assert redact_text(text, url) == ("connection to postgresql://ann:***@db/forecast failed; "
                                      "password *** rejected")

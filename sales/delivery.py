"""Getting messages out: the SMTP and Slack settings (from the environment or the Streamlit
secrets file — never the database or the log), sending with retries, and the record of what
went out.

Each message is recorded only after the server accepted it (`delivery_log`, and for its alerts
`alerts_sent`), so a run killed halfway sends nothing twice next time; a recipient the server
refuses is recorded with the server's message and the run goes on; an outage (no connection,
a 4xx/5xx from Slack, a 4xx from SMTP) is retried with backoff, then the run stops and says so.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import time
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import duckdb
import pandas as pd

from sales import retry
from sales.alerts import Alert

SMTP_VARIABLES = ("SMTP_HOST", "SMTP_PORT", "SMTP_USER", "SMTP_PASSWORD", "SMTP_STARTTLS",
                  "DIGEST_FROM")
SLACK_VARIABLE = "SLACK_WEBHOOK_URL"
EMAIL, SLACK = "email", "slack"
DIGEST, ALERTS, REMINDER, TEST = "digest", "alerts", "reminder", "test"
# Waits before each retry of a send the server could not take (unreachable, overloaded):
# about half a minute in all before the run gives up. Read at each send, so tests shorten them.
RETRY_DELAYS_S = (2.0, 4.0, 8.0, 16.0)
SEND_TIMEOUT_S = 30
# The rows of the last runs the Delivery page lists.
LAST_RUNS = 50


class DeliveryError(RuntimeError):
    """The server stayed unreachable or kept failing after the retries."""


class Refused(RuntimeError):
    """The server refused this one message (a bad address, a webhook that no longer exists):
    the others may still go."""


class ConfigError(ValueError):
    """Delivery is not configured enough to send; the message names what to set."""


# --- configuration ----------------------------------------------------------------------------


def secrets_file() -> dict:
    """The Streamlit secrets file as Streamlit reads it: `~/.streamlit/secrets.toml`, then
    `./.streamlit/secrets.toml` over it. Empty when there is none."""
    found: dict = {}
    for path in (Path.home() / ".streamlit" / "secrets.toml",
                 Path.cwd() / ".streamlit" / "secrets.toml"):
        try:
            found.update(tomllib.loads(path.read_text()))
        except (OSError, tomllib.TOMLDecodeError):
            continue
    return found


def team_mode(secrets: dict | None = None) -> bool:
    """Whether the app signs people in (an `[auth]` section, as `ui.auth` reads it)."""
    return "auth" in (secrets_file() if secrets is None else secrets)


def environment(env: dict[str, str] | None = None, secrets: dict | None = None
                ) -> dict[str, str]:
    """The delivery variables: the secrets file's (top level or under `[delivery]`, in either
    case), with the process environment over them."""
    secrets = secrets_file() if secrets is None else secrets
    names = (*SMTP_VARIABLES, SLACK_VARIABLE)
    found: dict[str, str] = {}
    for section in (secrets, secrets.get("delivery") or {}):
        for key, value in dict(section).items():
            if isinstance(key, str) and key.upper() in names and not isinstance(value, dict):
                found[key.upper()] = str(value)
    source = os.environ if env is None else env
    found.update({k: v for k, v in source.items() if k in names and v})
    return found


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    user: str
    password: str = field(repr=False)  # never printed
    starttls: bool
    sender: str


def smtp_config(env: dict[str, str]) -> SmtpConfig:
    """The SMTP settings; ConfigError naming what is missing."""
    missing = [n for n in ("SMTP_HOST", "DIGEST_FROM") if not env.get(n)]
    if missing:
        raise ConfigError(f"set {' and '.join(missing)} (environment or .streamlit/secrets.toml)"
                          " to send e-mail")
    starttls = env.get("SMTP_STARTTLS", "true").strip().lower() not in ("false", "0", "no")
    try:
        port = int(env.get("SMTP_PORT") or (587 if starttls else 25))
    except ValueError:
        raise ConfigError(f"SMTP_PORT {env['SMTP_PORT']!r} is not a port number") from None
    return SmtpConfig(env["SMTP_HOST"], port, env.get("SMTP_USER", ""),
                      env.get("SMTP_PASSWORD", ""), starttls, env["DIGEST_FROM"])


def slack_url(env: dict[str, str]) -> str:
    url = env.get(SLACK_VARIABLE, "")
    if not url.startswith("https://"):
        raise ConfigError(f"set {SLACK_VARIABLE} to the incoming webhook's https:// address")
    return url


def configured(env: dict[str, str]) -> list[tuple[str, bool]]:
    """(variable, set?) for the Delivery page — never a value."""
    return [(name, bool(env.get(name))) for name in (*SMTP_VARIABLES, SLACK_VARIABLE)]


# --- sending ----------------------------------------------------------------------------------


def _retrying(send: Callable[[], None], retryable: Callable[[Exception], bool],
              sleep: Callable[[float], None]) -> None:
    """`send()`, retried through `sales.retry` while the server is busy or unreachable; a
    refusal is `Refused` at once, an outage that outlasts RETRY_DELAYS_S a `DeliveryError`."""
    retry.call_with_retries(
        send, delays=RETRY_DELAYS_S, sleep=sleep,
        retryable=lambda error: not isinstance(error, Refused) and retryable(error),
        translate=lambda error: error if isinstance(error, Refused) else Refused(_said(error)),
        exhausted=lambda error, tries: DeliveryError(f"gave up after {tries} tries: "
                                                     f"{_said(error)}"))


def _said(error: Exception) -> str:
    """The server's own words for a failure, on one line."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(error.recipients.values()))
        return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    if isinstance(error, smtplib.SMTPResponseException):
        text = error.smtp_error
        return f"{error.smtp_code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    return " ".join(str(error).split()) or type(error).__name__


def _smtp_retryable(error: Exception) -> bool:
    if isinstance(error, smtplib.SMTPRecipientsRefused | smtplib.SMTPAuthenticationError):
        return False
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500  # temporary: greylisting, a busy server
    return isinstance(error, OSError | smtplib.SMTPException)


def send_email(config: SmtpConfig, message: EmailMessage,
               sleep: Callable[[float], None] = time.sleep) -> None:
    """Hand one message to the SMTP server: STARTTLS (verified) unless turned off, AUTH when a
    user is set. Refused when the server refuses it, DeliveryError when it stays unreachable."""
    def once() -> None:
        with smtplib.SMTP(config.host, config.port, timeout=SEND_TIMEOUT_S) as server:
            server.ehlo()
            if config.starttls:
                server.starttls(context=ssl.create_default_context(
                    cafile=os.environ.get("SSL_CERT_FILE") or None))
                server.ehlo()
            if config.user:
                server.login(config.user, config.password)
            server.send_message(message)

    _retrying(once, _smtp_retryable, sleep)


def send_slack(url: str, payload: dict, sleep: Callable[[float], None] = time.sleep) -> None:
    """Post one message to the incoming webhook (TLS verified; REQUESTS_CA_BUNDLE names a
    private CA). A 4xx is a refusal; 429, 5xx and no connection are retried."""
    import requests  # only loaded when posting

    class _Busy(Exception):
        pass

    def once() -> None:
        answer = requests.post(url, data=json.dumps(payload).encode(),
                               headers={"Content-Type": "application/json"},
                               timeout=SEND_TIMEOUT_S)
        if answer.status_code == 429 or answer.status_code >= 500:
            raise _Busy(f"{answer.status_code} {answer.text[:200]}")
        if answer.status_code >= 400:
            raise Refused(f"{answer.status_code} {answer.text[:200]}")

    _retrying(once, lambda e: isinstance(e, _Busy | requests.RequestException), sleep)


# --- the record -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One message's fate, as recorded."""

    run_id: str
    kind: str
    channel: str
    recipient: str
    ok: bool
    message: str = ""
    alerts: tuple[Alert, ...] = ()
    # What else was sent once only, as (opportunity_id, rule, change): a reminder's due moment.
    once: tuple[tuple[str, str, str], ...] = ()


def new_run_id() -> str:
    return f"{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def record(cur: duckdb.DuckDBPyConnection, outcome: Outcome, by: str,
           at: datetime | None = None) -> None:
    """Write one outcome (inside the caller's write transaction): the log line, and when the
    server accepted it, each alert and once-only item it carried."""
    at = at or datetime.now().replace(microsecond=0)
    cur.execute("insert into delivery_log values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [outcome.run_id, outcome.kind, outcome.channel, outcome.recipient, at,
                 outcome.ok, len(outcome.alerts), outcome.message[:500], by])
    keys = [(a.opportunity_id, a.rule, a.change) for a in outcome.alerts] + list(outcome.once)
    if not outcome.ok or not keys:
        return
    cur.executemany("insert or ignore into alerts_sent values (?, ?, ?, ?, ?, ?)",
                    [[outcome.recipient, oid, rule, change, at, outcome.run_id]
                     for oid, rule, change in keys])


def already_sent(con: duckdb.DuckDBPyConnection, recipient: str
                 ) -> set[tuple[str, str, str]]:
    """What went to `recipient` before: (opportunity_id, rule, change)."""
    return set(con.cursor().execute(
        "select opportunity_id, rule, change from alerts_sent where recipient = ?",
        [recipient]).fetchall())


def unsent(con: duckdb.DuckDBPyConnection, recipient: str, alerts: list[Alert]) -> list[Alert]:
    """The alerts not sent to `recipient` before."""
    sent = already_sent(con, recipient)
    return [a for a in alerts if (a.opportunity_id, a.rule, a.change) not in sent]


def last_runs(con: duckdb.DuckDBPyConnection, limit: int = LAST_RUNS) -> pd.DataFrame:
    """The latest runs. Grain: one row per run. Columns: run_id, kind, channel, started,
    recipients (text), sent, failed, alerts, failures (recipient: the server's message)."""
    return con.cursor().execute(
        """select run_id, any_value(kind) as kind, string_agg(distinct channel, ', ') as channel,
                  min(sent_at) as started, string_agg(recipient, ', ' order by recipient)
                      as recipients,
                  count(*) filter (where ok) as sent, count(*) filter (where not ok) as failed,
                  sum(alerts) filter (where ok) as alerts,
                  coalesce(string_agg(recipient || ': ' || message, ' · ')
                           filter (where not ok), '') as failures
           from delivery_log group by run_id order by started desc limit ?""", [limit]).df()


# --- a run ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """One message to send: to whom, on which channel, the e-mail or Slack payload, the alerts
    and once-only items it carries, and the file name a dry run writes it to."""

    kind: str
    channel: str
    recipient: str
    payload: EmailMessage | dict
    alerts: tuple[Alert, ...] = ()
    once: tuple[tuple[str, str, str], ...] = ()
    stem: str = "message"


@dataclass
class RunResult:
    sent: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    outage: str | None = None
    written: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused and self.outage is None


def write_files(messages: list[Outgoing], folder: Path) -> list[Path]:
    """A dry run: each message as `<stem>.eml` or `<stem>.json` in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for message in messages:
        if isinstance(message.payload, EmailMessage):
            path = folder / f"{message.stem}.eml"
            path.write_bytes(bytes(message.payload))
        else:
            path = folder / f"{message.stem}.json"
            path.write_text(json.dumps(message.payload, indent=2, ensure_ascii=False))
        paths.append(path)
    return paths


def deliver(messages: list[Outgoing], env: dict[str, str], keep: Callable[[Outcome], None],
            run_id: str, sleep: Callable[[float], None] = time.sleep) -> RunResult:
    """Send each message and `keep` its outcome at once (the caller writes it to the
    database), so what was accepted is recorded before the next one goes. A refused message is
    kept as a failure and the run goes on; an outage stops the run (the rest go next time)."""
    result = RunResult()
    for message in messages:
        try:
            if message.channel == EMAIL:
                send_email(smtp_config(env), message.payload, sleep)
            else:
                send_slack(slack_url(env), message.payload, sleep)
        except Refused as error:
            result.refused.append((message.recipient, str(error)))
            keep(Outcome(run_id, message.kind, message.channel, message.recipient, False,
                         str(error)))
            continue
        except DeliveryError as error:
            result.outage = str(error)
            keep(Outcome(run_id, message.kind, message.channel, message.recipient, False,
                         str(error)))
            break
        keep(Outcome(run_id, message.kind, message.channel, message.recipient, True, "",
                     message.alerts, message.once))
        result.sent.append(message.recipient)
    return result

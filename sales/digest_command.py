"""`python -m sales digest | alerts | reminders`: the Monday digest to each grant (or named
addresses, or Slack), the deal alerts as JSON or a table, and the call reminders.

Exit status: 0 everything went (or was written); 1 a recipient was refused or the server stayed
unreachable (what went is recorded, the rest goes next time); 2 a bad command line or missing
configuration; 3 the database stayed busy.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

from sales import access, delivery
from sales.alerts import DIGEST_ALERTS, alerts
from sales.audit import command_line_user
from sales.charts import ChartError, pngs
from sales.db import DatabaseBusy, db_path, open_current, write_state
from sales.digest import build_digest, email_message, slack_payload
from sales.exits import UsageError, iso_date
from sales.people_calls import end_of, now_in
from sales.periods import QUARTER, parse_period, period_containing
from sales.query import default_as_of
from sales.reminders import REMINDER_RULE, missing_calls, reminders_due
from sales.settings import Settings, load_settings
from sales.view import Filters, View

WHOLE_COMPANY = "the whole company"




def _moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time like 2026-11-23T09:00") from None


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=None,
                        help="database file (default: $SALES_DB or data/forecast.duckdb)")
    parser.add_argument("--period", default=None,
                        help="FY2026-Q4 or FY2026-M10 (default: the quarter holding as-of)")


def add_digest_arguments(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--as-of", type=iso_date, default=None,
                        help="state as of this date (default: latest snapshot, else today)")
    parser.add_argument("--since", type=iso_date, default=None,
                        help="the last call changes are measured from (default: the latest "
                             "snapshot a week or more before as-of)")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--to", nargs="+", metavar="EMAIL",
                     help="these addresses, each with its grant's scope (without one: the whole "
                          "company, in local mode only)")
    who.add_argument("--all-grants", action="store_true",
                     help="everyone with access, each their own scope")
    who.add_argument("--slack", action="store_true",
                     help="the whole company to the Slack incoming webhook ($SLACK_WEBHOOK_URL)")
    _dry_run(parser)


def _dry_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true",
                        help="write each message to --out instead of sending (nothing recorded)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="folder for --dry-run's .eml / .json files")


def add_alerts_arguments(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--as-of", type=iso_date, default=None)
    parser.add_argument("--since", type=iso_date, default=None,
                        help="the last call (default: the latest snapshot a week or more before)")
    parser.add_argument("--format", choices=("json", "table"), default="json")


def add_reminders_arguments(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--at", type=_moment, default=None,
                        help="the moment to act as of (default: now, in the timezone setting)")
    _dry_run(parser)


# --- shared -----------------------------------------------------------------------------------


def _open(args: argparse.Namespace):
    path = args.db or db_path()
    if not Path(path).exists():
        raise UsageError(f"no database at {path}; build one with `python -m sales demo --db "
                         f"{path}` or import data")
    return path, open_current(path)


def _view(con, args: argparse.Namespace, settings: Settings, scope: Filters = Filters()
          ) -> View:
    as_of = getattr(args, "as_of", None) or default_as_of(con)
    try:
        period = (parse_period(args.period, settings.fiscal_year_start_month) if args.period
                  else period_containing(as_of, QUARTER, settings.fiscal_year_start_month))
    except ValueError as error:
        raise UsageError(str(error)) from None
    return View(period, as_of, Filters(), scope)


def _keeper(path: Path, by: str):
    """Writes each outcome to the database as it happens (through the import's lock-and-swap,
    so it works while the app runs)."""
    return lambda outcome: write_state(path, lambda cur: delivery.record(cur, outcome, by))


def _finish(result: delivery.RunResult, dry_run: bool) -> int:
    for path in result.written:
        print(path)
    for recipient in result.sent:
        print(f"sent to {recipient}")
    for recipient, said in result.refused:
        print(f"refused: {recipient}: {said}", file=sys.stderr)
    if result.outage:
        print(f"error: {result.outage}; the rest go on the next run", file=sys.stderr)
    return 0 if result.ok or dry_run else 1


def _stem(kind: str, recipient: str) -> str:
    return f"{kind}-" + re.sub(r"[^A-Za-z0-9@._-]", "_", recipient)


def _run_messages(args, path: Path, messages: list[delivery.Outgoing]) -> int:
    if args.dry_run:
        if args.out is None:
            raise UsageError("--dry-run needs --out DIR for the files")
        return _finish(delivery.RunResult(written=delivery.write_files(messages, args.out)), True)
    env = delivery.environment()
    try:
        for channel in {m.channel for m in messages}:
            (delivery.smtp_config if channel == delivery.EMAIL else delivery.slack_url)(env)
    except delivery.ConfigError as error:
        raise UsageError(str(error)) from None
    result = delivery.deliver(messages, env, _keeper(path, command_line_user()),
                              delivery.new_run_id())
    return _finish(result, False)


# --- digest -----------------------------------------------------------------------------------


def _recipients(con, args: argparse.Namespace, day: date) -> list[tuple[str, Filters, str]]:
    """(email, scope, scope in words) per recipient."""
    if args.all_grants:
        emails = [r[0] for r in con.cursor().execute(
            "select email from access order by email").fetchall()]
        if not emails:
            raise UsageError("no one has access yet: grant some (`python -m sales access grant "
                             "EMAIL --role viewer`) or name addresses with --to")
    else:
        try:
            emails = [access.normalise_email(e) for e in args.to]
        except access.AccessError as error:
            raise UsageError(str(error)) from None
    team = delivery.team_mode()
    out = []
    for email in dict.fromkeys(emails):
        grant = access.grant_for(con, email)
        if grant is None and team:
            raise UsageError(f"{email} has no access grant; in team mode a digest goes only to "
                             "people with access (grant one first)")
        if grant is None:
            out.append((email, Filters(), WHOLE_COMPANY))
            continue
        scope = access.scope_for(con, grant, day)
        out.append((email, scope, _describe(scope)))
    return out


def _describe(scope: Filters) -> str:
    limits = [f"{dim} {', '.join(values)}" for dim, values in scope.active().items()]
    return "; ".join(limits) if limits else WHOLE_COMPANY


def _now(settings: Settings, as_of: date) -> datetime:
    """The moment a digest as of `as_of` speaks for: now, or the end of a past as-of day."""
    now = now_in(settings)
    return min(now, end_of(as_of) - timedelta(seconds=1))


def run_digest(args: argparse.Namespace) -> int:
    path, con = _open(args)
    settings = load_settings(con)
    base = _view(con, args, settings)
    if args.since is not None and args.since > base.as_of:
        raise UsageError(f"--since {args.since} is after the as-of date {base.as_of}")
    targets = ([(delivery.SLACK, Filters(), WHOLE_COMPANY)] if args.slack
               else _recipients(con, args, base.as_of))
    digests = []
    for recipient, scope, words in targets:
        view = View(base.period, base.as_of, Filters(), scope)
        fired = delivery.unsent(con, recipient, alerts(con, view, settings, args.since))
        digests.append(build_digest(con, view, settings, recipient, words, args.since,
                                    fired[:DIGEST_ALERTS],
                                    missing_calls(con, view, settings,
                                                  _now(settings, base.as_of))))
    con.close()
    messages = []
    charts = _charts(digests) if not args.slack else {}
    sender = delivery.environment().get("DIGEST_FROM", "forecast@localhost")
    for digest in digests:
        payload = (slack_payload(digest) if args.slack
                   else email_message(digest, sender, charts.get(digest.view.filters)))
        messages.append(delivery.Outgoing(
            delivery.DIGEST, delivery.SLACK if args.slack else delivery.EMAIL,
            digest.recipient, payload, digest.alerts, stem=_stem("digest", digest.recipient)))
    return _run_messages(args, path, messages)


def _charts(digests) -> dict[Filters, bytes]:
    """One PNG per distinct scope, in one browser session; none (said on stderr) without a
    browser — the message then goes without its chart."""
    figures = {}
    for digest in digests:
        if digest.chart is not None:
            figures.setdefault(digest.view.filters, digest.chart)
    if not figures:
        return {}
    try:
        return dict(zip(figures, pngs(list(figures.values())), strict=True))
    except ChartError as error:
        print(f"warning: no chart in the messages: {error}", file=sys.stderr)
        return {}


# --- alerts -----------------------------------------------------------------------------------


def run_alerts(args: argparse.Namespace) -> int:
    _, con = _open(args)
    settings = load_settings(con)
    view = _view(con, args, settings)
    if args.since is not None and args.since > view.as_of:
        raise UsageError(f"--since {args.since} is after the as-of date {view.as_of}")
    fired = alerts(con, view, settings, args.since)
    con.close()
    if args.format == "json":
        print(json.dumps({"alerts": [a.as_report() for a in fired]}, indent=2))
    elif not fired:
        print("No alerts.")
    else:
        import pandas as pd

        frame = pd.DataFrame([a.as_report() for a in fired])
        print(frame.to_string(index=False))
    return 0


# --- reminders --------------------------------------------------------------------------------


def run_reminders(args: argparse.Namespace) -> int:
    path, con = _open(args)
    settings = load_settings(con)
    now = args.at or now_in(settings)
    view = _view(con, argparse.Namespace(period=args.period, as_of=now.date()), settings)
    due, users = reminders_due(con, view.period, settings, now)
    messages = []
    sender = delivery.environment().get("DIGEST_FROM", "forecast@localhost")
    for user in users:
        key = ("", REMINDER_RULE, due.isoformat())
        if key in delivery.already_sent(con, user.email):
            continue
        messages.append(delivery.Outgoing(
            delivery.REMINDER, delivery.EMAIL, user.email,
            reminder_message(user.name, user.email, view, due, settings.app_url, sender),
            once=(key,), stem=_stem("reminder", user.email)))
    con.close()
    if not messages:
        print("No reminders due" + (f" (calls due {due:%a %-d %b %H:%M})." if due else "."))
        return 0
    return _run_messages(args, path, messages)


def reminder_message(name: str, email: str, view: View, due: datetime, app_url: str,
                     sender: str):
    from email.message import EmailMessage

    from sales.digest import view_link

    message = EmailMessage()
    message["Subject"] = f"Your {view.period.label} forecast call is due {due:%a %-d %b %H:%M}"
    message["From"] = sender
    message["To"] = email
    message.set_content(
        f"Hello {name},\n\nYour forecast call for {view.period.label} is due "
        f"{due:%A %-d %B at %H:%M}, and none has come in from you this week. Submit it in the "
        f"app: {view_link(app_url, view)}\n\n(or `python -m sales forecast submit`)\n")
    return message


def run(args: argparse.Namespace) -> int:
    try:
        return {"digest": run_digest, "alerts": run_alerts,
                "reminders": run_reminders}[args.command](args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except DatabaseBusy as error:
        print(f"error: {error}", file=sys.stderr)
        return 3

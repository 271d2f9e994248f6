"""The Monday digest: for one recipient's view, the headline, what changed since the last call,
the alerts not sent to them before and who has not submitted a call, as an e-mail (plain text
and HTML with the Overview's chart inline) and as Slack blocks.

Every number comes from `sales.report.digest_report` (the Overview's headline with the
movement since the last call) — the digest formats it, never computes it. Text from data (deal,
account and owner names, scope values) is escaped for HTML and kept out of Slack's mrkdwn
(plain-text elements), so a deal named `<!channel>` or `*x*` notifies nobody and formats
nothing.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import quote, urlencode

import duckdb
import pandas as pd
import plotly.graph_objects as go

from sales import formatting as fmt
from sales.alerts import RULE_LABELS, Alert
from sales.callprep import CallPrep
from sales.charts import categories_by_segment
from sales.query import KNOWN_DEALS
from sales.report import digest_report
from sales.rollup import rollup_by
from sales.settings import Settings
from sales.stages import CLOSED, COMMIT
from sales.targets import view_targets
from sales.view import FILTER_DIMENSIONS, View

# Deals listed per section (largest first); the section's count covers them all.
SECTION_ROWS = 8
# The largest movers listed, whatever moved them.
MOVER_ROWS = 5
# Slack refuses a message of more than 50 blocks; deal lines stop short of it.
SLACK_MAX_BLOCKS = 50
SLACK_ROWS = 5


@dataclass(frozen=True)
class DealLine:
    """One deal named in the digest: what it is, whose, how much, and what happened."""

    opportunity_id: str
    name: str
    owner: str
    amount: float
    what: str


@dataclass(frozen=True)
class Section:
    title: str
    lines: tuple[DealLine, ...]
    total: int  # deals in the section, listed or not
    amount: float | None = None  # their total, where one adds up


@dataclass(frozen=True)
class Digest:
    """One recipient's digest. Numbers as `report` has them (`numbers`: the report's dict)."""

    recipient: str
    scope: str  # "the whole company", "team T1; region EMEA"
    view: View
    numbers: dict
    sections: tuple[Section, ...]
    alerts: tuple[Alert, ...]
    app_url: str
    missing_calls: tuple[str, ...] | None = None  # None: no call roll-up to read
    chart: go.Figure | None = field(default=None, compare=False)

    @property
    def in_blood(self) -> float:
        return self.numbers["in_blood"]["number"]

    @property
    def change(self) -> float | None:
        """The in-blood number now minus at the last call (None without a last call)."""
        moved = self.numbers.get("movement") or {}
        return moved.get("change", {}).get("in_blood") if moved.get("from") else None

    @property
    def since(self) -> date | None:
        moved = self.numbers.get("movement") or {}
        return date.fromisoformat(moved["from"]) if moved.get("from") else None

    def subject(self) -> str:
        """'Forecast FY2026-Q4: $4.2M in-blood (+$310K since 9 Nov)'."""
        head = f"Forecast {self.view.period.label}: {fmt.money(self.in_blood)} in-blood"
        if self.change is None:
            return f"{head} (no earlier call to compare)"
        return f"{head} ({_signed(self.change)} since {self.since:%-d %b})"

    def view_link(self) -> str:
        return view_link(self.app_url, self.view)

    def deal_link(self, opportunity_id: str) -> str:
        return deal_link(self.app_url, self.view, opportunity_id)


def _signed(value: float) -> str:
    return ("+" if value >= 0 else "") + fmt.money(value)


def view_link(app_url: str, view: View) -> str:
    """The app's Overview with the same period, as-of and filters (the sidebar's URL keys)."""
    pairs = [("period", view.period.label), ("as_of", view.as_of.isoformat())]
    pairs += [(d, v) for d in FILTER_DIMENSIONS for v in getattr(view.filters, d)]
    return f"{app_url.rstrip('/')}/?{urlencode(pairs)}"


def deal_link(app_url: str, view: View, opportunity_id: str) -> str:
    """The deal explorer searching for the deal, in the same period and as-of."""
    query = urlencode([("deals_search", opportunity_id), ("period", view.period.label),
                       ("as_of", view.as_of.isoformat())], quote_via=quote)
    return f"{app_url.rstrip('/')}/data_deals?{query}"


# --- building ---------------------------------------------------------------------------------


def build_digest(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
                 recipient: str, scope: str, since: date | None = None,
                 alerts: list[Alert] | None = None,
                 missing_calls: tuple[str, ...] | None = None) -> Digest:
    """The digest of `view` for `recipient`: `report`'s numbers and the deals behind them;
    `alerts` are the ones still to send to them (`sales.delivery.unsent`)."""
    report, prep = digest_report(con, view, since)
    numbers = report.as_report()
    names = _names(con, prep)
    figure = None
    by_segment = rollup_by(con, view, "segment")
    if not by_segment.empty:
        figure = categories_by_segment(by_segment, view_targets(con, view.filters, view.period,
                                                                "segment"))
    return Digest(recipient, scope, view, numbers, _sections(prep, names), tuple(alerts or ()),
                  settings.app_url, missing_calls, figure)


def _names(con: duckdb.DuckDBPyConnection, prep: CallPrep) -> dict[str, str]:
    ids = sorted(set(prep.bar_deals.get("opportunity_id", pd.Series(dtype=str)))
                 | set(prep.closed_since.get("opportunity_id", pd.Series(dtype=str))))
    if not ids:
        return {}
    rows = con.cursor().execute(
        f"select opportunity_id, name from {KNOWN_DEALS} "  # noqa: S608 - a fixed name
        "where list_contains(?, opportunity_id)", [ids]).fetchall()
    return {oid: name for oid, name in rows if name}


def _line(row, names: dict[str, str], amount: float, what: str) -> DealLine:
    name = names.get(row.opportunity_id) or row.account_name or row.opportunity_id
    return DealLine(row.opportunity_id, str(name), str(row.owner or ""), float(amount), what)


def _day(value) -> str:
    return "none" if value is None or pd.isna(value) else f"{pd.Timestamp(value):%-d %b}"


def _sections(prep: CallPrep, names: dict[str, str]) -> tuple[Section, ...]:
    closed, bars = prep.closed_since, prep.bar_deals
    won = closed[closed["outcome"] == "won"] if not closed.empty else closed
    lost = closed[closed["outcome"] == "lost"] if not closed.empty else closed
    slipped = bars[bars["part"] == "slipped_out"] if not bars.empty else bars
    cut = (bars[(bars["category"] == COMMIT) & (bars["part"] == "amount_down")]
           if not bars.empty else bars)
    new = (bars[(bars["category"] == COMMIT) & bars["part"].isin(["new", "moved_in", "pulled_in"])]
           if not bars.empty else bars)
    movers = (bars.assign(size=bars["movement"].abs()).sort_values(
        ["size", "opportunity_id"], ascending=[False, True]).drop_duplicates("opportunity_id")
        if not bars.empty else bars)
    return (
        Section("Won since the last call", tuple(
            _line(r, names, r.amount, f"closed won {_day(r.close_date)}")
            for r in won.head(SECTION_ROWS).itertuples()),
            prep.won_since.count, prep.won_since.amount),
        Section("Lost since the last call", tuple(
            _line(r, names, r.amount, f"{r.stage}" + (f", to {r.competitor}" if r.competitor
                                                       and not pd.isna(r.competitor) else ""))
            for r in lost.head(SECTION_ROWS).itertuples()),
            prep.lost_since.count, prep.lost_since.amount),
        Section("Pushed out of the period", tuple(
            _line(r, names, r.amount_then, f"{r.category}, close {_day(r.close_then)} → "
                                           f"{_day(r.close_now)}")
            for r in slipped.head(SECTION_ROWS).itertuples()), len(slipped)),
        Section("Commit deals whose amount fell", tuple(
            _line(r, names, r.amount_now, f"{fmt.money(r.amount_then)} → "
                                          f"{fmt.money(r.amount_now)}")
            for r in cut.head(SECTION_ROWS).itertuples()), len(cut)),
        Section("New in Commit", tuple(
            _line(r, names, r.amount_now, _new_how(r))
            for r in new.head(SECTION_ROWS).itertuples()), len(new)),
        Section("Largest movers", tuple(
            _line(r, names, r.movement, f"{r.category}: {_mover_how(r)}")
            for r in movers.head(MOVER_ROWS).itertuples()), min(len(movers), MOVER_ROWS)),
    )


_NEW_HOW = {"new": "new deal", "moved_in": "moved up from {then}", "pulled_in":
            "pulled in from {close}"}


def _new_how(row) -> str:
    then = row.category_then if isinstance(row.category_then, str) else "elsewhere"
    return _NEW_HOW[row.part].format(then=then, close=_day(row.close_then))


def _mover_how(row) -> str:
    return {"new": "new", "moved_in": "moved in", "pulled_in": "pulled in",
            "amount_up": "amount up", "amount_down": "amount down", "moved_out": "moved out",
            "slipped_out": "slipped out", "won": "won", "lost": "lost",
            "removed": "removed"}.get(row.part, row.part)


# --- headline ---------------------------------------------------------------------------------


def headline_rows(digest: Digest) -> list[tuple[str, str, str]]:
    """(label, value, note) for the headline: in-blood, upside, closed won against target,
    the change since the last call."""
    n = digest.numbers
    blood, target = n["in_blood"], n["target"]
    closed = n["categories"][CLOSED]["amount"]
    attained = n["attainment"]
    rows = [
        ("In-blood number", fmt.money(blood["number"]),
         f"{fmt.pct(attained['in_blood'])} of target" if target else "no target for this view"),
        ("Upside", fmt.money(blood["upside"]),
         f"range {fmt.money(blood['number'])} – {fmt.money(blood['range_high'])}"),
        ("Closed won", fmt.money(closed),
         f"{fmt.pct(attained['closed_won'])} of {fmt.money(target)} target" if target
         else "no target for this view"),
    ]
    # Hook: the projection and its range join the headline here once `report` has a
    # `projection` key (eligible views only).
    if digest.change is not None:
        rows.append(("Change since the last call", _signed(digest.change),
                     f"in-blood since {digest.since:%-d %b %Y}"))
    return rows


def _intro(digest: Digest) -> str:
    return (f"{digest.view.period.label} as of {digest.view.as_of:%-d %b %Y} · "
            f"{digest.scope}")


# --- plain text -------------------------------------------------------------------------------


def plain_text(digest: Digest) -> str:
    """The e-mail's plain-text part."""
    out = [digest.subject(), _intro(digest), ""]
    out += [f"{label}: {value} ({note})" for label, value, note in headline_rows(digest)]
    for section in digest.sections:
        if not section.total:
            continue
        out += ["", _section_title(section)]
        out += [f"- {x.name} · {x.owner} · {fmt.money(x.amount)} · {x.what}\n"
                f"  {digest.deal_link(x.opportunity_id)}" for x in section.lines]
        if section.total > len(section.lines):
            out.append(f"  … and {section.total - len(section.lines)} more in the app")
    if digest.alerts:
        out += ["", f"Alerts ({len(digest.alerts)})"]
        out += [f"- {RULE_LABELS[a.rule]}: {a.name} · {a.owner} · {fmt.money(a.amount)} · "
                f"{a.detail}\n  {digest.deal_link(a.opportunity_id)}" for a in digest.alerts]
    if digest.missing_calls is not None:
        out += ["", _calls_title(digest)]
        out += [f"- {who}" for who in digest.missing_calls]
    out += ["", f"Open the view in the app: {digest.view_link()}", ""]
    return "\n".join(out)


def _section_title(section: Section) -> str:
    total = f" · {fmt.money(section.amount)}" if section.amount is not None else ""
    return f"{section.title} ({section.total}{total})"


def _calls_title(digest: Digest) -> str:
    missing = digest.missing_calls or ()
    return (f"Calls not submitted this week ({len(missing)})" if missing
            else "Calls: everyone has submitted this week")


# --- HTML -------------------------------------------------------------------------------------

_E = html.escape
_FONT = "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;"


def html_body(digest: Digest, chart_cid: str | None) -> str:
    """The e-mail's HTML part: inline styles (mail clients drop style sheets), every value
    from data escaped, the chart by Content-ID."""
    tiles = "".join(
        f'<td style="padding:10px 14px;border:1px solid #e3e6ea;border-radius:6px;'
        f'vertical-align:top;width:25%"><div style="color:#5f6b7a;font-size:12px">{_E(label)}'
        f'</div><div style="font-size:22px;font-weight:600;margin:2px 0">{_E(value)}</div>'
        f'<div style="color:#5f6b7a;font-size:12px">{_E(note)}</div></td>'
        for label, value, note in headline_rows(digest))
    parts = [
        f'<div style="{_FONT}color:#1f2933;max-width:780px;margin:0 auto;padding:16px">',
        f'<h1 style="font-size:20px;margin:0 0 4px">{_E(digest.subject())}</h1>',
        f'<div style="color:#5f6b7a;font-size:13px;margin-bottom:14px">{_E(_intro(digest))}'
        '</div>',
        f'<table role="presentation" cellspacing="6" style="width:100%;border-collapse:separate">'
        f'<tr>{tiles}</tr></table>',
    ]
    if chart_cid:
        parts.append('<h2 style="font-size:15px;margin:18px 0 6px">Forecast categories by '
                     f'segment</h2><img src="cid:{_E(chart_cid.strip("<>"))}" width="760" '
                     'alt="Closed won, Commit, Best Case and Pipeline by segment, with targets" '
                     'style="max-width:100%;height:auto;border:1px solid #e3e6ea">')
    for section in digest.sections:
        if section.total:
            parts.append(_html_section(digest, _section_title(section), [
                (x.opportunity_id, x.name, x.owner, x.amount, x.what) for x in section.lines],
                section.total - len(section.lines)))
    if digest.alerts:
        parts.append(_html_section(digest, f"Alerts ({len(digest.alerts)})", [
            (a.opportunity_id, a.name, a.owner, a.amount, f"{RULE_LABELS[a.rule]}: {a.detail}")
            for a in digest.alerts], 0))
    if digest.missing_calls is not None:
        names = ", ".join(_E(n) for n in digest.missing_calls)
        parts.append(f'<h2 style="font-size:15px;margin:18px 0 6px">{_E(_calls_title(digest))}'
                     f'</h2><p style="margin:0">{names}</p>')
    parts.append(f'<p style="margin:22px 0 0"><a href="{_E(digest.view_link())}" '
                 'style="background:#2c7fb8;color:#fff;padding:9px 16px;border-radius:5px;'
                 'text-decoration:none;font-weight:600">Open this view in the app</a></p>'
                 f'<p style="color:#8a94a3;font-size:11px;margin-top:18px">Sent to '
                 f'{_E(digest.recipient)} by the sales forecast dashboard. Numbers as '
                 f'`python -m sales report` gives them for the same view.</p></div>')
    return "<!doctype html><html><body style=\"margin:0;background:#fff\">" + "".join(parts) \
        + "</body></html>"


def _html_section(digest: Digest, title: str, rows: list[tuple], more: int) -> str:
    cells = "".join(
        f'<tr><td style="padding:5px 8px;border-top:1px solid #eef0f3">'
        f'<a href="{_E(digest.deal_link(oid))}" style="color:#1f5f8b;text-decoration:none">'
        f'{_E(name)}</a></td>'
        f'<td style="padding:5px 8px;border-top:1px solid #eef0f3;color:#5f6b7a">{_E(owner)}</td>'
        f'<td style="padding:5px 8px;border-top:1px solid #eef0f3;text-align:right;'
        f'white-space:nowrap">{_E(fmt.money(amount))}</td>'
        f'<td style="padding:5px 8px;border-top:1px solid #eef0f3;color:#5f6b7a">{_E(what)}</td>'
        '</tr>' for oid, name, owner, amount, what in rows)
    tail = (f'<div style="color:#8a94a3;font-size:12px;padding:4px 8px">… and {more} more in '
            'the app</div>' if more > 0 else "")
    return (f'<h2 style="font-size:15px;margin:18px 0 6px">{_E(title)}</h2>'
            f'<table style="width:100%;border-collapse:collapse;font-size:13px">{cells}</table>'
            + tail)


# --- e-mail -----------------------------------------------------------------------------------


def email_message(digest: Digest, sender: str, chart_png: bytes | None) -> EmailMessage:
    """The digest as a multipart e-mail: plain text, HTML, and the chart as an inline PNG
    the HTML references by Content-ID."""
    message = EmailMessage()
    message["Subject"] = digest.subject()
    message["From"] = sender
    message["To"] = digest.recipient
    message.set_content(plain_text(digest))
    cid = make_msgid(domain="sales-forecast") if chart_png else None
    message.add_alternative(html_body(digest, cid), subtype="html")
    if chart_png and cid:
        message.get_payload()[1].add_related(chart_png, "image", "png", cid=cid,
                                             filename="forecast-by-segment.png")
    return message


# --- Slack ------------------------------------------------------------------------------------

_SLACK_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def slack_escape(value: object) -> str:
    """Text for Slack's mrkdwn: &, < and > escaped, so nothing becomes a mention or a link."""
    return "".join(_SLACK_ESCAPES.get(c, c) for c in str(value))


def _plain(text: str) -> dict:
    # plain_text is never parsed for mentions, links or formatting: data goes here.
    return {"type": "plain_text", "text": text[:3000] or " ", "emoji": False}


def slack_payload(digest: Digest) -> dict:
    """The digest as an incoming-webhook payload of Block Kit blocks: the headline and what
    changed, data values in plain-text elements, a button to the app."""
    blocks: list[dict] = [
        {"type": "header", "text": _plain(digest.subject()[:150])},
        {"type": "context", "elements": [_plain(_intro(digest))]},
        {"type": "section", "fields": [
            _plain(f"{label}\n{value} · {note}") for label, value, note in headline_rows(digest)]},
    ]
    listed = [(s.title, s.total, [(x.opportunity_id, f"{x.name} · {x.owner} · "
                                   f"{fmt.money(x.amount)} · {x.what}") for x in s.lines])
              for s in digest.sections if s.total]
    if digest.alerts:
        listed.append(("Alerts", len(digest.alerts), [
            (a.opportunity_id, f"{RULE_LABELS[a.rule]}: {a.name} · {a.owner} · "
                               f"{fmt.money(a.amount)} · {a.detail}") for a in digest.alerts]))
    for title, total, rows in listed:
        if len(blocks) + 3 > SLACK_MAX_BLOCKS - 2:
            break
        blocks += [{"type": "divider"},
                   {"type": "section", "text": _plain(f"{title} ({total})")}]
        for oid, text in rows[:SLACK_ROWS]:
            if len(blocks) >= SLACK_MAX_BLOCKS - 2:
                break
            blocks.append({"type": "section", "text": _plain(text), "accessory": {
                "type": "button", "text": _plain("Open"),
                "url": digest.deal_link(oid)[:3000]}})
    if digest.missing_calls:
        blocks.append({"type": "section", "text": _plain(
            f"{_calls_title(digest)}: {', '.join(digest.missing_calls)}")})
    blocks.append({"type": "actions", "elements": [{
        "type": "button", "text": _plain("Open this view in the app"),
        "url": digest.view_link()[:3000], "style": "primary"}]})
    return {"text": slack_escape(digest.subject()), "blocks": blocks[:SLACK_MAX_BLOCKS]}

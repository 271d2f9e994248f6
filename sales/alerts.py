"""Deal alerts (docs/metrics.md#15-deal-alerts): the deals a manager should hear about between
two weekly calls, each by a rule in the settings that can be turned off and has its threshold.

- pushed_out: in Commit for the period at the last call, still open, close date now after the
  period;
- amount_cut: open in the period at both dates, amount lowered by at least
  `alert_amount_cut_share` of what it was;
- stalled: open in the period now, in the same stage for `alert_stalled_days` or more;
- close_passed: open in Commit, Best Case or Pipeline now with a close date before as-of;
- renewal_at_risk: an open renewal in the period flagged At Risk now (the flag is the deal's
  current field, not historised: the sent record makes it go out once);
- new_deal: created since the last call (absent from its snapshot), not lost, amount at least
  `alert_new_deal_amount`.

Each alert carries a `change`: what makes it news (the new close date, the amounts, the day it
entered the stage). A recipient gets each (deal, rule, change) once (`sales.delivery`); the
same rule firing again for a new change (a second cut) is news again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from sales import formatting as fmt
from sales.movement import changed_deals_sql, view_changes_sql, window
from sales.query import KNOWN_DEALS, deals_sql, state_key
from sales.rollup import deals_in_period
from sales.settings import Settings
from sales.slippage import history_facts_sql
from sales.sql import sql
from sales.stages import OPEN_CATEGORIES
from sales.view import View

PUSHED_OUT, AMOUNT_CUT, STALLED = "pushed_out", "amount_cut", "stalled"
CLOSE_PASSED, RENEWAL_AT_RISK, NEW_DEAL = "close_passed", "renewal_at_risk", "new_deal"
RULES = (PUSHED_OUT, AMOUNT_CUT, STALLED, CLOSE_PASSED, RENEWAL_AT_RISK, NEW_DEAL)
RULE_LABELS = {PUSHED_OUT: "Pushed out of the period", AMOUNT_CUT: "Amount cut",
               STALLED: "Stalled in stage", CLOSE_PASSED: "Close date passed",
               RENEWAL_AT_RISK: "Renewal at risk", NEW_DEAL: "New large deal"}
# The setting that turns each rule on or off.
RULE_SETTINGS = {PUSHED_OUT: "alert_pushed_out", AMOUNT_CUT: "alert_amount_cut",
                 STALLED: "alert_stalled", CLOSE_PASSED: "alert_close_passed",
                 RENEWAL_AT_RISK: "alert_renewal_at_risk", NEW_DEAL: "alert_new_deal"}
AT_RISK = "At Risk"
# A digest lists at most this many alerts (largest first); the command lists them all.
DIGEST_ALERTS = 25


@dataclass(frozen=True)
class Alert:
    """One rule firing for one deal. Grain: (deal, rule, change)."""

    opportunity_id: str
    name: str
    owner: str
    amount: float
    rule: str
    detail: str
    change: str

    def as_report(self) -> dict[str, object]:
        """The `alerts` command's JSON keys."""
        return {"opportunity_id": self.opportunity_id, "name": self.name, "owner": self.owner,
                "amount": self.amount, "rule": self.rule, "detail": self.detail}


def rules_on(settings: Settings) -> tuple[str, ...]:
    return tuple(r for r in RULES if getattr(settings, RULE_SETTINGS[r]))


def alerts(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
           since: date | None = None) -> list[Alert]:
    """Every alert the rules that are on raise for the view between the last call (`since`,
    default a week before as-of, as the movement) and as-of, largest amount first."""
    on = rules_on(settings)
    found: list[Alert] = []
    if {PUSHED_OUT, AMOUNT_CUT, NEW_DEAL} & set(on):
        found += _changed(con, view, settings, since, on)
    if {STALLED, CLOSE_PASSED, RENEWAL_AT_RISK} & set(on):
        found += _standing(con, view, settings, on)
    return sorted(found, key=lambda a: (-a.amount, a.opportunity_id, RULES.index(a.rule)))


def _day(value: date | None) -> str:
    return f"{value:%-d %b %Y}" if value else "none"


def _changed(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
             since: date | None, on: tuple[str, ...]) -> list[Alert]:
    """The rules read from what changed between the two snapshots."""
    win = window(con, view.as_of, since)
    changed = changed_deals_sql(win.then_read, win.now_read)
    seen = view_changes_sql(sql(f"({changed})", changed), view)
    rows = con.cursor().execute(*sql(f"""
        select c.opportunity_id, coalesce(o.name, c.account_name, c.opportunity_id),
               coalesce(c.now_owner, c.then_owner, ''), c.then_in, c.now_in, c.then_exists,
               c.now_exists, c.now_in_view, c.now_closed, c.now_won,
               c.then_amount::double, c.now_amount::double, c.then_close, c.now_close
        from ({seen}) c left join {KNOWN_DEALS} o using (opportunity_id)
        where c.then_in_view or c.now_in_view""", seen)).fetchall()  # noqa: S608
    out = []
    cut, size, end = settings.alert_amount_cut_share, settings.alert_new_deal_amount, view.period.end
    for (oid, name, owner, then_in, now_in, then_exists, now_exists, now_in_view, now_closed,
         now_won, then_amount, now_amount, then_close, now_close) in rows:
        def alert(rule: str, amount: float, detail: str, change: str,
                  oid: str = oid, name: str = name, owner: str = owner) -> None:
            out.append(Alert(oid, name, owner, float(amount or 0.0), rule, detail, change))

        still_open = now_exists and not now_closed
        if (PUSHED_OUT in on and then_in == "Commit" and still_open and now_close is not None
                and now_close > end):
            alert(PUSHED_OUT, now_amount, f"Commit deal's close date moved from "
                  f"{_day(then_close)} to {_day(now_close)}, out of {view.period.label}",
                  now_close.isoformat())
        if (AMOUNT_CUT in on and then_in and now_in and then_amount
                and now_amount <= then_amount * (1 - cut)):
            alert(AMOUNT_CUT, now_amount, f"amount cut from {fmt.money(then_amount, True)} to "
                  f"{fmt.money(now_amount, True)} ({fmt.pct(now_amount / then_amount - 1)})",
                  f"{then_amount:.2f}->{now_amount:.2f}")
        if (NEW_DEAL in on and not then_exists and now_exists and now_in_view
                and (not now_closed or now_won) and (now_amount or 0) >= size):
            alert(NEW_DEAL, now_amount, f"new deal of {fmt.money(now_amount, True)}, closing "
                  f"{_day(now_close)}", "new")
    return out


def _standing(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
              on: tuple[str, ...]) -> list[Alert]:
    """The rules read from the deals as they stand at as-of."""
    cur = con.cursor()
    deals = deals_in_period(cur, view)
    period_open = sql(f"""select opportunity_id, name, owner, amount::double as amount, stage,
                                 type, renewal_risk
                          from ({deals}) d
                          where list_contains($open_categories, category)""",  # noqa: S608
                      deals, open_categories=list(OPEN_CATEGORIES))
    rows = cur.execute(*period_open).fetchall()
    out: list[Alert] = []
    if STALLED in on and rows:
        facts = history_facts_sql([r[0] for r in rows], view.as_of, view.period.fy_start_month)
        entered = dict(cur.execute(*sql(
            f"select opportunity_id, entered_stage from ({facts})", facts)).fetchall())  # noqa: S608
        for oid, name, owner, amount, stage, _, _ in rows:
            day = entered.get(oid)
            days = (view.as_of - day).days if day else None
            if days is not None and days >= settings.alert_stalled_days:
                out.append(Alert(oid, name or oid, owner or "", amount, STALLED,
                                 f"{days} days in {stage}", f"{stage}@{day.isoformat()}"))
    if RENEWAL_AT_RISK in on:
        out += [Alert(oid, name or oid, owner or "", amount, RENEWAL_AT_RISK,
                      f"renewal flagged {AT_RISK} ({stage})", AT_RISK)
                for oid, name, owner, amount, stage, kind, risk in rows
                if kind == "Renewal" and risk == AT_RISK]
    if CLOSE_PASSED in on:
        out += _close_passed(cur, view)
    return out


def _close_passed(cur: duckdb.DuckDBPyConnection, view: View) -> list[Alert]:
    """Open deals in the view (whatever their period) whose close date is before as-of."""
    deals = deals_sql(state_key(cur, view.as_of), view.filters)
    rows = cur.execute(*sql(f"""
        select opportunity_id, name, owner, amount::double, close_date
        from ({deals}) d
        where list_contains($open_categories, category) and close_date < $passed_before""",  # noqa: S608
        deals, open_categories=list(OPEN_CATEGORIES), passed_before=view.as_of)).fetchall()
    return [Alert(oid, name or oid, owner or "", amount, CLOSE_PASSED,
                  f"still open, close date {_day(close)} has passed", close.isoformat())
            for oid, name, owner, amount, close in rows]

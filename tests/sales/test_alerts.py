"""Deal alerts by hand (docs/metrics.md#15-deal-alerts) and the reminders' who-and-when
(docs/metrics.md#16-call-reminders), on a real DuckDB."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sales.alerts import alerts
from sales.db import connect
from sales.hierarchy import User, replace_hierarchy
from sales.people_calls import submit_call
from sales.periods import parse_period
from sales.reminders import reminders_due, week_due
from sales.settings import load_settings
from sales.view import Filters, View
from tests.helpers import d, seed

P = "Ann"
DEALS = [
    dict(id="A1", stage="4-Proposal", category="Commit", amount=1000, close="2027-01-20", owner=P,
         team="T1", name="Pushed"),
    dict(id="A2", stage="3-Technical Evaluation", category="Best Case", amount=400,
         close="2026-12-10", owner=P, team="T1", name="Cut"),
    dict(id="A3", stage="4-Proposal", category="Commit", amount=460, close="2026-12-10", owner=P,
         team="T1", name="Trimmed"),
    dict(id="A4", stage="1-Discovery", category="Pipeline", amount=200_000, close="2026-12-20",
         owner="Bob", team="T2", name="Big new"),
    dict(id="A5", stage="4-Proposal", category="Commit", amount=300, close="2026-11-10", owner=P,
         team="T1", name="Overdue"),
    dict(id="A6", stage="1-Discovery", category="Pipeline", amount=50, close="2026-12-01", owner=P,
         team="T1", name="Stuck"),
    dict(id="A7", stage="4-Proposal", category="Commit", amount=700, close="2026-12-05",
         owner="Bob", team="T2", type="Renewal", renewal_risk="At Risk", name="Risky renewal"),
]


def _row(deal, **change):
    x = {**deal, **change}
    return (x["id"], x["stage"], x["category"], x["amount"], x["close"], x["owner"])


def _con(tmp_path):
    con = connect(tmp_path / "alerts.duckdb")
    by_id = {x["id"]: x for x in DEALS}
    last_call = [_row(by_id["A1"], close="2026-12-01"), _row(by_id["A2"], amount=500),
                 _row(by_id["A3"], amount=500), *(_row(by_id[i]) for i in ("A5", "A6", "A7"))]
    seed(con, DEALS, {d("2026-10-01"): [_row(by_id["A6"])], d("2026-11-13"): last_call,
                      d("2026-11-20"): [_row(x) for x in DEALS]})
    return con


def test_each_rule_fires_by_hand(tmp_path):
    con = _con(tmp_path)
    settings = replace(load_settings(con), alert_stalled_days=45)
    view = View(parse_period("FY2026-Q4", 1), d("2026-11-20"))
    fired = {(a.opportunity_id, a.rule): a for a in alerts(con, view, settings)}
    # A1: Commit at the last call (close 1 Dec), now 20 Jan 2027: out of the quarter.
    # A2: 500 → 400 is a 20% cut (≥ 10%); A3: 500 → 460 is 8%, not.
    # A4: absent on 13 Nov, 200,000 ≥ 100,000. A5: open, close 10 Nov < as-of 20 Nov.
    # A6: in 1-Discovery since the 1 Oct snapshot: 20 Nov − 1 Oct = 50 days ≥ 45 (the others
    # entered their stage on 13 Nov: 7 days). A7: an open renewal flagged At Risk.
    assert sorted(fired) == [("A1", "pushed_out"), ("A2", "amount_cut"), ("A4", "new_deal"),
                             ("A5", "close_passed"), ("A6", "stalled"),
                             ("A7", "renewal_at_risk")]
    assert fired["A2", "amount_cut"].detail == "amount cut from $500 to $400 (-20%)"
    assert fired["A2", "amount_cut"].change == "500.00->400.00"
    assert fired["A6", "stalled"].detail == "50 days in 1-Discovery"
    assert fired["A1", "pushed_out"].as_report() == {
        "opportunity_id": "A1", "name": "Pushed", "owner": "Ann", "amount": 1000.0,
        "rule": "pushed_out",
        "detail": "Commit deal's close date moved from 1 Dec 2026 to 20 Jan 2027, out of "
                  "FY2026-Q4"}
    # A rule turned off fires nothing; a team scope keeps the other team's deals out.
    off = replace(settings, alert_new_deal=False, alert_renewal_at_risk=False)
    assert {k[1] for k in (a for a in [(x.opportunity_id, x.rule)
                                       for x in alerts(con, view, off)])} == {
        "pushed_out", "amount_cut", "close_passed", "stalled"}
    team = View(view.period, view.as_of, Filters(), Filters.of(team=["T2"]))
    assert {a.opportunity_id for a in alerts(con, team, settings)} == {"A4", "A7"}


def test_reminders_go_before_the_due_moment_to_users_without_a_call(tmp_path):
    con = _con(tmp_path)
    replace_hierarchy(con, [User("Ann", "ann@example.com", None),
                            User("Bob", "bob@example.com", "Ann")], d("2026-10-01"), by="test")
    settings = load_settings(con)  # calls due Monday 12:00, reminders from 24 hours before
    period = parse_period("FY2026-Q4", 1)
    # 23 Nov 2026 is a Monday: due 12:00. Ann called on Thursday 19 Nov (inside the week).
    submit_call(con, "Ann", "FY2026-Q4", 1000, at=datetime(2026, 11, 19, 9), by="Ann")
    assert week_due(period, datetime(2026, 11, 22, 9), settings) == datetime(2026, 11, 23, 12)
    due, users = reminders_due(con, period, settings, datetime(2026, 11, 22, 9))
    assert users == []  # 27 hours before: not yet
    due, users = reminders_due(con, period, settings, datetime(2026, 11, 22, 13))
    assert due == datetime(2026, 11, 23, 12) and [u.email for u in users] == ["bob@example.com"]


def test_the_commands_list_alerts_and_write_reminders(tmp_path, capsys, monkeypatch):
    import json

    from sales.cli import main

    monkeypatch.chdir(tmp_path)
    con = _con(tmp_path)
    replace_hierarchy(con, [User("Ann", "ann@example.com", None),
                            User("Bob", "bob@example.com", "Ann")], d("2026-10-01"), by="test")
    con.close()
    db = str(tmp_path / "alerts.duckdb")
    assert main(["alerts", "--db", db, "--period", "FY2026-Q4", "--as-of", "2026-11-20"]) == 0
    listed = json.loads(capsys.readouterr().out)["alerts"]
    assert set(listed[0]) == {"opportunity_id", "name", "owner", "amount", "rule", "detail"}
    assert listed[0]["opportunity_id"] == "A4"  # the largest first
    assert main(["reminders", "--db", db, "--period", "FY2026-Q4", "--at", "2026-11-22T13:00",
                 "--dry-run", "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "reminder-ann@example.com.eml", "reminder-bob@example.com.eml"]

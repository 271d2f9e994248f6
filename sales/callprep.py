"""The weekly forecast call: everything the call reviews, between the last call and now.

The last call is a snapshot: by default the latest a week or more before as-of, or any earlier
snapshot the manager picks. The deals that changed between the two snapshots
(`sales.movement.changed_deals_sql`, the same whatever the filters) are seen through the view
and held in a temporary table for the length of one call to `prepare_call`; with the roll-up
now, every section — the forecast then and now, new & expansion against renewals, what closed,
the movement waterfall and the deals behind each bar, the key deals — is a small query over
them, so the history is read once however many sections the page draws. (A deal that did not
change stands the same at both dates.) A caller that holds the changed deals as an Arrow table
(the app does, per data version and pair of dates) passes them in, and a filter change reads
no history at all; `pipeline_generated` takes its first-qualified deals the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sales import movement as moves
from sales.calls import CALL_TOTALS
from sales.deals import MAX_DEAL_ROWS
from sales.inblood import DEFAULT_RULES, call_source, default_totals
from sales.movement import (
    UNCHANGED,
    Movement,
    bar_deals_sql,
    changed_deals_sql,
    dated,
    now_totals_sql,
    parts_sql,
    summarise,
    summary_sql,
    view_changes_sql,
    window,
)
from sales.query import deals_sql, snapshot_on_or_before, state_key
from sales.rollup import deals_in_period
from sales.settings import Settings
from sales.slippage import history_facts_sql
from sales.sql import Sql, sql
from sales.stages import (
    CLOSED,
    OPEN_CATEGORIES,
    TOTAL_CATEGORIES,
)
from sales.targets import target_for_view
from sales.view import ZERO, Measure, View, ratio

# The most key deals a call goes through; the page's "top N" picks up to this many.
KEY_DEALS_MAX = 100
# Renewals at risk listed for the call, riskiest and largest first (the totals cover all).
RENEWAL_RISK_ROWS = 100
# Deals kept per waterfall bar for the page (largest movements first); the bar's own count and
# amount always cover every deal, and the full list is a query away (movement_deals).
BAR_DEAL_ROWS = 200
NEW_AND_EXPANSION, RENEWALS = "New & Expansion", "Renewals"
RENEWAL_RISKS = ("At Risk", "Early Warning")
_GROUP_SQL = f"case when type = 'Renewal' then '{RENEWALS}' else '{NEW_AND_EXPANSION}' end"
# Temporary tables: one per cursor, gone when prepare_call returns (and the name the caller's
# changed deals are registered under for as long).
_TABLE, _TOP, _CHANGED = "call_deals", "call_top_deals", "call_changed_deals"
# The view's deals closing in the period, narrow: the totals now, the renewal risks and the
# key deals read it, one read of the deals instead of four.
_PERIOD = "call_period_deals"
# Columns of the changed deals no section reads once the view's filters have been applied.
_UNREAD = ("segment", "region", "team", "channel", "then_amount_original", "then_currency",
           "now_amount_original", "now_currency")
_FACTS = "call_open_deal_facts"


def last_call_choices(con: duckdb.DuckDBPyConnection, as_of: date) -> list[date]:
    """Snapshot dates a manager can compare with: every snapshot before the one as-of reads,
    newest first."""
    now = snapshot_on_or_before(con, as_of)
    if now is None:
        return []
    rows = con.cursor().execute(
        "select snapshot_date from snapshot_dates where snapshot_date < ? order by 1 desc",
        [now]).fetchall()
    return [r[0] for r in rows]


def default_last_call(con: duckdb.DuckDBPyConnection, as_of: date) -> date | None:
    """The latest snapshot a week or more before as-of; None when there is none."""
    return window(con, as_of).since


@dataclass(frozen=True)
class CallPrep:
    """The forecast call for a view between the last call and now. Grain: the view's period.

    Amounts are floats in the database's currency; frames are capped lists or small aggregates.
    """

    since: date | None  # the last call's snapshot date
    now: date | None  # the snapshot as-of reads (None: no snapshots)
    categories_then: dict[str, Measure]  # Closed (won), Commit, Best Case, Pipeline at S0
    categories_now: dict[str, Measure]
    target: float | None
    target_reason: str
    movement: dict[str, Movement]
    bar_deals: pd.DataFrame  # category, part, deal columns; BAR_DEAL_ROWS per bar at most
    by_type: pd.DataFrame  # group, category, amount_then, amount_now, change, count_then, count_now
    renewal_risks: pd.DataFrame
    renewal_risk_total: dict[str, Measure]  # per risk level, open renewals in the period
    closed_since: pd.DataFrame
    won_since: Measure
    lost_since: Measure
    key_deals: pd.DataFrame

    @property
    def renewals_flagged(self) -> int:
        """Open renewals in the period flagged At Risk or Early Warning (listed or not)."""
        return sum(m.count for m in self.renewal_risk_total.values())

    @property
    def closed_won_then(self) -> Measure:
        return self.categories_then[CLOSED]

    @property
    def closed_won_now(self) -> Measure:
        return self.categories_now[CLOSED]

    @property
    def closed_share(self) -> float | None:
        """Closed won now as a share of the target (None without one)."""
        return ratio(self.closed_won_now.amount, self.target)


def prepare_call(con: duckdb.DuckDBPyConnection, view: View, since: date | None = None,
                 changed: pa.Table | None = None, facts: pa.Table | None = None) -> CallPrep:
    """Everything the forecast call reviews, for the view and the last call `since` (None: the
    default, a week before as-of).

    `changed` is `sales.movement.changed_deals` for the same as-of and last call, when the
    caller holds it: it does not depend on the filters or the period, so a page keeps it while
    the manager changes them, and only the view's own queries run here. `facts` is
    `sales.slippage.open_deal_facts` at the view's snapshot, when held (the key deals' pushes
    and days in stage)."""
    win = window(con, view.as_of, since)
    target = target_for_view(con, view.period, view.filters)
    cur = con.cursor()  # the temporary table lives on this cursor only
    if changed is None:
        computed = changed_deals_sql(win.then_read, win.now_read)
        source = sql(f"({computed})", computed)
    else:
        cur.register(_CHANGED, changed)
        source = sql(_CHANGED)
    changes = view_changes_sql(source, view)
    # Every section reads deals in the view closing in the period at one of the two dates
    # (the totals, the movement, the key deals), or closed since the last call; the rest need
    # not be kept, nor the columns only the filters and the currency read. Writing the table
    # costs per value kept: 40% of the rows and a quarter of the columns less took it from
    # 22 to 16 ms at a million deals.
    cur.execute(*sql(f"""create or replace temp table {_TABLE} as
                         select * exclude ({', '.join(_UNREAD)}) from ({changes})
                         where (then_in_view and then_close between $period_start and $period_end)
                            or (now_in_view and now_close between $period_start and $period_end)
                            or (now_in_view and now_closed
                                and not coalesce(then_closed, false))""",  # noqa: S608
                     changes, **view.bounds()))
    try:
        _period_deals(cur, view)
        now_cells = {(group, category): (amount, count) for group, category, amount, count
                     in cur.execute(*now_totals_sql(cur, view, _GROUP_SQL,
                                                    sql(_PERIOD))).fetchall()}
        categories, by_type = _categories(cur, view, now_cells)
        parts = parts_sql(sql(_TABLE), view)
        end: dict[str, tuple[Decimal, int]] = {}
        for (_, category), (amount, count) in now_cells.items():
            before = end.get(category, (Decimal(0), 0))
            end[category] = (before[0] + amount, before[1] + count)
        movement = summarise(cur.execute(*summary_sql(parts)).fetchall(), end)
        risk_ids, risk_totals = _renewal_risk_picks(cur)
        key_ids = _ids(cur, sql(f"""select opportunity_id from {_PERIOD}
                                    where list_contains($open_categories, category)
                                    order by amount desc, opportunity_id limit $key_rows""",  # noqa: S608
                                open_categories=list(OPEN_CATEGORIES), key_rows=KEY_DEALS_MAX))
        _pick(cur, view, risk_ids + key_ids)
        closed, won, lost = _closed_since(cur)
        return CallPrep(
            since=win.since, now=win.now,
            categories_then=categories["then"], categories_now=categories["now"],
            target=target.amount, target_reason=target.reason,
            movement=movement, bar_deals=_bar_deals(cur, parts),
            by_type=by_type, renewal_risks=_renewal_risks(cur, risk_ids),
            renewal_risk_total=risk_totals, closed_since=closed, won_since=won, lost_since=lost,
            key_deals=_key_deals(cur, view, key_ids, facts))
    finally:
        cur.execute(f"drop table if exists {_TABLE}")
        cur.execute(f"drop table if exists {_TOP}")
        cur.execute(f"drop table if exists {_PERIOD}")
        if changed is not None:
            cur.unregister(_CHANGED)
        cur.close()


def _categories(cur: duckdb.DuckDBPyConnection, view: View,
                now_cells: dict[tuple[str, str], tuple[Decimal, int]]
                ) -> tuple[dict[str, dict[str, Measure]], pd.DataFrame]:
    """Closed won and the open categories at both dates, in total and per type group.

    Now is the roll-up itself; then is now with the changed deals taken back to where they
    stood (a deal that did not change stands the same at both dates)."""
    shift = {(g, c): [Decimal(0), 0] for g in (NEW_AND_EXPANSION, RENEWALS)
             for c in TOTAL_CATEGORIES}
    for side, sign in (("then", 1), ("now", -1)):
        for group, category, amount, count in cur.execute(*sql(
                f"""select {_GROUP_SQL}, {side}_category, sum({side}_amount), count(*)
                    from {_TABLE} where {side}_in_view
                      and {side}_close between $period_start and $period_end
                    group by all""", **view.bounds())).fetchall():  # noqa: S608
            if category in TOTAL_CATEGORIES:
                shift[(group, category)][0] += sign * amount
                shift[(group, category)][1] += sign * count
    totals = {side: dict.fromkeys(TOTAL_CATEGORIES, ZERO) for side in ("then", "now")}
    records = []
    for group in (NEW_AND_EXPANSION, RENEWALS):
        for category in TOTAL_CATEGORIES:
            amount, count = now_cells.get((group, category), (Decimal(0), 0))
            now = Measure(float(amount), int(count))
            delta_amount, delta_count = shift[(group, category)]
            then = Measure(float(amount + delta_amount), int(count + delta_count))
            totals["now"][category] = totals["now"][category] + now
            totals["then"][category] = totals["then"][category] + then
            records.append((group, category, then.amount, now.amount, now.amount - then.amount,
                            then.count, now.count))
    frame = pd.DataFrame(records, columns=["group", "category", "amount_then", "amount_now",
                                           "change", "count_then", "count_now"])
    return totals, frame


def _bar_deals(cur: duckdb.DuckDBPyConnection, parts: Sql) -> pd.DataFrame:
    deals = bar_deals_sql(parts)
    frame = cur.execute(*sql(
        f"""select * from ({deals}) where part <> '{UNCHANGED}'
            qualify row_number() over (partition by category, part
                                       order by abs(movement) desc, opportunity_id) <= $bar_rows
            order by category, part, abs(movement) desc, opportunity_id""",  # noqa: S608
        deals, bar_rows=BAR_DEAL_ROWS)).df()
    return dated(frame)


def _period_deals(cur: duckdb.DuckDBPyConnection, view: View) -> None:
    """The temporary table `_PERIOD`: the columns the totals now and the picks below read, of
    the view's deals closing in the period (as `sales.movement.now_totals_sql` reads them)."""
    deals = deals_in_period(cur, view)
    cur.execute(*sql(f"""create or replace temp table {_PERIOD} as
                         select opportunity_id, category, type, renewal_risk, amount
                         from ({deals}) d""", deals))  # noqa: S608


def _renewal_risk_picks(cur: duckdb.DuckDBPyConnection
                        ) -> tuple[list[str], dict[str, Measure]]:
    """Open renewals in the period flagged At Risk or Early Warning: the ids listed, riskiest
    and largest first (RENEWAL_RISK_ROWS at most), and the totals per risk level (over every
    such deal)."""
    flagged = sql(f"""from {_PERIOD} d
        where list_contains($open_categories, category) and type = 'Renewal'
          and list_contains($renewal_risks, renewal_risk)""",  # noqa: S608
                  open_categories=list(OPEN_CATEGORIES), renewal_risks=list(RENEWAL_RISKS))
    totals = {risk: ZERO for risk in RENEWAL_RISKS}
    for risk, amount, count in cur.execute(*sql(
            f"select renewal_risk, sum(amount)::double, count(*) {flagged} group by 1",  # noqa: S608
            flagged)).fetchall():
        totals[risk] = Measure(float(amount or 0.0), int(count))
    ids = _ids(cur, sql(f"""select opportunity_id {flagged}
                            order by renewal_risk = $worst_risk desc, amount desc, opportunity_id
                            limit $risk_rows""",  # noqa: S608
                        flagged, worst_risk=RENEWAL_RISKS[0], risk_rows=RENEWAL_RISK_ROWS))
    return ids, totals


def _renewal_risks(cur: duckdb.DuckDBPyConnection, ids: list[str]) -> pd.DataFrame:
    """The renewals at risk listed (`_renewal_risk_picks`), whole, in their order."""
    listed = cur.execute(*sql(
        f"""select opportunity_id, account_name, name, owner, renewal_risk, category, stage,
                   amount::double as amount, close_date, next_step
            from {_TOP} where list_contains($risk_ids, opportunity_id)
            order by renewal_risk = $worst_risk desc, amount desc, opportunity_id""",  # noqa: S608
        risk_ids=ids, worst_risk=RENEWAL_RISKS[0])).df()
    return dated(listed)


def _ids(cur: duckdb.DuckDBPyConnection, query: Sql) -> list[str]:
    return [row[0] for row in cur.execute(*query).fetchall()]


def _pick(cur: duckdb.DuckDBPyConnection, view: View, ids: list[str]) -> None:
    """The temporary table `_TOP`: the deals `ids` whole, as of the view's date — the renewals
    at risk and the key deals, read in one pass. A short list picked on narrow columns, then
    read by key: sorting on every column of a million deals costs far more. The ids have
    passed the view's filters already, so the read does not test them again."""
    deals = deals_sql(state_key(cur, view.as_of))
    cur.execute(*sql(f"""create or replace temp table {_TOP} as
                         select * from ({deals}) d
                         where list_contains($picked_ids, opportunity_id)""",  # noqa: S608
                     deals, picked_ids=sorted(set(ids))))


def _closed_since(cur: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, Measure, Measure]:
    """Deals that closed between the two dates, in the view now:
    won first, then lost (9-Unqualified and 10-Duplicate included, as in the movement)."""
    where = f"""from {_TABLE} c
                where c.now_in_view and c.now_closed and not coalesce(c.then_closed, false)"""
    frame = cur.execute(*sql(
        f"""select case when c.now_won then 'won' else 'lost' end as outcome,
                   c.account_name, c.now_owner as owner, c.now_amount::double as amount,
                   c.now_close as close_date, c.then_category as category_then,
                   c.loss_class, c.competitor, c.lost_reason, c.now_stage as stage,
                   c.type, c.opportunity_id
            {where}
            order by c.now_won desc, c.now_amount desc, c.opportunity_id limit $rows""",  # noqa: S608
        rows=MAX_DEAL_ROWS)).df()
    found = dict.fromkeys((True, False), ZERO)
    for won, amount, count in cur.execute(
            f"select c.now_won, sum(c.now_amount)::double, count(*) {where} group by 1"  # noqa: S608
    ).fetchall():
        found[bool(won)] = Measure(float(amount or 0.0), int(count))
    return dated(frame), found[True], found[False]


def _key_deals(cur: duckdb.DuckDBPyConnection, view: View, ids: list[str],
               held_facts: pa.Table | None) -> pd.DataFrame:
    """The largest open deals in the period now (`ids`, read into `_TOP`), with push count,
    days in stage, next step and what changed since the last call. Grain: one row per deal,
    KEY_DEALS_MAX at most."""
    if held_facts is None:
        facts = history_facts_sql(ids, view.as_of, view.period.fy_start_month)
    else:  # the key deals' rows of the facts the caller holds for every open deal
        cur.register(_FACTS, held_facts.filter(
            pc.is_in(held_facts["opportunity_id"], pa.array(ids, pa.string()))))
        facts = sql(f"select * from {_FACTS}")  # noqa: S608 - a fixed name
    # A deal that did not change since the last call stood then as it stands now.
    frame = cur.execute(*sql(
        f"""with facts as ({facts})
            select t.opportunity_id, t.account_name, t.name, t.owner, t.category, t.stage,
                   t.amount::double as amount, t.close_date,
                   coalesce(f.push_count, 0) as push_count,
                   datediff('day', f.entered_stage, $as_of::date) as days_in_stage, t.next_step,
                   case when c.opportunity_id is null then t.category else c.then_category end
                       as category_then,
                   case when c.opportunity_id is null then t.amount else c.then_amount end::double
                       as amount_then,
                   case when c.opportunity_id is null then t.close_date else c.then_close end
                       as close_then,
                   coalesce(not c.then_exists, false) as new_since_call,
                   coalesce(c.then_exists and c.then_category is distinct from t.category, false)
                       as category_changed,
                   coalesce(c.then_exists and c.then_amount is distinct from t.amount, false)
                       as amount_changed,
                   coalesce(c.then_exists and c.then_close is distinct from t.close_date, false)
                       as close_changed
            from {_TOP} t left join facts f using (opportunity_id)
            left join {_TABLE} c using (opportunity_id)
            where list_contains($key_ids, t.opportunity_id)
            order by t.amount desc, t.opportunity_id""",  # noqa: S608
        facts, as_of=view.as_of, key_ids=ids)).df()
    if held_facts is not None:
        cur.unregister(_FACTS)
    frame["change"] = [_what_changed(row) for row in frame.itertuples()]
    return dated(frame)


def _what_changed(row) -> str:
    """One line a manager reads aloud: 'new', or category / amount / close date, before → now."""
    if row.new_since_call:
        return "new since the last call"
    said = []
    if row.category_changed:
        said.append(f"{row.category_then} → {row.category}")
    if row.amount_changed:
        said.append(f"amount {row.amount_then:,.0f} → {row.amount:,.0f}")
    if row.close_changed:
        said.append(f"close {pd.Timestamp(row.close_then):%d %b} → {pd.Timestamp(row.close_date):%d %b}")
    return "; ".join(said)


@dataclass(frozen=True)
class Forecast:
    """In-blood number and upside at one moment, and where it came from."""

    number: float
    upside: float
    source: str

    def as_report(self) -> dict[str, object]:
        return {"number": self.number, "upside": self.upside, "source": self.source}


@dataclass(frozen=True)
class SavedCall:
    """A saved in-blood call, summed: what it committed to. Grain: one call."""

    saved_at: datetime
    closed_won: float | None  # stored with the call; None for calls saved without it
    included: float
    upside: float


def saved_call_on(con: duckdb.DuckDBPyConnection, view: View, day: date | None
                  ) -> SavedCall | None:
    """The latest call saved for the view's period and filter scope on or before `day`."""
    if day is None:
        return None
    row = con.cursor().execute(*sql(
        f"""with call as (
               select call_id, saved_at, closed_won from forecast_calls
               where period = $period and scope = $scope and call_date <= $day
               order by saved_at desc, call_id desc limit 1)
           select c.saved_at, c.closed_won::double, included, upside
           from call c left join (
               select x.call_id, {CALL_TOTALS}
               from forecast_call_decisions x semi join call using (call_id)
               group by x.call_id) t using (call_id)""",  # noqa: S608
        CALL_TOTALS, period=view.period.label, scope=view.filters.scope_key(),
        day=day)).fetchone()
    return SavedCall(row[0], row[1], row[2] or 0.0, row[3] or 0.0) if row else None


def forecast_at_last_call(prep: CallPrep, saved: SavedCall | None,
                          settings: Settings) -> Forecast:
    """The forecast as it stood at the last call: the latest call saved on or before its date
    (closed won as saved, else as it stood at the last call, plus what it included), else the
    default rules over the state at that date."""
    then = prep.categories_then
    if saved is not None:
        closed = saved.closed_won if saved.closed_won is not None else then[CLOSED].amount
        return Forecast(closed + saved.included, saved.upside, call_source(saved.saved_at))
    rules = default_totals(then[CLOSED].amount, {c: then[c].amount for c in OPEN_CATEGORIES},
                           settings)
    return Forecast(rules.number, rules.upside, DEFAULT_RULES)


def changes_since(prep: CallPrep, then: Forecast, now: Forecast) -> dict[str, float]:
    """What moved since the last call: the in-blood number, the upside and closed won, each
    now minus then (the Forecast call's tiles)."""
    return {"in_blood": now.number - then.number, "upside": now.upside - then.upside,
            "closed_won": prep.closed_won_now.amount - prep.closed_won_then.amount}


def call_report(prep: CallPrep, then: Forecast, now: Forecast) -> dict[str, object]:
    """The report's `movement` keys: the compared snapshots and each category's waterfall
    (`sales.movement.as_report`), the forecast and closed won at the last call, what closed
    since, the two type groups at both dates and the renewals flagged at risk."""
    groups: dict[str, dict] = {}
    for row in prep.by_type.itertuples():
        groups.setdefault(row.group, {})[row.category] = {
            "amount_then": row.amount_then, "amount_now": row.amount_now,
            "count_then": int(row.count_then), "count_now": int(row.count_now)}
    return {
        **moves.as_report(prep.movement, prep.since, prep.now),
        "forecast_then": then.as_report(),
        "change": changes_since(prep, then, now),
        "closed_won_then": prep.closed_won_then.as_report(),
        "closed_since": {"won": prep.won_since.as_report(), "lost": prep.lost_since.as_report()},
        "by_type": groups,
        "renewals_at_risk": {risk: m.as_report() for risk, m in prep.renewal_risk_total.items()},
    }

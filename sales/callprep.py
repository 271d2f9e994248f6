"""The weekly forecast call (issue #4): everything the call reviews, between the last call and now.

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

from sales.deals import MAX_DEAL_ROWS
from sales.inblood import DEFAULT_RULES, call_source, default_includes
from sales.movement import (
    SUMMARY_SQL,
    UNCHANGED,
    Movement,
    bar_deals_sql,
    changes_sql,
    dated,
    now_totals_sql,
    parts_sql,
    summarise,
    view_changes_sql,
    window,
)
from sales.periods import QUARTER, period_containing
from sales.query import deals_sql, snapshot_on_or_before, state_key
from sales.slippage import history_facts_sql
from sales.stages import BEST_CASE, CLOSED, COMMIT, PIPELINE
from sales.targets import target_for_view
from sales.view import ZERO, Measure, View

# The most key deals a call goes through; the page's "top N" picks up to this many.
KEY_DEALS_MAX = 100
# Renewals at risk listed for the call, riskiest and largest first (the totals cover all).
RENEWAL_RISK_ROWS = 100
# Deals kept per waterfall bar for the page (largest movements first); the bar's own count and
# amount always cover every deal, and the full list is a query away (movement_deals).
BAR_DEAL_ROWS = 200
# The categories the forecast call counts, closed first.
CALL_CATEGORIES = (CLOSED, COMMIT, BEST_CASE, PIPELINE)
NEW_AND_EXPANSION, RENEWALS = "New & Expansion", "Renewals"
RENEWAL_RISKS = ("At Risk", "Early Warning")
_GROUP_SQL = f"case when type = 'Renewal' then '{RENEWALS}' else '{NEW_AND_EXPANSION}' end"
# Temporary tables: one per cursor, gone when prepare_call returns (and the name the caller's
# changed deals are registered under for as long).
_TABLE, _TOP, _CHANGED = "call_deals", "call_top_deals", "call_changed_deals"
_FIRST_SEEN, _FACTS = "call_first_qualified", "call_open_deal_facts"


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
    if facts is not None:
        cur.register(_FACTS, facts)
    if changed is None:
        changes, params = changes_sql(cur, view, since)
    else:
        cur.register(_CHANGED, changed)
        changes, params = view_changes_sql(_CHANGED, view)
    # Every section reads deals in the view at one of the two dates; the rest need not be kept.
    cur.execute(f"""create or replace temp table {_TABLE} as
                    select * from ({changes}) where then_in_view or now_in_view""",  # noqa: S608
                params)
    try:
        totals_sql, total_params = now_totals_sql(cur, view, _GROUP_SQL)
        now_cells = {(group, category): (amount, count) for group, category, amount, count
                     in cur.execute(totals_sql, total_params).fetchall()}
        categories, by_type = _categories(cur, view, now_cells)
        parts, part_params = parts_sql(_TABLE, view)
        end: dict[str, tuple[Decimal, int]] = {}
        for (_, category), (amount, count) in now_cells.items():
            before = end.get(category, (Decimal(0), 0))
            end[category] = (before[0] + amount, before[1] + count)
        movement = summarise(cur.execute(SUMMARY_SQL.format(parts=parts), part_params).fetchall(),
                             end)
        risks, risk_totals = _renewal_risks(cur, view)
        closed, won, lost = _closed_since(cur)
        return CallPrep(
            since=win.since, now=win.now,
            categories_then=categories["then"], categories_now=categories["now"],
            target=target.amount, target_reason=target.reason,
            movement=movement, bar_deals=_bar_deals(cur, parts, part_params),
            by_type=by_type, renewal_risks=risks, renewal_risk_total=risk_totals,
            closed_since=closed, won_since=won, lost_since=lost,
            key_deals=_key_deals(cur, view, _FACTS if facts is not None else None))
    finally:
        cur.execute(f"drop table if exists {_TABLE}")
        cur.execute(f"drop table if exists {_TOP}")
        for name, held in ((_CHANGED, changed), (_FACTS, facts)):
            if held is not None:
                cur.unregister(name)
        cur.close()


def _categories(cur: duckdb.DuckDBPyConnection, view: View,
                now_cells: dict[tuple[str, str], tuple[Decimal, int]]
                ) -> tuple[dict[str, dict[str, Measure]], pd.DataFrame]:
    """Closed won and the open categories at both dates, in total and per type group.

    Now is the roll-up itself; then is now with the changed deals taken back to where they
    stood (a deal that did not change stands the same at both dates)."""
    bounds = [view.period.start, view.period.end]
    shift = {(g, c): [Decimal(0), 0] for g in (NEW_AND_EXPANSION, RENEWALS)
             for c in CALL_CATEGORIES}
    for side, sign in (("then", 1), ("now", -1)):
        for group, category, amount, count in cur.execute(
                f"""select {_GROUP_SQL}, {side}_category, sum({side}_amount), count(*)
                    from {_TABLE} where {side}_in_view and {side}_close between ? and ?
                    group by all""", bounds).fetchall():  # noqa: S608
            if category in CALL_CATEGORIES:
                shift[(group, category)][0] += sign * amount
                shift[(group, category)][1] += sign * count
    totals = {side: dict.fromkeys(CALL_CATEGORIES, ZERO) for side in ("then", "now")}
    records = []
    for group in (NEW_AND_EXPANSION, RENEWALS):
        for category in CALL_CATEGORIES:
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


def _bar_deals(cur: duckdb.DuckDBPyConnection, parts: str, params: list) -> pd.DataFrame:
    frame = cur.execute(
        f"""select * from ({bar_deals_sql(f"({parts})")}) where part <> '{UNCHANGED}'
            qualify row_number() over (partition by category, part
                                       order by abs(movement) desc, opportunity_id) <= ?
            order by category, part, abs(movement) desc, opportunity_id""",  # noqa: S608
        params + [BAR_DEAL_ROWS]).df()
    return dated(frame)


def _renewal_risks(cur: duckdb.DuckDBPyConnection, view: View
                   ) -> tuple[pd.DataFrame, dict[str, Measure]]:
    """Open renewals in the period flagged At Risk or Early Warning, riskiest and largest first
    (RENEWAL_RISK_ROWS at most), and their totals per risk level (over every such deal)."""
    deals, params = deals_sql(state_key(cur, view.as_of), view.filters)
    flagged = f"""from ({deals}) d
        where close_date between ? and ? and category in ('Commit', 'Best Case', 'Pipeline')
          and type = 'Renewal' and renewal_risk in (?, ?)"""  # noqa: S608
    params += [view.period.start, view.period.end, *RENEWAL_RISKS]
    totals = {risk: ZERO for risk in RENEWAL_RISKS}
    for risk, amount, count in cur.execute(
            f"select renewal_risk, sum(amount)::double, count(*) {flagged} group by 1",  # noqa: S608
            params).fetchall():
        totals[risk] = Measure(float(amount or 0.0), int(count))
    ids = _ids(cur, f"""select opportunity_id {flagged}
                        order by renewal_risk = ? desc, amount desc, opportunity_id limit ?""",
               params + [RENEWAL_RISKS[0], RENEWAL_RISK_ROWS])
    chosen, chosen_params = _by_ids_sql(cur, view, ids)
    listed = cur.execute(
        f"""select opportunity_id, account_name, name, owner, renewal_risk, category, stage,
                   amount::double as amount, close_date, next_step
            from ({chosen})
            order by renewal_risk = ? desc, amount desc, opportunity_id""",  # noqa: S608
        chosen_params + [RENEWAL_RISKS[0]]).df()
    return dated(listed), totals


def _ids(cur: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[str]:
    return [row[0] for row in cur.execute(sql, params).fetchall()]


def _by_ids_sql(cur: duckdb.DuckDBPyConnection, view: View, ids: list[str]
                ) -> tuple[str, list]:
    """The deals `ids` whole, as of the view's date. A short list picked on narrow columns,
    then read by key: sorting on every column of a million deals costs far more. The ids have
    passed the view's filters already, and without them the key lookup uses the index."""
    deals, params = deals_sql(state_key(cur, view.as_of))
    marks = ", ".join("?" * len(ids)) or "null"
    return f"select * from ({deals}) d where opportunity_id in ({marks})", params + ids  # noqa: S608


def _closed_since(cur: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, Measure, Measure]:
    """Deals that closed between the two dates, in the view now:
    won first, then lost (9-Unqualified and 10-Duplicate included, as in the movement)."""
    where = f"""from {_TABLE} c
                where c.now_in_view and c.now_closed and not coalesce(c.then_closed, false)"""
    frame = cur.execute(
        f"""select case when c.now_won then 'won' else 'lost' end as outcome,
                   c.account_name, c.now_owner as owner, c.now_amount::double as amount,
                   c.now_close as close_date, c.then_category as category_then,
                   c.loss_class, c.competitor, c.lost_reason, c.now_stage as stage,
                   c.type, c.opportunity_id
            {where}
            order by c.now_won desc, c.now_amount desc, c.opportunity_id limit ?""",  # noqa: S608
        [MAX_DEAL_ROWS]).df()
    found = dict.fromkeys((True, False), ZERO)
    for won, amount, count in cur.execute(
            f"select c.now_won, sum(c.now_amount)::double, count(*) {where} group by 1"  # noqa: S608
    ).fetchall():
        found[bool(won)] = Measure(float(amount or 0.0), int(count))
    return dated(frame), found[True], found[False]


def _key_deals(cur: duckdb.DuckDBPyConnection, view: View, held_facts: str | None
               ) -> pd.DataFrame:
    """The largest open deals in the period now, with push count, days in stage, next step and
    what changed since the last call. Grain: one row per deal, KEY_DEALS_MAX at most."""
    deals, params = deals_sql(state_key(cur, view.as_of), view.filters)
    ids = _ids(cur, f"""select opportunity_id from ({deals}) d
                        where close_date between ? and ?
                          and category in ('Commit', 'Best Case', 'Pipeline')
                        order by amount desc, opportunity_id limit {KEY_DEALS_MAX}""",  # noqa: S608
               params + [view.period.start, view.period.end])
    chosen, chosen_params = _by_ids_sql(cur, view, ids)
    cur.execute(f"create or replace temp table {_TOP} as {chosen}", chosen_params)  # noqa: S608
    if held_facts is None:
        facts, fact_params = history_facts_sql(ids, view.as_of, view.period.fy_start_month)
    else:  # looked up in the facts the caller holds for every open deal
        facts, fact_params = f"select * from {held_facts}", []  # noqa: S608 - a fixed name
    # A deal that did not change since the last call stood then as it stands now.
    frame = cur.execute(
        f"""with facts as ({facts})
            select t.opportunity_id, t.account_name, t.name, t.owner, t.category, t.stage,
                   t.amount::double as amount, t.close_date,
                   coalesce(f.push_count, 0) as push_count,
                   datediff('day', f.entered_stage, ?::date) as days_in_stage, t.next_step,
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
            order by t.amount desc, t.opportunity_id""",  # noqa: S608
        fact_params + [view.as_of]).df()
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
    row = con.cursor().execute(
        """with call as (
               select call_id, saved_at, closed_won from forecast_calls
               where period = ? and scope = ? and call_date <= ?
               order by saved_at desc, call_id desc limit 1)
           select c.saved_at, c.closed_won::double,
                  coalesce(sum(x.amount) filter (where x.included), 0)::double,
                  coalesce(sum(x.amount) filter (where not x.included and x.forecast_category
                           in ('Commit', 'Best Case')), 0)::double
           from call c left join forecast_call_decisions x using (call_id)
           group by all""",
        [view.period.label, view.filters.scope_key(), day]).fetchone()
    return SavedCall(*row) if row else None


def forecast_at_last_call(prep: CallPrep, saved: SavedCall | None,
                          settings: dict[str, object]) -> Forecast:
    """The forecast as it stood at the last call: the latest call saved on or before its date
    (closed won as saved, else as it stood at the last call, plus what it included), else the
    default rules over the state at that date."""
    then = prep.categories_then
    if saved is not None:
        closed = saved.closed_won if saved.closed_won is not None else then[CLOSED].amount
        return Forecast(closed + saved.included, saved.upside, call_source(saved.saved_at))
    include = default_includes(settings)
    included = sum(then[c].amount for c in (COMMIT, BEST_CASE, PIPELINE) if include[c])
    upside = sum(then[c].amount for c in (COMMIT, BEST_CASE) if not include[c])
    return Forecast(then[CLOSED].amount + included, upside, DEFAULT_RULES)


@dataclass(frozen=True)
class Generated:
    """Pipeline generated (SPEC item 10) since the last call and in the quarter to date."""

    since_start: date  # exclusive: deals qualified after the last call's date
    since: Measure
    quarter_start: date  # inclusive
    quarter: Measure


def generated_windows(con: duckdb.DuckDBPyConnection, view: View, since: date | None
                      ) -> tuple[date, date]:
    """Pipeline generated counts deals qualified after `since_start` (the last call's date) and
    from `quarter_start` (the first day of the fiscal quarter holding as-of)."""
    win = window(con, view.as_of, since)
    since_start = win.since or (since if since is not None else view.as_of)
    quarter_start = period_containing(view.as_of, QUARTER, view.period.fy_start_month).start
    return since_start, quarter_start


def first_qualified_sql(first: date, as_of: date) -> tuple[str, list]:
    """Deals without an acceptance date whose first snapshot in a qualified stage falls between
    `first` and `as_of`: when, and at what amount. Filter-free, so a caller may hold it while
    the filters change (`pipeline_generated` takes it as an Arrow table).

    Grain: one row per such opportunity. Columns: opportunity_id, qualified_on, amount."""
    return ("""select h.opportunity_id, min(h.valid_from) as qualified_on,
                      arg_min(h.amount, h.valid_from) as amount
               from opportunity_history h join stage_map m on m.stage = h.stage and m.qualified
               where h.valid_from <= ?
                 and h.opportunity_id in (select opportunity_id from opportunities
                                          where sales_accepted_date is null)
               group by h.opportunity_id
               having min(h.valid_from) >= ?""", [as_of, first])


def first_qualified(con: duckdb.DuckDBPyConnection, first: date, as_of: date) -> pa.Table:
    sql, params = first_qualified_sql(first, as_of)
    return con.cursor().sql(sql, params=params).to_arrow_table()


def pipeline_generated(con: duckdb.DuckDBPyConnection, view: View, since: date | None,
                       first_seen: pa.Table | None = None) -> Generated:
    """Deals that became qualified after the last call, and since the start of the fiscal
    quarter holding as-of, up to as-of: by amount and count.

    A deal became qualified on its sales_accepted_date, at its amount; without one, on the
    first snapshot that saw it in a qualified stage, at its amount in that snapshot
    (`first_qualified`, from min(the two window starts); pass it when held). Grain: the two
    windows; deals as they stand at as-of, through the view's filters.
    """
    since_start, quarter_start = generated_windows(con, view, since)
    first = min(since_start, quarter_start)
    deals, params = deals_sql(state_key(con, view.as_of), view.filters)
    cur = con.cursor()
    if first_seen is None:
        seen, seen_params = first_qualified_sql(first, view.as_of)
        seen = f"({seen})"
    else:
        cur.register(_FIRST_SEEN, first_seen)
        seen, seen_params = _FIRST_SEEN, []
    try:
        row = cur.execute(
            f"""with deals as (select opportunity_id, sales_accepted_date, amount from ({deals}) d),
                accepted as (
                    select sales_accepted_date as qualified_on, amount from deals
                    where sales_accepted_date between ? and ?),
                first_seen as (  -- no acceptance date: the first snapshot in a qualified stage
                    select f.qualified_on, f.amount
                    from {seen} f semi join deals d using (opportunity_id)),
                qualified as (select * from accepted union all select * from first_seen)
                select coalesce(sum(amount) filter (where qualified_on > ?), 0)::double,
                       count(*) filter (where qualified_on > ?),
                       coalesce(sum(amount) filter (where qualified_on >= ?), 0)::double,
                       count(*) filter (where qualified_on >= ?)
                from qualified""",  # noqa: S608 - fixed SQL; values are bound
            [*params, first, view.as_of, *seen_params,
             since_start, since_start, quarter_start, quarter_start]).fetchall()[0]
    finally:
        if first_seen is not None:
            cur.unregister(_FIRST_SEEN)
        cur.close()
    return Generated(since_start, Measure(row[0], int(row[1])), quarter_start,
                     Measure(row[2], int(row[3])))

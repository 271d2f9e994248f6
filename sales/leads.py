"""The lead pipeline the weekly call reviews (the handbook's third part of the call): MQLs in
the period and since the last call, where the period's MQLs are now, the pipeline they
generated, and the reasons leads were recycled or junked.

"The period's MQLs" are the leads, as they stand as of as-of (`sales.lead_snapshots`), whose
MQL date falls in the period up to as-of; "where are they now" is their status group as of
as-of. Filters on segment, region and owner apply to leads (the lead's own fields; owner is
its owner as of as-of); a team (filter or scope) keeps the leads of the team's owners (the
owners of its deals); type and channel are opportunity fields leads do not have.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import pandas as pd
import pyarrow as pa

from sales.db import is_precomputed_table
from sales.deals import MAX_DEAL_ROWS
from sales.generated import generated_windows
from sales.lead_snapshots import lead_state_key, leads_sql
from sales.lead_statuses import LEAD_GROUPS, REASON_GROUPS
from sales.periods import Period
from sales.query import KNOWN_DEALS, deals_sql, state_key
from sales.sql import Sql, sql
from sales.view import Filters, Measure, View, ratio

# The view's filters leads carry; the others are the opportunity's own.
LEAD_FILTERS = ("segment", "region", "owner")
# Dimensions the MQL comparison breaks down by (lead column → label).
MQL_DIMENSIONS = {"lead_source": "Source", "segment": "Segment"}
# Past periods the MQL count is compared with, at the same point of each.
PAST_PERIODS = 4
NO_REASON = "(no reason given)"
NO_VALUE = "(none)"
# How to load leads, for the page and the report's empty state.
HOW_TO_LOAD = ("import a leads export (Salesforce Lead: Id, Status, LeadSource, CreatedDate, "
               "ConvertedOpportunityId, ConvertedDate, and the MQL date through a mapping "
               "file's [lead_columns] mql_date) on the Import page or with "
               "`python -m sales import Lead.csv`")


@dataclass(frozen=True)
class Funnel:
    """Where the period's MQLs went: how many reached acceptance, converted, and converted to
    an opportunity that is qualified now; median days between the steps (None without any)."""

    mqls: int
    accepted: int
    converted: int
    pipeline: int
    days_to_accept: float | None
    days_accepted_to_converted: float | None
    days_to_convert: float | None

    def frame(self) -> pd.DataFrame:
        """One row per step: count, share of the MQLs, share of the step before, median days
        from the step before."""
        steps = [("MQL", self.mqls, None), ("Accepted", self.accepted, self.days_to_accept),
                 ("Converted to an opportunity", self.converted,
                  self.days_accepted_to_converted),
                 ("Opportunity qualified", self.pipeline, None)]
        rows, before = [], None
        for name, count, days in steps:
            rows.append({"step": name, "leads": count, "share_of_mqls": ratio(count, self.mqls),
                         "share_of_previous": ratio(count, before) if before is not None
                         else None, "median_days_from_previous": days})
            before = count
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class LeadPipeline:
    """The lead pipeline of a view. Counts are None when no lead is loaded, or when the view's
    scope keeps leads out (`note` says which and what to do)."""

    loaded: bool
    applies: bool
    note: str
    since_after: date | None  # MQLs since the last call: mql_date after this date
    mql: int | None = None
    mql_since: int | None = None
    now: dict[str, int] = field(default_factory=dict)
    pipeline: Measure | None = None
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def shown(self) -> bool:
        return self.loaded and self.applies

    def as_report(self) -> dict[str, object]:
        """The report's `leads` keys (null counts when there is nothing to count)."""
        return {
            "loaded": self.loaded,
            "mql": {"count": self.mql},
            "mql_since": {"after": self.since_after.isoformat() if self.since_after else None,
                          "count": self.mql_since},
            "now": {g: {"count": self.now.get(g) if self.shown else None} for g in LEAD_GROUPS},
            "pipeline": (self.pipeline.as_report() if self.pipeline is not None
                         else {"amount": None, "count": None}),
            "reasons": dict(self.reasons),
        }

    def now_shares(self) -> dict[str, float | None]:
        return {g: ratio(self.now.get(g, 0), self.mql) for g in LEAD_GROUPS}


@dataclass(frozen=True)
class LeadReview:
    """Everything the Forecast call's lead section draws: the numbers (`summary`, equal to the
    report's keys), the MQL comparison with past periods, the funnel, the deals generated."""

    summary: LeadPipeline
    comparison: pd.DataFrame  # dimension, value, this_period, since_last_call, past labels…, past_average
    past_totals: dict[str, int]  # past period label → MQLs at the same point
    funnel: Funnel | None
    deals: pd.DataFrame  # the converted, qualified opportunities (largest first, capped)

    @property
    def past_average(self) -> float | None:
        """MQLs at the same point of the past periods, on average (None without any)."""
        totals = list(self.past_totals.values())
        return sum(totals) / len(totals) if totals else None

    @property
    def vs_past_average(self) -> float | None:
        """This period's MQLs so far less that average."""
        average = self.past_average
        return None if average is None or self.summary.mql is None else self.summary.mql - average


def leads_loaded(con: duckdb.DuckDBPyConnection) -> bool:
    return con.cursor().execute("select count(*) from leads").fetchall()[0][0] > 0


def lead_condition(filters: Filters) -> Sql:
    """The view's segment, region and owner selections over the leads relation; a team
    selection (a team-scoped user's, or a team filter) keeps the leads owned by the team's
    owners — the owners of its deals, current or departed — since leads carry no team."""
    kept = Filters.of(**{d: getattr(filters, d) for d in LEAD_FILTERS})
    condition = kept.condition()
    if not filters.team:
        return condition
    text = f"""({condition}) and owner in (select owner from {KNOWN_DEALS}
                                          where list_contains($lead_teams, team))"""  # noqa: S608
    return sql(text, condition, lead_teams=list(filters.team))


def ignored_filters(view: View) -> list[str]:
    """The view's active filters leads do not carry (said on the page; team applies through
    the team's owners)."""
    return [d for d in view.filters.active() if d not in (*LEAD_FILTERS, "team")]


def _applies(view: View) -> bool:
    """Every view applies to leads: a team applies through the team's owners."""
    return True


def _note(view: View, loaded: bool, applies: bool) -> str:
    if not loaded:
        return f"No leads are loaded: {HOW_TO_LOAD}."
    if not applies:
        return ""
    ignored = ignored_filters(view)
    if ignored:
        return (f"Leads have no {', '.join(ignored)}: those filters do not apply to them "
                "(segment, region and owner do; a team applies through its owners).")
    return ""


# The name the MQL leads are registered under for one call of this module's functions.
_MQLS = "lead_pipeline_mqls"
_HELD_MQLS = "lead_pipeline_held_mqls"


# The converted opportunity's columns an MQL lead carries (`deal_<name>`), as it stands at the
# deal snapshot: what the pipeline the MQLs generated and its deal list read.
_DEAL_COLUMNS = ("qualified", "account_name", "name", "owner", "stage", "category", "amount",
                 "close_date")


def mql_leads_sql(snapshot: date | None, deals_at: date | None) -> Sql:
    """Every lead that ever became an MQL, as of a lead snapshot (`leads_sql`), with the first
    snapshot up to it that saw the lead in an accepted status (`seen_accepted`) and the
    opportunity it converted to as that stands at the deal snapshot `deals_at` (`deals_sql`;
    `deal_qualified` false without one). Filter-free, so a caller may hold it while the filters
    change: the deals are joined once, not per view. Grain: one row per MQL lead, in MQL-date
    order: stored in the file (sales.precomputed), a query for one period's MQLs then reads
    only the row groups holding its dates (DuckDB's min/max per row group)."""
    leads, deals = leads_sql(snapshot), deals_sql(deals_at)
    converted = ", ".join(f"d.{c} as deal_{c}" for c in _DEAL_COLUMNS if c != "qualified")
    if snapshot is None:  # no lead snapshot: nothing was ever seen
        accepted = sql("select null::varchar as lead_id, null::date as seen_accepted limit 0")
    else:
        accepted = sql("""select h.lead_id, min(h.valid_from) as seen_accepted
                          from lead_history h
                          join lead_status_map m on m.status = h.status and m.accepted
                          where h.valid_from <= $lead_day group by 1""", lead_day=snapshot)
    return sql(f"""select l.*, s.seen_accepted, coalesce(d.qualified, false) as deal_qualified,
                          {converted}
                   from ({leads}) l left join ({accepted}) s using (lead_id)
                   left join ({deals}) d on d.opportunity_id = l.converted_opportunity_id
                   where l.mql_date is not null
                   order by l.mql_date, l.lead_id""", leads, accepted, deals)  # noqa: S608


def mql_leads(con: duckdb.DuckDBPyConnection, snapshot: date | None,
              deals_at: date | None) -> pa.Table:
    """`mql_leads_sql` as an Arrow table (what the app holds per data version)."""
    query = mql_leads_sql(snapshot, deals_at)
    return con.cursor().sql(query.text, params=dict(query.params)).to_arrow_table()


@contextmanager
def _reading(con: duckdb.DuckDBPyConnection, view: View, held: pa.Table | str | None,
             since_after: date) -> Iterator[tuple[duckdb.DuckDBPyConnection, Sql]]:
    """A cursor and the view's MQL leads on it (a relation to select from): the lead
    section's half dozen queries then read the view's leads of the dates they count, not
    every MQL lead ever, and never the lead history again. `held` is the caller's held leads:
    an Arrow table, or the name of the table in the file that stores them
    (sales.precomputed), read in place: each query then scans only the columns it needs,
    where loading and narrowing a million wide rows cost more than all the queries."""
    cur = con.cursor()
    condition = lead_condition(view.filters)
    window = sql(f"where {condition} and mql_date between $mql_earliest and $as_of",  # noqa: S608
                 condition, mql_earliest=_earliest(view, since_after), as_of=view.as_of)
    if isinstance(held, str):
        if not is_precomputed_table(held):  # a name from the catalog, never from a user
            raise ValueError(f"not a stored intermediate: {held!r}")
        try:
            yield cur, sql(f'(select * from "{held}" {window})', window)  # noqa: S608
        finally:
            cur.close()
        return
    table = held if held is not None else mql_leads(con, lead_state_key(con, view.as_of),
                                                    state_key(con, view.as_of))
    cur.register(_HELD_MQLS, table)
    try:
        query = sql(f"select * from {_HELD_MQLS} {window}", window)  # noqa: S608
        narrowed = cur.sql(query.text, params=dict(query.params)).to_arrow_table()
    finally:
        cur.unregister(_HELD_MQLS)
    cur.register(_MQLS, narrowed)
    try:
        yield cur, sql(_MQLS)
    finally:
        cur.unregister(_MQLS)
        cur.close()


def _earliest(view: View, since_after: date) -> date:
    """The first MQL date any window of the lead section counts: the period's, the one since
    the last call, the past periods' at the same point (every one ends by as-of)."""
    return min(view.period.start, since_after + timedelta(days=1),
               *(past.start for past, _ in same_points(view.period, view.as_of)))


def _relation(view: View, source: Sql) -> Sql:
    """The view's MQL leads, as of as-of, from `source` (`_reading`'s). Grain: one row per
    lead."""
    condition = lead_condition(view.filters)
    return sql(f"select * from {source} where {condition}", source, condition)  # noqa: S608


def _period_mqls(view: View, source: Sql) -> Sql:
    leads = _relation(view, source)
    return sql(f"select * from ({leads}) where mql_date between $mql_from and $mql_to",  # noqa: S608
               leads, **_window(view))


def _window(view: View) -> dict[str, date]:
    """The period up to as-of, as `$mql_from` and `$mql_to`."""
    return {"mql_from": view.period.start, "mql_to": min(view.period.end, view.as_of)}


def lead_pipeline(con: duckdb.DuckDBPyConnection, view: View, since: date | None = None,
                  held: pa.Table | str | None = None) -> LeadPipeline:
    """The report's lead numbers for the view; `since` is the last call (default as for
    movement: the latest snapshot a week or more before as-of); `held` is `mql_leads` for the
    view's lead snapshot when the caller holds it, or the stored table that holds it."""
    loaded, applies = leads_loaded(con), _applies(view)
    since_after, _ = generated_windows(con, view, since)
    if not (loaded and applies):
        return LeadPipeline(loaded, applies, _note(view, loaded, applies), since_after)
    with _reading(con, view, held, since_after) as (cur, source):
        return _summary(cur, source, view, since_after)


def _summary(cur: duckdb.DuckDBPyConnection, source: Sql, view: View, since_after: date,
             counted: tuple[int, int] | None = None,
             stats: _PeriodStats | None = None) -> LeadPipeline:
    """The view's lead numbers; `counted` (MQLs in the period, since the last call) and
    `stats` when the caller has them already (the Forecast call's comparison counts the first
    two on its way)."""
    if counted is None:
        leads = _relation(view, source)
        counted = cur.execute(*sql(
            f"""select count(*) filter (where mql_date between $mql_from and $mql_to),
                       count(*) filter (where mql_date > $since_after and mql_date <= $as_of)
                from ({leads})""", leads, since_after=since_after,  # noqa: S608
            as_of=view.as_of, **_window(view))).fetchall()[0]
    mql, mql_since = counted
    stats = stats or _period_stats(cur, source, view)
    mqls = _period_mqls(view, source)
    reasons = {reason: int(count) for reason, count in cur.execute(*sql(
        f"""select coalesce(nullif(trim(status_reason), ''), $no_reason) as reason, count(*)
            from ({mqls}) where list_contains($reason_groups, status_group)
            group by 1 order by 2 desc, 1""", mqls, no_reason=NO_REASON,  # noqa: S608
        reason_groups=list(REASON_GROUPS))).fetchall()}
    return LeadPipeline(True, True, _note(view, True, True), since_after, int(mql),
                        int(mql_since), stats.now, stats.pipeline, reasons)


@dataclass(frozen=True)
class _PeriodStats:
    """The period's MQLs in one pass: how many are in each status group now, the pipeline they
    converted to, and the funnel's counts and median days (as `Funnel`, less the MQLs)."""

    now: dict[str, int]
    pipeline: Measure
    accepted: int
    converted: int
    days: tuple[float | None, float | None, float | None]


def _period_stats(cur: duckdb.DuckDBPyConnection, source: Sql, view: View) -> _PeriodStats:
    """`_PeriodStats` for the view. Accepted on: the lead's acceptance date when the CRM has
    one, else the first lead snapshot (up to as-of) that saw it in an accepted status, or its
    conversion when that came first (a lead converted between two snapshots was accepted by
    then)."""
    mqls = _period_mqls(view, source)
    row = cur.execute(*sql(
        f"""with steps as (
                select *, coalesce(accepted_date, least(seen_accepted, converted_date))
                              as accepted_on,
                       accepted_date is not null or seen_accepted is not null
                           or accepted_status or converted_opportunity_id is not null
                           as reached_accepted
                from ({mqls}))
            select histogram(status_group), count(*) filter (where status_group is null),
                   coalesce(sum(deal_amount) filter (where deal_qualified), 0)::double,
                   count(*) filter (where deal_qualified),
                   count(*) filter (where reached_accepted),
                   count(*) filter (where converted_opportunity_id is not null),
                   median(greatest(datediff('day', mql_date, accepted_on), 0))
                       filter (where reached_accepted),
                   median(greatest(datediff('day', accepted_on, converted_date), 0))
                       filter (where converted_opportunity_id is not null),
                   median(greatest(datediff('day', mql_date, converted_date), 0))
                       filter (where converted_opportunity_id is not null)
            from steps""", mqls)).fetchall()[0]  # noqa: S608
    now = dict.fromkeys(LEAD_GROUPS, 0)
    now.update({group: int(count) for group, count in (row[0] or {}).items()})
    if row[1]:  # a status no group maps: counted apart, as a grouping by status group would
        now[None] = int(row[1])
    return _PeriodStats(now, Measure(float(row[2]), int(row[3])), int(row[4]), int(row[5]),
                        tuple(None if v is None else float(v) for v in row[6:9]))


def _pipeline_sql(mqls: Sql, select: str, tail: str = "") -> Sql:
    """The period's MQLs (alias l) converted to an opportunity that is qualified as of as-of,
    with that opportunity as it stands then (the lead's `deal_` columns)."""
    return sql(f"select {select} from ({mqls}) l where l.deal_qualified {tail}",  # noqa: S608
               mqls)


def lead_review(con: duckdb.DuckDBPyConnection, view: View, since: date | None = None,
                held: pa.Table | str | None = None) -> LeadReview:
    """The Forecast call's lead section for the view (`held` as for `lead_pipeline`)."""
    loaded, applies = leads_loaded(con), _applies(view)
    since_after, _ = generated_windows(con, view, since)
    if not (loaded and applies):
        summary = LeadPipeline(loaded, applies, _note(view, loaded, applies), since_after)
        return LeadReview(summary, pd.DataFrame(), {}, None, pd.DataFrame())
    with _reading(con, view, held, since_after) as (cur, source):
        comparison, past, counted = _comparison(cur, source, view, since_after)
        stats = _period_stats(cur, source, view)
        summary = _summary(cur, source, view, since_after, counted, stats)
        funnel = Funnel(summary.mql or 0, stats.accepted, stats.converted,
                        summary.pipeline.count, *stats.days)
        return LeadReview(summary, comparison, past, funnel, _deals(cur, source, view))


def same_points(period: Period, as_of: date, count: int = PAST_PERIODS
                ) -> list[tuple[Period, date]]:
    """The last `count` periods before `period`, each with the day at the same point of it as
    as-of is of `period` (capped at the period's end), most recent first."""
    elapsed = (min(as_of, period.end) - period.start).days
    points = []
    for k in range(1, count + 1):
        past = period.shift(-k)
        points.append((past, min(date.fromordinal(past.start.toordinal() + elapsed), past.end)))
    return points


def _comparison(cur: duckdb.DuckDBPyConnection, source: Sql, view: View, since_after: date
                ) -> tuple[pd.DataFrame, dict[str, int], tuple[int, int]]:
    """MQLs by source and by segment: this period to date, since the last call, and each of
    the last four periods at the same point, with their average; the past periods' totals; and
    (MQLs in the period, since the last call) over every lead of the view."""
    leads = _relation(view, source)
    points = same_points(view.period, view.as_of)
    params: dict[str, object] = {**_window(view), "since_after": since_after,
                                 "as_of": view.as_of}
    past_columns = []
    for k, (past, point) in enumerate(points):
        params[f"past_from_{k}"], params[f"past_to_{k}"] = past.start, point
        past_columns.append(f"count(*) filter (where mql_date between $past_from_{k} "
                            f"and $past_to_{k}) as past_{k}")
    # Every dimension in one pass over the leads (a grouping set each).
    label = " ".join(f"when grouping({c}) = 0 then '{name}'" for c, name in MQL_DIMENSIONS.items())
    value = " ".join(f"when grouping({c}) = 0 then {c}" for c in MQL_DIMENSIONS)
    sets = ", ".join(f"({c})" for c in MQL_DIMENSIONS) + ", ()"  # (): the view's totals
    frame = cur.execute(*sql(
        f"""select case {label} end as dimension, coalesce(case {value} end, $no_value) as value,
                   count(*) filter (where mql_date between $mql_from and $mql_to)
                       as this_period,
                   count(*) filter (where mql_date > $since_after and mql_date <= $as_of)
                       as since_last_call,
                   {', '.join(past_columns)}
            from ({leads}) group by grouping sets ({sets})""",  # noqa: S608 - constant columns
        leads, no_value=NO_VALUE, **params)).df()
    past_names = [f"past_{k}" for k in range(len(points))]
    total = frame["dimension"].isna()
    counted = ((int(frame.loc[total, "this_period"].sum()),
                int(frame.loc[total, "since_last_call"].sum())))
    frame = frame[~total]
    frame = frame[frame[["this_period", "since_last_call", *past_names]].sum(axis=1) > 0]
    frame["past_average"] = frame[past_names].mean(axis=1)
    labels = {f"past_{k}": p.label for k, (p, _) in enumerate(points)}
    totals = {labels[n]: int(frame.loc[frame.dimension == "Source", n].sum()) for n in past_names}
    frame = frame.rename(columns=labels).sort_values(["dimension", "this_period", "value"],
                                                    ascending=[True, False, True])
    for name in ("this_period", "since_last_call", *labels.values()):
        frame[name] = frame[name].astype("int64")
    return frame.reset_index(drop=True), totals, counted


def _deals(cur: duckdb.DuckDBPyConnection, source: Sql, view: View) -> pd.DataFrame:
    """The opportunities the period's MQLs generated (qualified as of as-of), largest first.
    Grain: one row per lead and opportunity, MAX_DEAL_ROWS at most."""
    mqls = _period_mqls(view, source)
    query = _pipeline_sql(
        mqls,
        """l.converted_opportunity_id as opportunity_id, l.deal_account_name as account_name,
           l.deal_name as name, l.deal_owner as owner, l.deal_stage as stage,
           l.deal_category as category, l.deal_amount::double as amount,
           l.deal_close_date as close_date, l.lead_id, l.lead_source, l.mql_date,
           l.converted_date""",
        "order by l.deal_amount desc, l.converted_opportunity_id limit $rows")
    frame = cur.execute(*sql(str(query.text), query, rows=MAX_DEAL_ROWS)).df()
    for column in ("close_date", "mql_date", "converted_date"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame

"""Cached calls into `sales`, one typed function per question a page asks.

Each function here is a `sales` function (or a small composition of them) with the connection
taken away: `coverage_by(view, "segment", settings)` runs `sales.coverage.coverage_by` on a
cursor of the app's connection. One cache policy serves them all (`_cached`): results are
keyed by (database path, data version, function, arguments), they are small (aggregates, or
one capped page of deals), and a new data version misses the cache, so every session sees an
import on its next interaction. Pages import these by name, so a typo fails at import.

Filter-free intermediates (the changed deals between two calls, first-qualified deals, facts
about every open deal, the coverage trend's events, the SMB history, the slips) are held per
data version and dates as Arrow tables shared by every session; the functions below filter
them for the view instead of reading the history again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import threading
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Concatenate, ParamSpec, TypeVar

import duckdb
import pandas as pd
import pyarrow as pa
import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from sales import (
    access,
    audit,
    backtest,
    callprep,
    calls,
    capacity,
    catalog,
    console,
    coverage,
    db,
    delivery,
    editors,
    explorer,
    followups,
    funnel,
    generated,
    hierarchy,
    inblood,
    lead_snapshots,
    leads,
    losses,
    movement,
    people_accuracy,
    people_calls,
    pivots,
    plan,
    precomputed,
    query,
    rates,
    report,
    rollup,
    slippage,
    smb,
    targets,
    team_rollup,
    team_view,
)
from sales import formatting as fmt
from sales import freshness as data_freshness
from sales.crm import sync as crm_sync
from sales.db import data_version
from sales.ingest import quality
from sales.settings import Settings
from sales.view import Filters, View
from ui.state import cache_path, database_path, held_state_version, reading, version

P = ParamSpec("P")
R = TypeVar("R")
Con = duckdb.DuckDBPyConnection
# Cached results across every session and function. A page asks ten or so questions per view,
# and a Monday morning's managers each keep a handful of views (their team, a segment, a
# region) on every page: a few hundred entries thrashed under load (bench/load.py), so the cache
# holds thousands. Entries are aggregates or one capped page of deals, so this is tens of MB.
CACHED_RESULTS = 4096


@st.cache_data(show_spinner=False, max_entries=CACHED_RESULTS)
def _fetch(path: str, data_version: int, key: str, arguments: str, _args: tuple,
           _kwargs: tuple, _function: Callable) -> object:
    # `arguments` is the arguments' fingerprint; the arguments themselves are passed unhashed.
    with reading() as cur:
        return _function(cur, *_args, **dict(_kwargs))


_FLAT = (str, int, float, bool, type(None), date, datetime, Decimal, Enum)


def fingerprint(value: object) -> str | None:
    """A string that is equal for equal arguments and differs for different ones, built from
    the plain values our questions take (views, filters, periods, settings, dates, tuples);
    None for anything else. Streamlit's own hashing of the same arguments walks them through
    pickle and was a tenth of a warm render (bench/load.py's profile)."""
    if isinstance(value, _FLAT):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, tuple | list | frozenset | set):
        items = [fingerprint(item) for item in value]
        if None in items:
            return None
        if isinstance(value, frozenset | set):
            items.sort()
        return f"{type(value).__name__}({','.join(items)})"
    if isinstance(value, dict):
        items = [(fingerprint(k), fingerprint(v)) for k, v in value.items()]
        if any(k is None or v is None for k, v in items):
            return None
        return "dict(" + ",".join(f"{k}={v}" for k, v in items) + ")"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [fingerprint(getattr(value, f.name)) for f in dataclasses.fields(value)]
        if None in fields:
            return None
        return f"{type(value).__qualname__}({','.join(fields)})"
    return None


def _cached(function: Callable[Concatenate[Con, P], R]) -> Callable[P, R]:
    """`function(con, ...)` as a function of its other arguments, run on the app's database and
    cached per data version (the function's qualified name keys its own entries)."""
    key = f"{function.__module__}.{function.__qualname__}"

    @functools.wraps(function)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        ordered = tuple(sorted(kwargs.items()))
        arguments = fingerprint((args, ordered))
        if arguments is None:  # an argument of another kind: let Streamlit hash it
            return _fetch_hashed(cache_path(), version(), key, args, ordered, function)
        return _fetch(cache_path(), version(), key, arguments, args, ordered,
                      function)  # type: ignore[return-value]

    return call


@st.cache_data(show_spinner=False, max_entries=CACHED_RESULTS)
def _fetch_hashed(path: str, data_version: int, key: str, args: tuple, kwargs: tuple,
                  _function: Callable) -> object:
    with reading() as cur:
        return _function(cur, *args, **dict(kwargs))


# --- Held intermediates -----------------------------------------------------------------------

# Six kinds, a few MB each (trend events ~16 MB at 1M deals): room for several as-of dates.
@st.cache_resource(show_spinner=False, max_entries=16)
def _held(path: str, data_version: int, key: str, args: tuple, _con: Con,
          _build: Callable[..., pa.Table]) -> pa.Table:
    # The default view's are in the file when an import or demo build stored them.
    stored = precomputed.load(_con, _build, args)
    return stored if stored is not None else _build(_con, *args)


def clear_held() -> None:
    _held.clear()


def _hold(con: Con, build: Callable[..., pa.Table | None], *args: object) -> pa.Table:
    """`build(con, *args)`, held for the data version: an immutable Arrow table that sessions
    share without a copy."""
    key = f"{build.__module__}.{build.__qualname__}"
    # The version read on this cursor: `version()` would open a second reader inside this one.
    return _held(cache_path(), (data_version(con), held_state_version()), key, args, con,
                 build)


def _facts(con: Con, view: View) -> pa.Table:
    """Pushes and days in stage of every deal open at the view's snapshot."""
    return _hold(con, slippage.open_deal_facts, query.snapshot_on_or_before(con, view.as_of),
                 view.period.fy_start_month)


def _smb_history(con: Con, view: View, settings: Settings,
                 parts: tuple[str, ...] = (smb.RATED_PART, smb.NEW_PART)) -> pa.Table:
    """The SMB history cube, each part held on its own (Coverage needs only the new pipeline,
    and the SMB forecast page then reuses it)."""
    count = settings.history_periods
    return pa.concat_tables([_hold(con, smb.history_cube, view.period, view.as_of, count, (part,))
                             for part in parts])


def _slips(con: Con, periods: list, as_of: date, filters: Filters) -> pd.DataFrame:
    """Slips per period through the filters, from the slips held for those periods."""
    return slippage.slipped_by_period(con, periods, as_of, filters,
                                      _hold(con, slippage.slips_cube, tuple(periods), as_of))


# --- Forecast ---------------------------------------------------------------------------------

headline = _cached(report.headline)
board_summary = _cached(inblood.board_summary)
call_history = _cached(calls.call_history)
call_diff = _cached(calls.call_diff)
gone_since_call = _cached(calls.gone_since_call)
call_export = _cached(calls.call_export)
track_record = _cached(backtest.track_record)
saved_call_on = _cached(callprep.saved_call_on)
last_call_choices = _cached(callprep.last_call_choices)
default_last_call = _cached(callprep.default_last_call)
bottom_up = _cached(smb.bottom_up)


def _board_page(con: Con, view: View, settings: Settings, call_id: int | None,
                where: inblood.BoardFilter | None = None, limit: int = 200, offset: int = 0
                ) -> tuple[pd.DataFrame, int]:
    return inblood.board_page(con, view, settings, call_id, where, limit, offset,
                              _facts(con, view))


def _board_members(con: Con, view: View, settings: Settings, call_id: int | None,
                   where: inblood.BoardFilter) -> pd.DataFrame:
    facts = _facts(con, view) if where.flags else None  # no flag asked: no history read
    return inblood.board_members(con, view, settings, call_id, where, facts)


board_page = _cached(_board_page)
board_members = _cached(_board_members)


def _call_prep(con: Con, view: View, since: date | None) -> callprep.CallPrep:
    """The forecast call for the view, from the changed deals held for its two dates."""
    win = movement.window(con, view.as_of, since)
    return callprep.prepare_call(con, view, since,
                                 _hold(con, movement.changed_deals, win.then_read, win.now_read),
                                 _facts(con, view))


def _pipeline_generated(con: Con, view: View, since: date | None) -> generated.Generated:
    """Pipeline generated for the view, from the first-qualified deals held for its windows."""
    first = generated.earliest_window(con, view, since)
    return generated.pipeline_generated(
        con, view, since, _hold(con, generated.first_qualified, first, view.as_of))


call_prep = _cached(_call_prep)
pipeline_generated = _cached(_pipeline_generated)


def _lead_review(con: Con, view: View, since: date | None) -> leads.LeadReview:
    """The lead pipeline for the view, from every MQL lead stored in the file for its lead
    snapshot (read in place: a million wide rows cost more to load than to query), else
    held for it."""
    if not leads.leads_loaded(con):
        return leads.lead_review(con, view, since, None)
    args = (lead_snapshots.lead_state_key(con, view.as_of), query.state_key(con, view.as_of))
    stored = precomputed.stored_table(con, leads.mql_leads, args)
    held = stored if stored is not None else _hold(con, leads.mql_leads, *args)
    return leads.lead_review(con, view, since, held)


lead_review = _cached(_lead_review)
open_follow_ups = _cached(followups.open_follow_ups)
closed_follow_ups = _cached(followups.closed_follow_ups)
follow_up_counts = _cached(followups.follow_up_counts)
follow_ups_export = _cached(followups.follow_ups_export)
follow_ups_of_call = _cached(followups.follow_ups_of_call)


def _smb_forecast(con: Con, view: View, settings: Settings) -> smb.SmbForecast:
    """The SMB weighted forecast for the view, from the past periods' amounts held for them."""
    return smb.smb_forecast(con, view, settings, _smb_history(con, view, settings))


smb_forecast = _cached(_smb_forecast)


board_report = _cached(report.board_report)
opportunity_count = _cached(db.opportunity_count)
# Above this many opportunities the board pack's report (every snapshot of five quarters: the
# same point of each, the track record, the slips) takes seconds, so the page prepares it when
# asked, with everyone viewing the same view sharing the result; below, it draws at once.
BOARD_PACK_ON_REQUEST_ABOVE = 200_000


@st.cache_resource(show_spinner=False)
def _prepared_packs() -> set:
    return set()


def board_pack_ready(view: View) -> bool:
    """Whether the pack for this view is drawn without asking: a small database, or a pack
    this process has already prepared for the view and data."""
    key = (cache_path(), version(), view)
    return key in _prepared_packs() or opportunity_count() <= BOARD_PACK_ON_REQUEST_ABOVE


def board_pack_prepared(view: View) -> None:
    prepared = _prepared_packs()
    if len(prepared) > 1024:  # views of older data versions: forget them all
        prepared.clear()
    prepared.add((cache_path(), version(), view))


# --- The people's calls: the hierarchy, each person's call, their team's roll-up --------------
# A submitted call is a write through `ui.state.writing`, which moves the data version on: the
# next render of every session misses these and shows it.

def _people_rollup(con: Con, view: View, settings: Settings
                   ) -> dict[str, team_rollup.PersonRollup]:
    """The roll-up of every person, from the amounts held for the view's period and date: a
    filter change sums them again, it never reads the deals (at the last call: the history)."""
    cube = _hold(con, team_rollup.amounts_cube, view.period, view.as_of)
    return team_rollup.team_rollup(con, view, settings, cube)


hierarchy_at = _cached(hierarchy.hierarchy_at)
people_rollup = _cached(_people_rollup)
calls_over_period = _cached(team_rollup.calls_over_period)
people_call_history = _cached(people_calls.people_call_history)
latest_people_calls = _cached(people_calls.latest_calls)


# --- Pipeline ---------------------------------------------------------------------------------

rollup_by = _cached(rollup.rollup_by)
cell_deals = _cached(pivots.cell_deals)


def _segment_targets(con: Con, view: View) -> dict[str, float]:
    """Segment targets for the period where they fit the view (`sales.targets.targets_fit`)."""
    return targets.view_targets(con, view.filters, view.period, "segment")


segment_targets = _cached(_segment_targets)


def _coverage_by(con: Con, view: View, dimension: str, settings: Settings
                 ) -> pd.DataFrame:
    """Coverage by a dimension; SMB-method rows take E from the history held for the view."""
    history = None
    if coverage.has_smb_rows(view.filters, dimension, settings):
        history = _smb_history(con, view, settings, (smb.NEW_PART,))
    return coverage.coverage_by(con, view, dimension, settings, history)


def _smb_monthly(con: Con, view: View, settings: Settings) -> pd.DataFrame:
    """SMB coverage month by month, each month's E from its own held history."""
    count = settings.history_periods
    histories = {m.label: _hold(con, smb.history_cube, m, view.as_of, count, (smb.NEW_PART,))
                 for m in view.period.months()}
    return coverage.smb_monthly(con, view, settings, histories)


def _coverage_trend(con: Con, view: View, settings: Settings) -> pd.DataFrame:
    """The coverage trend for the view, from the history's events held for its quarters."""
    quarters = coverage.trend_quarters(view)
    events = _hold(con, coverage.trend_events, quarters[0].start, quarters[-1].end,
                   view.period.fy_start_month)
    return coverage.coverage_trend(con, view, settings, events=events)


coverage_by = _cached(_coverage_by)
smb_monthly = _cached(_smb_monthly)
coverage_trend = _cached(_coverage_trend)
rep_annual_coverage = _cached(coverage.rep_annual_coverage)


# --- Diagnostics ------------------------------------------------------------------------------

def _rate_quarters(view: View) -> list:
    """The quarters the Rates page reads slips for: its trend's and its window's, in order."""
    trend = rates.trend_quarters(view.as_of, view.period.fy_start_month)
    window = rates.window_quarters(*rates.default_window(view.period), view.period.fy_start_month)
    return sorted({*trend, *window}, key=lambda q: q.start)


def _window_rates(con: Con, view: View) -> rates.WindowRates:
    """Close, win and slippage-adjusted rates over the view's default window, the slips read
    from those held for the Rates page's quarters."""
    start, end = rates.default_window(view.period)
    slips = _slips(con, _rate_quarters(view), view.as_of, view.filters)
    return rates.window_rates(con, start, end, view.as_of, view.filters,
                              view.period.fy_start_month, slips)


def _rates_trend(con: Con, view: View) -> pd.DataFrame:
    """Close, win and slippage-adjusted close rate per quarter of the Rates page's trend."""
    quarters = rates.trend_quarters(view.as_of, view.period.fy_start_month)
    slips = _slips(con, _rate_quarters(view), view.as_of, view.filters)
    return rates.with_slips(rates.rates_by_period(con, quarters, view.as_of, view.filters), slips)


def _capacity_plan(con: Con, view: View, settings: Settings
                   ) -> capacity.CapacityPlan:
    """Rep capacity over the view's default rates window."""
    start, end = rates.default_window(view.period)
    return capacity.capacity_for(con, start, end, view.as_of, view.filters, settings)


def _backtest_periods(view: View, kind: str) -> tuple:
    """The completed periods the Forecast accuracy page replays: four of `kind` before as-of."""
    return tuple(backtest.default_periods(view.as_of, view.period.fy_start_month, kind))


def _backtest_runs(con: Con, view: View, settings: Settings, kind: str,
                   by: str | None = None) -> dict[str | None, backtest.Backtest]:
    """The backtest of the view (or of each value of `by` within it), from the cube held for
    the periods and as-of: a filter change sums the cube again, it never reads the history."""
    periods = _backtest_periods(view, kind)
    count = settings.history_periods
    found = backtest.keys(query.snapshot_dates(con), list(periods), count)
    held = _hold(con, backtest.cube, periods, view.as_of, count)
    submitted = backtest.submissions_at(con, periods)
    scopes = backtest.call_scopes(con, periods)
    return {name: backtest.run(found, part, settings,
                               backtest.calls_at(con, periods, part.filters, scopes), submitted)
            for name, part in backtest.slices(con, held, view.filters, by).items()}


def _forecast_backtest(con: Con, view: View, settings: Settings, kind: str
                       ) -> backtest.Backtest:
    """Every forecast method at every week of the four completed periods before as-of."""
    return _backtest_runs(con, view, settings, kind)[None]


def _backtest_verdict(con: Con, view: View, settings: Settings, kind: str) -> str:
    """Which method wins when, per segment of the view, in one sentence for Streamlit's
    Markdown (the segment names escaped)."""
    return backtest.verdicts(_backtest_runs(con, view, settings, kind, "segment"),
                             escape=fmt.text)


def _people_accuracy(con: Con, view: View, kind: str) -> pd.DataFrame:
    """Who calls it right: each person's calls on the completed periods the Forecast accuracy
    page replays, against what their part of the hierarchy closed (`sales.team_view`)."""
    periods = _backtest_periods(view, kind)
    weeks = {p.label: [backtest.week_day(p, w) for w in range(1, backtest.week_count(p) + 1)]
             for p in periods}
    found = people_accuracy.people_accuracy(con, list(periods), view.as_of, view.filters, weeks)
    return team_view.accuracy_frame(found, hierarchy.hierarchy_at(con, view.as_of))


people_accuracy_frame = _cached(_people_accuracy)
forecast_backtest = _cached(_forecast_backtest)
backtest_verdict = _cached(_backtest_verdict)
window_rates = _cached(_window_rates)
rates_trend = _cached(_rates_trend)
rates_by = _cached(rates.rates_by)
outcomes = _cached(rates.outcomes)
capacity_plan = _cached(_capacity_plan)
funnel_stages = _cached(funnel.funnel)
velocity = _cached(funnel.velocity)


# --- Planning ---------------------------------------------------------------------------------

attainment = _cached(plan.attainment)


# --- Data -------------------------------------------------------------------------------------

filter_options = _cached(query.distinct_values)
access_grants = _cached(access.grants)
access_grant = _cached(access.grant_for)
access_scope = _cached(access.scope_for)
audit_trail = _cached(audit.trail)
last_syncs = _cached(crm_sync.last_syncs)
last_delivery_runs = _cached(delivery.last_runs)
crm_stage_probabilities = _cached(crm_sync.stage_probabilities)


def freshness() -> str:
    """What loaded the data last and how long ago. Not cached: "how long ago" moves on
    without new data, and it is one small query."""
    with reading() as cur:
        return data_freshness.freshness(cur)


summary = _cached(catalog.summary)
settings_frame = _cached(catalog.settings_frame)
stage_map_frame = _cached(catalog.stage_map_frame)
loss_reason_frame = _cached(catalog.loss_reason_frame)
unmapped_reasons = _cached(losses.unmapped_reasons)
quality_summary = _cached(quality.quality_summary)
quality_deals = _cached(quality.quality_deals)
explore_deals = _cached(explorer.explore)
explore_export = _cached(explorer.export_rows)
explorer_stages = _cached(explorer.stage_options)
schema_columns = _cached(console.schema_columns)
stage_map_table = _cached(editors.stage_map_table)
lead_status_table = _cached(editors.lead_status_table)
loss_reason_table = _cached(editors.loss_reason_table)
target_periods = _cached(editors.target_periods)
targets_table = _cached(editors.targets_table)
settings_form = _cached(editors.settings_form)


# --- The win-probability model (sales.winprob): never trained during a render -------------------


def _projection(con: Con, view: View, scores_stamp: int, last_call: date | None = None
                ) -> dict:
    """`scores_stamp` (sales.winprob.store.stamp) keys the cache on the files beside the
    database, so scores landing from the background are read at once; stale ones serve (with
    `refreshing` true) until then."""
    return report.projection_for(con, view, wait=False, last_call=last_call)


def _deal_scores(con: Con, view: View, scores_stamp: int, ids: tuple[str, ...]
                 ) -> tuple[pd.DataFrame, bool]:
    from sales.winprob import scores, store

    scored = store.scored_for(con, view.period, view.as_of, wait=False)
    return scores.deal_scores(view, scored, ids), bool(scored and not scored.fresh)


_projection_cached = _cached(_projection)
_deal_scores_cached = _cached(_deal_scores)


def projection(view: View, last_call: date | None = None) -> dict:
    """The report's `projection` keys for the view (eligible False with the reason while no
    scores are ready), with `at_last_call` when given the last call's date."""
    from sales.winprob.store import stamp

    return _projection_cached(view, stamp(database_path()), last_call)


def deal_scores(view: View, ids: tuple[str, ...]) -> tuple[pd.DataFrame, bool]:
    """The win % and factors of those of `ids` among the view's scored deals (empty without
    a model), and whether they are the previous scores while new ones are computed."""
    from sales.winprob.store import stamp

    return _deal_scores_cached(view, stamp(database_path()), tuple(ids))


def _projection_replay(con: Con, view: View, kind: str):
    """The projection replayed on the Forecast accuracy page's periods (sales.winprob.replay:
    one model per period, so half a minute and more: the page asks for it on a click)."""
    from sales.winprob.replay import replay

    return replay(con, list(_backtest_periods(view, kind)), view.as_of, view.filters)


projection_replay = _cached(_projection_replay)


# --- Asking ahead -----------------------------------------------------------------------------
# Measured on the Forecast call at 1,000,000 opportunities (12 filter changes, interleaved
# rounds on this 2-core machine): the re-render's median fell from 0.51–0.58 s to 0.41–0.45 s
# with the projection and the lead pipeline asked ahead, and to 0.39–0.42 s (against 0.42–0.50 s)
# with the pipeline generated and the in-blood board asked too, one after the other in a third
# thread; the first change after a render gained most (0.43–0.56 s against 0.53–0.66 s).

def ahead(*questions: Callable[[], object]) -> None:
    """Start a page's slow, independent questions now, each in a thread of this session, so
    their work overlaps the page's own: DuckDB's queries and numpy's draws let go of Python's
    lock, and the machine has more than one core. Their answers land in the shared caches
    above, where the page's own later call finds them (a call that arrives while one is still
    being computed waits for it rather than computing it twice). A question that fails here
    fails again, and is shown, where the page asks it."""
    context = get_script_run_ctx()  # the session's: its filters, its display currency
    for question in questions:
        thread = threading.Thread(target=_quietly, args=(question,), daemon=True,
                                  name="sales-ahead")
        add_script_run_ctx(thread, context)
        thread.start()


def _quietly(question: Callable[[], object]) -> None:
    # A failure is asked again by the page, which shows it.
    with contextlib.suppress(Exception):
        question()

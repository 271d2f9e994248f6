"""Cached calls into `sales`, keyed by (database path, data version, function, arguments).

Every query a page makes goes through `fetch`, so one cache policy serves them all: results
are small (aggregates, or one capped page of deals), and a new data version misses the cache,
so every session sees an import on its next interaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import duckdb
import pandas as pd
import pyarrow as pa
import streamlit as st

from sales import (
    accuracy,
    callprep,
    calls,
    capacity,
    catalog,
    console,
    coverage,
    deals,
    editors,
    explorer,
    funnel,
    inblood,
    losses,
    movement,
    pivots,
    plan,
    query,
    rates,
    report,
    rollup,
    slippage,
    smb,
    targets,
)
from sales.db import data_version
from sales.ingest import quality
from sales.view import View
from ui.state import database_path, reading, version


def _segment_targets(con: duckdb.DuckDBPyConnection, view: View) -> dict[str, float]:
    if set(view.filters.active()) - {"segment"}:
        return {}  # segment targets say nothing about a view cut by another dimension
    segments = list(view.filters.segment) or query.distinct_values(con, "segment")
    return targets.targets_by(con, view.period, "segment", segments)


# Filter-free intermediates the Forecast call, In-blood and Coverage pages keep while the
# manager changes filters: Arrow tables (immutable, so sessions share one without a copy), per
# data version and dates.
_HELD: dict[str, Callable] = {
    "changed_deals": movement.changed_deals,  # (then_read, now_read)
    "first_qualified": callprep.first_qualified,  # (first, as_of)
    "trend_events": coverage.trend_events,  # (first quarter's start, last quarter's end, fy)
    "open_deal_facts": slippage.open_deal_facts,  # (snapshot, fy)
    "smb_history": smb.history_cube,  # (period, as_of, history periods, parts)
    "slips": slippage.slips_cube,  # (periods, as_of)
}


# Six kinds, a few MB each (trend events ~16 MB at 1M deals): room for several as-of dates.
@st.cache_resource(show_spinner=False, max_entries=16)
def _held(path: str, data_version: int, name: str, args: tuple,
          _con: duckdb.DuckDBPyConnection) -> pa.Table:
    return _HELD[name](_con, *args)


def clear_held() -> None:
    _held.clear()


def _hold(con: duckdb.DuckDBPyConnection, name: str, *args: object) -> pa.Table:
    # The version read on this cursor: `version()` would open a second reader inside this one.
    return _held(database_path(), data_version(con), name, args, con)


def _facts(con: duckdb.DuckDBPyConnection, view: View) -> pa.Table:
    """Pushes and days in stage of every deal open at the view's snapshot, held."""
    return _hold(con, "open_deal_facts", query.snapshot_on_or_before(con, view.as_of),
                 view.period.fy_start_month)


def _call_prep(con: duckdb.DuckDBPyConnection, view: View, since: date | None
               ) -> callprep.CallPrep:
    """The forecast call for the view, from the changed deals held for its two dates."""
    win = movement.window(con, view.as_of, since)
    return callprep.prepare_call(con, view, since,
                                 _hold(con, "changed_deals", win.then_read, win.now_read),
                                 _facts(con, view))


def _smb_forecast(con: duckdb.DuckDBPyConnection, view: View, settings: dict[str, object]
                  ) -> smb.SmbForecast:
    """The SMB weighted forecast for the view, from the past periods' amounts held for them."""
    return smb.smb_forecast(con, view, settings, _smb_history(con, view, settings))


def _smb_history(con: duckdb.DuckDBPyConnection, view: View, settings: dict[str, object],
                 parts: tuple[str, ...] = (smb.RATED_PART, smb.NEW_PART)) -> pa.Table:
    """The SMB history cube, each part held on its own (Coverage needs only the new pipeline,
    and the SMB forecast page then reuses it)."""
    count = int(settings["history_periods"])
    return pa.concat_tables([_hold(con, "smb_history", view.period, view.as_of, count, (part,))
                             for part in parts])


def _coverage_by(con: duckdb.DuckDBPyConnection, view: View, dimension: str,
                 settings: dict[str, object]) -> pd.DataFrame:
    """Coverage by a dimension; SMB-method rows take E from the history held for the view."""
    history = None
    if coverage.has_smb_rows(view.filters, dimension, settings):
        history = _smb_history(con, view, settings, (smb.NEW_PART,))
    return coverage.coverage_by(con, view, dimension, settings, history)


def _slipped_by_period(con: duckdb.DuckDBPyConnection, periods: list, as_of: date,
                       filters: query.Filters) -> pd.DataFrame:
    """Slips per period through the filters, from the slips held for those periods."""
    return slippage.slipped_by_period(con, periods, as_of, filters,
                                      _hold(con, "slips", tuple(periods), as_of))


def _smb_monthly(con: duckdb.DuckDBPyConnection, view: View, settings: dict[str, object]
                 ) -> pd.DataFrame:
    """SMB coverage month by month, each month's E from its own held history."""
    count = int(settings["history_periods"])
    histories = {m.label: _hold(con, "smb_history", m, view.as_of, count, (smb.NEW_PART,))
                 for m in view.period.months()}
    return coverage.smb_monthly(con, view, settings, histories)


def _board_page(con: duckdb.DuckDBPyConnection, view: View, settings: dict[str, object],
                call_id: int | None, where: inblood.BoardFilter | None = None,
                limit: int = 200, offset: int = 0) -> tuple[pd.DataFrame, int]:
    return inblood.board_page(con, view, settings, call_id, where, limit, offset,
                              _facts(con, view))


def _board_members(con: duckdb.DuckDBPyConnection, view: View, settings: dict[str, object],
                   call_id: int | None, where: inblood.BoardFilter) -> pd.DataFrame:
    facts = _facts(con, view) if where.flags else None  # no flag asked: no history read
    return inblood.board_members(con, view, settings, call_id, where, facts)


def _pipeline_generated(con: duckdb.DuckDBPyConnection, view: View, since: date | None
                        ) -> callprep.Generated:
    """Pipeline generated for the view, from the first-qualified deals held for its window."""
    first = min(callprep.generated_windows(con, view, since))
    return callprep.pipeline_generated(con, view, since,
                                       _hold(con, "first_qualified", first, view.as_of))


def _coverage_trend(con: duckdb.DuckDBPyConnection, view: View, settings: dict[str, object]
                    ) -> pd.DataFrame:
    """The coverage trend for the view, from the history's events held for its quarters."""
    quarters = coverage.trend_quarters(view)
    events = _hold(con, "trend_events", quarters[0].start, quarters[-1].end,
                   view.period.fy_start_month)
    return coverage.coverage_trend(con, view, settings, events=events)


# The functions pages may call, by name: (connection, *args) → a small, picklable result.
_QUERIES: dict[str, Callable] = {
    # Forecast call, coverage and roll-up drill (issue #4)
    "call_prep": _call_prep,
    "last_call_choices": callprep.last_call_choices,
    "default_last_call": callprep.default_last_call,
    "pipeline_generated": _pipeline_generated,
    "saved_call_on": callprep.saved_call_on,
    "coverage_by": _coverage_by,
    "coverage_trend": _coverage_trend,
    "rep_annual_coverage": coverage.rep_annual_coverage,
    "smb_monthly": _smb_monthly,
    "cell_deals": pivots.cell_deals,
    "headline": report.build_report,
    "smb_forecast": _smb_forecast,
    "bottom_up": smb.bottom_up,
    "rollup_by": rollup.rollup_by,
    "filter_options": query.distinct_values,
    "segment_targets": _segment_targets,
    "period_deals": deals.period_deals,
    "rates_by_period": rates.rates_by_period,
    "rates_by": rates.rates_by,
    "pace": capacity.pace,
    "funnel": funnel.funnel,
    "velocity": funnel.velocity,
    "slipped_by_period": _slipped_by_period,
    "outcomes": rates.outcomes,
    "attainment": plan.attainment,
    "summary": catalog.summary,
    "settings_frame": catalog.settings_frame,
    "stage_map_frame": catalog.stage_map_frame,
    "loss_reason_frame": catalog.loss_reason_frame,
    "unmapped_reasons": losses.unmapped_reasons,
    "board_summary": inblood.board_summary,
    "board_page": _board_page,
    "board_members": _board_members,
    "call_history": calls.call_history,
    "call_diff": calls.call_diff,
    "gone_since_call": calls.gone_since_call,
    "call_export": calls.call_export,
    "accuracy": accuracy.accuracy,
    # Data section: data quality, deal explorer, schema, editors' tables.
    "quality_summary": quality.quality_summary,
    "quality_deals": quality.quality_deals,
    "explore_deals": explorer.explore,
    "explore_export": explorer.export_rows,
    "explorer_stages": explorer.stage_options,
    "schema_columns": console.schema_columns,
    "stage_map_table": editors.stage_map_table,
    "loss_reason_table": editors.loss_reason_table,
    "target_periods": editors.target_periods,
    "targets_table": editors.targets_table,
    "settings_form": editors.settings_form,
}


@st.cache_data(show_spinner=False, max_entries=256)
def _fetch(path: str, data_version: int, name: str, args: tuple, kwargs: tuple) -> object:
    with reading() as cur:
        return _QUERIES[name](cur, *args, **dict(kwargs))


def fetch(name: str, *args: object, **kwargs: object) -> object:
    """Run a named `sales` query for the current database and data version, cached."""
    return _fetch(database_path(), version(), name, args, tuple(sorted(kwargs.items())))


def headline(view: View) -> dict:
    """The same numbers `python -m sales report` prints, for the view."""
    return fetch("headline", view)


def filter_options(dimension: str) -> list[str]:
    return fetch("filter_options", dimension)


def category_table(headline_report: dict) -> pd.DataFrame:
    return report.categories_frame(headline_report)

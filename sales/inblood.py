"""The in-blood number and upside (SPEC item 8), from a saved call or the default rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from sales.rollup import deals_in_period
from sales.stages import BEST_CASE, COMMIT, OPEN_CATEGORIES, PIPELINE
from sales.view import View

DEFAULT_RULES = "default rules"


@dataclass(frozen=True)
class InBlood:
    """Grain: the view's period. number = closed won + included; upside = excluded Commit and
    Best Case; the forecast range is [number, number + upside]."""

    number: float
    upside: float
    closed_won: float
    included: float
    source: str
    call_id: int | None = None

    @property
    def range_high(self) -> float:
        return self.number + self.upside


def default_includes(settings: dict[str, object]) -> dict[str, bool]:
    """Category → included by default (settings: Commit in, Best Case out, Pipeline out)."""
    return {COMMIT: bool(settings["inblood_include_commit"]),
            BEST_CASE: bool(settings["inblood_include_best_case"]),
            PIPELINE: bool(settings["inblood_include_pipeline"])}


def latest_call(con: duckdb.DuckDBPyConnection, view: View) -> tuple[int, datetime] | None:
    """The newest call saved for this period and filter scope on or before the as-of date."""
    return con.cursor().execute(
        """select call_id, saved_at from forecast_calls
           where period = ? and scope = ? and call_date <= ?
           order by saved_at desc, call_id desc limit 1""",
        [view.period.label, view.filters.scope_key(), view.as_of],
    ).fetchone()


def call_source(saved_at: datetime) -> str:
    return f"saved call {saved_at.isoformat(sep=' ', timespec='seconds')}"


def in_blood(con: duckdb.DuckDBPyConnection, view: View, settings: dict[str, object],
             use_saved_call: bool = True) -> InBlood:
    """In-blood number and upside for the view: the latest saved call's decisions (deals new
    since then at their defaults), or the default rules when there is no call or when asked."""
    call = latest_call(con, view) if use_saved_call else None
    defaults = default_includes(settings)
    deals, params = deals_in_period(con, view)
    row = con.cursor().execute(
        f"""with deals as ({deals}),
            decisions as (select opportunity_id, included from forecast_call_decisions
                          where call_id = ?),
            open_deals as (
                select d.category, d.amount,
                       coalesce(x.included, case d.category when 'Commit' then ?
                                                           when 'Best Case' then ?
                                                           else ? end) as included
                from deals d left join decisions x using (opportunity_id)
                where d.category in (?, ?, ?))
            select (select coalesce(sum(amount), 0) from deals where category = 'Closed'),
                   coalesce(sum(amount) filter (where included), 0),
                   coalesce(sum(amount) filter (where not included
                                                and category in ('Commit', 'Best Case')), 0)
            from open_deals""",  # noqa: S608
        params + [call[0] if call else None, defaults[COMMIT], defaults[BEST_CASE],
                  defaults[PIPELINE], *OPEN_CATEGORIES],
    ).fetchone()
    closed_won, included, upside = (float(v) for v in row)
    return InBlood(closed_won + included, upside, closed_won, included,
                   call_source(call[1]) if call else DEFAULT_RULES, call[0] if call else None)

"""The SMB weighted forecast (SPEC item 7) and top-down against bottom-up.

Small deals are too many to settle one by one, so the SMB method forecasts from history:

    forecast = Closed + r_Commit·Commit + r_BestCase·BestCase + r_Pipeline·Pipeline + r_new·E

The category amounts are the open, qualified deals in the period as of A. The rates come from
the last K completed periods Q (setting `history_periods`), each seen at the same offset as
today, R_Q = Q.start + (A − P.start) days (capped at Q.end): r_C is the final amount of the
deals that stood in C closing in Q at R_Q and were won in Q, over their amount at R_Q. E, the
pipeline still to be created, is the mean over those periods of E_Q — the qualified deals
created after R_Q that closed (or were due to close) in Q, at their amount at Q's end — and
r_new the share of that amount that was won. A period without a snapshot between its start and
R_Q is skipped; a term with no history amount uses the fallback rate from settings (E = 0 when
no period could be read), and says so.

Outcomes are read from the state as of A, so "won in Q" is what we know today.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb
import pandas as pd
import pyarrow as pa

from sales.periods import Period
from sales.query import (
    DESCRIPTIVE_FILTERS,
    REPORT_CATEGORY_SQL,
    deals_sql,
    snapshot_dates,
    state_key,
)
from sales.rollup import category_rollup
from sales.stages import BEST_CASE, CLOSED, COMMIT, PIPELINE
from sales.view import View

RATED = (COMMIT, BEST_CASE, PIPELINE)
NEW = "New pipeline"
FALLBACK_SETTINGS = {COMMIT: "fallback_rate_commit", BEST_CASE: "fallback_rate_best_case",
                     PIPELINE: "fallback_rate_pipeline", NEW: "fallback_rate_new"}
HISTORY, FALLBACK = "history", "fallback"
SANDBAGGING, HAPPY_EARS, IN_LINE = "sandbagging?", "happy ears?", "in line"


def weighted_forecast(closed: float, amounts: dict[str, float], rates: dict[str, float],
                      expected_new: float) -> float:
    """Closed + Σ r_C·C over Commit, Best Case and Pipeline + r_new·E."""
    return closed + sum(rates[c] * amounts[c] for c in RATED) + rates[NEW] * expected_new


@dataclass(frozen=True)
class Term:
    """One term of the forecast: what stands (or is expected) now, its rate and where the rate
    came from (HISTORY or FALLBACK)."""

    name: str
    amount: float
    rate: float
    source: str

    @property
    def value(self) -> float:
        return self.amount * self.rate


@dataclass(frozen=True)
class SmbForecast:
    """The weighted forecast for a view. Grain: the view's period at its as-of date.

    `history` has one row per completed period looked at: period, r_day (R_Q), used, and per
    rated category the amount at R_Q and what of it was won (`<category>_then`,
    `<category>_won`), new_amount (E_Q) and new_won."""

    closed: float
    terms: tuple[Term, ...]
    expected_new: float
    history: pd.DataFrame = field(compare=False)

    @property
    def total(self) -> float:
        terms = {t.name: t for t in self.terms}
        return weighted_forecast(self.closed, {c: terms[c].amount for c in RATED},
                                 {name: t.rate for name, t in terms.items()},
                                 terms[NEW].amount)

    @property
    def periods_used(self) -> int:
        return int(self.history["used"].sum()) if len(self.history) else 0

    @property
    def uses_fallback(self) -> bool:
        return any(t.source == FALLBACK for t in self.terms)


def history_periods(view: View, count: int) -> list[tuple[Period, date]]:
    """The `count` completed periods before the view's, oldest first, each with R_Q."""
    return [(q, q.same_offset(view.as_of, view.period)) for q in view.period.previous(count)]


def smb_forecast(con: duckdb.DuckDBPyConnection, view: View, settings: dict[str, object],
                 history: pa.Table | None = None) -> SmbForecast:
    """The SMB weighted forecast for the view (its filters as they are: the page narrows them to
    the SMB-method segments). `history` is `history_cube` for the view's period, as-of and
    `history_periods`, when the caller holds it; it does not depend on the filters."""
    count = int(settings["history_periods"])
    if history is None:
        history = history_cube(con, view.period, view.as_of, count)
    rollup = category_rollup(con, view)
    table = _per_period(con, view, count, view.filters.keep(history.to_pandas()))
    used = table[table["used"]]
    terms = []
    for category in RATED:
        then, won = float(used[f"{category}_then"].sum()), float(used[f"{category}_won"].sum())
        terms.append(_term(category, rollup[category].amount, won, then, settings))
    expected = float(used["new_amount"].mean()) if len(used) else 0.0
    new_then, new_won = float(used["new_amount"].sum()), float(used["new_won"].sum())
    terms.append(_term(NEW, expected, new_won, new_then, settings))
    return SmbForecast(rollup[CLOSED].amount, tuple(terms), expected, table)


def _term(name: str, amount: float, won: float, then: float, settings: dict[str, object]
          ) -> Term:
    if then > 0:
        return Term(name, amount, won / then, HISTORY)
    return Term(name, amount, float(settings[FALLBACK_SETTINGS[name]]), FALLBACK)


def _readable(con: duckdb.DuckDBPyConnection, period: Period, as_of: date, count: int
              ) -> list[tuple[Period, date, date | None, date | None]]:
    """The history periods with R_Q, the snapshot read at R_Q (None: the period is skipped, no
    snapshot between its start and R_Q) and the one at the period's end."""
    dates = snapshot_dates(con)
    found = []
    for q, r_day in history_periods(View(period, as_of), count):
        snap_r = max((s for s in dates if q.start <= s <= r_day), default=None)
        snap_end = max((s for s in dates if q.start <= s <= q.end), default=None)
        found.append((q, r_day, snap_r, snap_end))
    return found


RATED_PART, NEW_PART = "rated", "new"


def history_cube_sql(con: duckdb.DuckDBPyConnection, period: Period, as_of: date, count: int,
                     parts: tuple[str, ...] = (RATED_PART, NEW_PART)) -> tuple[str, list]:
    """What every rate and E are made of, for every view at once.

    Grain: one row per (period Q, kind, segment, region, team, type, channel, owner). Kind is
    the category a deal stood in at R_Q (Commit, Best Case or Pipeline: open, qualified,
    closing in Q) or NEW (qualified, created after R_Q, closing in Q at Q's end). Columns:
    then_amount (at R_Q, or at Q's end for NEW) and won_amount (what of it was won in Q, read
    at A). Owner is the deal's owner then, as a filtered view reads it. `parts` picks the
    rated kinds, the new pipeline or both (the Coverage page needs only E).
    """
    periods = [(q.label, q.start, q.end, r_day, snap_r, snap_end)
               for q, r_day, snap_r, snap_end in _readable(con, period, as_of, count)
               if snap_r is not None]
    if not periods:
        periods = [("", date.min, date.min, date.min, date.min, date.min)]  # reads nothing
    now, now_params = deals_sql(state_key(con, as_of))
    rows = ", ".join("(?, ?::date, ?::date, ?::date, ?::date, ?::date)" for _ in periods)
    dimensions = ", ".join(f"o.{c} as {c}" for c in DESCRIPTIVE_FILTERS)
    sql = f"""
        with periods(period, q_start, q_end, r_day, snap_r, snap_end) as (values {rows}),
        outcome as (select opportunity_id, won, close_date, amount from ({now}) n),
        rated as (
            select p.period, {REPORT_CATEGORY_SQL} as kind, s.opportunity_id, s.owner,
                   s.amount as then_amount, p.q_start, p.q_end
            from opportunity_history s
            join periods p on s.valid_from <= p.snap_r
                          and (s.valid_to is null or s.valid_to > p.snap_r)
            left join stage_map m on m.stage = s.stage
            where s.close_date between p.q_start and p.q_end
              and coalesce(m.qualified, true) and not coalesce(m.closed, false)),
        created as (
            select p.period, '{NEW}' as kind, s.opportunity_id, s.owner,
                   s.amount as then_amount, p.q_start, p.q_end
            from opportunity_history s
            join periods p on s.valid_from <= p.snap_end
                          and (s.valid_to is null or s.valid_to > p.snap_end)
            join opportunities c on c.opportunity_id = s.opportunity_id
            left join stage_map m on m.stage = s.stage
            where s.close_date between p.q_start and p.q_end
              and coalesce(m.qualified, true) and c.created_date > p.r_day),
        counted as ({" union all ".join(_PART_SQL[part] for part in parts)})
        select b.period, b.kind, {dimensions}, b.owner,
               sum(b.then_amount)::double as then_amount,
               coalesce(sum(n.amount) filter (where n.won and n.close_date between b.q_start
                                                                         and b.q_end), 0)::double
                   as won_amount
        from counted b left join opportunities o using (opportunity_id)
        left join outcome n using (opportunity_id)
        group by all
    """  # noqa: S608 - fixed SQL and allow-listed columns; values are bound
    return sql, [x for row in periods for x in row] + now_params


_PART_SQL = {
    RATED_PART: "select * from rated where kind in ('Commit', 'Best Case', 'Pipeline')",
    NEW_PART: "select * from created",
}


def history_cube(con: duckdb.DuckDBPyConnection, period: Period, as_of: date, count: int,
                 parts: tuple[str, ...] = (RATED_PART, NEW_PART)) -> pa.Table:
    """`history_cube_sql` read into an Arrow table (a few thousand rows) for a cache to hold."""
    sql, params = history_cube_sql(con, period, as_of, count, parts)
    return con.cursor().sql(sql, params=params).to_arrow_table()


def _per_period(con: duckdb.DuckDBPyConnection, view: View, count: int, rows: pd.DataFrame
                ) -> pd.DataFrame:
    """Per completed period: whether it was read, and the amounts behind every rate."""
    columns = ["period", "r_day", "used", *[f"{c}_{x}" for c in RATED for x in ("then", "won")],
               "new_amount", "new_won"]
    sums = rows.groupby(["period", "kind"])[["then_amount", "won_amount"]].sum()
    records = []
    for q, r_day, snap_r, _ in _readable(con, view.period, view.as_of, count):
        record = {"period": q.label, "r_day": r_day, "used": snap_r is not None}
        for kind, then_key, won_key in [*((c, f"{c}_then", f"{c}_won") for c in RATED),
                                        (NEW, "new_amount", "new_won")]:
            then, won = (sums.loc[(q.label, kind)] if (q.label, kind) in sums.index
                         else (0.0, 0.0))
            record[then_key], record[won_key] = float(then), float(won)
        records.append(record)
    return pd.DataFrame(records, columns=columns)


@dataclass(frozen=True)
class BottomUp:
    """The reps' own numbers for the period: each owner's latest submission on or before A,
    summed over the owners of the view's deals. Grain: the view's period."""

    forecast: float
    upside: float
    owners: int


def bottom_up(con: duckdb.DuckDBPyConnection, view: View) -> BottomUp | None:
    """None when no owner in the view has submitted for the period."""
    owners_sql, params = "", []
    if view.filters.active():  # the owners whose deals the view shows
        deals, params = deals_sql(state_key(con, view.as_of), view.filters)
        owners_sql = (f"and owner in (select owner from ({deals}) d "  # noqa: S608 - fixed SQL
                      "where close_date between ? and ?)")
        params += [view.period.start, view.period.end]
    forecast, upside, owners = con.cursor().execute(
        f"""with latest as (
                select owner, forecast, upside from submissions
                where period = ? and submitted_date <= ?
                qualify row_number() over (partition by owner order by submitted_date desc) = 1)
            select sum(forecast)::double, sum(upside)::double, count(*) from latest
            where true {owners_sql}""",  # noqa: S608 - fixed SQL; values are bound
        [view.period.label, view.as_of, *params]).fetchall()[0]
    return BottomUp(forecast or 0.0, upside or 0.0, int(owners)) if owners else None


def bottom_up_share(bottom: float, top: float) -> float | None:
    """Bottom-up as a share of top-down; None without a top-down number."""
    return bottom / top if top > 0 else None


def compare(bottom: float, top: float, settings: dict[str, object]) -> str:
    """Bottom-up against top-down: well below hints at sandbagging, well above at happy ears
    (bands in settings)."""
    share = bottom_up_share(bottom, top)
    if share is None:
        return IN_LINE if bottom <= 0 else HAPPY_EARS
    share = round(share, 9)
    if share < float(settings["sandbagging_band"]):
        return SANDBAGGING
    return HAPPY_EARS if share > float(settings["happy_ears_band"]) else IN_LINE


def expected_new_by(con: duckdb.DuckDBPyConnection, view: View, count: int,
                    history: pa.Table, dimension: str) -> dict[str, float]:
    """E (the pipeline still to be created in the period) per value of a filter dimension,
    within the view: the mean over the readable past periods of what was created after R_Q and
    due in Q. Values with none are left out (their E is 0)."""
    used = sum(snap_r is not None for _, _, snap_r, _ in
               _readable(con, view.period, view.as_of, count))
    if not used:
        return {}
    rows = view.filters.keep(history.to_pandas())
    new = rows[rows["kind"] == NEW]
    return {value: float(total) / used
            for value, total in new.groupby(dimension)["then_amount"].sum().items()}

"""The SMB weighted forecast (docs/metrics.md#7-smb-weighted-forecast) and top-down against bottom-up.

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

The range around the forecast (low, high) takes each rated term at the lowest and the highest
of its per-period rates: how far the answer moves if this period converts like the worst or
the best of the ones it learns from.

Outcomes are read from the state as of A, so "won in Q" is what we know today.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

import duckdb
import pandas as pd
import pyarrow as pa

from sales.periods import Period
from sales.query import (
    DESCRIPTIVE_FILTERS,
    KNOWN_DEALS,
    deals_sql,
    report_category_sql,
    snapshot_dates,
    state_key,
)
from sales.rollup import category_rollup, deals_in_period
from sales.settings import Settings
from sales.snapshots import standing_sql
from sales.sql import rows_sql, sql
from sales.stages import BEST_CASE, CLOSED, COMMIT, OPEN_CATEGORIES, PIPELINE, stage_flag_sql
from sales.view import View, ratio

NEW = "New pipeline"
# The report's key for each term (`smb_forecast.<key>`).
TERM_KEYS = {COMMIT: "commit", BEST_CASE: "best_case", PIPELINE: "pipeline", NEW: "new_pipeline"}
HISTORY, FALLBACK = "history", "fallback"
SANDBAGGING, HAPPY_EARS, IN_LINE = "sandbagging?", "happy ears?", "in line"
SUBMISSIONS, IN_BLOOD = "submissions", "in-blood number"


def fallback_rates(settings: Settings) -> dict[str, float]:
    """Each term's conversion rate when its history has no amount (the `fallback_rate_*` settings)."""
    return {COMMIT: settings.fallback_rate_commit, BEST_CASE: settings.fallback_rate_best_case,
            PIPELINE: settings.fallback_rate_pipeline, NEW: settings.fallback_rate_new}


def smb_segments(settings: Settings) -> tuple[str, ...]:
    """Segments the settings put on the SMB method (comma-separated `smb_method_segments`)."""
    return tuple(s.strip() for s in settings.smb_method_segments.split(",") if s.strip())


def smb_view(view: View, settings: Settings) -> View | None:
    """The view narrowed to its segments on the SMB method (the SMB forecast page's and the
    SMB coverage's subject); None when the view holds none of them."""
    chosen = [s for s in smb_segments(settings)
              if not view.filters.segment or s in view.filters.segment]
    if not chosen:
        return None
    return replace(view, filters=replace(view.filters, segment=tuple(chosen)))


def weighted_forecast(closed: float, amounts: dict[str, float], rates: dict[str, float],
                      expected_new: float) -> float:
    """Closed + Σ r_C·C over Commit, Best Case and Pipeline + r_new·E."""
    return closed + sum(rates[c] * amounts[c] for c in OPEN_CATEGORIES) + rates[NEW] * expected_new


@dataclass(frozen=True)
class Term:
    """One term of the forecast: what stands (or is expected) now, its rate and where the rate
    came from (HISTORY or FALLBACK), and the lowest and highest per-period rate behind it (the
    rate itself on a fallback)."""

    name: str
    amount: float
    rate: float
    source: str
    low_rate: float
    high_rate: float

    @property
    def value(self) -> float:
        return self.amount * self.rate

    def as_report(self) -> dict[str, object]:
        return {"amount": self.amount, "rate": self.rate, "value": self.value,
                "source": self.source}


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

    def term(self, name: str) -> Term:
        return next(t for t in self.terms if t.name == name)

    def _total(self, rate: str) -> float:
        rates = {t.name: getattr(t, rate) for t in self.terms}
        rates[NEW] = self.term(NEW).rate  # the new pipeline's term is not ranged
        return weighted_forecast(self.closed, {c: self.term(c).amount for c in OPEN_CATEGORIES},
                                 rates, self.term(NEW).amount)

    @property
    def total(self) -> float:
        return self._total("rate")

    @property
    def low(self) -> float:
        """The forecast with each rated term at its lowest per-period rate."""
        return self._total("low_rate")

    @property
    def high(self) -> float:
        """The forecast with each rated term at its highest per-period rate."""
        return self._total("high_rate")

    @property
    def periods_used(self) -> int:
        return int(self.history["used"].sum()) if len(self.history) else 0

    @property
    def uses_fallback(self) -> bool:
        return any(t.source == FALLBACK for t in self.terms)

    def against(self, target: float | None, in_blood: float) -> dict[str, float | None]:
        """The forecast against the view's target (its share, and the gap still to the target;
        None without one) and against the in-blood number (in-blood minus forecast)."""
        return {"share_of_target": ratio(self.total, target),
                "gap_to_target": None if target is None else target - self.total,
                "in_blood_difference": in_blood - self.total}

    def terms_frame(self) -> pd.DataFrame:
        """The terms as a table. Grain: one row per term. Columns: term, amount, rate, low_rate,
        high_rate, source, forecast (amount × rate)."""
        return pd.DataFrame([{"term": t.name, "amount": t.amount, "rate": t.rate,
                              "low_rate": t.low_rate, "high_rate": t.high_rate,
                              "source": t.source, "forecast": t.value} for t in self.terms])

    def levels(self) -> pd.DataFrame:
        """The forecast as a waterfall: Closed, each term's value, the total.

        Grain: one row per bar. Columns: label (with the term's rate), amount, measure
        ('absolute' for Closed, 'relative' for the terms, 'total' for the forecast)."""
        rows = [(CLOSED, self.closed, "absolute")]
        rows += [(f"{'New' if t.name == NEW else t.name} × {t.rate:.0%}", t.value, "relative")
                 for t in self.terms]
        rows.append(("Forecast", self.total, "total"))
        return pd.DataFrame(rows, columns=["label", "amount", "measure"])

    def as_report(self) -> dict[str, object]:
        """The report's `smb_forecast` keys."""
        return {"total": self.total, "low": self.low, "high": self.high, "closed": self.closed,
                "fallback_used": self.uses_fallback, "periods_used": self.periods_used,
                **{TERM_KEYS[t.name]: t.as_report() for t in self.terms}}


def history_periods(view: View, count: int) -> list[tuple[Period, date]]:
    """The `count` completed periods before the view's, oldest first, each with R_Q."""
    return [(q, q.same_offset(view.as_of, view.period)) for q in view.period.previous(count)]


def smb_forecast(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
                 history: pa.Table | None = None) -> SmbForecast:
    """The SMB weighted forecast for the view as filtered (`smb_view` narrows a view to the
    SMB-method segments, as the SMB forecast page does). `history` is `history_cube` for the
    view's period, as-of and `history_periods`, when the caller holds it; it does not depend on
    the filters."""
    count = settings.history_periods
    if history is None:
        history = history_cube(con, view.period, view.as_of, count)
    rollup = category_rollup(con, view)
    table = _per_period(con, view, count, view.filters.keep(history.to_pandas()))
    used = table[table["used"]]
    terms = [_term(c, rollup[c].amount, used[f"{c}_then"], used[f"{c}_won"], settings)
             for c in OPEN_CATEGORIES]
    expected = float(used["new_amount"].mean()) if len(used) else 0.0
    terms.append(_term(NEW, expected, used["new_amount"], used["new_won"], settings))
    return SmbForecast(rollup[CLOSED].amount, tuple(terms), expected, table)


def _term(name: str, amount: float, then: pd.Series, won: pd.Series,
          settings: Settings) -> Term:
    """A term's rate pooled over the periods used, and its range over those that had an
    amount in the category at R_Q; the fallback rate from settings without any."""
    total_then = float(then.sum())
    if total_then <= 0:
        rate = fallback_rates(settings)[name]
        return Term(name, amount, rate, FALLBACK, rate, rate)
    per_period = (won[then > 0] / then[then > 0]).astype(float)
    return Term(name, amount, float(won.sum()) / total_then, HISTORY,
                float(per_period.min()), float(per_period.max()))


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
                     parts: tuple[str, ...] = (RATED_PART, NEW_PART)):
    """What every rate and E are made of, for every view at once.

    Grain: one row per (period Q, kind, segment, region, team, type, channel, owner). Kind is
    the category a deal stood in at R_Q (Commit, Best Case or Pipeline: open, qualified,
    closing in Q) or NEW (qualified, created after R_Q, closing in Q at Q's end). Columns:
    then_amount (at R_Q, or at Q's end for NEW) and won_amount (what of it was won in Q, read
    at A). Owner is the deal's owner then, as a filtered view reads it; the other dimensions
    are the deal's (as it last was, for a deal deleted since). `parts` picks the rated kinds,
    the new pipeline or both (the Coverage page needs only E).
    """
    periods = [{"period": q.label, "q_start": q.start, "q_end": q.end, "r_day": r_day,
                "snap_r": snap_r, "snap_end": snap_end}
               for q, r_day, snap_r, snap_end in _readable(con, period, as_of, count)
               if snap_r is not None]
    if not periods:  # reads nothing
        periods = [{"period": "", "q_start": date.min, "q_end": date.min, "r_day": date.min,
                    "snap_r": date.min, "snap_end": date.min}]
    now = deals_sql(state_key(con, as_of))
    inline = rows_sql("smb_periods", periods)
    dimensions = ", ".join(f"o.{c} as {c}" for c in DESCRIPTIVE_FILTERS)
    chosen = " union all ".join(_PART_SQL[part] for part in parts)
    return sql(f"""
        with periods as (select * from {inline}),
        outcome as (select opportunity_id, won, close_date, amount from ({now}) n),
        rated as (
            select p.period, {report_category_sql()} as kind, s.opportunity_id, s.owner,
                   s.amount as then_amount, p.q_start, p.q_end
            from opportunity_history s
            join periods p on {standing_sql("p.snap_r", "s")}
            left join stage_map m on m.stage = s.stage
            where s.close_date between p.q_start and p.q_end
              and {stage_flag_sql('qualified')} and not {stage_flag_sql('closed')}),
        created as (
            select p.period, $new_kind as kind, s.opportunity_id, s.owner,
                   s.amount as then_amount, p.q_start, p.q_end
            from opportunity_history s
            join periods p on {standing_sql("p.snap_end", "s")}
            join {KNOWN_DEALS} c on c.opportunity_id = s.opportunity_id
            left join stage_map m on m.stage = s.stage
            where s.close_date between p.q_start and p.q_end
              and {stage_flag_sql('qualified')} and c.created_date > p.r_day),
        counted as ({chosen})
        select b.period, b.kind, {dimensions}, b.owner,
               sum(b.then_amount)::double as then_amount,
               coalesce(sum(n.amount) filter (where n.won and n.close_date between b.q_start
                                                                         and b.q_end), 0)::double
                   as won_amount
        from counted b left join {KNOWN_DEALS} o using (opportunity_id)
        left join outcome n using (opportunity_id)
        group by all
    """, now, inline, new_kind=NEW,  # noqa: S608 - fixed SQL and allow-listed columns
               **({"open_categories": list(OPEN_CATEGORIES)} if RATED_PART in parts else {}))


_PART_SQL = {
    RATED_PART: "select * from rated where list_contains($open_categories, kind)",
    NEW_PART: "select * from created",
}


def history_cube(con: duckdb.DuckDBPyConnection, period: Period, as_of: date, count: int,
                 parts: tuple[str, ...] = (RATED_PART, NEW_PART)) -> pa.Table:
    """`history_cube_sql` read into an Arrow table (a few thousand rows) for a cache to hold."""
    query = history_cube_sql(con, period, as_of, count, parts)
    return con.cursor().sql(query.text, params=dict(query.params)).to_arrow_table()


def _per_period(con: duckdb.DuckDBPyConnection, view: View, count: int, rows: pd.DataFrame
                ) -> pd.DataFrame:
    """Per completed period: whether it was read, and the amounts behind every rate."""
    columns = ["period", "r_day", "used",
               *[f"{c}_{x}" for c in OPEN_CATEGORIES for x in ("then", "won")],
               "new_amount", "new_won"]
    sums = rows.groupby(["period", "kind"])[["then_amount", "won_amount"]].sum()
    records = []
    for q, r_day, snap_r, _ in _readable(con, view.period, view.as_of, count):
        record = {"period": q.label, "r_day": r_day, "used": snap_r is not None}
        for kind, then_key, won_key in [*((c, f"{c}_then", f"{c}_won") for c in OPEN_CATEGORIES),
                                        (NEW, "new_amount", "new_won")]:
            then, won = (sums.loc[(q.label, kind)] if (q.label, kind) in sums.index
                         else (0.0, 0.0))
            record[then_key], record[won_key] = float(then), float(won)
        records.append(record)
    return pd.DataFrame(records, columns=columns)


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


@dataclass(frozen=True)
class BottomUp:
    """The reps' own numbers for the period: each rep's latest call (`sales.people_calls`)
    submitted by the end of A, summed over the owners of the view's deals. A manager's call
    is their team's number, so people with direct reports in the hierarchy at A are left out
    (without a hierarchy every caller counts). Grain: the view's period."""

    forecast: float
    upside: float
    owners: int


# The people who had someone reporting to them at the end of `$as_of`: their calls are their
# team's numbers, not a rep's own (the bottom-up and the backtest's `submissions` skip them).
MANAGERS_AT = """select manager from memberships
                 where manager is not null and valid_from <= {day}
                   and (valid_to is null or valid_to > {day})"""


def bottom_up(con: duckdb.DuckDBPyConnection, view: View) -> BottomUp | None:
    """None when no rep in the view has a call for the period."""
    owners = "true"
    parts = []
    if view.filters.active():  # the owners whose deals the view shows
        deals = deals_in_period(con, view)
        owners, parts = f"owner in (select owner from ({deals}) d)", [deals]  # noqa: S608
    managers = MANAGERS_AT.format(day="$as_of")
    forecast, upside, count = con.cursor().execute(*sql(
        f"""with latest as (
                select user_name as owner, forecast, upside from people_calls
                where period = $period and submitted_at < $as_of + interval 1 day
                  and user_name not in ({managers})
                qualify row_number() over (partition by user_name
                                           order by submitted_at desc, call_id desc) = 1)
            select sum(forecast)::double, sum(upside)::double, count(*) from latest
            where {owners}""",  # noqa: S608 - fixed SQL; values are bound
        *parts, period=view.period.label, as_of=view.as_of)).fetchall()[0]
    return BottomUp(forecast or 0.0, upside or 0.0, int(count)) if count else None


def bottom_up_share(bottom: float, top: float) -> float | None:
    """Bottom-up as a share of top-down; None without a top-down number."""
    return bottom / top if top > 0 else None


def compare(bottom: float, top: float, settings: Settings) -> str:
    """Bottom-up against top-down: well below hints at sandbagging, well above at happy ears
    (bands in settings)."""
    share = bottom_up_share(bottom, top)
    if share is None:
        return IN_LINE if bottom <= 0 else HAPPY_EARS
    share = round(share, 9)
    if share < settings.sandbagging_band:
        return SANDBAGGING
    return HAPPY_EARS if share > settings.happy_ears_band else IN_LINE


@dataclass(frozen=True)
class TopDownBottomUp:
    """The weighted forecast (top-down) against the reps' numbers (bottom-up): their latest
    submissions, or the in-blood number when nobody in the view has submitted."""

    top_down: float
    bottom_up: float
    source: str  # SUBMISSIONS or IN_BLOOD
    owners: int  # reps whose submissions count (0 for the in-blood number)
    share: float | None
    verdict: str

    def as_report(self) -> dict[str, object]:
        return {"top_down": self.top_down, "bottom_up": self.bottom_up, "source": self.source,
                "owners": self.owners, "share": self.share, "verdict": self.verdict}


def top_down_bottom_up(forecast: SmbForecast, submitted: BottomUp | None, in_blood: float,
                       settings: Settings) -> TopDownBottomUp:
    """Top-down against bottom-up, with the bottom-up's fallback to the in-blood number."""
    if submitted is None:
        value, source, owners = in_blood, IN_BLOOD, 0
    else:
        value, source, owners = submitted.forecast, SUBMISSIONS, submitted.owners
    return TopDownBottomUp(forecast.total, value, source, owners,
                           bottom_up_share(value, forecast.total),
                           compare(value, forecast.total, settings))

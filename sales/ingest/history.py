"""A Salesforce OpportunityHistory export (or any change log: deal, when, stage, category,
amount, close date) rebuilt into snapshots.

Each day on which something changed becomes a snapshot date, and a deal's state on that day is
its last change of the day; so the stored intervals are exactly the CRM's history. A log
without an owner column (Salesforce's OpportunityHistory has none) gives pictures each deal's
current owner from the opportunities table; one with owners (a CRM sync's rebuilt history,
from the owner changes the CRM tracks) keeps the owner of each moment.

How it meets what is already stored: snapshots taken by full exports after the log's last day
are kept (the log ends there; the exports carry on), everything up to the log's last day is
replaced by the log, and the latest snapshot still equals the opportunities table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from sales.currency import CurrencyError, convert_sql, version_sql
from sales.ingest.formats import amount_problem, number_format, read_dates
from sales.ingest.headers import HISTORY, check_required, report_repeated, resolve
from sales.ingest.mapping import Mapping
from sales.ingest.opportunities import suggest_stage_line
from sales.ingest.readers import Source
from sales.ingest.reference import Reference
from sales.ingest.validate import ERROR, Findings
from sales.ingest.values import POINT, clean_text, fold_value, parse_amounts, parse_categories, parse_flags
from sales.snapshots import (
    CURRENCY_COLUMNS,
    SAME_STATE_AS_PREVIOUS,
    STATE_COLUMNS,
    record_snapshot,
)


@dataclass
class PreparedHistory:
    source: Source
    columns: dict[str, str]
    ignored: list[str]
    frame: pd.DataFrame
    deleted: int
    stage_suggestions: list[str]


def prepare(source: Source, reference: Reference, mapping: Mapping | None,
            findings: Findings) -> PreparedHistory | None:
    """Check a change log; None when its columns are unusable (the findings say why)."""
    explicit = mapping.column_map if mapping else None
    columns, ignored, _ = resolve(source.headers, HISTORY, explicit, strict=False)
    if not check_required(source.name, HISTORY, columns, findings,
                          "a history file needs the deal, the time of the change and the stage"):
        return None
    report_repeated(source.name, source.headers, columns, explicit, findings)
    raw = source.frame
    deleted = (parse_flags(raw[columns["is_deleted"]]).fillna(False).to_numpy(dtype=bool)
               if "is_deleted" in columns else pd.Series(False, index=raw.index).to_numpy())
    if deleted.any():
        raw = raw[~deleted]
    frame = pd.DataFrame(index=raw.index)
    frame["opportunity_id"] = clean_text(raw[columns["opportunity_id"]])
    frame["stage"] = clean_text(raw[columns["stage"]])
    header = columns["opportunity_id"]
    findings.add(ERROR, "missing_id", source.name, header, "the opportunity id is empty",
                 "every change belongs to a deal; fill in its id or delete the row",
                 frame["opportunity_id"].isna().to_numpy(), frame["opportunity_id"])
    findings.add(ERROR, "missing_stage", source.name, columns["stage"], "the stage is empty",
                 "every change records the deal's stage", frame["stage"].isna().to_numpy(),
                 frame["stage"])
    when = raw[columns["changed_at"]]
    frame["day"] = read_dates(source.name, columns["changed_at"], when, mapping, findings,
                              "write dates as YYYY-MM-DD or YYYY-MM-DD hh:mm:ss", required=True)
    # Order within a day: the time of the change, then the CRM's row id, then the file's order.
    frame["moment"] = pd.to_datetime(clean_text(when), format="ISO8601", errors="coerce")
    frame["row_id"] = clean_text(raw[columns["row_id"]]) if "row_id" in columns else pd.NA
    frame["file_row"] = raw.index.to_numpy()
    if "forecast_category" in columns:
        categories, bad = parse_categories(raw[columns["forecast_category"]],
                                           dict(mapping.categories) if mapping else None)
        findings.add(ERROR, "bad_category", source.name, columns["forecast_category"],
                     "not a forecast category we know", "use Pipeline, Best Case, Commit, "
                     "Closed or Omitted, or map the value in the mapping file's [categories]",
                     bad, raw[columns["forecast_category"]])
        frame["forecast_category"] = categories
    else:
        frame["forecast_category"] = pd.Series(pd.NA, index=raw.index, dtype="string")
    if "amount" in columns:
        decimal = number_format(source, [columns["amount"]], mapping, findings) or POINT
        amount, bad = parse_amounts(raw[columns["amount"]], decimal)
        findings.add(ERROR, "bad_amount", source.name, columns["amount"],
                     *amount_problem(decimal), bad, raw[columns["amount"]])
        findings.add(ERROR, "negative_amount", source.name, columns["amount"],
                     "the amount is negative", "a deal's value is 0 or more",
                     (amount < 0).to_numpy(), raw[columns["amount"]])
        frame["amount"] = amount.fillna(0.0)
    else:
        frame["amount"] = 0.0
    if "close_date" in columns:
        frame["close_date"] = read_dates(source.name, columns["close_date"],
                                         raw[columns["close_date"]], mapping, findings,
                                         "write dates as YYYY-MM-DD")
    else:
        frame["close_date"] = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[s]")
    frame["owner"] = (clean_text(raw[columns["owner"]]) if "owner" in columns
                      else pd.Series(pd.NA, index=raw.index, dtype="string"))
    frame["currency"] = (clean_text(raw[columns["currency"]]).str.upper() if "currency" in columns
                         else pd.Series(pd.NA, index=raw.index, dtype="string"))
    suggestions = _check_stages(source, columns, frame, raw, reference, findings)
    return PreparedHistory(source, columns, ignored, frame, int(deleted.sum()), suggestions)


def _check_stages(source: Source, columns: dict[str, str], frame: pd.DataFrame,
                  raw: pd.DataFrame, reference: Reference, findings: Findings) -> list[str]:
    stage_map = reference.stage_map
    stages = frame["stage"]
    unknown = stages.notna() & ~stages.isin(list(stage_map))
    known = {fold_value(s): s for s in stage_map}
    lines = []
    for name in sorted(stages[unknown].unique()):
        mask = (stages == name).to_numpy()
        line = suggest_stage_line(name, frame.loc[mask], raw.loc[mask], columns)
        lines.append(line)
        near = known.get(fold_value(name))
        fix = (f'the stage map has "{near}": fix the spelling, or add this stage' if near else
               "add it to the mapping file's [stages] (check the category and flags), or on "
               "the Data › Maps page")
        findings.add(ERROR, "unknown_stage", source.name, columns["stage"],
                     f'stage "{name}" is not in the stage map', f"{fix}:\n[stages]\n{line}",
                     mask, stages)
    return lines


_NEW_INTERVALS = """
with last_per_day as (
    select opportunity_id, day, stage, forecast_category, amount, close_date, owner, currency
    from import_changes
    qualify row_number() over (partition by opportunity_id, day
                               order by moment desc nulls last, row_id desc nulls last,
                                        file_row desc) = 1
),
original as (
    -- A log's amounts are in the deal's currency (its own column, else the deal's now).
    select l.opportunity_id, l.day, l.stage,
           coalesce(l.forecast_category, m.forecast_category) as forecast_category,
           l.amount::decimal(18, 2) as amount_original, l.close_date::date as close_date,
           coalesce(l.owner, o.owner) as owner,
           coalesce(l.currency, o.currency, $corporate) as currency
    from last_per_day l
    left join opportunities o using (opportunity_id)
    left join stage_map m on m.stage = l.stage
),
states as (
    -- Each row converts at its own close date (docs/data-model.md#currencies).
    select opportunity_id, day, stage, forecast_category,
           ({convert})::decimal(18, 2) as amount, close_date, owner, amount_original, currency
    from original
),
marked as (
    select *, case when {same_state} then 0 else 1 end as starts_run
    from states
    window w as (partition by opportunity_id order by day)
),
runs as (
    select *, sum(starts_run) over (partition by opportunity_id order by day) as run from marked
),
collapsed as (
    select opportunity_id, min(day) as valid_from, any_value(stage) as stage,
           any_value(forecast_category) as forecast_category, any_value(amount) as amount,
           any_value(close_date) as close_date, any_value(owner) as owner,
           any_value(amount_original) as amount_original, any_value(currency) as currency
    from runs group by opportunity_id, run
)
select opportunity_id, valid_from,
       coalesce(lead(valid_from) over (partition by opportunity_id order by valid_from),
                $kept_from::date) as valid_to,
       stage, forecast_category, amount, close_date, owner, amount_original, currency
from collapsed
"""

# Stretches that meet (one ends the day the next begins) with the same state become one, so
# the history stays canonical where the log meets the kept snapshots.
_MERGED = """
with marked as (
    select *, case when lag(valid_to) over w = valid_from and {same_state}
                   then 0 else 1 end as starts_run
    from combined_history
    window w as (partition by opportunity_id order by valid_from)
),
runs as (
    select *, sum(starts_run) over (partition by opportunity_id order by valid_from) as run
    from marked
)
select opportunity_id, min(valid_from) as valid_from,
       arg_max_null(valid_to, valid_from) as valid_to, any_value(stage) as stage,
       any_value(forecast_category) as forecast_category, any_value(amount) as amount,
       any_value(close_date) as close_date, any_value(owner) as owner,
       any_value(amount_original) as amount_original, any_value(currency) as currency
from runs group by opportunity_id, run
order by opportunity_id, valid_from
"""
_NEW_INTERVALS = (_NEW_INTERVALS.replace("{same_state}", SAME_STATE_AS_PREVIOUS)
                  .replace("{convert}", convert_sql("amount_original", "currency", "close_date",
                                                    version_sql("$as_of::date"))))
_MERGED = _MERGED.replace("{same_state}", SAME_STATE_AS_PREVIOUS)


def write(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, as_of: date | None,
          reference: Reference) -> str:
    """Rebuild the snapshots up to the log's last day from the log; returns what was done."""
    if frame.empty:
        return "nothing to rebuild (no changes)"
    last_day = frame["day"].max().date()
    kept = [r[0] for r in con.execute(
        "select snapshot_date from snapshot_dates where snapshot_date > ? order by 1",
        [last_day]).fetchall()]
    kept_from = kept[0] if kept else None
    con.register("import_changes", frame[["opportunity_id", "day", "moment", "row_id",
                                          "file_row", "stage", "forecast_category", "amount",
                                          "close_date", "owner", "currency"]])
    try:
        con.execute(f"create or replace temp table new_history as {_NEW_INTERVALS}",  # noqa: S608
                    {"kept_from": kept_from, "corporate": reference.corporate,
                     "as_of": as_of or last_day})
    finally:
        con.unregister("import_changes")
    _refuse_unconverted(con)
    con.execute("""
        create or replace temp table combined_history as
        select * from new_history
        union all
        select opportunity_id, greatest(valid_from, $kept_from::date) as valid_from, valid_to,
               stage, forecast_category, amount, close_date, owner, amount_original, currency
        from opportunity_history
        where $kept_from::date is not null and (valid_to is null or valid_to > $kept_from::date)
    """, {"kept_from": kept_from})
    con.execute("delete from opportunity_history")
    con.execute(f"insert into opportunity_history {_MERGED}")  # noqa: S608 - fixed text
    days = sorted({d.date() for d in frame["day"].dropna()})
    con.execute("delete from snapshot_dates where snapshot_date <= ?", [last_day])
    con.execute("insert into snapshot_dates select unnest(?::date[])", [days])
    con.execute("drop table new_history")
    con.execute("drop table combined_history")
    done = f"{len(days):,} snapshot date(s) from {days[0]} to {days[-1]}"
    if not kept and reference.opportunities:
        done += "; " + _current_state_on_top(con, max(as_of or last_day, last_day), last_day)
    return done


def _refuse_unconverted(con: duckdb.DuckDBPyConnection) -> None:
    """An amount in a currency without a rate stops the import (nothing is written)."""
    missing = [row[0] for row in con.execute(
        """select distinct currency from new_history
           where amount is null and amount_original is not null order by 1""").fetchall()]
    if missing:
        raise CurrencyError(f"no rate for {', '.join(missing)} (history amounts in "
                            f"{', '.join(missing)}): import the rates with `import FILE --kind "
                            "currency_rates` or sync them from the CRM; nothing was imported")


def _current_state_on_top(con: duckdb.DuckDBPyConnection, day: date, last_day: date) -> str:
    """Keep "the latest snapshot equals the opportunities table": record the table as the
    picture of `day` (the log's last day, or a later --as-of)."""
    state = con.execute(f"select {', '.join(STATE_COLUMNS + CURRENCY_COLUMNS)} "  # noqa: S608
                        "from opportunities").df()
    record_snapshot(con, day, state)
    return f"the current deals recorded as the snapshot of {day}"

"""A full opportunity export: check every row, then make it the current state and its snapshot.

Everything here works on whole columns at once (a 100,000-row export is a handful of vector
operations), and nothing touches the database until every check has passed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import duckdb
import pandas as pd

from sales.currency import is_code
from sales.deal_types import DEAL_TYPES
from sales.departed import remember, replace_current
from sales.ingest.enrich import Joined, enrich
from sales.ingest.formats import amount_problem, number_format, read_dates
from sales.ingest.headers import (
    ACCOUNTS,
    OPPORTUNITIES,
    OWNERS,
    check_required,
    expected_headers,
    report_repeated,
    resolve,
)
from sales.ingest.mapping import Mapping
from sales.ingest.readers import Source
from sales.ingest.reference import Reference
from sales.ingest.validate import ERROR, WARNING, Findings
from sales.ingest.values import (
    POINT,
    clean_text,
    fold_value,
    parse_amounts,
    parse_categories,
    parse_flags,
    parse_types,
    parse_whole_numbers,
)
from sales.losses import reclassify_losses
from sales.segments import fill_segments
from sales.snapshots import CURRENCY_COLUMNS, STATE_COLUMNS, record_snapshot
from sales.stages import CLOSED, OMITTED, PIPELINE

# The opportunities table's columns, in its order (loss_class is derived after the write).
TABLE_COLUMNS = ("opportunity_id", "name", "account_name", "account_employees", "segment",
                 "region", "team", "owner", "type", "channel", "stage", "forecast_category",
                 "amount", "close_date", "created_date", "sales_accepted_date", "lost_reason",
                 "competitor", "loss_class", "renewal_risk", "next_step", "lead_source",
                 "amount_original", "currency")
_DATES = ("close_date", "created_date", "sales_accepted_date")
_TEXT = ("opportunity_id", "name", "account_id", "account_name", "segment", "region", "team",
         "owner", "type", "channel", "stage", "forecast_category", "lost_reason", "competitor",
         "renewal_risk", "next_step", "lead_source")
_DATE_FIX = "write dates as YYYY-MM-DD (or set date_format in the mapping file, e.g. \"%d/%m/%Y\")"


@dataclass
class Prepared:
    """An export checked and shaped as the opportunities table (rows that failed are left out
    only with --skip-invalid; otherwise any error rejects the import)."""

    source: Source
    columns: dict[str, str]
    ignored: list[str]
    frame: pd.DataFrame
    joins: list[Joined] = field(default_factory=list)
    stage_suggestions: list[str] = field(default_factory=list)


def prepare(source: Source, reference: Reference, mapping: Mapping | None, as_of: date,
            findings: Findings, accounts: Source | None = None,
            owners: Source | None = None) -> Prepared | None:
    """Check an export and shape it as the opportunities table; None when its columns are
    unusable (the findings say why)."""
    explicit = mapping.column_map if mapping else None
    columns, ignored, missing = resolve(source.headers, OPPORTUNITIES, explicit)
    if not _usable(source, columns, missing, findings):
        return None
    report_repeated(source.name, source.headers, columns, explicit, findings)
    raw = source.frame
    deals = pd.DataFrame(index=raw.index)
    for canonical in _TEXT:
        if canonical in columns:
            deals[canonical] = clean_text(raw[columns[canonical]])
    _check_ids(source, columns, deals, findings)
    dates = _parse_dates(source, columns, mapping, findings)
    money = [columns[c] for c in ("amount", "amount_converted") if c in columns]
    decimal = number_format(source, money, mapping, findings)
    amount = _parse_amount(source, columns, decimal or POINT, findings)
    amount, original, currency = convert_amounts(source, columns, amount, dates["close_date"],
                                                 decimal or POINT, reference, findings)
    deals["account_employees"] = _parse_employees(source, columns, decimal, findings)
    deals["forecast_category"] = _parse_category(source, columns, mapping, findings)
    if "type" in columns:
        deals["type"] = _parse_type(source, columns, mapping, findings)
    joins = []
    for extra, kind in ((accounts, ACCOUNTS), (owners, OWNERS)):
        if extra is not None:
            spec = getattr(mapping, kind, None) if mapping else None
            joined = enrich(deals, raw, extra, kind, spec, findings, source.name)
            if joined:
                joins.append(joined)
    stage_map = reference.stage_map
    suggestions = _check_stages(source, columns, deals, stage_map, findings)
    flags = _stage_flags(deals["stage"], stage_map)
    _check_outcomes(source, columns, deals, dates, amount, flags, reference, as_of, findings)
    frame = _shape(deals, dates, amount, stage_map)
    frame["amount_original"], frame["currency"] = original, currency
    if "probability" in columns:
        frame["probability"] = _parse_probability(source, columns["probability"], findings)
    return Prepared(source, columns, ignored, frame, joins, suggestions)


def _usable(source: Source, columns: dict[str, str], missing: list[str],
            findings: Findings) -> bool:
    for line in missing:
        findings.add(ERROR, "mapping_header", source.name, None,
                     f"the mapping line {line} names a header this file does not have",
                     f"use one of its headers: {', '.join(source.headers)}")
    found = check_required(source.name, OPPORTUNITIES, columns, findings,
                           'name it in a mapping file: [columns] {canonical} = "Your header"')
    return not missing and found


def _check_ids(source: Source, columns: dict[str, str], deals: pd.DataFrame,
               findings: Findings) -> None:
    ids = deals["opportunity_id"]
    header = columns["opportunity_id"]
    findings.add(ERROR, "missing_id", source.name, header, "the opportunity id is empty",
                 "every row needs the CRM's opportunity id; fill it in or delete the row",
                 ids.isna().to_numpy(), ids)
    duplicated = (ids.duplicated(keep=False) & ids.notna()).to_numpy()
    findings.add(ERROR, "duplicate_id", source.name, header,
                 "the same opportunity id is on more than one row",
                 "a full export lists each deal once; remove the repeated rows", duplicated, ids)
    findings.add(ERROR, "missing_stage", source.name, columns["stage"], "the stage is empty",
                 "every deal needs its CRM stage", deals["stage"].isna().to_numpy(),
                 deals["stage"])


def _parse_dates(source: Source, columns: dict[str, str], mapping: Mapping | None,
                 findings: Findings) -> dict[str, pd.Series]:
    dates = {}
    for canonical in _DATES:
        if canonical not in columns:
            dates[canonical] = pd.Series(pd.NaT, index=source.frame.index, dtype="datetime64[s]")
            continue
        header = columns[canonical]
        dates[canonical] = read_dates(source.name, header, source.frame[header], mapping,
                                      findings, _DATE_FIX)
    return dates


def _parse_amount(source: Source, columns: dict[str, str], decimal: str,
                  findings: Findings) -> pd.Series:
    if "amount" not in columns:
        findings.add(WARNING, "no_amount_column", source.name, None,
                     f"no amount column (looked for {expected_headers(OPPORTUNITIES, 'amount')});"
                     " every deal counts as 0", 'name it in a mapping file: [columns] amount = '
                     '"Your header"')
        return pd.Series(0.0, index=source.frame.index)
    header = columns["amount"]
    values = source.frame[header]
    amount, bad = parse_amounts(values, decimal)
    findings.add(ERROR, "bad_amount", source.name, header, *amount_problem(decimal), bad, values)
    findings.add(ERROR, "negative_amount", source.name, header, "the amount is negative",
                 "a deal's value is 0 or more; fix the amount in the CRM or leave the row out",
                 (amount < 0).to_numpy(), values)
    findings.add(WARNING, "missing_amount", source.name, header,
                 "the amount is empty; the deal counts as 0",
                 "fill in the deal's value in the CRM if it has one",
                 (amount.isna().to_numpy() & ~bad), values)
    return amount.fillna(0.0)


def convert_amounts(source: Source, columns: dict[str, str], amount: pd.Series,
                    close: pd.Series, decimal: str, reference: Reference, findings: Findings
                    ) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(amount in the corporate currency, the amount as the file gives it, its currency) per
    deal (docs/import.md#currencies): the export's converted column wins; else the currency
    column's amounts convert at the rate table by close date; a file without a currency
    column is in the corporate currency. A currency without a rate is an error naming it."""
    corporate = reference.corporate
    raw = source.frame
    if "currency" in columns:
        codes = clean_text(raw[columns["currency"]]).str.upper().fillna(corporate)
        findings.add(ERROR, "bad_currency", source.name, columns["currency"],
                     "not a currency code", "write the ISO 4217 code: three letters, e.g. EUR",
                     ~codes.str.fullmatch("[A-Z]{3}").fillna(False).to_numpy(dtype=bool),
                     raw[columns["currency"]])
    else:
        codes = pd.Series(corporate, index=raw.index, dtype="string")
        others = [c for c in reference.rates.codes() if c != corporate]
        if others or "amount_converted" in columns:
            known = f" (rates for {', '.join(others)} are known)" if others else ""
            findings.add(WARNING, "no_currency_column", source.name, None,
                         f"no currency column: every amount is read as {corporate}, the "
                         f"corporate currency{known}",
                         "export the deal's currency (Opportunity Currency, CurrencyIsoCode) "
                         "with the amount if the deals are in several currencies")
    converted = pd.Series(float("nan"), index=raw.index)
    if "amount_converted" in columns:
        header = columns["amount_converted"]
        converted, bad = parse_amounts(raw[header], decimal)
        findings.add(ERROR, "bad_amount", source.name, header, *amount_problem(decimal), bad,
                     raw[header])
        if "amount" not in columns:
            amount = converted.fillna(0.0)
    corporate_amount = converted.where(converted.notna(), amount.where(codes == corporate))
    pending = (corporate_amount.isna() & (codes != corporate)).to_numpy(dtype=bool)
    if pending.any():
        rated = _at_rates(amount[pending], codes[pending], close[pending], reference)
        corporate_amount[pending] = rated.to_numpy()
        for code in sorted(codes[pending][rated.isna()].dropna().unique()):
            if not is_code(code):
                continue  # reported above
            mask = pending & (codes == code).to_numpy(dtype=bool)
            mask &= corporate_amount.isna().to_numpy()
            findings.add(ERROR, "no_rate", source.name, columns["currency"],
                         f"amount in {code}, which has no rate (and no converted amount)",
                         f"import the rates (`import RATES.csv --kind currency_rates` with "
                         f"iso_code,start_date,rate, a rate of {code} per one {corporate}), sync "
                         "them from the CRM, or export the \"Amount (converted)\" column",
                         mask, codes)
    return corporate_amount.fillna(0.0), amount, codes.astype(object)


def _at_rates(amount: pd.Series, codes: pd.Series, close: pd.Series,
              reference: Reference) -> pd.Series:
    """Each amount converted at the rate table by its close date (NaN without a rate)."""
    table, corporate = reference.rates, reference.corporate
    out = []
    for value, code, day in zip(amount, codes, close, strict=True):
        when = None if pd.isna(day) else day.date()
        result = None if pd.isna(value) else table.convert(value, code, corporate, when)
        out.append(float("nan") if result is None else float(result))
    return pd.Series(out, index=amount.index, dtype="float64")


def _parse_employees(source: Source, columns: dict[str, str], decimal: str | None,
                     findings: Findings) -> pd.Series:
    if "account_employees" not in columns:
        return pd.Series(pd.NA, index=source.frame.index, dtype="Int64")
    header = columns["account_employees"]
    numbers, bad = parse_whole_numbers(source.frame[header], decimal)
    findings.add(ERROR, "bad_employees", source.name, header, "not a whole number of employees",
                 "write a count such as 1200, or leave the cell empty", bad, source.frame[header])
    return numbers


def _parse_category(source: Source, columns: dict[str, str], mapping: Mapping | None,
                    findings: Findings) -> pd.Series:
    if "forecast_category" not in columns:
        return pd.Series(pd.NA, index=source.frame.index, dtype="string")
    header = columns["forecast_category"]
    categories, bad = parse_categories(source.frame[header],
                                       dict(mapping.categories) if mapping else None)
    findings.add(ERROR, "bad_category", source.name, header, "not a forecast category we know",
                 "use Pipeline, Best Case, Commit, Closed or Omitted, or map the value in the "
                 "mapping file's [categories]", bad, source.frame[header])
    return categories


def _parse_type(source: Source, columns: dict[str, str], mapping: Mapping | None,
                findings: Findings) -> pd.Series:
    header = columns["type"]
    types, unknown = parse_types(source.frame[header], dict(mapping.types) if mapping else None)
    findings.add(WARNING, "unknown_type", source.name, header,
                 f"not a deal type we know ({', '.join(DEAL_TYPES)}); kept as written, and the "
                 "forecast call reviews it with New & Expansion",
                 'map it in the mapping file\'s [types], e.g. "Existing Business" = "Expansion"',
                 unknown, source.frame[header])
    return types


def _check_stages(source: Source, columns: dict[str, str], deals: pd.DataFrame,
                  stage_map: dict, findings: Findings) -> list[str]:
    """One error per stage the stage map does not know, with the mapping line to add."""
    stages = deals["stage"]
    unknown = stages.notna() & ~stages.isin(list(stage_map))
    suggestions = []
    if not unknown.any():
        return suggestions
    folded_known = {fold_value(s): s for s in stage_map}
    for name in sorted(stages[unknown].unique()):
        mask = (stages == name).to_numpy()
        line = suggest_stage_line(name, deals.loc[mask], source.frame.loc[mask], columns)
        suggestions.append(line)
        near = folded_known.get(fold_value(name))
        fix = (f'the stage map has "{near}": fix the spelling in the file, or add this stage'
               if near else "add it to the mapping file's [stages] (check the category and flags)"
               ", or add it on the Data › Maps page")
        findings.add(ERROR, "unknown_stage", source.name, columns["stage"],
                     f'stage "{name}" is not in the stage map', f"{fix}:\n[stages]\n{line}",
                     mask, stages)
    return suggestions


def suggest_stage_line(name: str, deals: pd.DataFrame, raw: pd.DataFrame,
                       columns: dict[str, str]) -> str:
    """A mapping line for an unknown stage: from the export's own IsClosed/IsWon/forecast
    category where it has them, else from the stage's name. A suggestion to check, never
    applied without the user adding it."""
    closed = won = None
    if "is_closed" in columns:
        closed = _majority(parse_flags(raw[columns["is_closed"]]))
    if "is_won" in columns:
        won = _majority(parse_flags(raw[columns["is_won"]]))
    lowered = name.lower()
    if closed is None:
        closed = any(word in lowered for word in ("won", "lost", "closed", "dead", "disqualified"))
    if won is None:
        won = closed and "won" in lowered
    category = _majority(deals["forecast_category"]) if "forecast_category" in deals else None
    if category is None:
        category = CLOSED if won else OMITTED if closed else PIPELINE
    qualified = not any(word in lowered for word in ("prospect", "lead", "unqualified",
                                                     "disqualified", "duplicate"))
    key = json.dumps(name, ensure_ascii=False)
    return (f'{key} = {{ category = "{category}", qualified = {str(qualified).lower()}, '
            f"closed = {str(bool(closed)).lower()}, won = {str(bool(won)).lower()} }}")


def _majority(values: pd.Series) -> object:
    counts = values.dropna().value_counts()
    return None if counts.empty else counts.index[0]


def _stage_flags(stages: pd.Series, stage_map: dict) -> pd.DataFrame:
    """Per deal: closed, won, qualified from the stage map (unknown stages: all false)."""
    table = pd.DataFrame(
        [(s.stage, s.closed, s.won, s.qualified, s.forecast_category) for s in stage_map.values()],
        columns=["stage", "closed", "won", "qualified", "map_category"]).set_index("stage")
    flags = pd.DataFrame(index=stages.index)
    for column in ("closed", "won", "qualified"):
        # isin, not map + fillna: when no stage is known the mapped column is all-null Arrow
        # booleans, which cannot be filled (an export of unknown stages only crashed here).
        flagged = [stage for stage, flag in table[column].items() if flag]
        flags[column] = stages.isin(flagged).fillna(False).to_numpy(dtype=bool)
    flags["map_category"] = stages.map(table["map_category"])
    return flags


def _check_outcomes(source: Source, columns: dict[str, str], deals: pd.DataFrame,
                    dates: dict[str, pd.Series], amount: pd.Series, flags: pd.DataFrame,
                    reference: Reference, as_of: date, findings: Findings) -> None:
    close = dates["close_date"]
    no_close = close.isna().to_numpy()
    close_header = columns.get("close_date")
    closed, won = flags["closed"].to_numpy(), flags["won"].to_numpy()
    ids = deals["opportunity_id"]
    id_header = columns["opportunity_id"]
    findings.add(ERROR, "won_without_close_date", source.name, id_header,
                 "a closed-won deal has no close date",
                 "a won deal needs the date it closed: export it with its close date",
                 won & no_close, ids)
    known = deals["stage"].isin(list(reference.stage_map)).to_numpy()
    open_ = known & ~closed
    findings.add(WARNING, "open_without_close_date", source.name, id_header,
                 "open deal without a close date: left out of every period view",
                 "give open deals an expected close date in the CRM", open_ & no_close, ids)
    findings.add(WARNING, "close_date_passed", source.name, close_header,
                 f"open deal whose close date has passed (before {as_of:%Y-%m-%d})",
                 "move the close date forward or close the deal in the CRM",
                 open_ & (close < pd.Timestamp(as_of)).to_numpy(),
                 source.frame[close_header] if close_header else ids)
    lost = closed & ~won & flags["qualified"].to_numpy()
    if "lost_reason" in deals:
        reason = deals["lost_reason"]
        competitor = deals["competitor"] if "competitor" in deals else pd.Series(pd.NA,
                                                                                 index=deals.index)
        folded = reason.str.lower()
        unmapped = (lost & competitor.isna().to_numpy() & reason.notna().to_numpy()
                    & ~folded.isin(list(reference.loss_reasons)).to_numpy())
        findings.add(WARNING, "unmapped_loss_reason", source.name, columns["lost_reason"],
                     "lost reason not in the loss-reason map: counted as no decision",
                     "map it on the Data › Maps page (loss reasons) or in the mapping file's "
                     "[loss_reasons]", unmapped, reason)
    findings.add(WARNING, "lost_zero_amount", source.name, id_header,
                 "closed-lost deal with amount 0: rates by amount count it as nothing (rates "
                 "by count are unaffected)", "export the value the deal had when it was lost, if "
                 "the CRM keeps it", lost & (amount == 0).to_numpy(), ids)


def _parse_probability(source: Source, header: str, findings: Findings) -> pd.Series:
    """The CRM's probability per deal, in percent ('60', '60%', '60.0'); a value that is not a
    percentage 0-100 is left out with a warning (it only informs the stage map)."""
    raw = source.frame[header]
    text = clean_text(raw).str.removesuffix("%").str.strip()
    number = pd.to_numeric(text, errors="coerce")
    bad = (text.notna() & (number.isna() | (number < 0) | (number > 100))).to_numpy(dtype=bool)
    findings.add(WARNING, "probability_value", source.name, header,
                 "the probability is not a percentage from 0 to 100; left out of the stage's "
                 "probability", "write it as 0-100 (60 for 60%)", bad, raw)
    return number.where(~pd.Series(bad, index=number.index)).astype("float64")


def crm_probabilities(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> int:
    """Each stage's probability from the export (the value most of its deals carry: the CRM's
    stage default, which a rep's override on a few deals does not move; the lowest on a tie),
    written where the stage map's probability is not the analyst's. Returns the stages set."""
    if "probability" not in frame:
        return 0
    known = frame[["stage", "probability"]].dropna()
    if known.empty:
        return 0
    counts = known.groupby(["stage", "probability"]).size().reset_index(name="deals")
    counts = counts.sort_values(["stage", "deals", "probability"], ascending=[True, False, True])
    chosen = counts.drop_duplicates("stage")
    return set_crm_probabilities(con, dict(zip(chosen["stage"], chosen["probability"],
                                               strict=True)))


def set_crm_probabilities(con: duckdb.DuckDBPyConnection, percent: dict[str, float]) -> int:
    """Stage → the CRM's probability (0-100) into the stage map, for stages it knows and whose
    probability is not the analyst's (an import's export column, a sync's stage metadata).
    Returns the stages set."""
    if not percent:
        return 0
    chosen = pd.DataFrame({"stage": list(percent), "probability": list(percent.values())})
    con.register("crm_probability", chosen)
    try:
        changed = con.execute("""
            update stage_map m set probability = c.probability, probability_source = 'import'
            from crm_probability c
            where m.stage = c.stage and m.probability_source is distinct from 'analyst'
              and (m.probability is distinct from c.probability
                   or m.probability_source is distinct from 'import')""").fetchall()
    finally:
        con.unregister("crm_probability")
    return int(changed[0][0]) if changed else 0


def _shape(deals: pd.DataFrame, dates: dict[str, pd.Series], amount: pd.Series,
           stage_map: dict) -> pd.DataFrame:
    """The opportunities table's columns; segment from employees where the data has none and
    forecast category from the stage map where the data has none."""
    frame = pd.DataFrame(index=deals.index)
    for column in TABLE_COLUMNS:
        if column in dates:
            frame[column] = dates[column]
        elif column == "amount":
            frame[column] = amount
        elif column in deals:
            frame[column] = deals[column]
        else:
            frame[column] = pd.Series(pd.NA, index=deals.index, dtype="string")
    frame["segment"] = fill_segments(frame["segment"], frame["account_employees"])
    mapped = frame["stage"].map({s: m.forecast_category for s, m in stage_map.items()})
    frame["forecast_category"] = frame["forecast_category"].where(
        frame["forecast_category"].notna(), mapped)
    return frame


def write(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, as_of: date,
          reference: Reference) -> str:
    """Make `frame` the current state and the snapshot of `as_of`; returns what was done.

    An export dated before the latest snapshot only fills in history: the current state stays
    the latest picture, so "the latest snapshot equals the opportunities table" always holds.
    """
    state = frame[list(STATE_COLUMNS + CURRENCY_COLUMNS)]
    latest = reference.latest_snapshot
    con.register("import_deals", frame)
    try:
        if latest is not None and as_of < latest:
            return _history_only(con, state, as_of, latest)
        # Deals the export no longer has leave the current state (keeping their descriptive
        # fields, docs/data-model.md#deleted-deals), then upsert: measured on 100,000 deals, a
        # delete-all-and-insert spends 2 s committing index changes, this 0.4 s in all.
        gone = replace_current(con, "import_deals", as_of)
        con.execute(f"insert or replace into opportunities ({', '.join(TABLE_COLUMNS)}) "
                    f"{_AS_TABLE_ROWS}")  # noqa: S608 - fixed column list
    finally:
        con.unregister("import_deals")
    record_snapshot(con, as_of, state)
    reclassify_losses(con)
    left = f"; {gone:,} deal(s) not in the export left the current state" if gone else ""
    probabilities = crm_probabilities(con, frame)
    set_stages = (f"; the CRM's probability for {probabilities:,} stage(s)" if probabilities
                  else "")
    return f"the current deals and the snapshot of {as_of}{left}{set_stages}"


# The registered export as rows of the opportunities table (loss_class is derived after), in
# close-date order: nearly every question is about deals closing in a period, and a table laid
# out by close date lets DuckDB skip the row groups outside it (its min/max per row group) —
# at a million deals a quarter's query reads two of nine. A later import updates deals in place
# and appends new ones in the same order, so the layout mostly holds.
_AS_TABLE_ROWS = """
    select opportunity_id, name, account_name, account_employees::integer as account_employees,
           segment, region, team, owner, type, channel, stage, forecast_category,
           amount::decimal(18, 2) as amount, close_date::date as close_date,
           created_date::date as created_date, sales_accepted_date::date as sales_accepted_date,
           lost_reason, competitor, null::varchar as loss_class, renewal_risk, next_step,
           lead_source, amount_original::decimal(18, 2) as amount_original,
           currency::varchar as currency
    from import_deals
    order by close_date, opportunity_id"""


def _history_only(con: duckdb.DuckDBPyConnection, state: pd.DataFrame, as_of: date,
                  latest: date) -> str:
    """An export dated before the latest snapshot fills in history; the deals in it that no
    later picture has were deleted since, and keep the fields this export gives them."""
    record_snapshot(con, as_of, state)
    after = con.execute("select min(snapshot_date) from snapshot_dates where snapshot_date > ?",
                        [as_of]).fetchall()[0][0]
    kept = remember(con, f"({_AS_TABLE_ROWS})", after)
    if kept:
        reclassify_losses(con)
    departed = (f"; {kept:,} deal(s) deleted since keep the fields this export gives them"
                if kept else "")
    return (f"recorded as the snapshot of {as_of} (history only: the current deals are the "
            f"later snapshot of {latest}){departed}")

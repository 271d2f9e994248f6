"""Targets and submissions files: the plan per period and scope, and reps' bottom-up numbers.

A targets file replaces the targets of the periods it names (a revised plan drops rows that
are gone) and leaves other periods alone; a submissions file adds or updates the people's
calls by (period, owner, submitted date): each row is a call by its owner, submitted at the
file's date, 00:00. Both are idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from sales.ingest.formats import amount_problem, number_format, read_dates
from sales.ingest.headers import (
    REQUIRED,
    SUBMISSIONS,
    TARGETS,
    check_required,
    report_repeated,
    resolve,
)
from sales.ingest.mapping import Mapping
from sales.ingest.readers import Source
from sales.ingest.reference import Reference
from sales.ingest.validate import ERROR, Findings
from sales.ingest.values import POINT, clean_text, parse_amounts
from sales.periods import parse_period
from sales.targets import TARGET_SCOPES

_PERIOD_FIX = "write a fiscal period label such as FY2027-Q4 (quarter) or FY2027-M10 (month)"


@dataclass
class PreparedPlan:
    source: Source
    kind: str
    columns: dict[str, str]
    ignored: list[str]
    frame: pd.DataFrame


def _columns(source: Source, kind: str, findings: Findings) -> tuple[dict[str, str], list[str]]:
    columns, ignored, _ = resolve(source.headers, kind)
    check_required(source.name, kind, columns, findings,
                   f"a {kind} file has the columns {', '.join(REQUIRED[kind])}")
    report_repeated(source.name, source.headers, columns, None, findings)
    return columns, ignored


def _periods(source: Source, header: str, reference: Reference,
             findings: Findings) -> pd.Series:
    text = clean_text(source.frame[header])
    labels = {}
    for value in text.dropna().unique():
        try:
            labels[value] = parse_period(value, reference.fy_start_month).label
        except ValueError:
            labels[value] = None
    periods = text.map(labels)
    findings.add(ERROR, "bad_period", source.name, header, "not a fiscal period label",
                 _PERIOD_FIX, periods.isna().to_numpy(), source.frame[header])
    return periods


def _money(source: Source, header: str, what: str, required: bool, findings: Findings,
           decimal: str) -> pd.Series:
    values = source.frame[header]
    amounts, bad = parse_amounts(values, decimal)
    findings.add(ERROR, "bad_amount", source.name, header, *amount_problem(decimal), bad, values)
    findings.add(ERROR, "negative_amount", source.name, header, f"the {what} is negative",
                 f"a {what} is 0 or more", (amounts < 0).to_numpy(), values)
    if required:
        findings.add(ERROR, "missing_amount", source.name, header, f"the {what} is empty",
                     f"every row needs its {what}", (amounts.isna().to_numpy() & ~bad), values)
    return amounts


def _duplicates(source: Source, frame: pd.DataFrame, key: list[str], header: str,
                findings: Findings) -> None:
    complete = frame[key].notna().all(axis=1)
    duplicated = (frame[key].astype("string").fillna("").duplicated(keep=False) & complete)
    findings.add(ERROR, "duplicate_row", source.name, header,
                 f"the same {', '.join(key)} is on more than one row",
                 "keep one row per " + ", ".join(key), duplicated.to_numpy(),
                 source.frame[header])


def prepare_targets(source: Source, reference: Reference, mapping: Mapping | None,
                    findings: Findings) -> PreparedPlan | None:
    columns, ignored = _columns(source, TARGETS, findings)
    if not all(c in columns for c in REQUIRED[TARGETS]):
        return None
    frame = pd.DataFrame(index=source.frame.index)
    frame["period"] = _periods(source, columns["period"], reference, findings)
    scope = clean_text(source.frame[columns["scope"]]).str.lower()
    findings.add(ERROR, "bad_scope", source.name, columns["scope"], "not a target scope",
                 f"use one of {', '.join(TARGET_SCOPES)}", (~scope.isin(TARGET_SCOPES)).to_numpy(),
                 source.frame[columns["scope"]])
    frame["scope"] = scope
    value = (clean_text(source.frame[columns["scope_value"]]) if "scope_value" in columns
             else pd.Series(pd.NA, index=frame.index, dtype="string"))
    company = (scope == "company").to_numpy()
    value_header = columns.get("scope_value", "scope_value")
    findings.add(ERROR, "company_with_value", source.name, value_header,
                 "a company target has no scope value", "leave scope_value empty on company rows",
                 company & value.notna().to_numpy(), value)
    findings.add(ERROR, "missing_scope_value", source.name, value_header,
                 "the scope value is empty", "name the segment, region, team or owner the target "
                 "is for", ~company & scope.isin(TARGET_SCOPES).to_numpy() & value.isna().to_numpy(),
                 value)
    frame["scope_value"] = value.fillna("")
    decimal = number_format(source, [columns["amount"]], mapping, findings) or POINT
    frame["amount"] = _money(source, columns["amount"], "target", True, findings, decimal)
    _duplicates(source, frame, ["period", "scope", "scope_value"], columns["period"], findings)
    return PreparedPlan(source, TARGETS, columns, ignored, frame)


def prepare_submissions(source: Source, reference: Reference, mapping: Mapping | None,
                        findings: Findings) -> PreparedPlan | None:
    columns, ignored = _columns(source, SUBMISSIONS, findings)
    if not all(c in columns for c in REQUIRED[SUBMISSIONS]):
        return None
    frame = pd.DataFrame(index=source.frame.index)
    frame["period"] = _periods(source, columns["period"], reference, findings)
    owner = clean_text(source.frame[columns["owner"]])
    findings.add(ERROR, "missing_owner", source.name, columns["owner"], "the owner is empty",
                 "name the rep who submitted the number", owner.isna().to_numpy(), owner)
    frame["owner"] = owner
    header = columns["submitted_date"]
    frame["submitted_date"] = read_dates(source.name, header, source.frame[header], mapping,
                                         findings, "write dates as YYYY-MM-DD", required=True)
    money = [columns[c] for c in ("forecast", "upside") if c in columns]
    decimal = number_format(source, money, mapping, findings) or POINT
    frame["forecast"] = _money(source, columns["forecast"], "forecast", True, findings, decimal)
    upside = (_money(source, columns["upside"], "upside", False, findings, decimal)
              if "upside" in columns else pd.Series(0.0, index=frame.index))
    frame["upside"] = upside.fillna(0.0)
    _duplicates(source, frame, ["period", "owner", "submitted_date"], columns["owner"], findings)
    return PreparedPlan(source, SUBMISSIONS, columns, ignored, frame)


def write(con: duckdb.DuckDBPyConnection, prepared: PreparedPlan) -> str:
    frame = prepared.frame
    if frame.empty:
        return f"no {prepared.kind}"
    con.register("import_plan", frame)
    try:
        if prepared.kind == TARGETS:
            periods = sorted(frame["period"].unique())
            con.execute("delete from targets where period in (select unnest(?::varchar[]))",
                        [periods])
            con.execute("""insert into targets
                           select period, scope, scope_value, amount::decimal(18, 2)
                           from import_plan""")
            return f"{len(frame):,} targets for {', '.join(periods)}"
        # Each row is a call by the owner it names, submitted at the file's date, 00:00
        # (sales.people_calls). Importing the file again replaces those calls rather than
        # adding them twice; calls made in the app are never touched.
        con.execute("""delete from people_calls c using import_plan p
                       where c.user_name = p.owner and c.period = p.period
                         and c.submitted_at = p.submitted_date::date::timestamp
                         and c.submitted_by = p.owner""")
        con.execute("""insert into people_calls (user_name, period, forecast, upside, note,
                                                 submitted_at, submitted_by)
                       select owner, period, forecast::decimal(18, 2), upside::decimal(18, 2),
                              '', submitted_date::date::timestamp, owner
                       from import_plan order by submitted_date, owner, period""")
        con.execute("delete from people_call_deals where call_id not in "
                    "(select call_id from people_calls)")
        return f"{len(frame):,} submissions (calls by their owners)"
    finally:
        con.unregister("import_plan")


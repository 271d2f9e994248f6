"""Validated saves of what analysts edit in the app: the stage map, the loss-reason map, targets
and settings. Each save checks the whole edit first and raises EditError listing every problem
(row, column, value, what is wrong); only a clean edit is written, inside the caller's
transaction (the app's `ui.state.writing()`, which bumps the data version, so every page shows
the change on its next run).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import date

import duckdb
import pandas as pd

from sales import audit
from sales.lead_statuses import LEAD_GROUPS
from sales.losses import LOSS_CLASSES, reclassify_losses
from sales.periods import QUARTER, parse_period, period_choices
from sales.settings import SETTINGS, SETTINGS_BY_NAME, load_settings, save_setting
from sales.stages import FORECAST_CATEGORIES, closed_lost_sql
from sales.targets import TARGET_SCOPES

STAGE_COLUMNS = ("stage", "sort_order", "forecast_category", "qualified", "closed", "won",
                 "redlining", "probability")
_MAX_PROBABILITY = 100.0  # a stage's probability is a percentage
# Settings that are shares (rates, floors): a value above this is a typing mistake (60 for 0.60).
_MAX_SHARE = 1.0
_SHARES = {"close_rate_floor", "win_rate_floor", "win_rate_aim"}
_MAX_HISTORY_PERIODS = 20


class EditError(ValueError):
    """An edit that was not saved; `problems` lists each one in words."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return str(value).strip()


def _flag(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    return {"true": True, "1": True, "yes": True, "false": False, "0": False,
            "no": False}.get(text)


def _number(value: object) -> float | None:
    text = _text(value).replace(",", "")
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# --- stage map ---------------------------------------------------------------------------------


def stage_map_table(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The stage map for editing, with how many current deals sit in each stage.
    Grain: one row per stage, in sort order."""
    return con.cursor().execute("""
        with used as (
            select stage, count(*) as deals from opportunities group by stage
        )
        select m.stage, m.sort_order, m.forecast_category, m.qualified, m.closed, m.won,
               m.redlining, m.probability, m.probability_source, coalesce(u.deals, 0) as deals
        from stage_map m left join used u using (stage)
        order by m.sort_order, m.stage""").df()


def save_stage_map(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, *, by: str) -> None:
    """Replace the stage map with `frame` (STAGE_COLUMNS) and re-derive loss classes; on the
    audit trail as `by`'s. A probability (0-100, empty for the category's) that differs from
    the stored one becomes the analyst's, which no import overwrites."""
    stored = {stage: (probability, source) for stage, probability, source in con.execute(
        "select stage, probability, probability_source from stage_map").fetchall()}
    problems, rows = [], []
    seen: dict[str, int] = {}
    next_order = int(pd.to_numeric(frame.get("sort_order"), errors="coerce").max() or 0) + 1
    for number, record in enumerate(frame.to_dict("records"), start=1):
        stage = _text(record.get("stage"))
        if not stage:
            if any(_text(record.get(c)) for c in STAGE_COLUMNS[2:]):
                problems.append(f"row {number}: the stage name is empty")
            continue
        if stage.lower() in seen:
            problems.append(f"row {number}, stage {stage!r}: also on row {seen[stage.lower()]}; "
                            "each stage once")
        seen[stage.lower()] = number
        category = _text(record.get("forecast_category"))
        if category not in FORECAST_CATEGORIES:
            problems.append(f"row {number}, forecast_category {category!r}: use one of "
                            f"{', '.join(FORECAST_CATEGORIES)}")
        flags = {}
        for name in ("qualified", "closed", "won", "redlining"):
            flags[name] = _flag(record.get(name))
            if flags[name] is None:
                problems.append(f"row {number}, {name}: tick it or leave it clear")
        if flags["won"] and not flags["closed"]:
            problems.append(f"row {number}, stage {stage!r}: a won stage is closed; tick closed")
        if flags["redlining"] and flags["closed"]:
            problems.append(f"row {number}, stage {stage!r}: a closed stage cannot be redlining")
        order = _number(record.get("sort_order"))
        if order is None:
            order, next_order = next_order, next_order + 1
        probability, problem = _probability(record.get("probability"))
        if problem:
            problems.append(f"row {number}, stage {stage!r}, probability {problem}")
        rows.append([stage, int(order), category, *(bool(flags[n]) for n in
                                                      ("qualified", "closed", "won", "redlining")),
                     probability, _probability_source(stored.get(stage), probability)])
    problems += _stages_in_use(con, {r[0] for r in rows})
    if problems:
        raise EditError(problems)
    con.execute("delete from stage_map")
    con.executemany("insert into stage_map (stage, sort_order, forecast_category, qualified, "
                    "closed, won, redlining, probability, probability_source) "
                    "values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    reclassify_losses(con)
    audit.record(con, by, audit.EDIT, f"stage map: {len(rows):,} stages")


def _probability(value: object) -> tuple[float | None, str | None]:
    """A stage probability typed in the editor: a percentage 0-100 ('60', '60%', 60.0), or
    empty (the category's); the problem in words otherwise."""
    text = _text(value).removesuffix("%").strip()
    if not text:
        return None, None
    number = _number(text)
    if number is None or not 0 <= number <= _MAX_PROBABILITY:
        return None, f"{_text(value)!r}: a percentage from 0 to 100 (60 for 60%), or empty"
    return number, None


def _probability_source(stored: tuple[float | None, str | None] | None,
                        probability: float | None) -> str | None:
    """Where a saved probability came from: unchanged keeps its source, changed is the
    analyst's, empty has none."""
    if probability is None:
        return None
    if stored is not None and stored[0] is not None and abs(stored[0] - probability) < 1e-9:
        return stored[1]
    return "analyst"


def _stages_in_use(con: duckdb.DuckDBPyConnection, kept: set[str]) -> list[str]:
    used = con.execute("""
        select stage, count(*) from (
            select stage from opportunities
            union all
            select stage from opportunity_history
        ) group by stage""").fetchall()
    return [f"stage {stage!r} is used by {count:,} deal record(s); keep it (or import data "
            "without it first)" for stage, count in used if stage not in kept]


# --- lead statuses -----------------------------------------------------------------------------


def lead_status_table(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The lead status map for editing, with how many leads have each status now.
    Grain: one row per status, in sort order."""
    return con.cursor().execute("""
        with used as (select status, count(*) as leads from leads group by status)
        select m.status, m.sort_order, m.status_group, m.accepted, coalesce(u.leads, 0) as leads
        from lead_status_map m left join used u using (status)
        order by m.sort_order, m.status""").df()


def save_lead_statuses(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, *, by: str) -> None:
    """Replace the lead status map with `frame` (status, sort_order, status_group, accepted);
    a status leads use now or in their history must stay. On the audit trail as `by`'s."""
    problems, rows = [], []
    seen: dict[str, int] = {}
    next_order = int(pd.to_numeric(frame.get("sort_order"), errors="coerce").max() or 0) + 1
    for number, record in enumerate(frame.to_dict("records"), start=1):
        status = _text(record.get("status"))
        if not status:
            if _text(record.get("status_group")):
                problems.append(f"row {number}: the status is empty")
            continue
        if status.lower() in seen:
            problems.append(f"row {number}, status {status!r}: also on row "
                            f"{seen[status.lower()]}; each status once")
        seen[status.lower()] = number
        group = _text(record.get("status_group"))
        if group not in LEAD_GROUPS:
            problems.append(f"row {number}, status_group {group!r}: use one of "
                            f"{', '.join(LEAD_GROUPS)}")
        accepted = _flag(record.get("accepted"))
        if accepted is None:
            accepted = False
        order = _number(record.get("sort_order"))
        if order is None:
            order, next_order = next_order, next_order + 1
        rows.append([status, int(order), group, accepted])
    used = con.execute("""select status, count(*) from (
                              select status from leads union all select status from lead_history)
                          group by status""").fetchall()
    kept = {r[0] for r in rows}
    problems += [f"status {status!r} is used by {count:,} lead record(s); keep it (or import "
                 "leads without it first)" for status, count in used if status not in kept]
    if problems:
        raise EditError(problems)
    con.execute("delete from lead_status_map")
    con.executemany("insert into lead_status_map values (?, ?, ?, ?)", rows)
    audit.record(con, by, audit.EDIT, f"lead status map: {len(rows):,} statuses")


# --- loss reasons ------------------------------------------------------------------------------


def loss_reason_table(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Mapped lost reasons with deal counts, then the unmapped reasons of lost deals (class
    empty) so they can be mapped in place. Grain: one row per reason."""
    return con.cursor().execute(f"""
        with lost as (
            select lower(trim(o.lost_reason)) as reason, count(*) as deals
            from opportunities o
            join stage_map m on m.stage = o.stage and {closed_lost_sql()}
            where nullif(trim(o.lost_reason), '') is not null
            group by 1
        ), unmapped as (
            select any_value(trim(o.lost_reason)) as lost_reason
            from opportunities o
            join stage_map m on m.stage = o.stage and {closed_lost_sql()}
            where nullif(trim(o.lost_reason), '') is not null
              and lower(trim(o.lost_reason)) not in
                  (select lower(trim(lost_reason)) from loss_reason_map)
            group by lower(trim(o.lost_reason))
        )
        select r.lost_reason, r.loss_class, coalesce(l.deals, 0) as deals
        from loss_reason_map r left join lost l on l.reason = lower(trim(r.lost_reason))
        union all
        select u.lost_reason, null, l.deals
        from unmapped u join lost l on l.reason = lower(u.lost_reason)
        order by 2 nulls first, 3 desc, 1""").df()  # noqa: S608 - fixed SQL


def save_loss_reasons(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, *, by: str) -> None:
    """Replace the loss-reason map with the rows of `frame` that have a class; re-derive
    loss classes. Rows without a class stay unmapped (counted as no decision)."""
    problems, rows = [], []
    seen: dict[str, int] = {}
    for number, record in enumerate(frame.to_dict("records"), start=1):
        reason, loss_class = _text(record.get("lost_reason")), _text(record.get("loss_class"))
        if not reason and not loss_class:
            continue
        if not reason:
            problems.append(f"row {number}: the lost reason is empty")
            continue
        if not loss_class:
            continue
        if loss_class not in LOSS_CLASSES:
            problems.append(f"row {number}, loss_class {loss_class!r}: use one of "
                            f"{', '.join(LOSS_CLASSES)}")
        if reason.lower() in seen:
            problems.append(f"row {number}, lost_reason {reason!r}: also on row "
                            f"{seen[reason.lower()]} (reasons match ignoring case)")
        seen[reason.lower()] = number
        rows.append([reason, loss_class])
    if problems:
        raise EditError(problems)
    con.execute("delete from loss_reason_map")
    if rows:
        con.executemany("insert into loss_reason_map values (?, ?)", rows)
    reclassify_losses(con)
    audit.record(con, by, audit.EDIT, f"loss-reason map: {len(rows):,} reasons")


# --- targets -----------------------------------------------------------------------------------


def target_periods(con: duckdb.DuckDBPyConnection, around: date, fy_start_month: int) -> list[str]:
    """Periods to edit: every period with targets, plus the quarters around `around`."""
    stored = [r[0] for r in con.cursor().execute(
        "select distinct period from targets").fetchall()]
    nearby = [p.label for p in period_choices(around, fy_start_month, QUARTER, back=4, ahead=4)]
    labels = set(stored) | set(nearby)

    def order(label: str) -> tuple:
        try:
            period = parse_period(label, fy_start_month)
            return (period.start, period.kind != QUARTER, label)
        except ValueError:
            return (date.max, True, label)

    return sorted(labels, key=order)


def targets_table(con: duckdb.DuckDBPyConnection, period: str) -> pd.DataFrame:
    """One period's targets. Grain: one row per (scope, scope value)."""
    frame = con.cursor().execute("""
        select scope, scope_value, amount from targets where period = ?
        order by case scope when 'company' then 0 when 'segment' then 1 when 'region' then 2
                            when 'team' then 3 else 4 end, scope_value""", [period]).df()
    frame["amount"] = frame["amount"].astype("float64")
    return frame


def save_targets(con: duckdb.DuckDBPyConnection, period: str, frame: pd.DataFrame,
                 fy_start_month: int, *, by: str) -> None:
    """Replace one period's targets with the rows of `frame` (scope, scope_value, amount)."""
    try:
        label = parse_period(period, fy_start_month).label
    except ValueError as error:
        raise EditError([str(error)]) from None
    problems, rows = [], []
    seen: dict[tuple[str, str], int] = {}
    for number, record in enumerate(frame.to_dict("records"), start=1):
        scope = _text(record.get("scope")).lower()
        value = _text(record.get("scope_value"))
        raw_amount = record.get("amount")
        if not scope and not value and not _text(raw_amount):
            continue
        if scope not in TARGET_SCOPES:
            problems.append(f"row {number}, scope {scope!r}: use one of {', '.join(TARGET_SCOPES)}")
        elif scope == "company" and value:
            problems.append(f"row {number}: a company target has no scope value; leave it empty")
        elif scope != "company" and not value:
            problems.append(f"row {number}: name the {scope} this target is for")
        amount = _number(raw_amount)
        if amount is None or amount < 0:
            problems.append(f"row {number}, amount {_text(raw_amount)!r}: a target is a number "
                            "of 0 or more")
        key = (scope, value)
        if key in seen:
            problems.append(f"row {number}: {scope} {value or '(company)'} is also on row "
                            f"{seen[key]}")
        seen[key] = number
        rows.append([label, scope, value, amount])
    if problems:
        raise EditError(problems)
    con.execute("delete from targets where period = ?", [label])
    if rows:
        con.executemany("insert into targets values (?, ?, ?, ?)", rows)
    company = next((r[3] for r in rows if r[1] == "company"), None)
    audit.record(con, by, audit.EDIT, f"targets for {label}: {len(rows):,} rows"
                 + (f", company {company:,.0f}" if company is not None else ""))


# --- settings ----------------------------------------------------------------------------------


def settings_form(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every setting with its current value, default and help, for a form."""
    values = asdict(load_settings(con))
    return pd.DataFrame([{"setting": s.name, "value": values[s.name], "default": s.default,
                          "help": s.help} for s in SETTINGS])


def save_settings(con: duckdb.DuckDBPyConnection, values: dict[str, object], *,
                  by: str) -> list[str]:
    """Check every value, then store them; returns the names that changed."""
    problems, parsed = [], {}
    current = asdict(load_settings(con))
    for name, value in values.items():
        setting = SETTINGS_BY_NAME.get(name)
        if setting is None:
            problems.append(f"{name}: not a setting")
            continue
        text = str(value).lower() if isinstance(value, bool) else _text(value)
        try:
            typed = setting.parse(text)
        except ValueError:
            problems.append(f"{name} = {text!r}: must be {setting.type.__name__}")
            continue
        problem = _setting_problem(name, typed)
        if problem:
            problems.append(f"{name} = {text!r}: {problem}")
        parsed[name] = typed
    if problems:
        raise EditError(problems)
    changed = [name for name, typed in parsed.items() if typed != current[name]]
    for name in changed:
        save_setting(con, name, parsed[name])
    if changed:
        audit.record(con, by, audit.EDIT, "settings: " + ", ".join(
            f"{name} {current[name]} → {parsed[name]}" for name in changed))
    return changed


def _setting_problem(name: str, value: object) -> str | None:
    if name == "fiscal_year_start_month" and not 1 <= int(value) <= 12:
        return "a month number 1-12"
    if name == "history_periods" and not 1 <= int(value) <= _MAX_HISTORY_PERIODS:
        return f"between 1 and {_MAX_HISTORY_PERIODS} periods"
    if name in _SHARES and not 0 <= float(value) <= _MAX_SHARE:
        return "a share between 0 and 1 (0.33 for 33%)"
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        return "0 or more"
    if name == "smb_method_segments" and not str(value).strip():
        return "name at least one segment (SMB)"
    return None

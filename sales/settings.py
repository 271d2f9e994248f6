"""Settings: the `Settings` dataclass is their one declaration (type, default, help per field);
stored as (name, value text) in the settings table."""

from __future__ import annotations

import contextlib
import dataclasses
import typing
from dataclasses import dataclass
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb


def setting(default: typing.Any, help: str) -> typing.Any:
    """A field of `Settings`: its default and the help text every page and the README show."""
    return dataclasses.field(default=default, metadata={"help": help})


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting, typed. Frozen and slotted so a misspelt name is an AttributeError; override
    one with `dataclasses.replace(settings, history_periods=2)`."""

    fiscal_year_start_month: int = setting(
        1, "Calendar month (1-12) in which the fiscal year starts. A fiscal year is named by the "
           "calendar year it ends in; the handbook company uses 2 (FY2027 = Feb 2026 - Jan 2027).")
    coverage_multiple: float = setting(
        3.0, "Enterprise coverage counted healthy at or above this multiple of the target "
             "((Closed + Commit + Best Case) / target).")
    close_rate_floor: float = setting(
        0.33, "Rule-of-thumb floor for the close rate; below it coverage needs more than 3x.")
    win_rate_floor: float = setting(
        0.50, "Win rate below this means we lose too often to competitors.")
    win_rate_aim: float = setting(0.66, "Win rate a healthy team aims for against competitors.")
    rep_coverage_low: float = setting(2.5, "Rep annual coverage below this is thin.")
    rep_coverage_high: float = setting(3.0, "Rep annual coverage at or above this is comfortable.")
    rep_capacity: int = setting(
        40, "Rep capacity: how many open, qualified opportunities one rep can keep moving at "
            "once (the manager's judgement); the new qualified opportunities a rep needs each "
            "month follow from it.")
    inblood_include_commit: bool = setting(
        True, "In-blood default: Commit deals are included (drop one only for timing risk).")
    inblood_include_best_case: bool = setting(
        False, "In-blood default: Best Case deals are excluded until vendor and timing risk are gone.")
    inblood_include_pipeline: bool = setting(
        False, "In-blood default: Pipeline deals are never counted by default.")
    fallback_rate_commit: float = setting(
        0.90, "SMB weighted forecast: conversion of Commit used when there is no history.")
    fallback_rate_best_case: float = setting(
        0.60, "SMB weighted forecast: conversion of Best Case used when there is no history.")
    fallback_rate_pipeline: float = setting(
        0.30, "SMB weighted forecast: conversion of Pipeline used when there is no history.")
    fallback_rate_new: float = setting(
        0.30, "SMB weighted forecast: conversion of pipeline still to be created in the period, "
              "used when there is no history.")
    history_periods: int = setting(
        4, "How many completed periods the SMB weighted forecast learns its conversion from.")
    smb_method_segments: str = setting(
        "SMB", "Comma-separated segments forecast with the SMB method (all pipeline plus expected "
               "new pipeline, against 1 / close rate) instead of the enterprise 3x rule.")
    sandbagging_band: float = setting(
        0.85, "Bottom-up (submissions) below this share of top-down hints at sandbagging.")
    happy_ears_band: float = setting(
        1.15, "Bottom-up (submissions) above this share of top-down hints at happy ears.")
    corporate_currency: str = setting(
        "USD", "The currency every amount is reported in (ISO code). A Salesforce sync sets it "
               "to the org's corporate currency when it is not set yet; deals in other "
               "currencies are converted (docs/data-model.md#currencies).")
    call_due_weekday: str = setting(
        "Monday", "The weekday people's forecast calls are due (Monday … Sunday); a call older "
                  "than the latest due moment on or before as-of is stale.")
    call_due_time: str = setting(
        "12:00", "The time of day (HH:MM, 24-hour, in the `timezone` setting) calls are due on "
                 "`call_due_weekday`.")
    timezone: str = setting(
        "UTC", "The IANA time zone (e.g. Europe/Berlin) calls' times and due moments are read "
               "in; a time without a zone is in it.")

    app_url: str = setting(
        "http://localhost:8501", "The app's address as recipients reach it: the digest and the "
                                 "alerts link to the view and to each deal under it.")
    alert_pushed_out: bool = setting(
        True, "Alert: a deal in Commit at the last call whose close date moved past the period.")
    alert_amount_cut: bool = setting(
        True, "Alert: an open deal's amount cut by at least alert_amount_cut_share since the "
              "last call.")
    alert_amount_cut_share: float = setting(
        0.10, "Alert threshold: the share of its amount a deal must lose to be flagged as cut "
              "(0.10 = 10%).")
    alert_stalled: bool = setting(
        True, "Alert: an open deal in the period stuck in its stage for alert_stalled_days or "
              "more.")
    alert_stalled_days: int = setting(
        30, "Alert threshold: days in the same stage after which an open deal counts as stalled.")
    alert_close_passed: bool = setting(
        True, "Alert: an open deal whose close date has passed (before as-of) without a win or "
              "a loss.")
    alert_renewal_at_risk: bool = setting(
        True, "Alert: an open renewal in the period flagged At Risk (sent once per deal).")
    alert_new_deal: bool = setting(
        True, "Alert: a deal created since the last call with an amount of at least "
              "alert_new_deal_amount.")
    alert_new_deal_amount: float = setting(
        100_000.0, "Alert threshold: the amount at or above which a new deal is flagged.")
    reminder_hours_before: int = setting(
        24, "Call reminders go to users without a call this week from this many hours before "
            "the call's due moment until it.")

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def due_weekday(settings: Settings) -> int:
    """`call_due_weekday` as Python's weekday number (Monday 0)."""
    return [d.lower() for d in WEEKDAYS].index(settings.call_due_weekday.strip().lower())


def due_time(settings: Settings) -> time:
    """`call_due_time` as a time of day."""
    return time.fromisoformat(settings.call_due_time.strip())


def zone(settings: Settings) -> ZoneInfo:
    """The `timezone` setting as a zone."""
    return ZoneInfo(settings.timezone.strip())


def _check_call_setting(name: str, text: str) -> None:
    """The call settings' values: a weekday's name, an HH:MM time, an IANA zone."""
    probe = Settings(**{name: text}) if name in _CALL_SETTINGS else None
    if probe is None:
        return
    try:
        _CALL_SETTINGS[name](probe)
    except (ValueError, ZoneInfoNotFoundError):
        raise ValueError(f"{name}: {text!r} is not {_CALL_SHAPES[name]}") from None


_CALL_SETTINGS = {"call_due_weekday": due_weekday, "call_due_time": due_time, "timezone": zone}
_CALL_SHAPES = {"call_due_weekday": "a weekday such as Monday",
                "call_due_time": "a time such as 12:00",
                "timezone": "a time zone such as UTC or Europe/Berlin"}


@dataclass(frozen=True)
class Setting:
    """One field of `Settings` as the pages and validation read it."""

    name: str
    type: type
    default: object
    help: str

    def parse(self, text: str) -> object:
        """Text from the settings table → the declared type; ValueError if it does not fit."""
        if self.type is bool:
            lowered = text.strip().lower()
            if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(f"{self.name} must be true or false, got {text!r}")
            return lowered in {"true", "1", "yes"}
        return self.type(text)


def _declarations() -> tuple[Setting, ...]:
    # The annotations are text (postponed evaluation); resolve them to the types they name.
    types = typing.get_type_hints(Settings)
    return tuple(Setting(f.name, types[f.name], f.default, f.metadata["help"])
                 for f in dataclasses.fields(Settings))


SETTINGS: tuple[Setting, ...] = _declarations()  # in declaration order, as the pages list them
SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}


def load_settings(con: duckdb.DuckDBPyConnection) -> Settings:
    """Every setting, typed: stored values over declared defaults."""
    values = {}
    for name, text in con.cursor().execute("select name, value from settings").fetchall():
        declared = SETTINGS_BY_NAME.get(name)
        if declared is not None:
            # A hand-edited bad value falls back to the default rather than break every page.
            with contextlib.suppress(ValueError):
                parsed = declared.parse(text)
                _check_call_setting(name, str(parsed))
                values[name] = parsed
    return Settings(**values)


_SHARES = {"alert_amount_cut_share"}


def save_setting(con: duckdb.DuckDBPyConnection, name: str, value: object) -> None:
    """Validate and store one setting; raises ValueError naming the problem."""
    setting = SETTINGS_BY_NAME.get(name)
    if setting is None:
        raise ValueError(f"unknown setting {name!r}; known: {', '.join(SETTINGS_BY_NAME)}")
    text = str(value).lower() if isinstance(value, bool) else str(value)
    parsed = setting.parse(text)
    if name == "fiscal_year_start_month" and not 1 <= int(parsed) <= 12:
        raise ValueError("fiscal_year_start_month must be between 1 and 12")
    if name == "app_url" and not str(parsed).startswith(("http://", "https://")):
        raise ValueError("app_url must start with http:// or https://")
    if name in _SHARES and not 0 < float(parsed) < 1:
        raise ValueError(f"{name} must be between 0 and 1 (0.10 = 10%)")
    if name == "corporate_currency":
        text = text.strip().upper()
        if len(text) != 3 or not text.isalpha() or not text.isascii():
            raise ValueError("corporate_currency must be a three-letter ISO code, e.g. USD")
    _check_call_setting(name, str(parsed))
    con.execute(
        "insert or replace into settings (name, value) values (?, ?)", [name, text]
    )

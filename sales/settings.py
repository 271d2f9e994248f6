"""Settings: declared once here as (name, default, help); stored as text in the settings table."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str

    def parse(self, text: str) -> object:
        """Text from the settings table → the type of the default; ValueError if it does not fit."""
        if isinstance(self.default, bool):
            lowered = text.strip().lower()
            if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(f"{self.name} must be true or false, got {text!r}")
            return lowered in {"true", "1", "yes"}
        if isinstance(self.default, int):
            return int(text)
        if isinstance(self.default, float):
            return float(text)
        return text


SETTINGS: tuple[Setting, ...] = (
    Setting("fiscal_year_start_month", 1,
            "Calendar month (1-12) in which the fiscal year starts. A fiscal year is named by the "
            "calendar year it ends in; the handbook company uses 2 (FY2027 = Feb 2026 - Jan 2027)."),
    Setting("coverage_multiple", 3.0,
            "Enterprise coverage counted healthy at or above this multiple of the target "
            "((Closed + Commit + Best Case) / target)."),
    Setting("close_rate_floor", 0.33,
            "Rule-of-thumb floor for the close rate; below it coverage needs more than 3x."),
    Setting("win_rate_floor", 0.50, "Win rate below this means we lose too often to competitors."),
    Setting("win_rate_aim", 0.66, "Win rate a healthy team aims for against competitors."),
    Setting("rep_coverage_low", 2.5, "Rep annual coverage below this is thin."),
    Setting("rep_coverage_high", 3.0, "Rep annual coverage at or above this is comfortable."),
    Setting("rep_capacity", 40,
            "Rep capacity: how many open, qualified opportunities one rep can keep moving at "
            "once (the manager's judgement); the new qualified opportunities a rep needs each "
            "month follow from it."),
    Setting("inblood_include_commit", True,
            "In-blood default: Commit deals are included (drop one only for timing risk)."),
    Setting("inblood_include_best_case", False,
            "In-blood default: Best Case deals are excluded until vendor and timing risk are gone."),
    Setting("inblood_include_pipeline", False,
            "In-blood default: Pipeline deals are never counted by default."),
    Setting("fallback_rate_commit", 0.90,
            "SMB weighted forecast: conversion of Commit used when there is no history."),
    Setting("fallback_rate_best_case", 0.60,
            "SMB weighted forecast: conversion of Best Case used when there is no history."),
    Setting("fallback_rate_pipeline", 0.30,
            "SMB weighted forecast: conversion of Pipeline used when there is no history."),
    Setting("fallback_rate_new", 0.30,
            "SMB weighted forecast: conversion of pipeline still to be created in the period, "
            "used when there is no history."),
    Setting("history_periods", 4,
            "How many completed periods the SMB weighted forecast learns its conversion from."),
    Setting("smb_method_segments", "SMB",
            "Comma-separated segments forecast with the SMB method (all pipeline plus expected new "
            "pipeline, against 1 / close rate) instead of the enterprise 3x rule."),
    Setting("sandbagging_band", 0.85,
            "Bottom-up (submissions) below this share of top-down hints at sandbagging."),
    Setting("happy_ears_band", 1.15,
            "Bottom-up (submissions) above this share of top-down hints at happy ears."),
)
SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}


def load_settings(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """Every setting, typed: stored values over declared defaults."""
    values = {s.name: s.default for s in SETTINGS}
    for name, text in con.cursor().execute("select name, value from settings").fetchall():
        setting = SETTINGS_BY_NAME.get(name)
        if setting is not None:
            # A hand-edited bad value falls back to the default rather than break every page.
            with contextlib.suppress(ValueError):
                values[name] = setting.parse(text)
    return values


def save_setting(con: duckdb.DuckDBPyConnection, name: str, value: object) -> None:
    """Validate and store one setting; raises ValueError naming the problem."""
    setting = SETTINGS_BY_NAME.get(name)
    if setting is None:
        raise ValueError(f"unknown setting {name!r}; known: {', '.join(SETTINGS_BY_NAME)}")
    text = str(value).lower() if isinstance(value, bool) else str(value)
    parsed = setting.parse(text)
    if name == "fiscal_year_start_month" and not 1 <= int(parsed) <= 12:
        raise ValueError("fiscal_year_start_month must be between 1 and 12")
    con.execute(
        "insert or replace into settings (name, value) values (?, ?)", [name, text]
    )

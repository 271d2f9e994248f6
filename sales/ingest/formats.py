"""How a file writes its numbers and dates, checked once per file with findings that say so:
the decimal separator of its money columns (`number_format`), dates that cannot be read or lie
outside the years we accept (`read_dates`), and bytes that were not UTF-8 (`replaced_bytes`)."""

from __future__ import annotations

import re

import pandas as pd

from sales.ingest.mapping import Mapping
from sales.ingest.readers import Source
from sales.ingest.validate import ERROR, WARNING, Findings
from sales.ingest.values import (
    COMMA,
    MAX_YEAR,
    MIN_YEAR,
    POINT,
    NumberFormat,
    decide_decimal,
    outside_years,
    parse_dates,
)

_STYLES = {POINT: "a decimal point, as in 1,234.50", COMMA: "a decimal comma, as in 1.234,50"}


def number_format(source: Source, headers: list[str], mapping: Mapping | None,
                  findings: Findings) -> str | None:
    """The decimal separator of the file's money columns `headers`: the mapping's, else the
    one their values show together; None when no value shows one (whole numbers read the same
    either way). When they never show it but some read either way, the file is refused (a
    file-level error naming the column and a value) and "." is returned so the other checks
    still run."""
    if mapping is not None and mapping.decimal is not None:
        return mapping.decimal
    decision = decide_decimal([source.frame[h] for h in headers])
    if decision.separator is not None:
        if decision.separator == COMMA:
            _note(source, "amounts read with a decimal comma (1.234,50)")
        return decision.separator
    if decision.ambiguous:
        findings.add(ERROR, "ambiguous_amounts", source.name, ", ".join(headers),
                     _ambiguity(decision), _settle(decision.example, source.delimiter))
        return POINT
    return None


def _ambiguity(decision: NumberFormat) -> str:
    if decision.mixed:
        return ("as many amounts are written 1,234.50 as 1.234,50, so the values do not say "
                "which format the file uses")
    comma, point = _readings(decision.example)
    return (f'amounts such as "{decision.example}" read either as {comma} or as {point}, and '
            "no value in the file settles which")


def _readings(example: str | None) -> tuple[str, str]:
    """`example` read with a decimal comma, then with a decimal point, in words that need no
    separator ("1.234": "1234" and "1 and a fraction")."""
    if example is None:
        return "", ""
    digits = re.sub(r"[^0-9.,+-]", "", example)
    readings = (float(digits.replace(".", "").replace(",", ".")), float(digits.replace(",", "")))
    return tuple(f"{int(r)}" if r.is_integer() else f"{int(r)} and a fraction" for r in readings)


def _settle(example: str | None, delimiter: str | None) -> str:
    """The mapping lines that settle the format, the likelier first: files separated by
    semicolons come from spreadsheets set to a decimal comma."""
    comma, point = _readings(example)
    lines = {COMMA: 'decimal = ","   # the file writes 1.234,50', POINT: 'decimal = "."   # the '
             "file writes 1,234.50"}
    if example is not None:
        lines = {COMMA: f'{lines[COMMA]}: "{example}" is {comma}',
                 POINT: f'{lines[POINT]}: "{example}" is {point}'}
    first, second = (COMMA, POINT) if delimiter == ";" else (POINT, COMMA)
    return ("say which in a mapping file (--mapping, or upload it with the export):\n[format]\n"
            f"{lines[first]}\nor\n[format]\n{lines[second]}")


def amount_problem(decimal: str) -> tuple[str, str]:
    """(reason, fix) for an amount that does not read in the file's number format."""
    other = COMMA if decimal == POINT else POINT
    example = "12,500.00" if decimal == POINT else "12.500,00"
    return (f"not an amount we can read in this file's number format ({_STYLES[decimal]})",
            f"write a number such as 12500 or {example} (for "
            f"{'12.500,00' if decimal == POINT else '12,500.00'} set [format] decimal = "
            f'"{other}" in the mapping file)')


def read_dates(file: str, header: str, values: pd.Series, mapping: Mapping | None,
               findings: Findings, fix: str, required: bool = False) -> pd.Series:
    """A date column parsed, its unreadable values and its dates outside the years we accept
    reported as errors (those become missing), and empty values too when `required`."""
    dates, bad = parse_dates(values, mapping.date_format if mapping else None)
    if required:
        bad = bad | dates.isna().to_numpy()
    findings.add(ERROR, "bad_date", file, header, "not a date we can read", fix, bad, values)
    outside = outside_years(dates)
    findings.add(ERROR, "date_out_of_range", file, header,
                 f"the date is outside the years {MIN_YEAR}–{MAX_YEAR}",
                 "check the year (0026 for 2026 is a typing mistake); dates before "
                 f"{MIN_YEAR} or after {MAX_YEAR} are not deals' dates", outside, values)
    return dates.mask(outside)


def replaced_bytes(source: Source, findings: Findings) -> None:
    """Where the bytes that were not UTF-8 ended up: a warning per column, with its rows."""
    if not source.bad_bytes:
        return
    count = source.bad_bytes
    reason = (f"{count:,} byte{'s' if count != 1 else ''} that {'are' if count != 1 else 'is'} "
              "not UTF-8 in the file (the rest is UTF-8) read as \ufffd; imported that way")
    fix = "save the file as UTF-8 from the CRM or the spreadsheet and import it again"
    for header in source.headers:
        if "\ufffd" in header:
            findings.add(WARNING, "replaced_bytes", source.name, None,
                         f"{reason} — in the header {header!r}", fix)
    for header in source.headers:
        column = source.frame[header]
        hit = column.str.contains("\ufffd", regex=False).fillna(False).to_numpy(dtype=bool)
        findings.add(WARNING, "replaced_bytes", source.name, header, reason, fix,
                     hit, column)


def _note(source: Source, note: str) -> None:
    if note not in source.notes:
        source.notes = (*source.notes, note)

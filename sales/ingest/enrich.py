"""Accounts and owners files: employees, segment, region and team joined onto an export.

A value in the export itself wins over the enrichment file (an explicit segment in the data
wins, docs/data-model.md#segments); the file fills what the export leaves empty. Keys match after trimming
and ignoring case, so "Acme Corp" and "acme corp " join.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sales.ingest.headers import OWNERS, fold, report_repeated, resolve
from sales.ingest.mapping import Enrichment
from sales.ingest.readers import Source
from sales.ingest.validate import ERROR, WARNING, Findings
from sales.ingest.values import clean_text, parse_whole_numbers


@dataclass
class Joined:
    """What an enrichment did, for the import summary."""

    file: str
    kind: str
    export_key: str
    file_key: str
    matched: int
    deals: int
    columns: tuple[str, ...]


def _header(headers: list[str], wanted: str) -> str | None:
    if wanted in headers:
        return wanted
    folded = {fold(h): h for h in headers}
    return folded.get(fold(wanted))


def _key(values: pd.Series) -> pd.Series:
    return clean_text(values).str.lower()


def _columns(source: Source, kind: str, spec: Enrichment | None,
             findings: Findings) -> tuple[dict[str, str], str | None]:
    """canonical → header in the enrichment file, and the file's key header (None: an error)."""
    if spec is None:
        found, _, _ = resolve(source.headers, kind, strict=False)
        report_repeated(source.name, source.headers, found, None, findings, kind)
        return found, None
    found: dict[str, str] = {}
    for canonical, header in spec.columns:
        real = _header(source.headers, header)
        if real is None:
            findings.add(ERROR, "enrichment_column", source.name, header,
                         f"the mapping's [{kind}] names a column {header!r} this file does not "
                         "have", f"use one of its headers: {', '.join(source.headers)}")
        else:
            found[canonical] = real
    key = _header(source.headers, spec.file_key)
    if key is None:
        findings.add(ERROR, "enrichment_key", source.name, spec.file_key,
                     f"the join key {spec.file_key!r} is not a column of this file",
                     f"set [{kind}] key (or file_key) to one of: {', '.join(source.headers)}")
    named = {**dict(spec.columns), "file_key": spec.file_key}
    used = {**found, **({"file_key": key} if key else {})}
    report_repeated(source.name, source.headers, used, named, findings, kind)
    return found, key


def _export_key(raw: pd.DataFrame, canonical: pd.DataFrame, wanted: str) -> pd.Series | None:
    header = _header([str(c) for c in raw.columns], wanted)
    if header is not None:
        return raw[header]
    return canonical.get(wanted)


def _lookup(source: Source, key_header: str, columns: dict[str, str], kind: str,
            findings: Findings) -> pd.DataFrame:
    """The enrichment table indexed by folded key, one row per key; conflicting duplicates are
    errors (which row is right?), identical ones are fine."""
    table = pd.DataFrame({"key": _key(source.frame[key_header])}, index=source.frame.index)
    for canonical, header in columns.items():
        if canonical == "account_employees":
            numbers, bad = parse_whole_numbers(source.frame[header])
            findings.add(ERROR, "bad_employees", source.name, header,
                         "not a whole number of employees", "write a count such as 1200, or "
                         "leave the cell empty", bad, source.frame[header])
            table[canonical] = numbers
        else:
            table[canonical] = clean_text(source.frame[header])
    table = table[table["key"].notna()]
    values = [c for c in table.columns if c != "key"]
    distinct = table.drop_duplicates()
    conflict = distinct["key"].duplicated(keep=False)
    if conflict.any():
        rows = table["key"].isin(distinct.loc[conflict, "key"]).to_numpy()
        findings.add(ERROR, "duplicate_key", source.name, key_header,
                     f"the same {kind} key appears on several rows with different values",
                     "keep one row per key in this file", rows, source.frame.loc[table.index,
                                                                                 key_header])
    # A key with conflicting rows fills nothing (with --skip-invalid those rows are rejected).
    return distinct[~conflict].set_index("key")[values]


def enrich(deals: pd.DataFrame, raw: pd.DataFrame, source: Source, kind: str,
           spec: Enrichment | None, findings: Findings, export_name: str) -> Joined | None:
    """Fill `deals` (canonical columns, in place) from an accounts or owners file."""
    columns, key_header = _columns(source, kind, spec, findings)
    if spec is None:
        key_header, export_key = _automatic_key(deals, columns, kind)
        if key_header is None:
            findings.add(ERROR, "enrichment_key", source.name, None,
                         f"cannot tell how to join this {kind} file to {export_name}",
                         f"name the join in a mapping file: [{kind}] file = {source.name!r}, "
                         'key = "a column both files have"')
            return None
        key_values = deals[export_key]
    else:
        if key_header is None:
            return None
        key_values = _export_key(raw, deals, spec.export_key)
        export_key = spec.export_key
        if key_values is None:
            findings.add(ERROR, "enrichment_key", export_name, spec.export_key,
                         f"the [{kind}] join key {spec.export_key!r} is not a column of the "
                         "export", f"set [{kind}] key (or export_key) to one of: "
                         f"{', '.join(str(c) for c in raw.columns)}")
            return None
    columns = {c: h for c, h in columns.items() if h != key_header}
    table = _lookup(source, key_header, columns, kind, findings)
    keys = _key(key_values)
    hit = keys.isin(table.index).to_numpy()
    filled = []
    for canonical in table.columns:
        looked_up = keys.map(table[canonical])
        if canonical == "owner_name":  # a display name replaces an id (a User file)
            deals["owner"] = looked_up.where(looked_up.notna(), deals["owner"])
            filled.append("owner")
            continue
        if canonical not in deals:
            deals[canonical] = looked_up
        else:
            deals[canonical] = deals[canonical].where(deals[canonical].notna(), looked_up)
        filled.append(canonical)
    missing = keys.notna().to_numpy() & ~hit
    findings.add(WARNING, f"{kind}_not_found", export_name, export_key,
                 f"not found in {source.name}, so nothing was filled from it",
                 f"add the missing {kind} to {source.name} if they should have "
                 f"{', '.join(filled) or 'its columns'}", missing, key_values)
    return Joined(source.name, kind, export_key, key_header, int(hit.sum()), len(deals),
                  tuple(filled))


def _automatic_key(deals: pd.DataFrame, columns: dict[str, str],
                   kind: str) -> tuple[str | None, str | None]:
    """Without a mapping: accounts join on the account id, else the account name; owners on
    the owner."""
    if kind == OWNERS:
        return (columns.get("owner_key"), "owner") if "owner" in deals else (None, None)
    for canonical in ("account_id", "account_name"):
        if canonical in columns and canonical in deals and deals[canonical].notna().any():
            return columns[canonical], canonical
    return None, None

"""Mapping files (TOML): header names, stages, enrichment files and value formats for an export
the built-in aliases do not cover. The README documents the shape; for example:

    [format]                     # optional: how the file writes numbers and dates
    decimal = ","                # 1.234,56 style amounts (default: what the values show)
    date_format = "%d/%m/%Y"     # non-ISO dates (default: ISO, else US month-first)
    [columns]                    # canonical = source header
    account_name = "account"
    [stages]                     # stage = category and flags
    "Won" = { category = "Closed", qualified = true, closed = true, won = true }
    [categories]                 # forecast category values = canonical category
    "Most Likely" = "Commit"
    [loss_reasons]               # lost reason = competition | no_decision | excluded
    "Went with Acme" = "competition"
    [types]                      # deal type = New Business | Expansion | Renewal
    "Existing Business" = "Expansion"
    [accounts]                   # optional enrichment file, joined on a column both files have
    file = "accounts.csv"
    key = "account"
    employees = "employees"
    [owners]                     # optional enrichment file joined on the owner
    file = "sales_teams.csv"
    key = "sales_agent"
    team = "manager"
    region = "regional_office"
    [lead_columns]               # a leads export: canonical = source header
    mql_date = "MQL_Date__c"
    [lead_statuses]              # lead status = group (open, qualified, recycled, junk, purchased)
    "Working" = "open"
    "Sales Accepted" = { group = "open", accepted = true }

`decimal` and `date_format` may also be written at the top, before any section (the first
spelling this file had); the two places must then agree.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from sales.deal_types import DEAL_TYPES
from sales.ingest.headers import ALIASES, HIERARCHY, LEADS, OPPORTUNITIES
from sales.lead_statuses import LEAD_GROUPS
from sales.losses import LOSS_CLASSES
from sales.stages import FORECAST_CATEGORIES

_TOP_LEVEL = {"user_columns", "date_format", "decimal", "format", "columns", "stages", "categories",
              "loss_reasons", "types", "accounts", "owners", "lead_columns", "lead_statuses"}
_FORMAT_KEYS = ("decimal", "date_format")
_STAGE_FLAGS = ("qualified", "closed", "won", "redlining")
# Names an enrichment section may fill, with the short spellings the example uses.
_ACCOUNT_TARGETS = {"account_name": "account_name", "name": "account_name",
                    "employees": "account_employees", "account_employees": "account_employees",
                    "segment": "segment", "region": "region", "team": "team"}
_OWNER_TARGETS = {"team": "team", "region": "region", "segment": "segment",
                  "name": "owner_name", "owner_name": "owner_name"}


class MappingError(ValueError):
    """The mapping file itself is wrong; the message names the line to fix."""


@dataclass(frozen=True)
class StageSpec:
    """A stage declared in a mapping file."""

    category: str
    qualified: bool
    closed: bool
    won: bool
    redlining: bool = False


@dataclass(frozen=True)
class Enrichment:
    """An accounts or owners file: which file, the join key in each file, the columns it fills."""

    file: str
    export_key: str  # header in the export (or a canonical column name)
    file_key: str    # header in the enrichment file
    columns: tuple[tuple[str, str], ...]  # (canonical, header in the enrichment file)


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping file; `folder` is where relative enrichment file names are also looked for."""

    columns: tuple[tuple[str, str], ...] = ()
    stages: tuple[tuple[str, StageSpec], ...] = ()
    categories: tuple[tuple[str, str], ...] = ()
    loss_reasons: tuple[tuple[str, str], ...] = ()
    types: tuple[tuple[str, str], ...] = ()
    accounts: Enrichment | None = None
    owners: Enrichment | None = None
    date_format: str | None = None
    decimal: str | None = None  # None: decided from the file's values
    folder: str = ""
    name: str = "mapping"
    lead_columns: tuple[tuple[str, str], ...] = ()
    # A hierarchy file's headers (`[user_columns] user = "Full Name"`), beside the aliases.
    user_columns: tuple[tuple[str, str], ...] = ()
    # lead status → (group, accepted)
    lead_statuses: tuple[tuple[str, tuple[str, bool]], ...] = ()

    @property
    def column_map(self) -> dict[str, str]:
        return dict(self.columns)

    @property
    def lead_column_map(self) -> dict[str, str]:
        return dict(self.lead_columns)

    @property
    def stage_map(self) -> dict[str, StageSpec]:
        return dict(self.stages)


def load_mapping(path: str | Path) -> Mapping:
    """Read and check a mapping file; MappingError names what to fix."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise MappingError(f"cannot read the mapping file {path}: {error.strerror}") from None
    return parse_mapping(text, name=path.name, folder=str(path.resolve().parent))


def parse_mapping(text: str, name: str = "mapping", folder: str = "") -> Mapping:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise MappingError(f"{name} is not valid TOML: {error}") from None
    unknown = sorted(set(data) - _TOP_LEVEL)
    if unknown:
        raise MappingError(f"{name}: unknown section or key {', '.join(unknown)}; known: "
                           f"{', '.join(sorted(_TOP_LEVEL))}")
    formats = _formats(data, name)
    decimal, date_format = formats.get("decimal"), formats.get("date_format")
    if decimal not in (None, ".", ","):
        raise MappingError(f'{name}: [format] decimal must be "." or ",", got {decimal!r}')
    if date_format is not None and (not isinstance(date_format, str) or "%" not in date_format):
        raise MappingError(f'{name}: [format] date_format must be a strptime pattern like '
                           '"%d/%m/%Y"')
    return Mapping(
        columns=_columns(data.get("columns", {}), name),
        stages=_stages(data.get("stages", {}), name),
        categories=_value_map(data.get("categories", {}), "categories", FORECAST_CATEGORIES,
                              name),
        loss_reasons=_value_map(data.get("loss_reasons", {}), "loss_reasons", LOSS_CLASSES, name),
        types=_value_map(data.get("types", {}), "types", DEAL_TYPES, name),
        accounts=_enrichment(data.get("accounts"), "accounts", _ACCOUNT_TARGETS, name),
        owners=_enrichment(data.get("owners"), "owners", _OWNER_TARGETS, name),
        date_format=date_format, decimal=decimal, folder=folder, name=name,
        lead_columns=_columns(data.get("lead_columns", {}), name, LEADS, "lead_columns"),
        lead_statuses=_lead_statuses(data.get("lead_statuses", {}), name),
        user_columns=_columns(data.get("user_columns", {}), name, HIERARCHY, "user_columns"),
    )


def _formats(data: dict, name: str) -> dict[str, object]:
    """decimal and date_format, from [format] or the top of the file (which must agree)."""
    table = _table(data.get("format", {}), "format", name)
    unknown = sorted(set(table) - set(_FORMAT_KEYS))
    if unknown:
        raise MappingError(f"{name}: [format] {', '.join(unknown)} is not a setting we know; "
                           f"known: {', '.join(_FORMAT_KEYS)}")
    formats = {}
    for key in _FORMAT_KEYS:
        given = [v for v in (data.get(key), table.get(key)) if v is not None]
        if len(given) == 2 and given[0] != given[1]:
            raise MappingError(f"{name}: {key} is given twice, at the top and in [format], with "
                               "different values; keep one")
        if given:
            formats[key] = given[0]
    return formats


def _table(value: object, section: str, name: str) -> dict:
    if not isinstance(value, dict):
        raise MappingError(f"{name}: [{section}] must be a table of key = value lines")
    return value


def _columns(value: object, name: str, kind: str = OPPORTUNITIES,
             section: str = "columns") -> tuple[tuple[str, str], ...]:
    known = ALIASES[kind]
    pairs = []
    for canonical, source in _table(value, section, name).items():
        if canonical not in known:
            if kind == OPPORTUNITIES and canonical in ALIASES[LEADS]:
                raise MappingError(f"{name}: [columns] {canonical} is a column of a leads "
                                   f"export: write it under [lead_columns]")
            raise MappingError(f"{name}: [{section}] {canonical} is not a column we know; "
                               f"known: {', '.join(known)}")
        if not isinstance(source, str) or not source.strip():
            raise MappingError(f'{name}: [{section}] {canonical} must name a header, like '
                               f'{canonical} = "Header in the file"')
        pairs.append((canonical, source))
    return tuple(pairs)


def _lead_statuses(value: object, name: str) -> tuple[tuple[str, tuple[str, bool]], ...]:
    """`"Status" = "group"` or `"Status" = { group = "open", accepted = true }` lines."""
    specs = []
    for status, spec in _table(value, "lead_statuses", name).items():
        line = f'{name}: [lead_statuses] "{status}"'
        group, accepted = spec, False
        if isinstance(spec, dict):
            unknown = set(spec) - {"group", "accepted"}
            if unknown:
                raise MappingError(f"{line}: unknown key {', '.join(sorted(unknown))}")
            group, accepted = spec.get("group"), spec.get("accepted", False)
            if not isinstance(accepted, bool):
                raise MappingError(f"{line}: accepted must be true or false, got {accepted!r}")
        if group not in LEAD_GROUPS:
            raise MappingError(f"{line} must map to one of {', '.join(LEAD_GROUPS)}, "
                               f"got {group!r}")
        specs.append((status, (group, accepted)))
    return tuple(specs)


def _stages(value: object, name: str) -> tuple[tuple[str, StageSpec], ...]:
    specs = []
    for stage, spec in _table(value, "stages", name).items():
        line = f'{name}: [stages] "{stage}"'
        if not isinstance(spec, dict):
            raise MappingError(f'{line} must look like {{ category = "Pipeline", qualified = '
                               'true, closed = false, won = false }')
        unknown = set(spec) - {"category", *_STAGE_FLAGS}
        if unknown:
            raise MappingError(f"{line}: unknown key {', '.join(sorted(unknown))}")
        category = spec.get("category")
        if category not in FORECAST_CATEGORIES:
            raise MappingError(f"{line}: category must be one of {', '.join(FORECAST_CATEGORIES)}"
                               f", got {category!r}")
        flags = {}
        for flag in _STAGE_FLAGS:
            flag_value = spec.get(flag, False)
            if not isinstance(flag_value, bool):
                raise MappingError(f"{line}: {flag} must be true or false, got {flag_value!r}")
            flags[flag] = flag_value
        if flags["won"] and not flags["closed"]:
            raise MappingError(f"{line}: a won stage is closed; set closed = true")
        if flags["redlining"] and flags["closed"]:
            raise MappingError(f"{line}: a closed stage cannot be redlining")
        specs.append((stage, StageSpec(category, **flags)))
    return tuple(specs)


def _value_map(value: object, section: str, allowed: tuple[str, ...], name: str
               ) -> tuple[tuple[str, str], ...]:
    """A [section] of `"value in the export" = "one of allowed"` lines."""
    pairs = []
    for source, target in _table(value, section, name).items():
        if target not in allowed:
            raise MappingError(f'{name}: [{section}] "{source}" must map to one of '
                               f"{', '.join(allowed)}, got {target!r}")
        pairs.append((source, target))
    return tuple(pairs)


def _enrichment(value: object, section: str, targets: dict[str, str],
                name: str) -> Enrichment | None:
    if value is None:
        return None
    table = dict(_table(value, section, name))
    file = table.pop("file", None)
    if not isinstance(file, str) or not file.strip():
        raise MappingError(f'{name}: [{section}] needs file = "name of the {section} file"')
    key = table.pop("key", None)
    export_key = table.pop("export_key", key)
    file_key = table.pop("file_key", key)
    if not isinstance(export_key, str) or not isinstance(file_key, str):
        raise MappingError(f'{name}: [{section}] needs key = "column both files have" (or '
                           'export_key and file_key when the names differ)')
    columns = []
    for canonical, header in table.items():
        if canonical not in targets:
            raise MappingError(f"{name}: [{section}] {canonical} is not a column it can fill; "
                               f"known: {', '.join(sorted(targets))}")
        if not isinstance(header, str):
            raise MappingError(f'{name}: [{section}] {canonical} must name a header')
        columns.append((targets[canonical], header))
    return Enrichment(file, export_key, file_key, tuple(columns))

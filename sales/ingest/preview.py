"""What the Import page shows before anything is written: each file's kind and columns, the
first rows as they will be stored, and every finding (rows capped, so a result stays small
enough to cache)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

import duckdb
import pandas as pd

from sales.export import csv_bytes
from sales.ingest.mapping import Mapping, MappingError, parse_mapping
from sales.ingest.readers import ReadError, read_bytes
from sales.ingest.reference import Reference, load_reference
from sales.ingest.run import ImportRequest, plan
from sales.ingest.validate import Finding

PREVIEW_ROWS = 20
# Rows kept per finding in a preview (the count stays exact; the rejects file lists them all).
FINDING_ROWS = 200


@dataclass(frozen=True)
class FileView:
    name: str
    kind: str
    rows: int
    columns: tuple[tuple[str, str], ...]  # (source header, canonical column)
    ignored: tuple[str, ...]
    sample: pd.DataFrame = field(compare=False, hash=False)


@dataclass(frozen=True)
class Preview:
    """The checks' outcome for a set of uploaded files; `problem` is set when they could not
    even be read (then nothing else is)."""

    files: tuple[FileView, ...] = ()
    summary: tuple[str, ...] = ()
    errors: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
    stage_suggestions: tuple[str, ...] = ()
    ok: bool = False
    rejected_rows: int = 0
    problem: str | None = None


def build_request(uploads: tuple[tuple[str, bytes], ...], mapping_text: str | None,
                  mapping_name: str, kind: str | None, as_of: date | None,
                  skip_invalid: bool, actor: str = "") -> ImportRequest:
    """Uploaded (name, bytes) pairs and mapping text → a request; ReadError or MappingError
    when a file cannot be read."""
    mapping: Mapping | None = None
    if mapping_text and mapping_text.strip():
        mapping = parse_mapping(mapping_text, name=mapping_name)
    sources = [read_bytes(name, data) for name, data in uploads]
    return ImportRequest(sources, mapping, kind, as_of, skip_invalid, local_files=False,
                         actor=actor)


def preview(con: duckdb.DuckDBPyConnection, uploads: tuple[tuple[str, bytes], ...],
            mapping_text: str | None = None, mapping_name: str = "mapping.toml",
            kind: str | None = None, as_of: date | None = None,
            skip_invalid: bool = False) -> Preview:
    """Check uploaded files against the database behind `con`; writes nothing."""
    return preview_against(load_reference(con), uploads, mapping_text, mapping_name, kind,
                           as_of, skip_invalid)


def preview_against(reference: Reference, uploads: tuple[tuple[str, bytes], ...],
                    mapping_text: str | None = None, mapping_name: str = "mapping.toml",
                    kind: str | None = None, as_of: date | None = None,
                    skip_invalid: bool = False) -> Preview:
    """`preview` against a database's reference data already read (another process's)."""
    try:
        request = build_request(uploads, mapping_text, mapping_name, kind, as_of, skip_invalid)
    except (ReadError, MappingError) as error:
        return Preview(problem=str(error))
    checked = plan(request, reference)
    files = []
    for f in checked.files:
        prepared = f.prepared
        columns = tuple((h, c) for c, h in getattr(prepared, "columns", {}).items())
        sample = (prepared.frame.head(PREVIEW_ROWS).reset_index(drop=True)
                  if prepared is not None else f.source.frame.head(PREVIEW_ROWS))
        files.append(FileView(f.name, f.kind, len(f.source.frame), columns,
                              tuple(getattr(prepared, "ignored", ())), sample))
    return Preview(
        files=tuple(files), summary=tuple(checked.summary()),
        errors=tuple(_capped(f) for f in checked.findings.errors),
        warnings=tuple(_capped(f) for f in checked.findings.warnings),
        stage_suggestions=tuple(checked.stage_suggestions), ok=checked.ok,
        rejected_rows=sum(len(frame) for frame in checked.rejected.values()))


def _capped(finding: Finding) -> Finding:
    return replace(finding, rows=finding.rows[:FINDING_ROWS], values=finding.values[:FINDING_ROWS])


def rejected_csv(frames: dict[str, pd.DataFrame]) -> bytes:
    """Every file's rejected rows in one CSV (a `file` column says which)."""
    parts = [frame.assign(file=name)[["file", *frame.columns]] for name, frame in frames.items()]
    return csv_bytes(pd.concat(parts, ignore_index=True)) if parts else b""

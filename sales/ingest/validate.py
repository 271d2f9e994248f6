"""Findings: what is wrong (errors reject the file) or worth knowing (warnings are imported and
listed in the data-quality panel), with the rows, column, values, reason and fix.

A finding covers every row with the same problem, so a 100,000-row file with one bad column
gives one finding with 100,000 rows, not 100,000 objects; reports show the first few rows.
Row numbers are as a spreadsheet shows them: the header is row 1, the first deal row 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ERROR, WARNING = "error", "warning"
# Rows listed per finding in a printed report; the rest are counted (all are in the rejects file).
EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class Finding:
    """One problem in one file: `rows` are 0-based data rows (empty for a file-level problem)."""

    severity: str
    code: str
    file: str
    column: str | None
    reason: str
    fix: str
    rows: tuple[int, ...] = ()
    values: tuple[str, ...] = ()
    count: int = 0  # rows affected (file-level findings: 0)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def examples(self, limit: int = EXAMPLE_ROWS) -> list[tuple[int, str]]:
        """(spreadsheet row, value) for the first rows."""
        return [(row + 2, value) for row, value in zip(self.rows[:limit], self.values[:limit],
                                                       strict=False)]


@dataclass
class Findings:
    """Findings collected while preparing an import."""

    items: list[Finding] = field(default_factory=list)

    def add(self, severity: str, code: str, file: str, column: str | None, reason: str,
            fix: str, mask: np.ndarray | None = None, values: pd.Series | None = None) -> None:
        """Record a problem for the rows in `mask` (all rows of `values` positions), or for the
        whole file when `mask` is None. Nothing is recorded for an empty mask."""
        if mask is None:
            self.items.append(Finding(severity, code, file, column, reason, fix))
            return
        positions = np.flatnonzero(mask)
        if positions.size == 0:
            return
        rows = values.index.to_numpy()[positions] if values is not None else positions
        shown = ([_show(v) for v in values.iloc[positions].tolist()] if values is not None
                 else [""] * positions.size)
        self.items.append(Finding(severity, code, file, column, reason, fix,
                                  tuple(int(r) for r in rows), tuple(shown), int(positions.size)))

    def extend(self, other: Findings) -> None:
        self.items.extend(other.items)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.items if f.is_error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.items if not f.is_error]

    def rejected_rows(self, file: str) -> set[int]:
        """Data rows of `file` with a row-level error."""
        return {r for f in self.errors if f.file == file for r in f.rows}

    def file_level_errors(self) -> list[Finding]:
        return [f for f in self.errors if not f.rows]

    def reasons_by_row(self, file: str) -> dict[int, list[str]]:
        """Every error reason of each rejected row of `file`, for the rejects file."""
        reasons: dict[int, list[str]] = {}
        for finding in self.errors:
            if finding.file != file:
                continue
            for row, value in zip(finding.rows, finding.values, strict=False):
                where = f"{finding.column} {value!r}: " if finding.column else ""
                reasons.setdefault(row, []).append(f"{where}{finding.reason} ({finding.fix})")
        return reasons


def _show(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def render(findings: list[Finding], limit: int = EXAMPLE_ROWS) -> str:
    """A report for the terminal: per finding the reason, how to fix it, and example rows."""
    lines = []
    for f in findings:
        where = f"{f.file}" + (f", column {f.column}" if f.column else "")
        count = f" — {f.count:,} row{'s' if f.count != 1 else ''}" if f.count else ""
        lines.append(f"{f.severity}: {where}: {f.reason}{count}")
        for row, value in f.examples(limit):
            lines.append(f"    row {row}: {value!r}" if f.column else f"    row {row}")
        if f.count > limit:
            lines.append(f"    … and {f.count - limit:,} more")
        for i, fix_line in enumerate(f.fix.splitlines()):
            lines.append(("  fix: " if i == 0 else "       ") + fix_line)
    return "\n".join(lines)


def findings_frame(findings: list[Finding], limit: int = EXAMPLE_ROWS) -> pd.DataFrame:
    """One row per example (row, column, value, reason, fix), for tables on the Import page."""
    records = []
    for f in findings:
        examples = f.examples(limit) or [(None, "")]
        for row, value in examples:
            records.append({"severity": f.severity, "file": f.file, "row": row,
                            "column": f.column or "", "value": value, "reason": f.reason,
                            "rows affected": f.count, "fix": f.fix})
    columns = ["severity", "file", "row", "column", "value", "reason", "rows affected", "fix"]
    return pd.DataFrame(records, columns=columns)

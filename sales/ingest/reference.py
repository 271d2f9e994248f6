"""What validation needs to know about the database: stages, loss reasons, fiscal year, dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from sales.currency import RateTable, load_rates
from sales.ingest.mapping import Mapping
from sales.settings import load_settings
from sales.stages import Stage


@dataclass(frozen=True)
class Reference:
    """The database's stage map (plus the mapping file's new stages), known loss reasons
    (folded), fiscal year start month and latest snapshot date."""

    stages: tuple[tuple[str, Stage], ...]
    loss_reasons: frozenset[str]
    fy_start_month: int
    latest_snapshot: date | None
    opportunities: int
    # lead status → group (lead_status_map, plus the mapping file's [lead_statuses])
    lead_statuses: tuple[tuple[str, str], ...] = ()
    # docs/import.md#currencies: the rate table standing on the import's day, and the currency
    # every amount is converted into.
    rates: RateTable = RateTable()
    corporate: str = "USD"

    @property
    def lead_status_map(self) -> dict[str, str]:
        return dict(self.lead_statuses)

    @property
    def stage_map(self) -> dict[str, Stage]:
        return dict(self.stages)

    def with_mapping(self, mapping: Mapping | None) -> Reference:
        """Add the mapping file's stages and loss reasons that the database does not know yet.

        Stages already in the database keep their flags: the stage map is edited in the app, and
        those edits survive every import (a differing mapping line is reported, not applied).
        """
        if mapping is None:
            return self
        stages = dict(self.stages)
        order = max((s.sort_order for s in stages.values()), default=0)
        for name, spec in mapping.stages:
            if name not in stages:
                order += 1
                stages[name] = Stage(name, order, spec.category, spec.qualified, spec.closed,
                                     spec.won, spec.redlining)
        reasons = self.loss_reasons | {r.strip().lower() for r, _ in mapping.loss_reasons}
        statuses = dict(self.lead_statuses)
        for status, (group, _) in mapping.lead_statuses:
            statuses.setdefault(status, group)
        return Reference(tuple(stages.items()), frozenset(reasons), self.fy_start_month,
                         self.latest_snapshot, self.opportunities, tuple(statuses.items()),
                         self.rates, self.corporate)


def load_reference(con: duckdb.DuckDBPyConnection, day: date | None = None) -> Reference:
    """Read the reference data from a database (a cursor of the app's connection or the copy
    an import builds on), with the rate table standing on `day` (default: the latest)."""
    cur = con.cursor()
    stages = tuple(
        (row[0], Stage(*row)) for row in cur.execute(
            "select stage, sort_order, forecast_category, qualified, closed, won, redlining "
            "from stage_map order by sort_order").fetchall())
    reasons = frozenset(r[0] for r in cur.execute(
        "select lower(trim(lost_reason)) from loss_reason_map").fetchall())
    latest = cur.execute("select max(snapshot_date) from snapshot_dates").fetchall()[0][0]
    count = cur.execute("select count(*) from opportunities").fetchall()[0][0]
    settings = load_settings(cur)
    fy_start = settings.fiscal_year_start_month
    statuses = tuple((row[0], row[1]) for row in cur.execute(
        "select status, status_group from lead_status_map order by sort_order").fetchall())
    return Reference(stages, reasons, fy_start, latest, int(count), statuses,
                     load_rates(cur, day), settings.corporate_currency)

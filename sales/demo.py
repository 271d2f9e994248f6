"""The demo database: a plausible B2B software company, so every page has something true to show.

Three segments with their own deal sizes and cycles, ten teams over three regions, 30 reps;
deals move through the handbook stages, push and pull their close dates, change amount and
now and then owner, and are recorded as weekly snapshots (stored as changes) over at least six
completed fiscal quarters up to `as_of`. Targets, weekly rep submissions and saved in-blood calls
are derived from the simulated deals so coverage, attainment and accuracy read like a real company.

Everything is vectorised numpy seeded from one generator: the same (opportunities, seed, as_of,
fy_start_month) always builds identical tables. The file is built aside and swapped into place.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from sales.db import bump_data_version, connect
from sales.losses import reclassify_losses
from sales.periods import MONTH, QUARTER, Period, period_containing
from sales.segments import ENTERPRISE, MID_MARKET, SEGMENTS, SMB
from sales.stages import BEST_CASE, COMMIT, FORECAST_CATEGORIES, HANDBOOK_STAGES

Progress = Callable[[float, str], None]

# Snapshots reach back to the start of the fiscal quarter this many quarters before the current.
HISTORY_QUARTERS = 6
# Deals are created from this many days before the first snapshot, so the first snapshot already
# holds a warm pipeline (an Enterprise cycle is about half a year).
LEAD_IN_DAYS = 365
# Deals simulated per block: bounds the event matrices at a million deals.
CHUNK_DEALS = 200_000
# Planned close dates are clipped this far past as_of (a lookup table covers the range).
HORIZON_DAYS = 1500

_EPOCH = date(1970, 1, 1).toordinal()
_NEVER = np.int64(1) << 40  # event time of a slot that does not happen
_SLOTS = 16

# Stage codes are indexes into HANDBOOK_STAGES.
_STAGE_NAMES = [s.stage for s in HANDBOOK_STAGES]
_CODE = {name: i for i, name in enumerate(_STAGE_NAMES)}
_PRE, _PENDING = _CODE["00-Pre Opportunity"], _CODE["0-Pending Acceptance"]
_DISCOVERY, _SCOPING = _CODE["1-Discovery"], _CODE["2-Scoping"]
_TECH, _PROPOSAL = _CODE["3-Technical Evaluation"], _CODE["4-Proposal"]
_NEGOTIATING, _AWAITING = _CODE["5-Negotiating"], _CODE["6-Awaiting Signature"]
_WON, _LOST = _CODE["7-Closed Won"], _CODE["8-Closed Lost"]
_UNQUALIFIED, _DUPLICATE = _CODE["9-Unqualified"], _CODE["10-Duplicate"]
# The stages a won deal walks through after qualification, in order (slots 3..7).
_LATER_STAGES = (_SCOPING, _TECH, _PROPOSAL, _NEGOTIATING, _AWAITING)

_CATS = list(FORECAST_CATEGORIES)
_CAT_BEST, _CAT_COMMIT = _CATS.index(BEST_CASE), _CATS.index(COMMIT)
_STAGE_CAT = np.array([_CATS.index(s.forecast_category) for s in HANDBOOK_STAGES], np.int8)
_OPEN_QUALIFIED = np.array([s.qualified and not s.closed for s in HANDBOOK_STAGES])

# Outcomes of the simulation (what eventually happens, whether or not it has by as_of).
_OUT_WON, _OUT_COMP, _OUT_NODEC, _OUT_EXCL, _OUT_UNQ, _OUT_DUP = range(6)


@dataclass(frozen=True)
class _Segment:
    """How deals of one segment behave."""

    share: float  # of deals, by count
    deals_per_account: float
    employees: tuple[int, int]  # inclusive range, log-uniform
    amount_median: float
    amount_sigma: float
    amount_range: tuple[float, float]
    amount_step: float
    accept_days: float  # mean days from created to qualified
    span_min: float  # planned days from qualification to close: span_min + gamma(2, span_scale)
    span_scale: float
    close_rate: float  # won / (won + lost competition + lost no decision), over all types
    win_rate: float  # won / (won + lost competition)
    pushes: tuple[float, float, float, float]  # P(0..3 close-date pushes) once in Commit
    channels: tuple[float, float, float]  # Direct, Partner, Self Serve
    unqualified: float  # share of new deals that never qualify
    # Deal flow over the last months relative to the long run: Enterprise pipeline has been
    # building, Mid-Market thinning, so this quarter's coverage differs by segment.
    recent_flow: float


_PROFILES = {
    ENTERPRISE: _Segment(
        share=0.16, deals_per_account=6.0, employees=(5_000, 250_000),
        amount_median=240_000, amount_sigma=0.55, amount_range=(100_000, 1_500_000),
        amount_step=1_000, accept_days=10, span_min=35, span_scale=40,
        close_rate=0.30, win_rate=0.53, pushes=(0.4, 0.3, 0.18, 0.12),
        channels=(0.8, 0.2, 0.0), unqualified=0.12, recent_flow=1.9),
    MID_MARKET: _Segment(
        share=0.30, deals_per_account=3.5, employees=(500, 4_999),
        amount_median=58_000, amount_sigma=0.40, amount_range=(30_000, 200_000),
        amount_step=500, accept_days=7, span_min=45, span_scale=32,
        close_rate=0.31, win_rate=0.57, pushes=(0.68, 0.22, 0.08, 0.02),
        channels=(0.75, 0.25, 0.0), unqualified=0.16, recent_flow=0.7),
    SMB: _Segment(
        share=0.54, deals_per_account=2.5, employees=(5, 499),
        amount_median=13_000, amount_sigma=0.45, amount_range=(3_000, 40_000),
        amount_step=100, accept_days=4, span_min=22, span_scale=16,
        close_rate=0.34, win_rate=0.64, pushes=(0.85, 0.12, 0.03, 0.0),
        channels=(0.45, 0.15, 0.40), unqualified=0.22, recent_flow=1.0),
}
_SEG_INDEX = {name: i for i, name in enumerate(SEGMENTS)}

# (team label = manager, segment, region, reps). Every team sits in one segment and one region.
_TEAMS = (
    ("Dana Whitfield", ENTERPRISE, "AMER",
     ("Alex Morgan", "Jamie Chen", "Rachel Okafor", "Victor Hale")),
    ("Sophie Laurent", ENTERPRISE, "EMEA", ("Lukas Brandt", "Chiara Romano", "Oliver Hughes")),
    ("Kenji Watanabe", ENTERPRISE, "APAC", ("Mei Lin Tan", "Arjun Kapoor", "Hannah Reid")),
    ("Marcus Oyelaran", MID_MARKET, "AMER",
     ("Tyler Brooks", "Nina Patel", "Sam Delgado", "Grace Kim")),
    ("Ahmed Karim", MID_MARKET, "EMEA", ("Elena Novak", "Pieter de Vries", "Fatima Zahra")),
    ("Ravi Menon", MID_MARKET, "APAC", ("Chloe Nguyen", "Daniel Wu")),
    ("Helen Park", SMB, "AMER", ("Jordan Ellis", "Maya Thompson", "Chris Avery", "Leah Goldberg")),
    ("Olivia Brennan", SMB, "AMER", ("Ben Carter", "Sofia Ramirez", "Ethan Walsh")),
    ("Priya Raman", SMB, "EMEA", ("Isabel Costa", "Tom Fischer")),
    ("Tomas Alvarez", SMB, "APAC", ("Aiko Sato", "Liam O'Connor")),
)
_REPS = [rep for team in _TEAMS for rep in team[3]]
_REP_TEAM = np.array([t for t, team in enumerate(_TEAMS) for _ in team[3]], np.int16)
_TEAM_SEG = np.array([_SEG_INDEX[team[1]] for team in _TEAMS], np.int8)
_REGIONS = ("AMER", "EMEA", "APAC")
_TEAM_REGION = np.array([_REGIONS.index(team[2]) for team in _TEAMS], np.int8)
_TEAM_REPS = [np.flatnonzero(np.equal(_REP_TEAM, t)) for t in range(len(_TEAMS))]
_TEAM_SIZE = np.array([len(r) for r in _TEAM_REPS])
_TEAM_FIRST_REP = np.array([r[0] for r in _TEAM_REPS])  # a team's reps are consecutive

_TYPES = ("New Business", "Expansion", "Renewal")
_TYPE_MIX = {ENTERPRISE: (0.45, 0.33, 0.22), MID_MARKET: (0.52, 0.28, 0.20),
             SMB: (0.62, 0.20, 0.18)}
# Renewals close far more often than new business; the multipliers average to about 1.
_TYPE_CLOSE = np.array([0.78, 1.10, 1.75])
_TYPE_NAME_SUFFIX = ("", " Expansion", " Renewal")
_CHANNELS = ("Direct", "Partner", "Self Serve")
_LEAD_SOURCES = ("Inbound", "Outbound", "Event", "Partner", "Self Serve", "Existing Customer")
_PRODUCTS = ("Forecasting Suite", "Analytics Platform", "Data Connectors", "Revenue Cloud",
             "Premium Support", "Seats", "Pipeline Insights")
_COMPETITORS = ("Vantage Analytics", "Clarion Software", "Forecastly", "Northbeam CRM",
                "Pipewise")
_COMPETITOR_MIX = (0.32, 0.24, 0.2, 0.14, 0.10)

# Lost reasons: mapped ones come from sales.schema.DEFAULT_LOSS_REASONS; the unmapped ones give
# the analyst something to map.
_REASONS = ("Lost to competitor", "Chose competitor", "Price", "Features",
            "No decision", "No budget", "Timing", "Went dark", "Status quo",
            "Duplicate", "Merged",
            "Champion left", "Acquired by another company",
            "Not a fit", "No response", "Duplicate opportunity")
_COMP_REASONS = ((0, 1, 2, 3), (0.5, 0.2, 0.15, 0.15))
_NODEC_REASONS = ((4, 5, 6, 7, 8, 11, 12), (0.33, 0.18, 0.18, 0.14, 0.09, 0.05, 0.03))
_EXCL_REASONS = ((9, 10), (0.5, 0.5))
_UNQ_REASONS = ((13, 14, 5), (0.6, 0.25, 0.15))
_DUP_REASON = 15

_RENEWAL_RISKS = ("Early Warning", "At Risk")

# Current-quarter enterprise coverage ((Closed + Commit + Best Case) / target) the plan keeps each
# segment in: the target is the trend unless that falls outside the band.
_COVERAGE_BANDS = {ENTERPRISE: (3.7, 4.3), MID_MARKET: (1.6, 2.0), SMB: (0.0, np.inf)}

_NEXT_STEPS = {
    _PRE: ("Confirm fit with SDR", "Book intro call"),
    _PENDING: ("Qualify budget and timeline", "Book discovery call"),
    _DISCOVERY: ("Discovery call scheduled", "Identify economic buyer", "Map current process"),
    _SCOPING: ("Scoping workshop", "Confirm success criteria", "Agree mutual action plan"),
    _TECH: ("Technical deep dive", "Security questionnaire", "POC kickoff", "POC readout"),
    _PROPOSAL: ("Send proposal", "Pricing review with buyer", "Business case with CFO"),
    _NEGOTIATING: ("Legal redlines", "Procurement negotiation", "Final pricing approval"),
    _AWAITING: ("Awaiting countersignature", "PO processing", "Signature from CFO"),
}
_NEXT_STEP_TEXTS = tuple(sorted({t for texts in _NEXT_STEPS.values() for t in texts}))

_NAME_FIRST = (
    "Acme", "Apex", "Arbor", "Atlas", "Aurora", "Beacon", "Birch", "Blue", "Bright", "Cedar",
    "Citadel", "Clear", "Cobalt", "Copper", "Crest", "Crystal", "Delta", "Eagle", "Echo",
    "Ember", "Evergreen", "Falcon", "Fjord", "Granite", "Harbor", "Highland", "Horizon", "Iron",
    "Juniper", "Keystone", "Lakeside", "Lumen", "Maple", "Meridian", "Nimbus", "North", "Nova",
    "Oak", "Orion", "Pacific", "Pine", "Pinnacle", "Polar", "Prairie", "Quartz", "Redwood",
    "Ridge", "River", "Sable", "Silver", "Sierra", "Solar", "Sterling", "Stone", "Summit",
    "Terra", "Tidal", "Union", "Vertex", "Westfield",
)
_NAME_MIDDLE = (
    " Bay", " Point", " Valley", " Peak", " Street", " Field", " Gate", " Line",
    " Works", " Creek", " Hill", " Bridge", " Rock", " Park", " Grove", " Harbour",
)
_NAME_TRADE = (
    "Analytics", "Bank", "Biotech", "Brands", "Capital", "Chemicals", "Cloud", "Consulting",
    "Dynamics", "Energy", "Engineering", "Foods", "Freight", "Games", "Health", "Hotels",
    "Industries", "Insurance", "Labs", "Logistics", "Manufacturing", "Media", "Medical",
    "Metals", "Mobility", "Networks", "Outfitters", "Partners", "Pharma", "Power", "Retail",
    "Robotics", "Security", "Semiconductors", "Software", "Solutions", "Systems", "Telecom",
    "Therapeutics", "Ventures",
)
_NAME_LEGAL = ("", " Inc", " Ltd", " Group", " Corp", " LLC", " GmbH", " plc", " Holdings", " Co")

# Forecast calls: who saves them, and the reasons given when a deal leaves its default.
_CALL_SAVED_BY = "Jordan Blake (CRO)"
_CALL_NOTES = ("Weekly forecast call", "Commit scrub with regional managers",
               "Forecast call: slipped deals reviewed", "Forecast call: key deals walk-through")
_EXCLUDE_COMMIT_REASONS = ("timing risk: legal review", "timing risk: procurement backlog",
                           "timing risk: signer on leave", "timing risk: budget sign-off")
_INCLUDE_BEST_REASONS = ("champion confirmed, PO in flight", "verbal yes from CFO",
                         "vendor and timing risk gone")
_INCLUDE_PIPELINE_REASONS = ("exec sponsor pushing to sign this quarter",)


def build_demo(path: str | os.PathLike, opportunities: int = 20_000, seed: int = 42,
               as_of: date | None = None, fy_start_month: int = 1,
               progress: Progress | None = None) -> dict:
    """Build a demo database at `path` (replacing any file there) and return a summary dict
    (opportunities, history_rows, snapshot_dates, first_snapshot, last_snapshot, seconds)."""
    started = time.perf_counter()
    if opportunities < 1:
        raise ValueError(f"opportunities must be at least 1, got {opportunities}")
    if not 1 <= fy_start_month <= 12:
        raise ValueError(f"fy_start_month must be 1-12, got {fy_start_month}")
    as_of = as_of or date.today()
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    report = progress or (lambda fraction, message: None)

    target = Path(path)
    building = target.with_name(target.name + ".building")
    for stale in (building, building.with_name(building.name + ".wal")):
        stale.unlink(missing_ok=True)

    rng = np.random.default_rng(seed)
    cal = _Calendar(as_of, fy_start_month)
    report(0.02, "generating accounts and deals")
    deals = _simulate_deals(rng, opportunities, cal)
    report(0.15, "simulating weekly history")
    history = _history(deals, cal)
    current = _last_rows(history)
    report(0.35, "writing opportunities")
    try:
        summary = _fill(building, rng, deals, history, current, cal, report)
    except BaseException:
        for partial in (building, building.with_name(building.name + ".wal")):
            partial.unlink(missing_ok=True)
        raise
    Path(str(target) + ".wal").unlink(missing_ok=True)
    os.replace(building, target)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    report(1.0, "done")
    return summary


def _fill(building: Path, rng: np.random.Generator, deals: dict, history: dict,
          current: np.ndarray, cal: _Calendar, report: Progress) -> dict:
    """Write every table into the new file at `building`; returns the summary so far."""
    con = connect(building)
    try:
        if cal.fy != 1:
            con.execute("insert or replace into settings values ('fiscal_year_start_month', ?)",
                        [str(cal.fy)])
        _write_opportunities(con, deals, history, current, cal)
        report(0.5, "writing history")
        _write_history(con, history, cal)
        report(0.8, "writing targets")
        _write_targets(con, rng, deals, history, current, cal)
        report(0.85, "writing submissions")
        _write_submissions(con, rng, history, cal)
        report(0.9, "writing forecast calls")
        _write_calls(con, rng, deals, history, cal)
        report(0.96, "classifying losses")
        reclassify_losses(con)
        bump_data_version(con)
        summary = {
            "opportunities": int(len(deals["seg"])),
            "history_rows": int(len(history["deal"])),
            "snapshot_dates": int(len(cal.snap_days)),
            "first_snapshot": cal.snapshot(0),
            "last_snapshot": cal.snapshot(len(cal.snap_days) - 1),
        }
        con.execute("checkpoint")
    finally:
        con.close()
    return summary


# --- calendar --------------------------------------------------------------------------------


def _day(d: date) -> int:
    return d.toordinal() - _EPOCH


def _date(day: int) -> date:
    return date.fromordinal(int(day) + _EPOCH)


class _Calendar:
    """Snapshot dates and day → fiscal quarter / month-end lookups, in days since 1970-01-01."""

    def __init__(self, as_of: date, fy_start_month: int):
        self.fy = fy_start_month
        self.as_of = _day(as_of)
        self.current = period_containing(as_of, QUARTER, fy_start_month)
        oldest = self.current.shift(-HISTORY_QUARTERS)
        weeks = -(-(self.as_of - _day(oldest.start)) // 7)
        self.snap_days = self.as_of - 7 * np.arange(weeks, -1, -1, dtype=np.int64)
        self.first = int(self.snap_days[0])
        self.window_start = self.first - LEAD_IN_DAYS
        self.lo = self.window_start - 31
        self.hi = self.as_of + HORIZON_DAYS
        self.quarters: list[Period] = []
        quarter = period_containing(_date(self.lo), QUARTER, fy_start_month)
        while _day(quarter.start) <= self.hi:
            self.quarters.append(quarter)
            quarter = quarter.shift(1)
        days = self.hi - self.lo + 1
        self.quarter_of = np.empty(days, np.int32)  # index into self.quarters
        self.quarter_end = np.empty(days, np.int64)
        for i, q in enumerate(self.quarters):
            a, b = max(_day(q.start), self.lo) - self.lo, min(_day(q.end), self.hi) - self.lo
            self.quarter_of[a:b + 1] = i
            self.quarter_end[a:b + 1] = _day(q.end)
        self.month_end = np.empty(days, np.int64)
        month = period_containing(_date(self.lo), MONTH, fy_start_month)
        while _day(month.start) <= self.hi:
            a, b = max(_day(month.start), self.lo) - self.lo, min(_day(month.end), self.hi) - self.lo
            self.month_end[a:b + 1] = _day(month.end)
            month = month.shift(1)
        starts = np.array([_day(q.start) for q in self.quarters] + [_day(self.quarters[-1].end) + 1])
        # First snapshot index on or after each quarter's start; [k(q), k(q + 1)) lie in q.
        self.quarter_first_snap = np.searchsorted(self.snap_days, starts).astype(np.int64)
        self.snap_quarter = self.quarter_of[self.snap_days - self.lo]
        self.current_index = self.quarters.index(self.current)

    def clip(self, days: np.ndarray) -> np.ndarray:
        return np.clip(days, self.lo, self.hi)

    def quarter(self, days: np.ndarray) -> np.ndarray:
        return self.quarter_of[self.clip(days) - self.lo]

    def snapshot(self, k: int) -> date:
        return _date(self.snap_days[k])


# --- deals -----------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, n: int, probs) -> np.ndarray:
    """n draws of an index with the given probabilities (normalised)."""
    p = np.asarray(probs, dtype=float)
    return np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right").clip(0, len(p) - 1)


def _pick_from(rng: np.random.Generator, n: int, choice: tuple) -> np.ndarray:
    values, probs = choice
    return np.asarray(values)[_pick(rng, n, probs)]


def _account_names(rng: np.random.Generator, n: int) -> list[str]:
    """n distinct company names ("Cedar Logistics Inc", "Summit Creek Health"), in random order.

    Two disjoint name spaces (without and with a middle word) keep them unique; past ~400k
    accounts names repeat.
    """
    names: list[str] = []
    plain = min(round(n * 0.4), len(_NAME_FIRST) * len(_NAME_TRADE) * len(_NAME_LEGAL))
    for count, middles in ((plain, ("",)), (n - plain, _NAME_MIDDLE)):
        sizes = (len(_NAME_FIRST), len(middles), len(_NAME_TRADE), len(_NAME_LEGAL))
        space = int(np.prod(sizes))
        picks = rng.choice(space, size=min(count, space), replace=False)
        if count > space:
            picks = np.concatenate([picks, rng.integers(0, space, count - space)])
        first, rest = np.divmod(picks, space // sizes[0])
        middle, rest = np.divmod(rest, sizes[2] * sizes[3])
        trade, legal = np.divmod(rest, sizes[3])
        names += [f"{_NAME_FIRST[a]}{middles[b]} {_NAME_TRADE[c]}{_NAME_LEGAL[e]}"
                  for a, b, c, e in zip(first.tolist(), middle.tolist(), trade.tolist(),
                                        legal.tolist(), strict=True)]
    order = rng.permutation(n)
    return [names[i] for i in order]


def _snap_close(rng: np.random.Generator, days: np.ndarray, seg: np.ndarray,
                cal: _Calendar) -> np.ndarray:
    """Reps like month and quarter ends: move some planned close dates onto them."""
    days = cal.clip(days)
    r = rng.random(len(days))
    quarter_p = np.where(seg == _SEG_INDEX[SMB], 0.05, 0.25)
    out = np.where(r < quarter_p, cal.quarter_end[days - cal.lo], days)
    out = np.where((r >= quarter_p) & (r < quarter_p + 0.3), cal.month_end[days - cal.lo], out)
    return cal.clip(out)


def _simulate_deals(rng: np.random.Generator, n: int, cal: _Calendar) -> dict[str, np.ndarray]:
    """Every deal's attributes and its whole life as event times (days), decided up front.

    Events after as_of are simply not observed, so deals still running at as_of are open.
    """
    d: dict[str, np.ndarray] = {}
    span = cal.as_of - cal.window_start
    growth = np.log(1.3) / 365  # the company grows ~30% a year, and so does deal flow
    u = np.sort(rng.random(n))
    created = cal.window_start + np.floor(np.log1p(u * np.expm1(growth * span)) / growth)
    d["created"] = np.minimum(created.astype(np.int64), cal.as_of)

    profiles = [_PROFILES[s] for s in SEGMENTS]
    # Segment mix shifts toward each segment's recent flow over the nine months before as_of.
    ramp = np.clip((d["created"] - (cal.as_of - 270)) / 180, 0, 1)[:, None]
    flow = np.array([p.recent_flow for p in profiles])
    mix = np.array([p.share for p in profiles]) * (1 + (flow - 1) * ramp)
    cum = np.cumsum(mix / mix.sum(axis=1, keepdims=True), axis=1)
    seg = (rng.random(n)[:, None] > cum[:, :2]).sum(axis=1).astype(np.int8)
    d["seg"] = seg
    _assign_accounts(rng, d, profiles)

    typ = np.empty(n, np.int8)
    channel = np.empty(n, np.int8)
    for s, name in enumerate(SEGMENTS):
        m = seg == s
        typ[m] = _pick(rng, int(m.sum()), _TYPE_MIX[name])
        channel[m] = _pick(rng, int(m.sum()), profiles[s].channels)
    d["type"], d["channel"] = typ, channel
    lead = _pick(rng, n, (0.45, 0.4, 0.15))  # Inbound, Outbound, Event
    existing = (typ > 0) & (rng.random(n) < 0.7)
    lead = np.where(existing, 5, lead)
    lead = np.where(channel == 1, 3, lead)
    lead = np.where(channel == 2, 4, lead)
    d["lead"] = lead.astype(np.int8)
    d["product"] = rng.integers(0, len(_PRODUCTS), n).astype(np.int8)

    prof = {f: np.array([getattr(p, f) for p in profiles]) for f in
            ("accept_days", "span_min", "span_scale", "close_rate", "win_rate", "unqualified")}
    _simulate_qualification(rng, d, prof, cal)
    _simulate_outcomes(rng, d, prof)
    _simulate_pushes(rng, d, profiles, cal)
    _simulate_close(rng, d, cal)
    _simulate_changes(rng, d, profiles)
    _describe(rng, d)
    return d


def _assign_accounts(rng: np.random.Generator, d: dict, profiles: list[_Segment]) -> None:
    """Accounts per segment (employees, team, rep); deals pick accounts, a few heavily."""
    seg = d["seg"]
    n = len(seg)
    counts = np.bincount(seg, minlength=3)
    n_acc = [max(3, round(counts[s] / profiles[s].deals_per_account)) for s in range(3)]
    names = _account_names(rng, sum(n_acc))
    acc_seg = np.repeat(np.arange(3, dtype=np.int8), n_acc)
    employees = np.empty(len(acc_seg), np.int64)
    acc_team = np.empty(len(acc_seg), np.int16)
    acc_rep = np.empty(len(acc_seg), np.int16)
    deal_acc = np.empty(n, np.int64)
    offset = 0
    for s in range(3):
        k = n_acc[s]
        lo, hi = profiles[s].employees
        sl = slice(offset, offset + k)
        employees[sl] = np.floor(np.exp(rng.uniform(np.log(lo), np.log(hi + 1), k)))
        teams = np.flatnonzero(np.equal(_TEAM_SEG, s))
        sizes = np.array([len(_TEAM_REPS[t]) for t in teams], float)
        acc_team[sl] = teams[_pick(rng, k, sizes)]
        acc_rep[sl] = (_TEAM_FIRST_REP[acc_team[sl]]
                       + rng.integers(0, 12, k) % _TEAM_SIZE[acc_team[sl]])
        weights = rng.pareto(1.6, k) + 1.0
        m = seg == s
        deal_acc[m] = offset + _pick(rng, int(m.sum()), weights)
        offset += k
    employees = np.minimum(employees, np.array([p.employees[1] for p in profiles])[acc_seg])
    d["account"] = deal_acc
    d["account_names"] = np.array(names, dtype=object)
    d["employees"] = employees[deal_acc]
    d["team"] = acc_team[deal_acc]
    # Most deals belong to the account's rep; some to a teammate.
    owner = acc_rep[deal_acc].copy()
    other = rng.random(n) < 0.15
    team_size, first_rep = _TEAM_SIZE[d["team"]], _TEAM_FIRST_REP[d["team"]]
    shift = rng.integers(1, 4, n)
    pos = (owner - first_rep + shift) % team_size
    owner = np.where(other, first_rep + pos, owner)
    d["owner0"] = owner.astype(np.int16)


def _simulate_qualification(rng: np.random.Generator, d: dict, prof: dict,
                            cal: _Calendar) -> None:
    """Which deals qualify, when, and the close date the rep first plans."""
    n = len(d["seg"])
    seg, typ, c = d["seg"], d["type"], d["created"]
    self_serve = d["channel"] == 2
    # Duplicate, never qualified, or qualified (renewals nearly always qualify).
    r = rng.random(n)
    p_unq = np.where(typ == 2, 0.03, prof["unqualified"][seg])
    outcome = np.full(n, -1, np.int8)
    outcome[r < 0.03] = _OUT_DUP
    outcome[(r >= 0.03) & (r < 0.03 + p_unq)] = _OUT_UNQ
    d["outcome"] = outcome

    d["start_pre"] = rng.random(n) < 0.07
    t_pre = c + 1 + np.floor(rng.gamma(2.0, 4.0, n)).astype(np.int64)
    d["t_pre"] = np.where(d["start_pre"], t_pre, _NEVER)
    accept = np.floor(rng.gamma(1.5, prof["accept_days"][seg] / 1.5, n)).astype(np.int64)
    accept = np.where(self_serve, accept // 4, accept)
    a = np.where(d["start_pre"], t_pre, c) + 1 + accept
    d["accepted"] = np.where(outcome < 0, a, _NEVER)
    span = prof["span_min"][seg] + rng.gamma(2.0, prof["span_scale"][seg], n)
    d["span"] = np.where(self_serve, span * 0.6 + 8, span)
    d["cd0"] = _snap_close(rng, a + np.floor(d["span"]).astype(np.int64), seg, cal)
    d["planned"] = (d["cd0"] - a).astype(float)


def _simulate_outcomes(rng: np.random.Generator, d: dict, prof: dict) -> None:
    """Won or lost (and why) for qualified deals, and the last stage a lost deal reached."""
    n = len(d["seg"])
    seg, outcome = d["seg"], d["outcome"]
    qualified = outcome < 0
    p_won = np.clip(prof["close_rate"][seg] * _TYPE_CLOSE[d["type"]], 0, 0.9)
    cr, wr = prof["close_rate"][seg], prof["win_rate"][seg]
    p_comp = (cr / wr - cr) / (1 - cr)  # share of competition among competition + no decision
    r1, r2, r3 = rng.random(n), rng.random(n), rng.random(n)
    won = qualified & (r1 < p_won)
    excl = qualified & ~won & (r2 < 0.06)
    comp = qualified & ~won & ~excl & (r3 < p_comp)
    nodec = qualified & ~won & ~excl & ~comp
    outcome[won], outcome[comp], outcome[nodec], outcome[excl] = (
        _OUT_WON, _OUT_COMP, _OUT_NODEC, _OUT_EXCL)
    # The last open stage reached, as an index into 1-Discovery .. 6-Awaiting Signature.
    top = np.full(n, 5, np.int64)
    top[comp] = _pick(rng, int(comp.sum()), (0.1, 0.2, 0.3, 0.25, 0.1, 0.05))
    top[nodec] = _pick(rng, int(nodec.sum()), (0.35, 0.25, 0.2, 0.12, 0.06, 0.02))
    top[excl] = _pick(rng, int(excl.sum()), (0.6, 0.3, 0.1))
    d["top"] = top


def _simulate_pushes(rng: np.random.Generator, d: dict, profiles: list[_Segment],
                     cal: _Calendar) -> None:
    """Scoping, evaluation and proposal dates, then close-date pushes once in Commit.

    A push comes just before the planned date and moves it into a later quarter.
    """
    n = len(d["seg"])
    seg, a, planned = d["seg"], d["accepted"], d["planned"]
    frac = np.stack([rng.uniform(0.10, 0.25, n), rng.uniform(0.28, 0.45, n),
                     rng.uniform(0.50, 0.72, n)])
    d["s234"] = a + np.floor(frac * planned).astype(np.int64)  # Scoping, Tech Eval, Proposal
    proposal = d["s234"][2]
    reaches_commit = (d["outcome"] == _OUT_WON) | ((d["outcome"] != _OUT_UNQ)
                                                   & (d["outcome"] != _OUT_DUP) & (d["top"] >= 3))
    pushes = np.zeros(n, np.int64)
    for s in range(3):
        m = reaches_commit & (seg == s)
        pushes[m] = _pick(rng, int(m.sum()), profiles[s].pushes)
    push_t = np.full((3, n), _NEVER)
    push_cd = np.zeros((3, n), np.int64)
    prev = d["cd0"]
    for j in range(3):
        room = np.minimum(14.0, 0.5 * (prev - proposal))
        t = prev - np.floor(rng.random(n) * room).astype(np.int64)
        nxt = _snap_close(rng, prev + 92 + rng.integers(0, 36, n), seg, cal)
        on = pushes > j
        push_t[j] = np.where(on, t, _NEVER)
        push_cd[j] = np.where(on, nxt, 0)
        prev = np.where(on, nxt, prev)
    d["pushes"], d["push_t"], d["push_cd"], d["final_cd"] = pushes, push_t, push_cd, prev
    last_push = np.where(pushes > 0, push_t[np.maximum(pushes - 1, 0), np.arange(n)], proposal)
    d["commit_from"] = np.maximum(proposal, last_push)


def _simulate_close(rng: np.random.Generator, d: dict, cal: _Calendar) -> None:
    """When each deal closes, the later stages on the way, and pull-ins of far close dates."""
    n = len(d["seg"])
    seg, outcome, top, c, a = d["seg"], d["outcome"], d["top"], d["created"], d["accepted"]
    qualified, won = a < _NEVER, outcome == _OUT_WON
    cd0, final_cd, base, s234 = d["cd0"], d["final_cd"], d["commit_from"], d["s234"]
    # Wins land on or just before the latest planned date; losses anywhere before it.
    gap = (final_cd - base).astype(float)
    x_won = final_cd - np.floor(rng.random(n) * np.minimum(15.0, 0.4 * gap)).astype(np.int64)
    x_late = base + 1 + np.floor(rng.uniform(0.15, 1.0, n) * (gap - 1)).astype(np.int64)
    s_top = np.where(top == 0, a, s234[np.clip(top - 1, 0, 2), np.arange(n)])
    x_early = s_top + 1 + np.floor(rng.uniform(0.1, 1.0, n) * np.maximum(cd0 - s_top - 1, 0))
    x_q = np.where(won, x_won, np.where(top >= 3, x_late, x_early.astype(np.int64)))
    x_unq = c + 3 + np.floor(rng.gamma(2.0, 12.0, n)).astype(np.int64)
    x_dup = c + rng.integers(0, 6, n)
    close = np.where(outcome == _OUT_DUP, x_dup, np.where(outcome == _OUT_UNQ, x_unq, x_q))
    d["close"] = close
    d["close_stage"] = np.select(
        [won, outcome == _OUT_UNQ, outcome == _OUT_DUP],
        [_WON, _UNQUALIFIED, _DUPLICATE], _LOST).astype(np.int8)

    # Negotiating and Awaiting Signature come after the last push, close to the close.
    late_gap = (close - base).astype(float)
    s5 = close - np.floor(rng.uniform(0.35, 0.65, n) * late_gap).astype(np.int64)
    s6 = close - np.floor(rng.uniform(0.05, 0.25, n) * late_gap).astype(np.int64)
    stage_t = np.vstack([s234, s5[None], s6[None]])  # Scoping .. Awaiting Signature
    visit = np.arange(1, 6)[:, None] <= top[None, :]
    smb = seg == _SEG_INDEX[SMB]
    visit[0] &= ~(smb & (rng.random(n) < 0.4))  # small deals often skip scoping
    visit[1] &= ~(smb & (rng.random(n) < 0.3))  # ... and the technical evaluation
    visit[3] &= rng.random(n) >= 0.15
    visit &= qualified[None, :]
    d["stage_t"] = np.where(visit, stage_t, _NEVER)

    # Some deals start with a far close date and get pulled in to the real one.
    planned = d["planned"]
    pull = (qualified & (d["pushes"] == 0) & (won | (top >= 2)) & (planned > 50)
            & (rng.random(n) < 0.12))
    far = _snap_close(rng, cd0 + 50 + rng.integers(0, 71, n), seg, cal)
    pull_room = np.minimum(50.0, planned - 5) - 15
    t_pull = cd0 - 15 - np.floor(rng.random(n) * pull_room).astype(np.int64)
    unq_cd = cal.clip(c + np.floor(d["span"]).astype(np.int64) + 10)
    d["cd_init"] = np.where(qualified, np.where(pull, far, cd0), np.maximum(unq_cd, close))
    d["pull_t"] = np.where(pull, t_pull, _NEVER)
    d["pull_cd"] = cd0


def _simulate_changes(rng: np.random.Generator, d: dict, profiles: list[_Segment]) -> None:
    """Amounts and their changes, owner changes and reps' category overrides."""
    n = len(d["seg"])
    seg, c, close = d["seg"], d["created"], d["close"]
    median = np.array([p.amount_median for p in profiles])[seg]
    sigma = np.array([p.amount_sigma for p in profiles])[seg]
    low = np.array([p.amount_range[0] for p in profiles])[seg]
    high = np.array([p.amount_range[1] for p in profiles])[seg]
    step = np.array([p.amount_step for p in profiles])[seg]
    size = np.where(d["channel"] == 2, 0.6, 1.0) * np.array([1.0, 0.7, 0.9])[d["type"]]
    amount0 = np.clip(median * size * np.exp(sigma * rng.standard_normal(n)), low, high)
    d["amount0"] = np.round(amount0 / step) * step

    life = close - c
    changes = np.where(life > 3, _pick(rng, n, (0.6, 0.28, 0.12)), 0)
    t = c[None] + 1 + np.floor(rng.random((2, n)) * np.maximum(life - 2, 0)).astype(np.int64)
    t = np.sort(t, axis=0)
    factors = np.clip(np.exp(0.18 * rng.standard_normal((2, n))), 0.6, 1.6)
    values = np.clip(d["amount0"] * np.cumprod(factors, axis=0), low * 0.6, high * 1.2)
    d["amount_t"] = np.where(np.arange(2)[:, None] < changes[None], t, _NEVER)
    d["amount_v"] = np.round(values / step) * step

    # A few deals change hands inside the team.
    team_size, first_rep = _TEAM_SIZE[d["team"]], _TEAM_FIRST_REP[d["team"]]
    moved = (rng.random(n) < 0.05) & (team_size > 1) & (life > 3)
    offset = 1 + rng.integers(0, 3, n) % np.maximum(team_size - 1, 1)
    d["owner1"] = (first_rep + (d["owner0"] - first_rep + offset) % team_size).astype(np.int16)
    d["owner_t"] = np.where(
        moved, c + 1 + np.floor(rng.random(n) * np.maximum(life - 2, 0)).astype(np.int64), _NEVER)

    # Reps' overrides: a proposal called Best Case, a technical evaluation called Commit.
    r = rng.random(n)
    qualified = d["accepted"] < _NEVER
    kind = _pick(rng, n, (0.4, 0.4, 0.2))
    d["ov_stage"] = np.where(qualified & (r < 0.06),
                             np.array([_PROPOSAL, _TECH, _SCOPING])[kind], -1).astype(np.int8)
    d["ov_cat"] = np.array([_CAT_BEST, _CAT_COMMIT, _CAT_BEST], np.int8)[kind]


def _describe(rng: np.random.Generator, d: dict) -> None:
    """Descriptive columns that depend on the outcome: reasons, competitors, renewal risk."""
    n = len(d["seg"])
    outcome = d["outcome"]
    reason = np.full(n, -1, np.int64)
    for out, choice in ((_OUT_COMP, _COMP_REASONS), (_OUT_NODEC, _NODEC_REASONS),
                        (_OUT_EXCL, _EXCL_REASONS), (_OUT_UNQ, _UNQ_REASONS)):
        m = outcome == out
        reason[m] = _pick_from(rng, int(m.sum()), choice)
    reason[outcome == _OUT_DUP] = _DUP_REASON
    d["reason"] = reason
    comp_name = _pick(rng, n, _COMPETITOR_MIX)
    named = (outcome == _OUT_COMP) | ((outcome == _OUT_WON) & (rng.random(n) < 0.4))
    d["competitor"] = np.where(named, comp_name, -1)
    d["competitor_seen_open"] = rng.random(n) < 0.7
    r = rng.random(n)
    losing = outcome != _OUT_WON
    risk = np.where(losing, np.where(r < 0.35, 1, np.where(r < 0.6, 0, -1)),
                    np.where(r < 0.05, 1, np.where(r < 0.15, 0, -1)))
    d["renewal_risk"] = np.where(d["type"] == 2, risk, -1)
    d["next_step_pick"] = rng.integers(0, 12, n)
    d["call_flip"] = rng.random(n)
    d["call_reason"] = rng.integers(0, 12, n)


# --- history ---------------------------------------------------------------------------------


def _history(d: dict, cal: _Calendar) -> dict[str, np.ndarray]:
    """Weekly snapshots as changes: one row per stretch of unchanged state per deal.

    Columns: deal, kf (first snapshot index), kt (snapshot index where the next state is first
    seen; len(snap_days) while current), stage, cat, amount, cd, owner. Rows sorted by deal, kf.
    """
    n = len(d["seg"])
    parts = [_history_block(d, lo, min(lo + CHUNK_DEALS, n), cal)
             for lo in range(0, n, CHUNK_DEALS)]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _history_block(d: dict, lo: int, hi: int, cal: _Calendar) -> dict[str, np.ndarray]:
    n = hi - lo
    sl = slice(lo, hi)
    t = np.full((n, _SLOTS), _NEVER, np.int64)
    stage = np.full((n, _SLOTS), -1, np.int8)
    cd = np.full((n, _SLOTS), -1, np.int64)
    amount = np.full((n, _SLOTS), np.nan)
    owner = np.full((n, _SLOTS), -1, np.int16)

    # Slot order breaks ties between events on one day: later slots win.
    t[:, 0] = d["created"][sl]
    stage[:, 0] = np.where(d["start_pre"][sl], _PRE, _PENDING)
    cd[:, 0] = d["cd_init"][sl]
    amount[:, 0] = d["amount0"][sl]
    owner[:, 0] = d["owner0"][sl]
    t[:, 1], stage[:, 1] = d["t_pre"][sl], _PENDING
    t[:, 2], stage[:, 2] = d["accepted"][sl], _DISCOVERY
    for j, code in enumerate(_LATER_STAGES):
        t[:, 3 + j], stage[:, 3 + j] = d["stage_t"][j, sl], code
    t[:, 8], cd[:, 8] = d["pull_t"][sl], d["pull_cd"][sl]
    for j in range(3):
        t[:, 9 + j], cd[:, 9 + j] = d["push_t"][j, sl], d["push_cd"][j, sl]
    for j in range(2):
        t[:, 12 + j], amount[:, 12 + j] = d["amount_t"][j, sl], d["amount_v"][j, sl]
    t[:, 14], owner[:, 14] = d["owner_t"][sl], d["owner1"][sl]
    close = d["close"][sl]
    t[:, 15], stage[:, 15], cd[:, 15] = close, d["close_stage"][sl], close

    # Unobserved: after as_of, or (for anything but the close) on or after the close.
    middle = (np.arange(_SLOTS) > 0) & (np.arange(_SLOTS) < _SLOTS - 1)
    late = (t > cal.as_of) | ((t >= close[:, None]) & middle)
    t[late] = _NEVER
    order = np.argsort(t * _SLOTS + np.arange(_SLOTS), axis=1)
    t = np.take_along_axis(t, order, axis=1)
    valid = t < _NEVER
    cols = np.arange(_SLOTS)
    filled = {}
    for name, slot_values, slot_set in (("stage", stage, stage >= 0), ("cd", cd, cd >= 0),
                                        ("amount", amount, ~np.isnan(amount)),
                                        ("owner", owner, owner >= 0)):
        # Forward-fill: each event carries the latest value set at or before it.
        values = np.take_along_axis(slot_values, order, axis=1)
        present = np.take_along_axis(slot_set, order, axis=1) & valid
        idx = np.maximum.accumulate(np.where(present, cols, 0), axis=1)
        filled[name] = np.take_along_axis(values, idx, axis=1)

    # Each event is first seen at the first snapshot on or after it; of several events in one
    # week only the last state is seen.
    k = np.where(valid, np.maximum(0, -((cal.first - t) // 7)), _NEVER)
    k_next = np.concatenate([k[:, 1:], np.full((n, 1), _NEVER)], axis=1)
    rows, slots = np.nonzero(valid & (k != k_next))
    out = {"deal": (rows + lo).astype(np.int32), "kf": k[rows, slots].astype(np.int32)}
    for name, values in filled.items():
        out[name] = values[rows, slots]
    out["cd"] = cal.clip(out["cd"])
    ov = d["ov_stage"][out["deal"]]
    out["cat"] = np.where(out["stage"] == ov, d["ov_cat"][out["deal"]],
                          _STAGE_CAT[out["stage"]]).astype(np.int8)

    # Drop rows whose state equals the previous row of the same deal.
    same = out["deal"][1:] == out["deal"][:-1]
    for name in ("stage", "cat", "amount", "cd", "owner"):
        same &= out[name][1:] == out[name][:-1]
    keep = np.concatenate([[True], ~same])
    out = {key: v[keep] for key, v in out.items()}
    last = np.concatenate([out["deal"][1:] != out["deal"][:-1], [True]])
    kt = np.concatenate([out["kf"][1:], [0]])
    out["kt"] = np.where(last, len(cal.snap_days), kt).astype(np.int32)
    return out


def _last_rows(h: dict) -> np.ndarray:
    """Index of each deal's current history row (the state at as_of), by deal."""
    return np.flatnonzero(np.concatenate([h["deal"][1:] != h["deal"][:-1], [True]]))


# --- writing ---------------------------------------------------------------------------------


def _dict(codes: np.ndarray, values) -> pa.DictionaryArray:
    """A string column as codes into `values`; code -1 is null."""
    codes = np.asarray(codes, np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0),
                                          pa.array(list(values), pa.string()))


def _dates(days: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(days, np.int32), pa.int32(), mask=null).view(pa.date32())


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pa.Table) -> None:
    """Insert an arrow table into `table` through its static select over the view `frame`."""
    con.register("frame", frame)
    try:
        con.execute(_INSERTS[table])
    finally:
        con.unregister("frame")


_INSERTS = {
    "opportunities": """
        insert into opportunities
        select 'OPP-' || lpad(cast(deal + 1 as varchar), 7, '0'),
               account_name || ' - ' || product || type_suffix,
               account_name, account_employees, segment, region, team, owner, type, channel,
               stage, forecast_category, amount, close_date, created_date,
               sales_accepted_date, lost_reason, competitor, null, renewal_risk, next_step,
               lead_source
        from frame
    """,
    "opportunity_history": """
        insert into opportunity_history
        select 'OPP-' || lpad(cast(deal + 1 as varchar), 7, '0'), valid_from, valid_to, stage,
               forecast_category, amount, close_date, owner
        from frame
    """,
    "snapshot_dates": "insert into snapshot_dates select snapshot_date from frame",
    "targets": "insert into targets select period, scope, scope_value, amount from frame",
    "submissions": """
        insert into submissions select period, owner, submitted_date, forecast, upside from frame
    """,
    "forecast_call_decisions": """
        insert into forecast_call_decisions
        select call_id, 'OPP-' || lpad(cast(deal + 1 as varchar), 7, '0'), included, reason,
               amount, forecast_category
        from frame
    """,
}


def _write_opportunities(con: duckdb.DuckDBPyConnection, d: dict, h: dict,
                         current: np.ndarray, cal: _Calendar) -> None:
    n = len(d["seg"])
    if n >= 10_000_000:
        raise ValueError("the demo numbers opportunities with 7 digits: at most 9,999,999")
    stage = h["stage"][current]
    closed = d["close"] <= cal.as_of
    open_ = ~closed
    reason = np.where(closed & (stage != _WON), d["reason"], -1)
    competitor = np.where(closed | d["competitor_seen_open"], d["competitor"], -1)
    competitor = np.where(closed & (stage != _WON) & (stage != _LOST), -1, competitor)
    risk = np.where(open_, d["renewal_risk"], -1)
    step_text = {t: i for i, t in enumerate(_NEXT_STEP_TEXTS)}
    step_table = np.full((len(_STAGE_NAMES), 12), -1, np.int64)
    for code, texts in _NEXT_STEPS.items():
        step_table[code] = [step_text[texts[i % len(texts)]] for i in range(12)]
    next_step = np.where(open_, step_table[stage, d["next_step_pick"]], -1)
    accepted = d["accepted"]
    sal_null = accepted > cal.as_of
    employees = d["employees"].astype(np.int32)
    frame = pa.table({
        "deal": np.arange(n, dtype=np.int64),
        "account_name": _dict(d["account"], d["account_names"]),
        "product": _dict(d["product"], _PRODUCTS),
        "type_suffix": _dict(d["type"], _TYPE_NAME_SUFFIX),
        "account_employees": employees,
        "segment": _dict(d["seg"], SEGMENTS),
        "region": _dict(_TEAM_REGION[d["team"]], _REGIONS),
        "team": _dict(d["team"], [t[0] for t in _TEAMS]),
        "owner": _dict(h["owner"][current], _REPS),
        "type": _dict(d["type"], _TYPES),
        "channel": _dict(d["channel"], _CHANNELS),
        "stage": _dict(stage, _STAGE_NAMES),
        "forecast_category": _dict(h["cat"][current], _CATS),
        "amount": h["amount"][current],
        "close_date": _dates(h["cd"][current]),
        "created_date": _dates(d["created"]),
        "sales_accepted_date": _dates(np.where(sal_null, 0, accepted), sal_null),
        "lost_reason": _dict(reason, _REASONS),
        "competitor": _dict(competitor, _COMPETITORS),
        "renewal_risk": _dict(risk, _RENEWAL_RISKS),
        "next_step": _dict(next_step, _NEXT_STEP_TEXTS),
        "lead_source": _dict(d["lead"], _LEAD_SOURCES),
    })
    _insert(con, "opportunities", frame)


def _write_history(con: duckdb.DuckDBPyConnection, h: dict, cal: _Calendar) -> None:
    n_snaps = len(cal.snap_days)
    snaps = pa.table({"snapshot_date": _dates(cal.snap_days)})
    _insert(con, "snapshot_dates", snaps)
    current = h["kt"] >= n_snaps
    step = 2_000_000  # rows per insert: keeps the arrow copies small at a million deals
    for lo in range(0, len(h["deal"]), step):
        sl = slice(lo, lo + step)
        frame = pa.table({
            "deal": h["deal"][sl].astype(np.int64),
            "valid_from": _dates(cal.snap_days[h["kf"][sl]]),
            "valid_to": _dates(cal.snap_days[np.minimum(h["kt"][sl], n_snaps - 1)], current[sl]),
            "stage": _dict(h["stage"][sl], _STAGE_NAMES),
            "forecast_category": _dict(h["cat"][sl], _CATS),
            "amount": h["amount"][sl],
            "close_date": _dates(h["cd"][sl]),
            "owner": _dict(h["owner"][sl], _REPS),
        })
        _insert(con, "opportunity_history", frame)


# --- targets, submissions, calls -------------------------------------------------------------


def _in_period_by_snapshot(h: dict, rows: np.ndarray, group: np.ndarray, n_groups: int,
                           cal: _Calendar) -> np.ndarray:
    """(n_groups, snapshots): amount of the given rows standing at each snapshot with close date
    in that snapshot's fiscal quarter."""
    n_snaps = len(cal.snap_days)
    q = cal.quarter(h["cd"][rows])
    lo = np.maximum(h["kf"][rows], cal.quarter_first_snap[q])
    hi = np.minimum(h["kt"][rows], cal.quarter_first_snap[q + 1])
    m = lo < hi
    g, lo, hi, v = group[m].astype(np.int64), lo[m], hi[m], h["amount"][rows][m]
    width = n_snaps + 1
    size = n_groups * width
    diff = (np.bincount(g * width + lo, weights=v, minlength=size)
            - np.bincount(g * width + hi, weights=v, minlength=size))
    return np.cumsum(diff.reshape(n_groups, width), axis=1)[:, :n_snaps]


def _write_targets(con: duckdb.DuckDBPyConnection, rng: np.random.Generator, d: dict, h: dict,
                   current: np.ndarray, cal: _Calendar) -> None:
    """Plan by quarter and month for every covered quarter plus the next two.

    Owner targets are set first (a team's target split by rep weight, rounded to $100); every
    other level is their sum, so owner → team → segment / region → company add up exactly, and
    months add up to their quarter.
    """
    quarters = list(range(cal.snap_quarter[0], cal.current_index + 3))
    team_plan = _team_plan(rng, d, h, current, cal, quarters)
    rep_weight = rng.uniform(0.9, 1.1, len(_REPS))
    rep_weight[[3, 12, 21]] = 0.6  # three reps still ramping
    team_weight = np.bincount(_REP_TEAM, weights=rep_weight)
    rows: list[tuple[str, str, str, float]] = []
    for qi in quarters:
        quarter = cal.quarters[qi]
        owner_q = np.round(team_plan[qi][_REP_TEAM] * rep_weight / team_weight[_REP_TEAM], -2)
        m1, m2 = np.round(owner_q * 0.3, -2), np.round(owner_q * 0.32, -2)  # a hockey stick
        months = zip([m.label for m in quarter.months()], (m1, m2, owner_q - m1 - m2),
                     strict=True)
        for label, owners in [(quarter.label, owner_q), *months]:
            teams = np.bincount(_REP_TEAM, weights=owners, minlength=len(_TEAMS))
            rows.append((label, "company", "", float(owners.sum())))
            rows += [(label, "segment", name, float(teams[np.equal(_TEAM_SEG, i)].sum()))
                     for i, name in enumerate(SEGMENTS)]
            rows += [(label, "region", name, float(teams[np.equal(_TEAM_REGION, i)].sum()))
                     for i, name in enumerate(_REGIONS)]
            rows += [(label, "team", team[0], float(teams[i])) for i, team in enumerate(_TEAMS)]
            rows += [(label, "owner", rep, float(owners[i])) for i, rep in enumerate(_REPS)]
    period, scope, value, amount = zip(*rows, strict=True)
    frame = pa.table({"period": list(period), "scope": list(scope), "scope_value": list(value),
                      "amount": np.array(amount)})
    _insert(con, "targets", frame)


def _team_plan(rng: np.random.Generator, d: dict, h: dict, current: np.ndarray, cal: _Calendar,
               quarters: list[int]) -> dict[int, np.ndarray]:
    """Per quarter index, each team's target (unrounded).

    Past quarters: what was won over an attainment of 72-118% per segment. The current quarter:
    the trend, moved just enough to keep enterprise coverage in the segment's band
    (comfortable in Enterprise, thin in Mid-Market). Later quarters: the trend, growing.
    A segment's target is split over its teams half by their wins (or coverage), half by
    headcount.
    """
    n_teams, cur = len(_TEAMS), cal.current_index
    stage, cat, amount = h["stage"][current], h["cat"][current], h["amount"][current]
    q_close = cal.quarter(h["cd"][current])
    team, won = d["team"], stage == _WON
    won_team = np.zeros((len(cal.quarters), n_teams))
    np.add.at(won_team, (q_close[won], team[won]), amount[won])
    ccb = (won | (_OPEN_QUALIFIED[stage] & ((cat == _CAT_COMMIT) | (cat == _CAT_BEST))))
    ccb &= q_close == cur
    ccb_team = np.bincount(team[ccb], weights=amount[ccb], minlength=n_teams)
    attainment = rng.uniform(0.72, 1.18, (len(cal.quarters), 3))
    band = np.array([_COVERAGE_BANDS[s] for s in SEGMENTS])

    def by_segment(values: np.ndarray) -> np.ndarray:
        return np.bincount(_TEAM_SEG, weights=values, minlength=3)

    headcount = _TEAM_SIZE.astype(float)
    head_share = headcount / by_segment(headcount)[_TEAM_SEG]
    plan: dict[int, np.ndarray] = {}
    trend = np.zeros(3)
    for qi in quarters:
        if qi < cur:
            basis = won_team[qi]
            seg_total = by_segment(basis) / attainment[qi]
        elif qi == cur:
            trend = np.mean([by_segment(plan[p]) for p in quarters if cur - 4 <= p < cur], axis=0)
            basis = ccb_team
            ccb_seg, target = by_segment(basis), np.maximum(trend * 1.04, 1.0)
            coverage = np.clip(ccb_seg / target, band[:, 0], band[:, 1])
            seg_total = np.divide(ccb_seg, coverage, out=target.copy(), where=ccb_seg > 0)
        else:
            basis = headcount
            seg_total = 0.5 * (trend + by_segment(plan[cur])) * 1.04 ** (qi - cur)
        seg_total = np.where(seg_total > 0, seg_total, 10_000.0)  # no wins at all (tiny demos)
        seg_basis = by_segment(basis)[_TEAM_SEG]
        basis_share = np.divide(basis, seg_basis, out=head_share.copy(), where=seg_basis > 0)
        plan[qi] = (0.5 * basis_share + 0.5 * head_share) * seg_total[_TEAM_SEG]
    return plan


def _write_submissions(con: duckdb.DuckDBPyConnection, rng: np.random.Generator, h: dict,
                       cal: _Calendar) -> None:
    """Every rep, every snapshot: forecast ~ closed + commit (rep's bias and noise), upside ~ a
    share of best case, for the quarter holding the snapshot."""
    n_reps, n_snaps = len(_REPS), len(cal.snap_days)
    stage, cat = h["stage"], h["cat"]
    open_q = _OPEN_QUALIFIED[stage]
    by = {}
    for name, mask in (("won", stage == _WON), ("commit", open_q & (cat == _CAT_COMMIT)),
                       ("best", open_q & (cat == _CAT_BEST))):
        rows = np.flatnonzero(mask)
        by[name] = _in_period_by_snapshot(h, rows, h["owner"][rows], n_reps, cal)
    bias = rng.normal(1.0, 0.04, n_reps)
    bias[[1, 8, 17, 26]] = [0.8, 0.85, 0.82, 0.88]  # sandbaggers
    bias[[5, 14, 23]] = [1.2, 1.15, 1.25]  # happy ears
    noise = rng.normal(0.0, 0.04, (n_reps, n_snaps))
    forecast = by["won"] + by["commit"] * np.clip(bias[:, None] + noise, 0.5, 1.6)
    upside = by["best"] * rng.uniform(0.3, 0.6, (n_reps, n_snaps))
    quarters, quarter_code = np.unique(cal.snap_quarter, return_inverse=True)
    labels = [cal.quarters[q].label for q in quarters]
    frame = pa.table({
        "period": _dict(np.tile(quarter_code, n_reps), labels),
        "owner": _dict(np.repeat(np.arange(n_reps), n_snaps), _REPS),
        "submitted_date": _dates(np.tile(cal.snap_days, n_reps)),
        "forecast": np.round(forecast.ravel(), -2),
        "upside": np.round(upside.ravel(), -2),
    })
    _insert(con, "submissions", frame)


def _write_calls(con: duckdb.DuckDBPyConnection, rng: np.random.Generator, d: dict, h: dict,
                 cal: _Calendar) -> None:
    """Weekly in-blood calls: the current quarter's past weeks and the two quarters before.

    Each call decides every open, qualified Commit / Best Case / Pipeline deal closing in the
    quarter at that week's snapshot: the defaults (Commit in, the rest out) with a few flips.
    """
    cur = cal.current_index
    n_snaps = len(cal.snap_days)
    stage, cat, kf, kt = h["stage"], h["cat"], h["kf"], h["kt"]
    candidates = np.flatnonzero(_OPEN_QUALIFIED[stage])
    cand_q = cal.quarter(h["cd"][candidates])
    flip = d["call_flip"]
    pick = d["call_reason"]
    reasons = _EXCLUDE_COMMIT_REASONS + _INCLUDE_BEST_REASONS + _INCLUDE_PIPELINE_REASONS
    n_ex, n_best = len(_EXCLUDE_COMMIT_REASONS), len(_INCLUDE_BEST_REASONS)
    frames = []
    for qi in (cur - 2, cur - 1, cur):
        snaps = [k for k in range(n_snaps) if cal.snap_quarter[k] == qi and k < n_snaps - 1]
        for week, k in enumerate(snaps, start=1):
            call_date = cal.snapshot(k)
            minutes = int(rng.integers(0, 120))
            saved_at = datetime.combine(call_date, datetime.min.time()) + timedelta(
                hours=16, minutes=minutes)
            note = f"{_CALL_NOTES[week % len(_CALL_NOTES)]} (week {week})"
            call_id = con.execute(
                "insert into forecast_calls (period, call_date, saved_at, saved_by, note, scope)"
                " values (?, ?, ?, ?, ?, '') returning call_id",
                [cal.quarters[qi].label, call_date, saved_at, _CALL_SAVED_BY, note],
            ).fetchall()[0][0]
            rows = candidates[(cand_q == qi) & (kf[candidates] <= k) & (kt[candidates] > k)]
            deal, c = h["deal"][rows], cat[rows]
            u = flip[deal]
            is_commit, is_best = c == _CAT_COMMIT, c == _CAT_BEST
            flipped = np.where(is_commit, u < 0.07, np.where(is_best, u < 0.12, u < 0.015))
            included = np.where(flipped, ~is_commit, is_commit)
            reason = np.where(
                is_commit, pick[deal] % n_ex,
                np.where(is_best, n_ex + pick[deal] % n_best, n_ex + n_best))
            frames.append(pa.table({
                "call_id": np.full(len(rows), call_id, np.int64),
                "deal": deal.astype(np.int64),
                "included": included,
                "reason": _dict(np.where(flipped, reason, -1), reasons),
                "amount": h["amount"][rows],
                "forecast_category": _dict(c, _CATS),
            }))
    if frames:
        _insert(con, "forecast_call_decisions", pa.concat_tables(frames))

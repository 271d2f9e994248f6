"""The demo company's fixed cast: how each segment sells, the teams and reps, products,
competitors, lost reasons, next steps, company names and the words used in forecast calls.

Everything here is a constant; the simulation draws from it. Categorical columns are stored as
small integer codes into these tuples (-1 meaning null) until they are written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sales.segments import ENTERPRISE, MID_MARKET, SEGMENTS, SMB
from sales.stages import BEST_CASE, COMMIT, FORECAST_CATEGORIES, HANDBOOK_STAGES


@dataclass(frozen=True)
class Segment:
    """How deals of one segment behave. Days are calendar days."""

    share: float  # of deals, by count
    deals_per_account: float
    employees: tuple[int, int]  # inclusive range, log-uniform
    amount_median: float
    amount_sigma: float
    amount_range: tuple[float, float]
    amount_step: float
    accept_days: float  # mean days from created to qualified
    # A won deal's cycle from qualification to close without slips: cycle_min + gamma(2, scale).
    cycle_min: float
    cycle_scale: float
    # Mean days a won deal spends in Commit (4-Proposal .. 6-Awaiting Signature) and in Best Case
    # (3-Technical Evaluation) before it; Commit comes late, so what sits there mostly closes.
    commit_days: float
    best_days: float
    # The rep's first close date is this share of the real cycle (median); below 1 = optimistic.
    optimism: float
    push_days: tuple[int, int]  # a push moves the close date this far (uniform)
    # Share of lapsing dates before Commit that a rep only fixes later (past due until the
    # quarter-end pipeline scrub at the latest); the rest are pushed a few days before.
    neglect: float
    # Mean days a lost deal lingers in the last stage it reached before it is closed lost.
    linger_days: float
    # How much likelier than elsewhere a lost deal of this segment stalls in 3-Technical
    # Evaluation (security reviews, proofs of concept that go nowhere).
    evaluation_stall: float
    close_rate: float  # won / (won + lost competition + lost no decision), by count
    win_rate: float  # won / (won + lost competition)
    commit_pushes: tuple[float, float, float, float]  # P(0..3 pushes) of a won deal in Commit
    quarter_end: float  # share of close dates a rep puts on the quarter's last day
    push_quarter_end: float  # ... and of pushed dates ("next quarter"), so stale deals hold
    channels: tuple[float, float, float]  # Direct, Partner, Self Serve
    unqualified: float  # share of new deals that never qualify
    # Deal flow over the last months relative to the long run: Enterprise pipeline has been
    # building, Mid-Market thinning, so this quarter's coverage differs by segment.
    recent_flow: float
    # What the plan expects of the current quarter relative to the trend of past wins: the
    # Mid-Market plan was set before its pipeline thinned.
    plan_stretch: float
    # The story the current quarter tells, as bands the plan is kept in (see plan.py):
    # in-blood (Closed + Commit) / target, and (Closed + Commit + Best Case) / target.
    in_blood_band: tuple[float, float]
    coverage_band: tuple[float, float]


PROFILES = {
    ENTERPRISE: Segment(
        share=0.16, deals_per_account=6.0, employees=(5_000, 250_000),
        amount_median=240_000, amount_sigma=0.55, amount_range=(100_000, 1_500_000),
        amount_step=1_000, accept_days=10,
        cycle_min=70, cycle_scale=45, commit_days=55, best_days=60,
        optimism=0.65, push_days=(45, 100), neglect=0.8,
        linger_days=170, evaluation_stall=0.6,
        close_rate=0.26, win_rate=0.50, commit_pushes=(0.85, 0.10, 0.04, 0.01),
        quarter_end=0.3, push_quarter_end=0.6,
        channels=(0.8, 0.2, 0.0), unqualified=0.12, recent_flow=1.6, plan_stretch=1.2,
        in_blood_band=(0.97, 1.15), coverage_band=(3.4, 4.4)),
    MID_MARKET: Segment(
        share=0.30, deals_per_account=3.5, employees=(500, 4_999),
        amount_median=58_000, amount_sigma=0.40, amount_range=(30_000, 200_000),
        amount_step=500, accept_days=7,
        cycle_min=50, cycle_scale=28, commit_days=60, best_days=40,
        optimism=0.7, push_days=(30, 80), neglect=0.5,
        linger_days=90, evaluation_stall=-0.15,
        close_rate=0.31, win_rate=0.57, commit_pushes=(0.85, 0.11, 0.03, 0.01),
        quarter_end=0.25, push_quarter_end=0.35,
        channels=(0.75, 0.25, 0.0), unqualified=0.16, recent_flow=0.8, plan_stretch=1.05,
        in_blood_band=(0.78, 0.92), coverage_band=(1.5, 2.1)),
    SMB: Segment(
        share=0.54, deals_per_account=2.5, employees=(5, 499),
        amount_median=13_000, amount_sigma=0.45, amount_range=(3_000, 40_000),
        amount_step=100, accept_days=4,
        # Quote-driven: a proposal goes out soon after qualification, then the buyer decides.
        cycle_min=30, cycle_scale=16, commit_days=55, best_days=14,
        optimism=0.75, push_days=(20, 50), neglect=0.25,
        linger_days=30, evaluation_stall=-0.5,
        close_rate=0.34, win_rate=0.64, commit_pushes=(0.87, 0.10, 0.03, 0.0),
        quarter_end=0.08, push_quarter_end=0.1,
        channels=(0.45, 0.15, 0.40), unqualified=0.22, recent_flow=1.0, plan_stretch=1.0,
        in_blood_band=(0.87, 1.02), coverage_band=(0.0, np.inf)),
}
PROFILE_LIST = [PROFILES[s] for s in SEGMENTS]
SEG_INDEX = {name: i for i, name in enumerate(SEGMENTS)}


def profile_array(field: str) -> np.ndarray:
    """One numeric profile field per segment, indexable by segment code."""
    return np.array([getattr(p, field) for p in PROFILE_LIST], dtype=float)


# --- stages and categories --------------------------------------------------------------------

# Stage codes are indexes into HANDBOOK_STAGES.
STAGE_NAMES = [s.stage for s in HANDBOOK_STAGES]
_CODE = {name: i for i, name in enumerate(STAGE_NAMES)}
PRE, PENDING = _CODE["00-Pre Opportunity"], _CODE["0-Pending Acceptance"]
DISCOVERY, SCOPING = _CODE["1-Discovery"], _CODE["2-Scoping"]
TECH, PROPOSAL = _CODE["3-Technical Evaluation"], _CODE["4-Proposal"]
NEGOTIATING, AWAITING = _CODE["5-Negotiating"], _CODE["6-Awaiting Signature"]
WON, LOST = _CODE["7-Closed Won"], _CODE["8-Closed Lost"]
UNQUALIFIED, DUPLICATE = _CODE["9-Unqualified"], _CODE["10-Duplicate"]
# The open qualified stages in order; a deal's "top" is an index into this tuple.
OPEN_STAGES = (DISCOVERY, SCOPING, TECH, PROPOSAL, NEGOTIATING, AWAITING)
TOP_COMMIT = OPEN_STAGES.index(PROPOSAL)  # a top at or past this reached Commit

CATS = list(FORECAST_CATEGORIES)
CAT_BEST, CAT_COMMIT = CATS.index(BEST_CASE), CATS.index(COMMIT)
STAGE_CAT = np.array([CATS.index(s.forecast_category) for s in HANDBOOK_STAGES], np.int8)
OPEN_QUALIFIED = np.array([s.qualified and not s.closed for s in HANDBOOK_STAGES])

# Outcomes of the simulation (what eventually happens, whether or not it has by as_of).
OUT_WON, OUT_COMP, OUT_NODEC, OUT_EXCL, OUT_UNQ, OUT_DUP = range(6)


# --- teams and reps ---------------------------------------------------------------------------

# (team label = manager, segment, region, reps). Every team sits in one segment and one region.
TEAMS = (
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
TEAM_NAMES = [team[0] for team in TEAMS]
REPS = [rep for team in TEAMS for rep in team[3]]
REP_TEAM = np.array([t for t, team in enumerate(TEAMS) for _ in team[3]], np.int16)
TEAM_SEG = np.array([SEG_INDEX[team[1]] for team in TEAMS], np.int8)
REGIONS = ("AMER", "EMEA", "APAC")
TEAM_REGION = np.array([REGIONS.index(team[2]) for team in TEAMS], np.int8)
TEAM_SIZE = np.array([len(team[3]) for team in TEAMS])
TEAM_FIRST_REP = np.concatenate([[0], np.cumsum(TEAM_SIZE)[:-1]])  # a team's reps are consecutive
RAMPING_REPS = (3, 12, 21)  # still ramping: a smaller quota
SANDBAGGERS = {1: 0.8, 8: 0.85, 17: 0.82, 26: 0.88}  # rep → how much of Commit they submit
HAPPY_EARS = {5: 1.2, 14: 1.15, 23: 1.25}
# The people above the reps. A first-line manager leads about eight reps: the teams of a region
# (and, in AMER, of its larger segments) report to one manager, so a team label is the CRM's
# team field, not always a person in the hierarchy; a leader per region, one at the top.
# Emails are made from the names (`demo_email`).
FIRST_LINE = {"Dana Whitfield": ("Dana Whitfield", "Marcus Oyelaran"),  # AMER Enterprise + MM
              "Helen Park": ("Helen Park", "Olivia Brennan"),  # AMER SMB
              "Sophie Laurent": ("Sophie Laurent", "Ahmed Karim", "Priya Raman"),  # EMEA
              "Kenji Watanabe": ("Kenji Watanabe", "Ravi Menon", "Tomas Alvarez")}  # APAC
TEAM_MANAGER = {team: manager for manager, teams in FIRST_LINE.items() for team in teams}
REGION_LEADERS = {"AMER": "Rebecca Stone", "EMEA": "Henrik Dahl", "APAC": "Anjali Rao"}
TOP = "Catherine Vance"
# Late submitters: their call comes days after the due moment, and some weeks not at all.
LATE_REPS = (2, 10, 19, 28)
# How far managers (and above) move their team's sum: the judgement kept as an adjustment.
MANAGER_ADJUSTMENT = {"Dana Whitfield": 0.95, "Helen Park": 1.04, "Sophie Laurent": 0.92,
                      "Kenji Watanabe": 1.06, "Rebecca Stone": 0.98, "Henrik Dahl": 1.0,
                      "Anjali Rao": 1.02, TOP: 0.97}


# --- deal descriptions ------------------------------------------------------------------------

TYPES = ("New Business", "Expansion", "Renewal")
TYPE_MIX = {ENTERPRISE: (0.45, 0.33, 0.22), MID_MARKET: (0.52, 0.28, 0.20),
            SMB: (0.62, 0.20, 0.18)}
# Renewals close far more often than new business; the multipliers average to about 1.
TYPE_CLOSE = np.array([0.78, 1.10, 1.75])
TYPE_AMOUNT = np.array([1.0, 0.7, 0.9])
TYPE_NAME_SUFFIX = ("", " Expansion", " Renewal")
CHANNELS = ("Direct", "Partner", "Self Serve")
SELF_SERVE = CHANNELS.index("Self Serve")
LEAD_SOURCES = ("Inbound", "Outbound", "Event", "Partner", "Self Serve", "Existing Customer")
PRODUCTS = ("Forecasting Suite", "Analytics Platform", "Data Connectors", "Revenue Cloud",
            "Premium Support", "Seats", "Pipeline Insights")
COMPETITORS = ("Vantage Analytics", "Clarion Software", "Forecastly", "Northbeam CRM",
               "Pipewise")
COMPETITOR_MIX = (0.32, 0.24, 0.2, 0.14, 0.10)

# Lost reasons: mapped ones come from sales.schema.DEFAULT_LOSS_REASONS; "Champion left",
# "Acquired by another company" and "Not a fit" are unmapped, for the analyst to map.
REASONS = ("Lost to competitor", "Chose competitor", "Price", "Features",
           "No decision", "No budget", "Timing", "Went dark", "Status quo",
           "Duplicate", "Merged",
           "Champion left", "Acquired by another company",
           "Not a fit", "No response", "Duplicate opportunity")
COMP_REASONS = ((0, 1, 2, 3), (0.5, 0.2, 0.15, 0.15))
NODEC_REASONS = ((4, 5, 6, 7, 8, 11, 12), (0.33, 0.18, 0.18, 0.14, 0.09, 0.05, 0.03))
EXCL_REASONS = ((9, 10), (0.5, 0.5))
UNQ_REASONS = ((13, 14, 5), (0.6, 0.25, 0.15))
DUP_REASON = 15

RENEWAL_RISKS = ("Early Warning", "At Risk")

NEXT_STEPS = {
    PRE: ("Confirm fit with SDR", "Book intro call"),
    PENDING: ("Qualify budget and timeline", "Book discovery call"),
    DISCOVERY: ("Discovery call scheduled", "Identify economic buyer", "Map current process"),
    SCOPING: ("Scoping workshop", "Confirm success criteria", "Agree mutual action plan"),
    TECH: ("Technical deep dive", "Security questionnaire", "POC kickoff", "POC readout"),
    PROPOSAL: ("Send proposal", "Pricing review with buyer", "Business case with CFO"),
    NEGOTIATING: ("Legal redlines", "Procurement negotiation", "Final pricing approval"),
    AWAITING: ("Awaiting countersignature", "PO processing", "Signature from CFO"),
}
NEXT_STEP_TEXTS = tuple(sorted({t for texts in NEXT_STEPS.values() for t in texts}))
NEXT_STEP_PICKS = 12  # a deal's pick, modulo the texts of its stage

# Company names: "<first>[ <middle>] <trade><legal>".
NAME_FIRST = (
    "Acme", "Apex", "Arbor", "Atlas", "Aurora", "Beacon", "Birch", "Blue", "Bright", "Cedar",
    "Citadel", "Clear", "Cobalt", "Copper", "Crest", "Crystal", "Delta", "Eagle", "Echo",
    "Ember", "Evergreen", "Falcon", "Fjord", "Granite", "Harbor", "Highland", "Horizon", "Iron",
    "Juniper", "Keystone", "Lakeside", "Lumen", "Maple", "Meridian", "Nimbus", "North", "Nova",
    "Oak", "Orion", "Pacific", "Pine", "Pinnacle", "Polar", "Prairie", "Quartz", "Redwood",
    "Ridge", "River", "Sable", "Silver", "Sierra", "Solar", "Sterling", "Stone", "Summit",
    "Terra", "Tidal", "Union", "Vertex", "Westfield",
)
NAME_MIDDLE = (
    " Bay", " Point", " Valley", " Peak", " Street", " Field", " Gate", " Line",
    " Works", " Creek", " Hill", " Bridge", " Rock", " Park", " Grove", " Harbour",
)
NAME_TRADE = (
    "Analytics", "Bank", "Biotech", "Brands", "Capital", "Chemicals", "Cloud", "Consulting",
    "Dynamics", "Energy", "Engineering", "Foods", "Freight", "Games", "Health", "Hotels",
    "Industries", "Insurance", "Labs", "Logistics", "Manufacturing", "Media", "Medical",
    "Metals", "Mobility", "Networks", "Outfitters", "Partners", "Pharma", "Power", "Retail",
    "Robotics", "Security", "Semiconductors", "Software", "Solutions", "Systems", "Telecom",
    "Therapeutics", "Ventures",
)
NAME_LEGAL = ("", " Inc", " Ltd", " Group", " Corp", " LLC", " GmbH", " plc", " Holdings", " Co")


# --- forecast calls ---------------------------------------------------------------------------

CALL_SAVED_BY = "Jordan Blake (CRO)"
CALL_NOTES = ("Weekly forecast call", "Commit scrub with regional managers",
              "Forecast call: slipped deals reviewed", "Forecast call: key deals walk-through")
EXCLUDE_COMMIT_REASONS = ("timing risk: legal review", "timing risk: procurement backlog",
                          "timing risk: signer on leave", "timing risk: budget sign-off")
INCLUDE_BEST_REASONS = ("champion confirmed, PO in flight", "verbal yes from CFO",
                        "vendor and timing risk gone")
INCLUDE_PIPELINE_REASONS = ("exec sponsor pushing to sign this quarter",)
CALL_REASONS = EXCLUDE_COMMIT_REASONS + INCLUDE_BEST_REASONS + INCLUDE_PIPELINE_REASONS

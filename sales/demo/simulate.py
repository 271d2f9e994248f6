"""Deal lives: every deal's whole story decided up front as event times (days), vectorised.

Stages. A qualified deal follows the path a won deal takes, as far as its outcome lets it:
1-Discovery at qualification, 2-Scoping, 3-Technical Evaluation (Best Case), then the Commit
stages 4-Proposal, 5-Negotiating, 6-Awaiting Signature and the close. The path is laid out
backward from the close a win would have, so Commit is reached only weeks before it (segment
`commit_days`) and Best Case before that (`best_days`): what sits in Commit mostly closes that
quarter (~75% of Commit deals do), Best Case less (~30%), Pipeline rarely (~12%; in long
Enterprise cycles almost never: docs/metrics.md#2-enterprise-coverage leaves it out). Lost deals
stop at their top stage, mostly early, and linger there: no decisions longest, Enterprise deals
often stalled in evaluation. They are the stale Pipeline and Best Case that pad coverage.

Close dates. The date a rep shows is a story of its own: optimistic at first (`optimism`),
pushed when it comes up (by a month or a quarter, often onto a quarter end) until the deal
reaches 3-Technical Evaluation, where the rep re-dates it to a real estimate; pushed again if
that lapses; set firm at 4-Proposal in the quarter the deal will close in. A few won deals
(`commit_pushes`) and most Commit deals that will be lost still slip from Commit, into the
first weeks of the next quarter. Neglected deals go past due until the quarter-end pipeline
scrub (`neglect`), and a lingering deal is closed lost when its date next comes up.

Late entries. A quarter of the won expansions with weeks left before their close are only
entered once the customer asks for a proposal, and first appear in Commit: the forecast call's
"new" Commit.

Events after as_of are simply not observed (see history.py), so deals still running are open.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sales.demo import company as co
from sales.demo.deals import pick
from sales.demo.fiscal import NEVER, Calendar

# Close-date changes a deal can carry (rows of d["cd_t"] / d["cd_v"]): pushes in Pipeline, the
# rep's estimate at 3-Technical Evaluation, pushes in Best Case, the firm date at 4-Proposal,
# pushes in Commit.
EARLY_PUSHES, COMMIT_PUSHES = 5, 3
TECH_SLOT = EARLY_PUSHES
FIRM_SLOT = 2 * EARLY_PUSHES + 1
CD_SLOTS = FIRM_SLOT + 1 + COMMIT_PUSHES
# Stages after qualification, rows of d["stage_t"] (1-Discovery is at `accepted`).
LATER_STAGES = co.OPEN_STAGES[1:]
TOP_TECH = co.OPEN_STAGES.index(co.TECH)

# Where lost deals stop (P of each index into OPEN_STAGES): competitive losses get further
# than deals that die of no decision; few of either get to Commit, so Commit stays reliable.
TOP_COMPETITION = (0.26, 0.27, 0.35, 0.07, 0.03, 0.02)
TOP_NO_DECISION = (0.40, 0.30, 0.255, 0.03, 0.01, 0.005)
TOP_EXCLUDED = (0.6, 0.3, 0.1, 0.0, 0.0, 0.0)
# How long a lost deal lingers, relative to the segment's linger_days.
LINGER_NO_DECISION, LINGER_COMPETITION, LINGER_EXCLUDED = 1.3, 0.7, 0.3
# Close-date pushes of a deal in Commit that will be lost (P of 0, 1, 2 pushes).
LOST_COMMIT_PUSHES = (0.7, 0.25, 0.05)


@dataclass(frozen=True)
class Dynamics:
    """How the company's forecast behaves: where lost deals stop and how Commit deals slip.
    STANDARD is the demo's (Commit reliable); UNRELIABLE a second company for testing a
    forecast model against other dynamics."""

    top_competition: tuple[float, ...] = TOP_COMPETITION
    top_no_decision: tuple[float, ...] = TOP_NO_DECISION
    lost_commit_pushes: tuple[float, ...] = LOST_COMMIT_PUSHES
    # P(0..3 pushes) of a won deal in Commit; None: the segment's `commit_pushes`.
    won_commit_pushes: tuple[float, ...] | None = None


STANDARD = Dynamics()
# Many losses reach Commit (reps commit deals they then lose), lost Commit deals slip again and
# again, and wins almost never slip: a pushed deal rarely closes.
UNRELIABLE = Dynamics(top_competition=(0.14, 0.14, 0.22, 0.22, 0.16, 0.12),
                      top_no_decision=(0.25, 0.2, 0.2, 0.17, 0.1, 0.08),
                      lost_commit_pushes=(0.15, 0.35, 0.5),
                      won_commit_pushes=(0.93, 0.06, 0.01, 0.0))
COMPANIES = {"standard": STANDARD, "unreliable": UNRELIABLE}
# How strongly deal size lowers the chance to win (per unit of log amount): big deals are
# harder to win, so by amount close rates run below the rates by count.
SIZE_PENALTY = 0.9
EXCLUDED_SHARE = 0.06  # of losses: duplicates and merges found late
# A neglected close date is acted on up to this many days after it (within its quarter).
PAST_DUE_DAYS = 90
# Won expansions a rep only enters in the CRM once the customer has asked for a proposal: they
# first appear in Commit, so the forecast call sees new Commit arrive mid-quarter. Only deals
# with weeks left before their close: what is entered and signed within days never reaches a
# call at all.
LATE_ENTRY_SHARE = 0.25
LATE_ENTRY_MIN_DAYS = 21
EXPANSION = co.TYPES.index("Expansion")


def simulate_lives(rng: np.random.Generator, d: dict, cal: Calendar,
                   dynamics: Dynamics = STANDARD) -> None:
    """Add every deal's events to `d` (see the module docstring for the story)."""
    _qualify(rng, d)
    _decide_outcomes(rng, d, dynamics)
    _lay_out_stages(rng, d)
    _commit_phase(rng, d, cal, dynamics)
    _close_unqualified(rng, d)
    _early_close_dates(rng, d, cal)
    _late_stages(rng, d)
    _amount_changes(rng, d)
    _owner_changes(rng, d)
    _category_overrides(rng, d)
    _late_entries(rng, d, cal)


def _prof(d: dict, field: str) -> np.ndarray:
    """A profile field per deal, by its segment."""
    return co.profile_array(field)[d["seg"]]


def _days(x: np.ndarray) -> np.ndarray:
    return np.floor(x).astype(np.int64)


# --- qualification and outcome -----------------------------------------------------------------


def _qualify(rng: np.random.Generator, d: dict) -> None:
    """Duplicates, deals that never qualify, and when the others qualify (1-Discovery)."""
    n = len(d["seg"])
    c, self_serve = d["created"], d["channel"] == co.SELF_SERVE
    r = rng.random(n)
    p_unq = np.where(d["type"] == 2, 0.03, _prof(d, "unqualified"))  # renewals nearly all qualify
    outcome = np.full(n, -1, np.int8)
    outcome[r < 0.03] = co.OUT_DUP
    outcome[(r >= 0.03) & (r < 0.03 + p_unq)] = co.OUT_UNQ
    d["outcome"] = outcome

    pre = rng.random(n) < 0.07  # some start as an SDR's pre-opportunity
    t_pre = c + 1 + _days(rng.gamma(2.0, 4.0, n))
    d["t_pre"] = np.where(pre, t_pre, NEVER)
    d["start_pre"] = pre
    wait = _days(rng.gamma(1.5, _prof(d, "accept_days") / 1.5))
    wait = np.where(self_serve, wait // 4, wait)
    accepted = np.where(pre, t_pre, c) + 1 + wait
    d["accepted"] = np.where(outcome < 0, accepted, NEVER)
    cycle = _prof(d, "cycle_min") + rng.gamma(2.0, _prof(d, "cycle_scale"))
    d["cycle"] = np.where(self_serve, cycle * 0.6 + 8, cycle)


def _decide_outcomes(rng: np.random.Generator, d: dict, dynamics: Dynamics = STANDARD) -> None:
    """Won or lost (and why) for qualified deals, and the last stage each reaches."""
    n = len(d["seg"])
    outcome = d["outcome"]
    qualified = outcome < 0
    cr, wr = _prof(d, "close_rate"), _prof(d, "win_rate")
    sigma = _prof(d, "amount_sigma")
    # The size factor averages 1 over a segment's (log-normal) sizes.
    size = np.exp(-SIZE_PENALTY * d["size"] - (SIZE_PENALTY * sigma) ** 2 / 2)
    p_won = np.clip(cr * co.TYPE_CLOSE[d["type"]] * size, 0, 0.92)
    p_comp = (cr / wr - cr) / (1 - cr)  # competition's share of competition + no decision
    r1, r2, r3 = rng.random(n), rng.random(n), rng.random(n)
    won = qualified & (r1 < p_won)
    excl = qualified & ~won & (r2 < EXCLUDED_SHARE)
    comp = qualified & ~won & ~excl & (r3 < p_comp)
    nodec = qualified & ~won & ~excl & ~comp
    outcome[won], outcome[comp], outcome[nodec], outcome[excl] = (
        co.OUT_WON, co.OUT_COMP, co.OUT_NODEC, co.OUT_EXCL)
    d["top"] = _top_stages(rng, d["seg"], comp, nodec, excl, dynamics)
    d["reaches_commit"] = qualified & (d["top"] >= co.TOP_COMMIT)


def _top_stages(rng: np.random.Generator, seg: np.ndarray, comp: np.ndarray, nodec: np.ndarray,
                excl: np.ndarray, dynamics: Dynamics = STANDARD) -> np.ndarray:
    """The last open stage each deal reaches (an index into OPEN_STAGES): the last one for
    wins, drawn for losses (a segment's evaluation_stall weighs 3-Technical Evaluation)."""
    top = np.full(len(seg), len(co.OPEN_STAGES) - 1, np.int64)
    for s, profile in enumerate(co.PROFILE_LIST):
        for mask, probs in ((comp, dynamics.top_competition),
                            (nodec, dynamics.top_no_decision),
                            (excl, TOP_EXCLUDED)):
            probs = np.array(probs)
            probs[TOP_TECH] *= 1 + profile.evaluation_stall
            m = mask & (seg == s)
            top[m] = pick(rng, int(m.sum()), probs)
    return top


def _lay_out_stages(rng: np.random.Generator, d: dict) -> None:
    """Scoping, evaluation and proposal times on the won path, backward from its close."""
    n = len(d["seg"])
    a, cycle = d["accepted"], d["cycle"]
    in_commit = np.clip(rng.gamma(2.0, _prof(d, "commit_days") / 2), 4, 0.75 * cycle)
    in_best = np.clip(rng.gamma(2.0, _prof(d, "best_days") / 2), 3, 0.6 * (cycle - in_commit))
    d["won_close"] = a + _days(cycle)  # the close a win without slips would have
    d["t_proposal"] = d["won_close"] - _days(in_commit)
    d["t_tech"] = d["t_proposal"] - _days(in_best)
    d["t_scoping"] = a + 1 + _days(rng.uniform(0.1, 0.7, n) * np.maximum(d["t_tech"] - a - 2, 0))


# --- close dates ---------------------------------------------------------------------------------


def snap_to_period_end(rng: np.random.Generator, days: np.ndarray, seg: np.ndarray,
                       cal: Calendar, month_share: float = 0.3,
                       quarter_field: str = "quarter_end") -> np.ndarray:
    """Reps like month and quarter ends: move some dates onto the end of their month or
    quarter (never out of it)."""
    days = cal.clip(days)
    r = rng.random(len(days))
    quarter_p = co.profile_array(quarter_field)[seg]
    out = np.where(r < quarter_p, cal.end_of_quarter(days), days)
    return np.where((r >= quarter_p) & (r < quarter_p + month_share), cal.end_of_month(days), out)


def _next_quarter_date(rng: np.random.Generator, cd: np.ndarray, seg: np.ndarray,
                       cal: Calendar) -> np.ndarray:
    """Where a Commit deal's date goes when it slips: early in the next quarter (what slips
    at a quarter's end mostly signs in the first weeks of the next)."""
    nxt = cal.end_of_quarter(cd) + rng.integers(5, 50, len(cd))
    return snap_to_period_end(rng, nxt, seg, cal, month_share=0.4)


def _commit_phase(rng: np.random.Generator, d: dict, cal: Calendar,
                  dynamics: Dynamics = STANDARD) -> None:
    """Deals that reach Commit: the firm date set at 4-Proposal, pushes while in Commit, and
    the close (won on or just before the last date; lost somewhere before it)."""
    n, seg = len(d["seg"]), d["seg"]
    reaches, won = d["reaches_commit"], d["outcome"] == co.OUT_WON
    d["cd_t"] = np.full((CD_SLOTS, n), NEVER)
    d["cd_v"] = np.zeros((CD_SLOTS, n), np.int64)
    firm = snap_to_period_end(rng, np.where(reaches, d["won_close"], cal.as_of), seg, cal)
    d["cd_t"][FIRM_SLOT] = np.where(reaches, d["t_proposal"], NEVER)
    d["cd_v"][FIRM_SLOT] = firm
    pushes = _commit_push_counts(rng, d, dynamics)
    cd, last_t = firm, d["t_proposal"]
    for j in range(COMMIT_PUSHES):
        on = reaches & (pushes > j)
        t = np.maximum(cd - rng.integers(0, 11, n), last_t + 1)  # just before it lapses
        nxt = _next_quarter_date(rng, cd, seg, cal)
        d["cd_t"][FIRM_SLOT + 1 + j] = np.where(on, t, NEVER)
        d["cd_v"][FIRM_SLOT + 1 + j] = nxt
        cd, last_t = np.where(on, nxt, cd), np.where(on, t, last_t)
    room = np.maximum(cd - last_t, 1).astype(float)
    x_won = cd - _days(rng.random(n) * np.minimum(20.0, 0.5 * room))
    x_lost = last_t + 1 + _days(rng.uniform(0.2, 1.0, n) * (room - 1))
    d["close"] = np.where(reaches, np.where(won, x_won, x_lost), NEVER)


def _commit_push_counts(rng: np.random.Generator, d: dict, dynamics: Dynamics = STANDARD
                        ) -> np.ndarray:
    """How often each deal's date slips while in Commit: by segment for wins; more for the
    Commit deals that will be lost."""
    seg, won = d["seg"], d["outcome"] == co.OUT_WON
    pushes = np.zeros(len(seg), np.int64)
    for s, profile in enumerate(co.PROFILE_LIST):
        m = won & (seg == s)
        pushes[m] = pick(rng, int(m.sum()), dynamics.won_commit_pushes or profile.commit_pushes)
    lost = d["reaches_commit"] & ~won
    pushes[lost] = pick(rng, int(lost.sum()), dynamics.lost_commit_pushes)
    return pushes


def _close_unqualified(rng: np.random.Generator, d: dict) -> None:
    """Close days of duplicates and deals that never qualify, and every deal's closing stage."""
    n, outcome, c = len(d["seg"]), d["outcome"], d["created"]
    x_unq = c + 3 + _days(rng.gamma(2.0, 12.0, n))
    x_dup = c + rng.integers(0, 6, n)
    d["close"] = np.select([outcome == co.OUT_DUP, outcome == co.OUT_UNQ], [x_dup, x_unq],
                           d["close"])
    d["close_stage"] = np.select(
        [outcome == co.OUT_WON, outcome == co.OUT_UNQ, outcome == co.OUT_DUP],
        [co.WON, co.UNQUALIFIED, co.DUPLICATE], co.LOST).astype(np.int8)


def _early_close_dates(rng: np.random.Generator, d: dict, cal: Calendar) -> None:
    """Close dates before Commit, and the close of deals lost before it: the first date and
    its pushes until 3-Technical Evaluation (or the loss), then the rep's estimate there and
    its pushes until 4-Proposal (or the loss)."""
    qualified = d["accepted"] < NEVER
    evaluates = qualified & (d["top"] >= TOP_TECH)
    lost_early = qualified & ~d["reaches_commit"]
    _first_close_dates(rng, d, cal, qualified)
    t_top, give_up = _give_up_days(rng, d)

    until = np.where(evaluates, d["t_tech"], give_up)
    cd, last_t = _push_while_lapsing(rng, d, cal, 0, d["cd_init"], d["created"], until,
                                     qualified)
    lost_here = lost_early & ~evaluates
    d["close"] = np.where(lost_here, _lost_at_lapse(rng, d, cal, cd, last_t, t_top), d["close"])

    estimate = d["won_close"] + _days(rng.normal(0, 12, len(cd)))
    estimate = snap_to_period_end(rng, np.maximum(estimate, d["t_tech"] + 7), d["seg"], cal)
    d["cd_t"][TECH_SLOT] = np.where(evaluates, d["t_tech"], NEVER)
    d["cd_v"][TECH_SLOT] = estimate
    until = np.where(d["reaches_commit"], d["t_proposal"], give_up)
    cd, last_t = _push_while_lapsing(rng, d, cal, TECH_SLOT + 1, estimate, d["t_tech"], until,
                                     evaluates)
    lost_here = lost_early & evaluates
    d["close"] = np.where(lost_here, _lost_at_lapse(rng, d, cal, cd, last_t, t_top), d["close"])


def _first_close_dates(rng: np.random.Generator, d: dict, cal: Calendar,
                       qualified: np.ndarray) -> None:
    """The close date a deal is created with: the rep's optimistic guess at the cycle (deals
    that never qualify: a plain guess past their close)."""
    n, seg, c, cycle = len(d["seg"]), d["seg"], d["created"], d["cycle"]
    optimism = np.clip(_prof(d, "optimism") * np.exp(0.3 * rng.standard_normal(n)), 0.3, 1.7)
    start = np.where(qualified, d["accepted"], c)
    planned = snap_to_period_end(rng, start + _days(optimism * cycle), seg, cal)
    never_qualified = cal.clip(np.maximum(c + _days(cycle) + 10, d["close"]))
    d["cd_init"] = np.where(qualified, planned, never_qualified)


def _give_up_days(rng: np.random.Generator, d: dict) -> tuple[np.ndarray, np.ndarray]:
    """For deals lost before Commit: the day they reached their top stage, and the day after
    lingering there from which the rep gives up (at the next lapse of the date)."""
    top, outcome = d["top"], d["outcome"]
    t_top = np.select([top == 0, top == 1], [d["accepted"], d["t_scoping"]], d["t_tech"])
    stay = np.select([outcome == co.OUT_NODEC, outcome == co.OUT_COMP],
                     [LINGER_NO_DECISION, LINGER_COMPETITION], LINGER_EXCLUDED)
    give_up = t_top + 1 + _days(rng.gamma(1.5, _prof(d, "linger_days") / 1.5) * stay)
    return t_top, give_up


def _lapse_day(rng: np.random.Generator, cd: np.ndarray, seg: np.ndarray,
               cal: Calendar) -> np.ndarray:
    """The day a rep acts on a close date that is coming up: a few days before it, or, for a
    neglected deal, some days after (past due) and at the latest at the quarter's end."""
    n = len(cd)
    neglected = rng.random(n) < co.profile_array("neglect")[seg]
    late = np.minimum(cd + rng.integers(1, PAST_DUE_DAYS + 1, n), cal.end_of_quarter(cd))
    return np.where(neglected, late, cd - rng.integers(0, 11, n))


def _lost_at_lapse(rng: np.random.Generator, d: dict, cal: Calendar, cd: np.ndarray,
                   last_t: np.ndarray, t_top: np.ndarray) -> np.ndarray:
    """The day a lingering deal is closed lost: when its date next comes up."""
    x = _lapse_day(rng, cd, d["seg"], cal)
    return np.maximum(x, np.maximum(last_t, t_top) + 1)


def _push_while_lapsing(rng: np.random.Generator, d: dict, cal: Calendar, slot: int,
                        cd: np.ndarray, since: np.ndarray, until: np.ndarray,
                        active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Push close dates that lapse before `until` (up to EARLY_PUSHES times from row `slot`):
    each push comes when the rep acts on the lapsing date, the last leaves no lapse. Returns
    the date and the day of the last push (`since` without one)."""
    n, seg = len(d["seg"]), d["seg"]
    lo, hi = (np.array([p.push_days[i] for p in co.PROFILE_LIST])[seg] for i in (0, 1))
    last_t = since
    for j in range(EARLY_PUSHES):
        lapses = active & (cd < until)
        t = np.minimum(np.maximum(_lapse_day(rng, cd, seg, cal), last_t + 1), until - 1)
        nxt = cd + lo + _days(rng.random(n) * (hi - lo))
        if j == EARLY_PUSHES - 1:
            nxt = np.maximum(nxt, until + rng.integers(0, 31, n))
        nxt = snap_to_period_end(rng, nxt, seg, cal, quarter_field="push_quarter_end")
        d["cd_t"][slot + j] = np.where(lapses, t, NEVER)
        d["cd_v"][slot + j] = nxt
        cd, last_t = np.where(lapses, nxt, cd), np.where(lapses, t, last_t)
    return cd, last_t


# --- the rest of a deal's life -------------------------------------------------------------------


def _late_stages(rng: np.random.Generator, d: dict) -> None:
    """5-Negotiating and 6-Awaiting Signature between the proposal and the close, and which
    stages each deal visits at all."""
    n, seg, top = len(d["seg"]), d["seg"], d["top"]
    commit_span = (d["close"] - d["t_proposal"]).astype(float)
    t_neg = d["t_proposal"] + _days(rng.uniform(0.3, 0.6, n) * commit_span)
    t_await = d["t_proposal"] + _days(rng.uniform(0.7, 0.95, n) * commit_span)
    stage_t = np.vstack([d["t_scoping"], d["t_tech"], d["t_proposal"], t_neg, t_await])
    visit = np.arange(1, len(co.OPEN_STAGES))[:, None] <= top[None, :]
    smb = seg == co.SEG_INDEX["SMB"]
    visit[0] &= ~(smb & (rng.random(n) < 0.4))  # small deals often skip scoping
    visit[1] &= ~(smb & (rng.random(n) < 0.3))  # ... and the technical evaluation
    visit[3] &= rng.random(n) >= 0.15  # some go straight to signature
    visit &= (d["accepted"] < NEVER)[None, :]
    d["stage_t"] = np.where(visit, stage_t, NEVER)


def _amount_changes(rng: np.random.Generator, d: dict) -> None:
    """Up to two amount changes while the deal is open (scope grows or is cut)."""
    n, seg = len(d["seg"]), d["seg"]
    c, close = d["created"], d["close"]
    step = _prof(d, "amount_step")
    low = np.array([p.amount_range[0] for p in co.PROFILE_LIST])[seg]
    high = np.array([p.amount_range[1] for p in co.PROFILE_LIST])[seg]
    life = close - c
    changes = np.where(life > 3, pick(rng, n, (0.6, 0.28, 0.12)), 0)
    t = np.sort(c[None] + 1 + _days(rng.random((2, n)) * np.maximum(life - 2, 0)), axis=0)
    factors = np.clip(np.exp(0.18 * rng.standard_normal((2, n))), 0.6, 1.6)
    values = np.clip(d["amount0"] * np.cumprod(factors, axis=0), low * 0.6, high * 1.2)
    d["amount_t"] = np.where(np.arange(2)[:, None] < changes[None], t, NEVER)
    d["amount_v"] = np.round(values / step) * step


def _owner_changes(rng: np.random.Generator, d: dict) -> None:
    """A few deals change hands inside the team."""
    n = len(d["seg"])
    c, life = d["created"], d["close"] - d["created"]
    team_size, first_rep = co.TEAM_SIZE[d["team"]], co.TEAM_FIRST_REP[d["team"]]
    moved = (rng.random(n) < 0.05) & (team_size > 1) & (life > 3)
    offset = 1 + rng.integers(0, 3, n) % np.maximum(team_size - 1, 1)
    d["owner1"] = (first_rep + (d["owner0"] - first_rep + offset) % team_size).astype(np.int16)
    d["owner_t"] = np.where(moved, c + 1 + _days(rng.random(n) * np.maximum(life - 2, 0)), NEVER)


def _category_overrides(rng: np.random.Generator, d: dict) -> None:
    """Reps' judgement over the stage's category: a proposal they call Best Case, a scoping
    they call Best Case, and (for deals that do go on to win) an evaluation called Commit."""
    n = len(d["seg"])
    kind = pick(rng, n, (0.45, 0.35, 0.2))
    kind = np.where((kind == 2) & (d["outcome"] != co.OUT_WON), 0, kind)
    chosen = (d["accepted"] < NEVER) & (rng.random(n) < 0.06)
    d["ov_stage"] = np.where(chosen, np.array([co.PROPOSAL, co.SCOPING, co.TECH])[kind],
                             -1).astype(np.int8)
    d["ov_cat"] = np.array([co.CAT_BEST, co.CAT_BEST, co.CAT_COMMIT], np.int8)[kind]


def _late_entries(rng: np.random.Generator, d: dict, cal: Calendar) -> None:
    """Some won expansions enter the CRM on the day they reach 4-Proposal: created, accepted
    and through the earlier stages at once, with nothing recorded before. Drawn from a child
    generator, so the random stream of everything after (saved calls, submissions) stays as
    it was."""
    n = len(d["seg"])
    draw = rng.spawn(1)[0].random(n)
    late = ((draw < LATE_ENTRY_SHARE) & (d["type"] == EXPANSION)
            & (d["outcome"] == co.OUT_WON) & (d["t_proposal"] <= cal.as_of)
            & (d["close"] - d["t_proposal"] >= LATE_ENTRY_MIN_DAYS)
            & (d["stage_t"][2] < NEVER))
    entry = d["t_proposal"]
    d["created"] = np.where(late, entry, d["created"])
    d["accepted"] = np.where(late, entry, d["accepted"])
    d["t_pre"] = np.where(late, NEVER, d["t_pre"])
    d["start_pre"] = d["start_pre"] & ~late
    for key in ("stage_t", "cd_t", "amount_t"):  # what happened before entry is not seen
        times = d[key]
        d[key] = np.where(late[None, :] & (times < entry[None, :]), entry[None, :], times)
    d["owner_t"] = np.where(late & (d["owner_t"] < entry), NEVER, d["owner_t"])

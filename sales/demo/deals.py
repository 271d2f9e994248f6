"""Who the deals are: when they are created, their segment, account, rep, type, channel, lead
source, product and first amount; and, once their outcome is known, the words that go with it
(lost reason, competitor, renewal risk, next step).

Every function takes the deals dict `d` (column name → numpy array, one entry per deal) and
adds columns to it.
"""

from __future__ import annotations

import numpy as np

from sales.demo import company as co
from sales.demo.fiscal import Calendar

# The company grows ~30% a year, and so does its deal flow.
GROWTH_PER_DAY = np.log(1.3) / 365
# The recent change in segment mix (PROFILES' recent_flow) ramps in over these days before as_of.
RECENT_FLOW_FROM, RECENT_FLOW_RAMP = 240, 150


def pick(rng: np.random.Generator, n: int, probs) -> np.ndarray:
    """n draws of an index with the given probabilities (normalised)."""
    p = np.asarray(probs, dtype=float)
    return np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right").clip(0, len(p) - 1)


def pick_from(rng: np.random.Generator, n: int, choice: tuple) -> np.ndarray:
    """n draws from (values, probabilities)."""
    values, probs = choice
    return np.asarray(values)[pick(rng, n, probs)]


def new_deals(rng: np.random.Generator, n: int, cal: Calendar) -> dict[str, np.ndarray]:
    """The n deals' descriptive attributes, sorted by creation date."""
    d: dict[str, np.ndarray] = {}
    _created(rng, d, n, cal)
    _segments(rng, d, cal)
    _assign_accounts(rng, d)
    _types_and_channels(rng, d)
    _first_amounts(rng, d)
    return d


def _created(rng: np.random.Generator, d: dict, n: int, cal: Calendar) -> None:
    """Creation days, denser toward as_of as the company grows."""
    span = cal.as_of - cal.window_start
    u = np.sort(rng.random(n))
    created = cal.window_start + np.floor(np.log1p(u * np.expm1(GROWTH_PER_DAY * span))
                                          / GROWTH_PER_DAY)
    d["created"] = np.minimum(created.astype(np.int64), cal.as_of)


def _segments(rng: np.random.Generator, d: dict, cal: Calendar) -> None:
    """Segment by the long-run mix, shifting toward each segment's recent flow lately."""
    ramp = np.clip((d["created"] - (cal.as_of - RECENT_FLOW_FROM)) / RECENT_FLOW_RAMP, 0, 1)
    flow = co.profile_array("recent_flow")
    mix = co.profile_array("share") * (1 + (flow - 1) * ramp[:, None])
    cum = np.cumsum(mix / mix.sum(axis=1, keepdims=True), axis=1)
    d["seg"] = (rng.random(len(ramp))[:, None] > cum[:, :2]).sum(axis=1).astype(np.int8)


def account_names(rng: np.random.Generator, n: int) -> list[str]:
    """n distinct company names ("Cedar Logistics Inc", "Summit Creek Health"), in random order.

    Two disjoint name spaces (without and with a middle word) keep them unique; past ~400k
    accounts names repeat.
    """
    names: list[str] = []
    plain = min(round(n * 0.4), len(co.NAME_FIRST) * len(co.NAME_TRADE) * len(co.NAME_LEGAL))
    for count, middles in ((plain, ("",)), (n - plain, co.NAME_MIDDLE)):
        sizes = (len(co.NAME_FIRST), len(middles), len(co.NAME_TRADE), len(co.NAME_LEGAL))
        space = int(np.prod(sizes))
        picks = rng.choice(space, size=min(count, space), replace=False)
        if count > space:
            picks = np.concatenate([picks, rng.integers(0, space, count - space)])
        first, rest = np.divmod(picks, space // sizes[0])
        middle, rest = np.divmod(rest, sizes[2] * sizes[3])
        trade, legal = np.divmod(rest, sizes[3])
        names += [f"{co.NAME_FIRST[a]}{middles[b]} {co.NAME_TRADE[c]}{co.NAME_LEGAL[e]}"
                  for a, b, c, e in zip(first.tolist(), middle.tolist(), trade.tolist(),
                                        legal.tolist(), strict=True)]
    order = rng.permutation(n)
    return [names[i] for i in order]


def _assign_accounts(rng: np.random.Generator, d: dict) -> None:
    """Accounts per segment (employees, team, rep); deals pick accounts, a few heavily."""
    seg = d["seg"]
    n = len(seg)
    counts = np.bincount(seg, minlength=3)
    n_acc = [max(3, round(counts[s] / co.PROFILE_LIST[s].deals_per_account)) for s in range(3)]
    names = account_names(rng, sum(n_acc))
    acc_seg = np.repeat(np.arange(3, dtype=np.int8), n_acc)
    employees = np.empty(len(acc_seg), np.int64)
    acc_team = np.empty(len(acc_seg), np.int16)
    acc_rep = np.empty(len(acc_seg), np.int16)
    deal_acc = np.empty(n, np.int64)
    offset = 0
    for s in range(3):
        k = n_acc[s]
        lo, hi = co.PROFILE_LIST[s].employees
        sl = slice(offset, offset + k)
        employees[sl] = np.floor(np.exp(rng.uniform(np.log(lo), np.log(hi + 1), k)))
        teams = np.flatnonzero(np.equal(co.TEAM_SEG, s))
        acc_team[sl] = teams[pick(rng, k, co.TEAM_SIZE[teams].astype(float))]
        acc_rep[sl] = (co.TEAM_FIRST_REP[acc_team[sl]]
                       + rng.integers(0, 12, k) % co.TEAM_SIZE[acc_team[sl]])
        weights = rng.pareto(1.6, k) + 1.0  # a few accounts buy again and again
        m = seg == s
        deal_acc[m] = offset + pick(rng, int(m.sum()), weights)
        offset += k
    employees = np.minimum(employees, np.array([p.employees[1] for p in co.PROFILE_LIST])[acc_seg])
    d["account"] = deal_acc
    d["account_names"] = np.array(names, dtype=object)
    d["employees"] = employees[deal_acc]
    d["team"] = acc_team[deal_acc]
    # Most deals belong to the account's rep; some to a teammate.
    owner = acc_rep[deal_acc].copy()
    other = rng.random(n) < 0.15
    team_size, first_rep = co.TEAM_SIZE[d["team"]], co.TEAM_FIRST_REP[d["team"]]
    pos = (owner - first_rep + rng.integers(1, 4, n)) % team_size
    d["owner0"] = np.where(other, first_rep + pos, owner).astype(np.int16)


def _types_and_channels(rng: np.random.Generator, d: dict) -> None:
    seg = d["seg"]
    n = len(seg)
    typ, channel = np.empty(n, np.int8), np.empty(n, np.int8)
    for name in co.TYPE_MIX:
        m = seg == co.SEG_INDEX[name]
        typ[m] = pick(rng, int(m.sum()), co.TYPE_MIX[name])
        channel[m] = pick(rng, int(m.sum()), co.PROFILES[name].channels)
    d["type"], d["channel"] = typ, channel
    lead = pick(rng, n, (0.45, 0.4, 0.15))  # Inbound, Outbound, Event
    lead = np.where((typ > 0) & (rng.random(n) < 0.7), 5, lead)  # existing customers
    lead = np.where(channel == 1, 3, lead)
    lead = np.where(channel == co.SELF_SERVE, 4, lead)
    d["lead"] = lead.astype(np.int8)
    d["product"] = rng.integers(0, len(co.PRODUCTS), n).astype(np.int8)


def _first_amounts(rng: np.random.Generator, d: dict) -> None:
    """Log-normal deal sizes per segment, smaller for self serve and expansions; `size` is the
    log of the amount relative to the segment median (big deals are harder to win)."""
    seg = d["seg"]
    n = len(seg)
    step = co.profile_array("amount_step")[seg]
    low = np.array([p.amount_range[0] for p in co.PROFILE_LIST])[seg]
    high = np.array([p.amount_range[1] for p in co.PROFILE_LIST])[seg]
    d["size"] = co.profile_array("amount_sigma")[seg] * rng.standard_normal(n)
    scale = np.where(d["channel"] == co.SELF_SERVE, 0.6, 1.0) * co.TYPE_AMOUNT[d["type"]]
    amount = np.clip(co.profile_array("amount_median")[seg] * scale * np.exp(d["size"]), low, high)
    d["amount0"] = np.round(amount / step) * step


def describe_outcomes(rng: np.random.Generator, d: dict) -> None:
    """Columns that depend on the outcome: reasons, competitors, renewal risk, next steps."""
    n = len(d["seg"])
    outcome = d["outcome"]
    reason = np.full(n, -1, np.int64)
    for out, choice in ((co.OUT_COMP, co.COMP_REASONS), (co.OUT_NODEC, co.NODEC_REASONS),
                        (co.OUT_EXCL, co.EXCL_REASONS), (co.OUT_UNQ, co.UNQ_REASONS)):
        m = outcome == out
        reason[m] = pick_from(rng, int(m.sum()), choice)
    reason[outcome == co.OUT_DUP] = co.DUP_REASON
    d["reason"] = reason
    comp_name = pick(rng, n, co.COMPETITOR_MIX)
    named = (outcome == co.OUT_COMP) | ((outcome == co.OUT_WON) & (rng.random(n) < 0.4))
    d["competitor"] = np.where(named, comp_name, -1)
    d["competitor_seen_open"] = rng.random(n) < 0.7  # reps record most competitors early
    r = rng.random(n)
    losing = outcome != co.OUT_WON
    # Renewals that will be lost mostly carry a flag already; a few safe ones do too.
    risk = np.where(losing, np.where(r < 0.35, 1, np.where(r < 0.6, 0, -1)),
                    np.where(r < 0.05, 1, np.where(r < 0.15, 0, -1)))
    d["renewal_risk"] = np.where(d["type"] == 2, risk, -1)
    d["next_step_pick"] = rng.integers(0, co.NEXT_STEP_PICKS, n)
    d["call_flip"] = rng.random(n)
    d["call_reason"] = rng.integers(0, 12, n)

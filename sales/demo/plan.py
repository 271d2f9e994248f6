"""The plan around the deals: targets, reps' weekly submissions and the weekly saved in-blood
calls, all derived from the simulated history so attainment and accuracy read true."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa

from sales.demo import company as co
from sales.demo.fiscal import Calendar
from sales.demo.tables import codes, insert
from sales.segments import SEGMENTS

# Past quarters were attained at this range, per segment (target = won / attainment).
PAST_ATTAINMENT = (0.80, 1.12)
# The plan grows deal flow by the company's ~30% a year: this much a quarter.
QUARTERLY_GROWTH = 1.3 ** 0.25
# Month targets as shares of the quarter: back-loaded, like the closes.
MONTH_SHARES = (0.3, 0.32)
# How far the current quarter's plan may move from its trend to keep the segment's story.
MAX_PLAN_MOVE = 0.25
# Which quarters the saved calls cover, relative to the current one.
CALL_QUARTERS = (-2, -1, 0)


def _by_segment(team_values: np.ndarray) -> np.ndarray:
    return np.bincount(co.TEAM_SEG, weights=team_values, minlength=len(SEGMENTS))


def in_period_by_snapshot(h: dict, rows: np.ndarray, group: np.ndarray, n_groups: int,
                          cal: Calendar) -> np.ndarray:
    """(n_groups, snapshots): amount of the given history rows standing at each snapshot with
    close date in that snapshot's fiscal quarter (a difference array over snapshot ranges)."""
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


# --- targets ----------------------------------------------------------------------------------


def write_targets(con: duckdb.DuckDBPyConnection, rng: np.random.Generator, d: dict, h: dict,
                  current: np.ndarray, cal: Calendar) -> None:
    """Plan by quarter and month for every covered quarter plus the next two.

    Owner targets are set first (a team's target split by rep weight, rounded to $100); every
    other level is their sum, so owner → team → segment / region → company add up exactly, and
    months add up to their quarter.
    """
    quarters = list(range(cal.snap_quarter[0], cal.current_index + 3))
    team_plan = _team_plan(rng, d, h, current, cal, quarters)
    rep_weight = rng.uniform(0.9, 1.1, len(co.REPS))
    rep_weight[list(co.RAMPING_REPS)] = 0.6
    team_weight = np.bincount(co.REP_TEAM, weights=rep_weight)
    rows: list[tuple[str, str, str, float]] = []
    for qi in quarters:
        quarter = cal.quarters[qi]
        owner_q = np.round(team_plan[qi][co.REP_TEAM] * rep_weight / team_weight[co.REP_TEAM], -2)
        m1, m2 = (np.round(owner_q * share, -2) for share in MONTH_SHARES)
        months = zip([m.label for m in quarter.months()], (m1, m2, owner_q - m1 - m2),
                     strict=True)
        for label, owners in [(quarter.label, owner_q), *months]:
            rows += _target_rows(label, owners)
    period, scope, value, amount = zip(*rows, strict=True)
    insert(con, "targets", pa.table({"period": list(period), "scope": list(scope),
                                     "scope_value": list(value), "amount": np.array(amount)}))


def _target_rows(label: str, owners: np.ndarray) -> list[tuple[str, str, str, float]]:
    """Every scope's target for one period, from the owners' targets."""
    teams = np.bincount(co.REP_TEAM, weights=owners, minlength=len(co.TEAMS))
    rows = [(label, "company", "", float(owners.sum()))]
    rows += [(label, "segment", name, float(teams[np.equal(co.TEAM_SEG, i)].sum()))
             for i, name in enumerate(SEGMENTS)]
    rows += [(label, "region", name, float(teams[np.equal(co.TEAM_REGION, i)].sum()))
             for i, name in enumerate(co.REGIONS)]
    rows += [(label, "team", name, float(teams[i])) for i, name in enumerate(co.TEAM_NAMES)]
    rows += [(label, "owner", rep, float(owners[i])) for i, rep in enumerate(co.REPS)]
    return rows


def _team_plan(rng: np.random.Generator, d: dict, h: dict, current: np.ndarray, cal: Calendar,
               quarters: list[int]) -> dict[int, np.ndarray]:
    """Per quarter index, each team's target (unrounded).

    Past quarters: what was won over an attainment drawn per segment. The current quarter: the
    trend of the last four quarters' wins grown to now (times the segment's plan stretch), as a
    plan set before the quarter would be, kept in the segment's story bands (`_current_plan`).
    Later quarters: the trend, growing. A segment's target is split over its teams half by
    their wins (current quarter: Closed + Commit + Best Case), half by headcount.
    """
    cur = cal.current_index
    by_quarter = _team_amounts_by_quarter(h, current, d["team"], cal)
    attainment = rng.uniform(*PAST_ATTAINMENT, (len(cal.quarters), len(SEGMENTS)))
    stretch = co.profile_array("plan_stretch") * rng.uniform(0.97, 1.03, len(SEGMENTS))
    head = co.TEAM_SIZE.astype(float)
    head_share = head / _by_segment(head)[co.TEAM_SEG]
    won = by_quarter["won"]
    past = [q for q in quarters if cur - 4 <= q < cur]
    trend = np.mean([_by_segment(won[q]) * QUARTERLY_GROWTH ** (cur - q) for q in past],
                    axis=0) if past else np.zeros(len(SEGMENTS))
    likely_team = won[cur] + by_quarter["commit"] + by_quarter["best"]
    plan: dict[int, np.ndarray] = {}
    for qi in quarters:
        if qi < cur:
            basis, seg_total = won[qi], _by_segment(won[qi]) / attainment[qi]
        elif qi == cur:
            basis = likely_team
            seg_total = _current_plan(trend * stretch, _by_segment(won[cur]),
                                      _by_segment(by_quarter["commit"]),
                                      _by_segment(by_quarter["best"]))
        else:
            basis, seg_total = head, trend * QUARTERLY_GROWTH ** (qi - cur)
        seg_total = np.where(seg_total > 0, seg_total, 10_000.0)  # no wins at all (tiny demos)
        seg_basis = _by_segment(basis)[co.TEAM_SEG]
        basis_share = np.divide(basis, seg_basis, out=head_share.copy(), where=seg_basis > 0)
        plan[qi] = (0.5 * basis_share + 0.5 * head_share) * seg_total[co.TEAM_SEG]
    return plan


def _team_amounts_by_quarter(h: dict, current: np.ndarray, team: np.ndarray,
                             cal: Calendar) -> dict[str, np.ndarray]:
    """Per team, from the state at as_of: won amount per (quarter, team), and the open
    qualified Commit and Best Case amounts closing in the current quarter."""
    n_teams = len(co.TEAMS)
    stage, cat, amount = h["stage"][current], h["cat"][current], h["amount"][current]
    q_close = cal.quarter(h["cd"][current])
    won = stage == co.WON
    won_team = np.zeros((len(cal.quarters), n_teams))
    np.add.at(won_team, (q_close[won], team[won]), amount[won])
    open_now = co.OPEN_QUALIFIED[stage] & (q_close == cal.current_index)
    result = {"won": won_team}
    for name, code in (("commit", co.CAT_COMMIT), ("best", co.CAT_BEST)):
        m = open_now & (cat == code)
        result[name] = np.bincount(team[m], weights=amount[m], minlength=n_teams)
    return result


def _current_plan(trend: np.ndarray, closed: np.ndarray, commit: np.ndarray,
                  best: np.ndarray) -> np.ndarray:
    """Each segment's current-quarter target: the trend, moved just far enough to keep
    in-blood ((Closed + Commit) / target) and coverage ((Closed + Commit + Best Case) / target)
    in the segment's bands. The simulation lands there on its own at scale; the bands hold the
    story in small or unlucky samples. When both bands cannot hold, the target splits the miss;
    it never moves more than MAX_PLAN_MOVE from the trend (early in a quarter, little is in
    Commit yet for small deals: the plan does not chase that).
    """
    in_blood, covered = closed + commit, closed + commit + best
    out = trend.copy()
    for s, profile in enumerate(co.PROFILE_LIST):
        if trend[s] <= 0:
            continue
        lo, hi = 0.0, np.inf
        for amount, (band_lo, band_hi) in ((in_blood[s], profile.in_blood_band),
                                           (covered[s], profile.coverage_band)):
            if amount > 0:
                lo = max(lo, amount / band_hi)
                hi = min(hi, amount / band_lo) if band_lo > 0 else hi
        target = np.clip(trend[s], lo, hi) if lo <= hi else np.sqrt(lo * hi)
        out[s] = np.clip(target, trend[s] * (1 - MAX_PLAN_MOVE), trend[s] * (1 + MAX_PLAN_MOVE))
    return out


# --- the hierarchy and the people's calls ------------------------------------------------------


def demo_email(name: str) -> str:
    """first.last@example.com from a demo name."""
    return ".".join("".join(c for c in part if c.isalpha()) for part in name.lower().split()
                    ) + "@example.com"


def hierarchy_users() -> list[tuple[str, str, str | None, str]]:
    """(name, email, manager, title): the reps under their team's first-line manager, the
    managers under their region's leader, the leaders under the top."""
    users = [(co.TOP, demo_email(co.TOP), None, "Chief Revenue Officer")]
    users += [(leader, demo_email(leader), co.TOP, f"VP Sales {region}")
              for region, leader in co.REGION_LEADERS.items()]
    region_of = {team: region for team, _, region, _ in co.TEAMS}
    for manager in co.FIRST_LINE:
        users.append((manager, demo_email(manager), co.REGION_LEADERS[region_of[manager]],
                      "Sales Manager"))
    for team, _, _, reps in co.TEAMS:
        manager = co.TEAM_MANAGER[team]
        users += [(rep, demo_email(rep), manager, "Account Executive") for rep in reps]
    return users


def write_hierarchy(con: duckdb.DuckDBPyConnection, cal: Calendar) -> None:
    """The hierarchy, standing since the first snapshot."""
    users = hierarchy_users()
    con.executemany("insert into users values (?, ?, ?)", [[n, e, t] for n, e, _, t in users])
    con.executemany("insert into memberships values (?, ?, ?, null)",
                    [[n, m, cal.snapshot(0)] for n, _, m, _ in users])


def write_submissions(con: duckdb.DuckDBPyConnection, rng: np.random.Generator, h: dict,
                      cal: Calendar) -> None:
    """Every rep's weekly call, for the quarter holding each snapshot: forecast ~ closed +
    commit (the rep's bias — sandbaggers under, happy ears over — and noise), upside ~ a share
    of best case; then each manager's, leader's and the top's call: their team's sum moved by
    their judgement (`MANAGER_ADJUSTMENT`). Due Mondays at 12:00 (the default setting): most
    people call within hours of the due moment, managers after their reps; late submitters
    days later, and some weeks not at all."""
    n_reps, n_snaps = len(co.REPS), len(cal.snap_days)
    stage, cat = h["stage"], h["cat"]
    open_q = co.OPEN_QUALIFIED[stage]
    by = {}
    for name, mask in (("won", stage == co.WON), ("commit", open_q & (cat == co.CAT_COMMIT)),
                       ("best", open_q & (cat == co.CAT_BEST))):
        rows = np.flatnonzero(mask)
        by[name] = in_period_by_snapshot(h, rows, h["owner"][rows], n_reps, cal)
    bias = rng.normal(1.0, 0.04, n_reps)
    for rep, factor in {**co.SANDBAGGERS, **co.HAPPY_EARS}.items():
        bias[rep] = factor
    noise = rng.normal(0.0, 0.04, (n_reps, n_snaps))
    forecast = np.round(by["won"] + by["commit"] * np.clip(bias[:, None] + noise, 0.5, 1.6), -2)
    upside = np.round(by["best"] * rng.uniform(0.3, 0.6, (n_reps, n_snaps)), -2)
    # Timing from a generator of its own, so the random stream of everything after (saved
    # calls, leads) stays as it was.
    timing = np.random.default_rng([rng.bit_generator.seed_seq.entropy, 22])
    rows = []
    labels = [q.label for q in cal.quarters]
    latest = np.full(n_reps, np.nan)  # each rep's latest call in the quarter, as managers see it
    pending = np.full(n_reps, np.nan)  # late calls, seen from the next week on
    end = datetime.combine(cal.snapshot(n_snaps - 1), datetime.max.time())
    for k in range(n_snaps):
        due, last = _due_before(cal, k)
        period = labels[cal.snap_quarter[k]]
        if k and cal.snap_quarter[k] != cal.snap_quarter[k - 1]:
            latest[:], pending[:] = np.nan, np.nan
        latest = np.where(np.isnan(pending), latest, pending)
        pending[:] = np.nan
        for rep in range(n_reps):
            if rep in co.LATE_REPS:  # days after the due moment, some weeks never
                if timing.random() < 0.3:
                    continue
                at = due + timedelta(hours=timing.uniform(26, 80))
                if at > end:
                    continue  # not made yet
            else:
                at = min(due + timedelta(hours=timing.uniform(0.2, 6)), last)
            rows.append((co.REPS[rep], period, forecast[rep, k], upside[rep, k], at, co.REPS[rep]))
            if at <= last:
                latest[rep] = forecast[rep, k]
            else:
                pending[rep] = forecast[rep, k]
        team_sum = np.zeros(len(co.TEAMS))
        np.add.at(team_sum, co.REP_TEAM, np.nan_to_num(latest))
        manager_sum = dict.fromkeys(co.FIRST_LINE, 0.0)
        region_of = {}
        for t, (team, _, region, _) in enumerate(co.TEAMS):
            manager_sum[co.TEAM_MANAGER[team]] += team_sum[t]
            region_of[co.TEAM_MANAGER[team]] = region
        leader_sum = {region: 0.0 for region in co.REGION_LEADERS}
        for manager, summed in manager_sum.items():
            called = round(summed * co.MANAGER_ADJUSTMENT[manager], -2)
            region = region_of[manager]
            leader_sum[region] += called
            at = min(due + timedelta(hours=timing.uniform(6, 9)), last)
            rows.append((manager, period, called, 0.0, at, manager))
        top_sum = 0.0
        for region, leader in co.REGION_LEADERS.items():
            called = round(leader_sum[region] * co.MANAGER_ADJUSTMENT[leader], -2)
            top_sum += called
            rows.append((leader, period, called, 0.0,
                         min(due + timedelta(hours=timing.uniform(20, 24)), last), leader))
        rows.append((co.TOP, period, round(top_sum * co.MANAGER_ADJUSTMENT[co.TOP], -2), 0.0,
                     min(due + timedelta(hours=28), last), co.TOP))
    rows.sort(key=lambda r: (r[4], r[0]))
    insert(con, "people_calls_frame", pa.table({
        "user_name": [r[0] for r in rows], "period": [r[1] for r in rows],
        "forecast": [float(r[2]) for r in rows], "upside": [float(r[3]) for r in rows],
        "submitted_at": [r[4] for r in rows], "submitted_by": [r[5] for r in rows]}))


def _due_before(cal: Calendar, k: int) -> tuple[datetime, datetime]:
    """The Monday 12:00 on or before snapshot k's day (within its quarter), and the last moment
    of that day (a call made later is not in the snapshot's week)."""
    snap = cal.snapshot(k)
    monday = snap - timedelta(days=snap.weekday())
    start = cal.quarters[cal.snap_quarter[k]].start
    monday = max(monday, start)
    due = datetime.combine(monday, datetime.min.time()) + timedelta(hours=12)
    return due, datetime.combine(snap, datetime.max.time()).replace(microsecond=0)


# --- saved calls ------------------------------------------------------------------------------


def write_calls(con: duckdb.DuckDBPyConnection, rng: np.random.Generator, d: dict, h: dict,
                cal: Calendar) -> None:
    """Weekly in-blood calls: the current quarter's past weeks and the two quarters before.

    Each call decides every open, qualified Commit / Best Case / Pipeline deal closing in the
    quarter at that week's snapshot: the defaults (Commit in, the rest out) with a few flips.
    Managers know their deals a little: the Commit they drop is mostly the Commit that will not
    close in the quarter, the Best Case they add mostly will.
    """
    n_snaps = len(cal.snap_days)
    open_rows = np.flatnonzero(co.OPEN_QUALIFIED[h["stage"]])
    open_q = cal.quarter(h["cd"][open_rows])
    won_rows = np.flatnonzero(h["stage"] == co.WON)
    closed_won = in_period_by_snapshot(h, won_rows, np.zeros(len(won_rows)), 1, cal)[0]
    # The quarter each deal is won in (-1 if never): what a manager half knows.
    won_in = np.where(d["close_stage"] == co.WON, cal.quarter(d["close"]), -1)
    frames = []
    for qi in (cal.current_index + q for q in CALL_QUARTERS):
        rows = open_rows[open_q == qi]
        snaps = [k for k in range(n_snaps) if cal.snap_quarter[k] == qi and k < n_snaps - 1]
        for week, k in enumerate(snaps, start=1):
            call_id = _save_call(con, rng, cal, qi, k, week, closed_won[k])
            standing = rows[(h["kf"][rows] <= k) & (h["kt"][rows] > k)]
            elapsed = (cal.snap_days[k] - cal.quarter_start[qi]) / cal.quarters[qi].days
            wins_here = won_in[h["deal"][standing]] == qi
            frames.append(_decisions(d, h, standing, wins_here, call_id, elapsed))
    if frames:
        insert(con, "forecast_call_decisions", pa.concat_tables(frames))


def _save_call(con: duckdb.DuckDBPyConnection, rng: np.random.Generator, cal: Calendar,
               qi: int, k: int, week: int, closed_won: float) -> int:
    call_date = cal.snapshot(k)
    saved_at = datetime.combine(call_date, datetime.min.time()) + timedelta(
        hours=16, minutes=int(rng.integers(0, 120)))
    note = f"{co.CALL_NOTES[week % len(co.CALL_NOTES)]} (week {week})"
    return con.execute(
        "insert into forecast_calls (period, call_date, saved_at, saved_by, note, scope,"
        " closed_won) values (?, ?, ?, ?, ?, '', ?) returning call_id",
        [cal.quarters[qi].label, call_date, saved_at, co.CALL_SAVED_BY, note,
         round(float(closed_won), 2)],
    ).fetchall()[0][0]


def _decisions(d: dict, h: dict, rows: np.ndarray, wins_here: np.ndarray, call_id: int,
               elapsed: float) -> pa.Table:
    """One call's decision per deal row; flips carry a reason.

    Timing risk shows as the quarter runs out: the share of doomed Commit a manager drops grows
    from 20% to 95% over the quarter. The same draw per deal every week keeps a manager's view
    of a deal steady (once dropped, it stays dropped)."""
    deal, cat = h["deal"][rows], h["cat"][rows]
    u = d["call_flip"][deal]
    is_commit, is_best = cat == co.CAT_COMMIT, cat == co.CAT_BEST
    drop_doomed = 0.2 + 0.75 * elapsed
    flip_p = np.select([is_commit, is_best],
                       [np.where(wins_here, 0.03, drop_doomed), np.where(wins_here, 0.35, 0.03)],
                       np.where(wins_here, 0.04, 0.005))
    flipped = u < flip_p
    pick = d["call_reason"][deal]
    n_ex, n_best = len(co.EXCLUDE_COMMIT_REASONS), len(co.INCLUDE_BEST_REASONS)
    reason = np.select([is_commit, is_best], [pick % n_ex, n_ex + pick % n_best], n_ex + n_best)
    return pa.table({
        "call_id": np.full(len(rows), call_id, np.int64),
        "deal": deal.astype(np.int64),
        "included": np.where(flipped, ~is_commit, is_commit),
        "reason": codes(np.where(flipped, reason, -1), co.CALL_REASONS),
        "amount": h["amount"][rows],
        "forecast_category": codes(cat, co.CATS),
    })

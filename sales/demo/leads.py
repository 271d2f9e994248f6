"""The demo's leads and follow-ups: the lead pipeline behind the deals, and the action items
of the last few forecast calls.

Leads. New business that marketing sourced (lead source Inbound or Event) began as a lead:
an inquiry that became an MQL, was accepted by an SDR, qualified, and converted to the deal on
the day the deal was created. Those are the minority of MQLs: about a third of MQLs are
accepted (`ACCEPTED_SHARE`) and about half of those convert (`CONVERT_SHARE`); the rest are
recycled to Nurture or junked (Unqualified, Bad Data) with a reason, a few buy through the web
portal, and the most recent are still being worked. Inquiries that never became an MQL are
most leads (a few percent become MQLs, `MQL_SHARE`); they are written for the window the call
compares (the current quarter and the four before, `INQUIRY_QUARTERS`) straight in SQL, and
recorded once each (their status never matters to the call). Every lead is recorded at the
same weekly snapshots as the deals, so "where are the period's MQLs now" reads true at any
as-of date.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa

from sales.demo import company as co
from sales.demo.fiscal import NEVER, Calendar, to_date
from sales.demo.tables import codes, dates
from sales.segments import SEGMENTS

ACCEPTED_SHARE = 1 / 3  # of MQLs, accepted by an SDR
CONVERT_SHARE = 0.55  # of accepted MQLs, converted to an opportunity
MQL_SHARE = 0.04  # of inquiries, becoming an MQL
INQUIRY_QUARTERS = 5  # quarters of never-MQL inquiries written (the current and four before)
PORTAL_SHARE = 0.06  # of SMB MQLs never accepted: bought through the web portal
# Opportunity lead sources that began as a marketing lead, and the leads' own sources.
MARKETING_SOURCES = (co.LEAD_SOURCES.index("Inbound"), co.LEAD_SOURCES.index("Event"))
LEAD_SOURCES = ("Web Form", "Content Download", "Webinar", "Free Trial", "Trade Show",
                "Field Event")
_INBOUND_MIX, _EVENT_MIX = (0.35, 0.25, 0.2, 0.2, 0, 0), (0, 0, 0, 0, 0.6, 0.4)
SDRS = {"AMER": ("Riley Summers", "Devon Price"), "EMEA": ("Anna Schulz", "Marco Bianchi"),
        "APAC": ("Kai Tanaka", "Ruby Singh")}
SDR_NAMES = tuple(name for names in SDRS.values() for name in names)
STATUSES = ("Raw", "Inquiry", "MQL", "Accepted", "Qualifying", "Qualified", "Unqualified",
            "Nurture", "Bad Data", "Web Portal Purchase")
S = {name: i for i, name in enumerate(STATUSES)}
REASONS = {
    "Nurture": ("Not ready to buy", "No budget this year", "Revisit next quarter",
                "Under contract with a competitor", "Student or personal use"),
    "Unqualified": ("Too small for sales", "No response after five touches",
                    "Competitor research", "Job seeker", "Spam form fill"),
    "Bad Data": ("Invalid email", "Wrong phone number", "Fake company name"),
}
REASON_NAMES = tuple(r for reasons in REASONS.values() for r in reasons)
_REASON_WEIGHTS = {"Nurture": (0.35, 0.25, 0.2, 0.12, 0.08),
                   "Unqualified": (0.35, 0.3, 0.15, 0.1, 0.1), "Bad Data": (0.5, 0.3, 0.2)}
# The lead's events, in order: created, MQL, accepted, qualifying, the end (converted,
# recycled, junked or bought).
_EVENTS = 5


def _pick(rng: np.random.Generator, n: int, probs) -> np.ndarray:
    p = np.asarray(probs, float)
    return np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right").clip(0, len(p) - 1)


def _converted(rng: np.random.Generator, d: dict, cal: Calendar) -> dict[str, np.ndarray]:
    """Leads converted to the marketing-sourced new business, backward from each deal's
    creation: qualifying a week or two, accepted days after the MQL, MQL weeks after the
    inquiry."""
    deals = np.flatnonzero((d["type"] == 0) & np.isin(d["lead"], MARKETING_SOURCES))
    n = len(deals)
    converted = d["created"][deals]
    qualifying = converted - 1 - np.floor(rng.gamma(2.0, 5.0, n)).astype(np.int64)
    accepted = qualifying - np.floor(rng.gamma(1.5, 1.5, n)).astype(np.int64)
    mql = accepted - np.floor(rng.gamma(1.5, 2.0, n)).astype(np.int64)
    created = mql - np.floor(rng.gamma(1.2, 18.0, n)).astype(np.int64)
    event = d["lead"][deals] == MARKETING_SOURCES[1]
    source = np.where(event, _pick(rng, n, _EVENT_MIX), _pick(rng, n, _INBOUND_MIX))
    region = co.TEAM_REGION[d["team"][deals]]
    return {"deal": deals, "times": np.stack([created, mql, accepted, qualifying, converted], 1),
            "end": np.full(n, S["Qualified"]), "accepted": np.ones(n, bool),
            "seg": d["seg"][deals], "employees": d["employees"][deals], "region": region,
            "source": source, "sdr": _sdr(rng, region), "reason": np.full(n, -1),
            "converted_owner": d["owner0"][deals].astype(np.int64)}


def _sdr(rng: np.random.Generator, region: np.ndarray) -> np.ndarray:
    """An SDR of the lead's region (two per region, in SDR_NAMES order)."""
    return 2 * region.astype(np.int64) + rng.integers(0, 2, len(region))


def _not_converted(rng: np.random.Generator, conv: dict, cal: Calendar) -> dict[str, np.ndarray]:
    """The MQLs that did not convert, as many as the rates say, spread like the converted
    ones: accepted then recycled or junked, never accepted and recycled, junked or bought,
    or still open when their end lies after as-of."""
    n_conv = len(conv["deal"])
    n = int(round(n_conv * (1 / (ACCEPTED_SHARE * CONVERT_SHARE) - 1)))
    if n_conv == 0 or n == 0:
        return {}
    # Spread as the deals are created (the flow grows towards as-of), up to as-of itself.
    base = conv["times"][rng.integers(0, n_conv, n), _EVENTS - 1]
    mql = np.minimum(base - np.floor(rng.gamma(1.5, 6.0, n)).astype(np.int64)
                     + rng.integers(0, 8, n), cal.as_of)
    accepted_share = (ACCEPTED_SHARE * (1 - CONVERT_SHARE)) / (1 - ACCEPTED_SHARE * CONVERT_SHARE)
    accepted = rng.random(n) < accepted_share
    t_accept = mql + 1 + np.floor(rng.gamma(1.5, 2.0, n)).astype(np.int64)
    t_qualifying = t_accept + 1 + np.floor(rng.gamma(1.5, 1.5, n)).astype(np.int64)
    t_end = np.where(accepted, t_qualifying + 3 + np.floor(rng.gamma(2.0, 8.0, n)),
                     mql + 2 + np.floor(rng.gamma(2.0, 7.0, n))).astype(np.int64)
    seg = _pick(rng, n, (0.12, 0.3, 0.58)).astype(np.int8)
    lo = np.array([co.PROFILE_LIST[s].employees[0] for s in range(3)])[seg]
    hi = np.array([co.PROFILE_LIST[s].employees[1] for s in range(3)])[seg]
    employees = np.floor(np.exp(rng.uniform(np.log(lo), np.log(hi + 1)))).astype(np.int64)
    end = np.where(accepted, np.where(rng.random(n) < 0.6, S["Nurture"],
                                      np.where(rng.random(n) < 0.75, S["Unqualified"],
                                               S["Bad Data"])),
                   _pick(rng, n, (0.55, 0.25, 0.2)).choose([S["Nurture"], S["Unqualified"],
                                                            S["Bad Data"]]))
    portal = ~accepted & (seg == co.SEG_INDEX["SMB"]) & (rng.random(n) < PORTAL_SHARE)
    end = np.where(portal, S["Web Portal Purchase"], end)
    reason = np.full(n, -1)
    for status, reasons in REASONS.items():
        m = end == S[status]
        offset = REASON_NAMES.index(reasons[0])
        reason[m] = offset + _pick(rng, int(m.sum()), _REASON_WEIGHTS[status])
    created = mql - np.floor(rng.gamma(1.2, 18.0, n)).astype(np.int64)
    times = np.stack([created, mql, np.where(accepted, t_accept, NEVER),
                      np.where(accepted, t_qualifying, NEVER), t_end], 1)
    region = _pick(rng, n, (0.5, 0.3, 0.2)).astype(np.int8)
    source = _pick(rng, n, (0.28, 0.2, 0.16, 0.16, 0.12, 0.08))
    return {"deal": np.full(n, -1), "times": times, "end": end, "accepted": accepted,
            "seg": seg, "employees": employees, "region": region, "source": source,
            "sdr": _sdr(rng, region), "reason": reason, "converted_owner": np.full(n, -1)}


def _history(leads: dict, cal: Calendar) -> dict[str, np.ndarray]:
    """Change rows at the weekly snapshots: each lead's status (and, at its end, conversion,
    reason and owner) as of each snapshot; of several events in one week the last is seen."""
    times = leads["times"].copy()
    n = len(times)
    times[times > cal.as_of] = NEVER
    status = np.stack([np.full(n, S["Inquiry"]), np.full(n, S["MQL"]), np.full(n, S["Accepted"]),
                       np.full(n, S["Qualifying"]), leads["end"]], 1)
    valid = times < NEVER
    k = np.where(valid, cal.snapshot_of(np.where(valid, times, cal.first)), NEVER)
    nxt = np.full_like(k, NEVER)
    for j in range(_EVENTS - 2, -1, -1):  # the next valid event's snapshot
        nxt[:, j] = np.where(valid[:, j + 1], k[:, j + 1], nxt[:, j + 1])
    rows, cols = np.nonzero(valid & (k != nxt))
    ended = cols == _EVENTS - 1
    out = {"lead": rows, "kf": k[rows, cols], "status": status[rows, cols],
           "converted": np.where(ended, leads["deal"][rows], -1),
           "reason": np.where(ended, leads["reason"][rows], -1),
           "owner": np.where(ended & (leads["converted_owner"][rows] >= 0),
                             len(SDR_NAMES) + leads["converted_owner"][rows],
                             leads["sdr"][rows]),
           "converted_day": np.where(ended & (leads["deal"][rows] >= 0),
                                     times[rows, _EVENTS - 1], 0)}
    last = np.concatenate([rows[1:] != rows[:-1], [True]])
    out["kt"] = np.where(last, len(cal.snap_days), np.concatenate([out["kf"][1:], [0]]))
    return out


def _owner_names() -> list[str]:
    return [*SDR_NAMES, *co.REPS]


def _lead_ids(index: np.ndarray) -> pa.Array:
    return pa.array([f"LEAD-{i + 1:08d}" for i in index.tolist()], pa.string())


def write_leads(con: duckdb.DuckDBPyConnection, rng: np.random.Generator, d: dict,
                cal: Calendar) -> int:
    """The leads, their weekly history and the lead snapshot dates; returns how many leads."""
    conv = _converted(rng, d, cal)
    rest = _not_converted(rng, conv, cal)
    leads = {key: np.concatenate([conv[key], rest[key]]) if rest else conv[key] for key in conv}
    n = len(leads["deal"])
    h = _history(leads, cal)
    last = np.concatenate([h["lead"][1:] != h["lead"][:-1], [True]])
    current = np.flatnonzero(last)  # one per lead, in lead order
    times = leads["times"]
    seen = lambda j: np.where(times[:, j] <= cal.as_of, times[:, j], 0)  # noqa: E731
    unseen = lambda j: times[:, j] > cal.as_of  # noqa: E731
    opp_ids = pa.array([f"OPP-{i + 1:07d}" if i >= 0 else None
                        for i in h["converted"][current].tolist()], pa.string())
    owners = _owner_names()
    con.register("lead_frame", pa.table({
        "lead_id": _lead_ids(np.arange(n)),
        "created_date": dates(np.minimum(times[:, 0], cal.as_of)),
        "status": codes(h["status"][current], STATUSES),
        "mql_date": dates(seen(1), unseen(1)),
        "owner": codes(h["owner"][current], owners),
        "lead_source": codes(leads["source"], LEAD_SOURCES),
        "account_employees": leads["employees"].astype(np.int32),
        "segment": codes(leads["seg"], SEGMENTS),
        "region": codes(leads["region"], co.REGIONS),
        "converted_opportunity_id": opp_ids,
        "converted_date": dates(h["converted_day"][current], h["converted"][current] < 0),
        "status_reason": codes(h["reason"][current], REASON_NAMES),
    }))
    try:
        con.execute("""insert into leads by name select * from lead_frame""")
    finally:
        con.unregister("lead_frame")
    n_snaps = len(cal.snap_days)
    ids = _lead_ids(h["lead"])
    con.register("lead_history_frame", pa.table({
        "lead_id": ids,
        "valid_from": dates(cal.snap_days[h["kf"]]),
        "valid_to": dates(cal.snap_days[np.minimum(h["kt"], n_snaps - 1)], h["kt"] >= n_snaps),
        "status": codes(h["status"], STATUSES),
        "owner": codes(h["owner"], owners),
        "converted_opportunity_id": pa.array([f"OPP-{i + 1:07d}" if i >= 0 else None
                                              for i in h["converted"].tolist()], pa.string()),
        "converted_date": dates(h["converted_day"], h["converted"] < 0),
        "status_reason": codes(h["reason"], REASON_NAMES),
    }))
    try:
        con.execute("insert into lead_history by name select * from lead_history_frame")
    finally:
        con.unregister("lead_history_frame")
    con.register("lead_dates", pa.table({"snapshot_date": dates(cal.snap_days)}))
    try:
        con.execute("insert into lead_snapshot_dates select snapshot_date from lead_dates")
    finally:
        con.unregister("lead_dates")
    return n + _write_inquiries(con, rng, n, cal)


def _write_inquiries(con: duckdb.DuckDBPyConnection, rng: np.random.Generator, mqls: int,
                     cal: Calendar) -> int:
    """Inquiries that never became an MQL, created over the last INQUIRY_QUARTERS quarters at
    the rate that makes a few percent of inquiries MQLs; generated in SQL (they are most
    leads), each recorded once from the snapshot after its creation."""
    first = max(int(cal.quarter_start[max(cal.current_index - INQUIRY_QUARTERS + 1, 0)]),
                cal.first)
    span = cal.as_of - first + 1
    window_share = span / max(cal.as_of - cal.window_start, 1)
    count = int(round(mqls * window_share * (1 / MQL_SHARE - 1)))
    if count <= 0:
        return 0
    seed = int(rng.integers(0, 2**31))
    params = {"count": count, "seed": seed, "start": mqls, "first": to_date(first),
              "span": span, "first_snap": to_date(cal.first), "sources": list(LEAD_SOURCES),
              "sdrs": list(SDR_NAMES), "regions": list(co.REGIONS),
              "segments": list(SEGMENTS)}
    con.execute("""
        create or replace temp table demo_inquiries as
        with drawn as (
            select i, hash(i, $seed) as h1, hash(i, $seed + 1) as h2, hash(i, $seed + 2) as h3
            from range($count) t(i)),
        shaped as (
            select 'LEAD-' || lpad(cast($start + i + 1 as varchar), 8, '0') as lead_id,
                   ($first::date + cast(h1 % $span as integer)) as created_date,
                   case when h2 % 100 < 12 then 'Raw' when h2 % 100 < 62 then 'Inquiry'
                        when h2 % 100 < 84 then 'Nurture' when h2 % 100 < 94 then 'Unqualified'
                        else 'Bad Data' end as status,
                   $sources[1 + cast(h3 % 6 as integer)] as lead_source,
                   cast(h3 // 7 % 3 as integer) as region_index,
                   $segments[1 + (case when h1 // 11 % 100 < 10 then 0
                                       when h1 // 11 % 100 < 35 then 1 else 2 end)] as segment,
                   cast(5 + h2 // 13 % 2000 as integer) as account_employees,
                   h3 // 17 % 2 as sdr_index
            from drawn)
        select lead_id, created_date, status, lead_source, account_employees, segment,
               $regions[1 + region_index] as region,
               $sdrs[1 + 2 * region_index + cast(sdr_index as integer)] as owner,
               greatest(created_date, $first_snap) as recorded
        from shaped""", params)
    # Each is first seen at the snapshot on or after its creation (weekly from first_snap).
    con.execute("""
        insert into leads (lead_id, created_date, status, owner, lead_source, account_employees,
                           segment, region)
        select lead_id, created_date, status, owner, lead_source, account_employees, segment,
               region
        from demo_inquiries""")
    con.execute("""
        insert into lead_history (lead_id, valid_from, valid_to, status, owner)
        select lead_id,
               $first_snap::date + 7 * cast(ceil(datediff('day', $first_snap::date, recorded)
                                                 / 7) as integer),
               null, status, owner
        from demo_inquiries""", {"first_snap": to_date(cal.first)})
    con.execute("drop table demo_inquiries")
    return count


# --- follow-ups -------------------------------------------------------------------------------

FOLLOW_UP_TEXTS = (
    "Get legal review scheduled for {account}",
    "Confirm the signer and the PO process at {account}",
    "Exec sponsor call with {account} before quarter end",
    "Re-check the close date of {account}: pushed twice",
    "Send the ROI case to the CFO at {account}",
    "Ask marketing why MQLs from webinars dropped this month",
    "Scrub the Best Case deals with no activity for 30 days",
    "Agree the SDR acceptance SLA with the EMEA team",
)
FOLLOW_UP_CALLS = 4  # the last few weekly calls raised items


def write_follow_ups(con: duckdb.DuckDBPyConnection, rng: np.random.Generator,
                     cal: Calendar) -> None:
    """A few action items raised at each of the last weekly calls (company-wide, the current
    quarter), the older ones mostly closed at a later call; none at the as-of call itself."""
    n_snaps = len(cal.snap_days)
    period = cal.current.label
    deals = con.execute("""select opportunity_id, account_name from opportunities o
                           join stage_map m using (stage)
                           where not m.closed and m.qualified and close_date <= ?
                           order by amount desc, opportunity_id limit 20""",
                        [cal.current.end]).fetchall()
    rows = []
    for k in range(max(n_snaps - 1 - FOLLOW_UP_CALLS, 0), n_snaps - 1):
        call_day = cal.snapshot(k)
        if cal.snap_quarter[k] != cal.current_index:
            continue
        for _ in range(int(rng.integers(2, 4))):
            template = FOLLOW_UP_TEXTS[int(rng.integers(0, len(FOLLOW_UP_TEXTS)))]
            deal = deals[int(rng.integers(0, len(deals)))] if deals and "{account}" in template \
                else None
            text = template.format(account=deal[1] if deal else "")
            owner = co.TEAM_NAMES[int(rng.integers(0, len(co.TEAM_NAMES)))]
            due = call_day + timedelta(days=int(rng.integers(3, 15)))
            at = datetime.combine(call_day, datetime.min.time()) + timedelta(hours=10)
            closed = None
            later = [cal.snapshot(j) for j in range(k + 1, n_snaps) if j < n_snaps - 1]
            if later and rng.random() < 0.6:
                closed = later[int(rng.integers(0, len(later)))]
            rows.append([text, owner, due, deal[0] if deal else None, period, call_day,
                         co.CALL_SAVED_BY, at, closed, co.CALL_SAVED_BY if closed else None,
                         datetime.combine(closed, datetime.min.time()) + timedelta(hours=10)
                         if closed else None, "done" if closed else None])
    if rows:
        con.executemany("""insert into follow_ups (text, owner, due_date, opportunity_id,
                                   period, scope, call_date, created_by, created_at,
                                   closed_call_date, closed_by, closed_at, close_note)
                           values (?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?)""", rows)

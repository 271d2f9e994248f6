"""Lead statuses and the groups "where are they now" counts them in.

The handbook's unified Lead & Contact statuses, in funnel order: Raw, Inquiry, MQL, Accepted,
Qualifying (still being worked: **open**), Qualified (handed to sales as an opportunity:
**qualified**), Nurture (not ready now, maybe later: **recycled**), Unqualified and Bad Data
(**junk**), Web Portal Purchase (bought through self serve: **purchased**). Other CRMs' statuses
are mapped to a group in `lead_status_map` (edited in the app, or a mapping file's
`[lead_statuses]`); a status no map knows is an import error that names it.

`accepted` marks the statuses at or past sales acceptance (Accepted, Qualifying, Qualified): the
first snapshot a lead is seen in one of them is when it was accepted, for the median days
MQL → accepted when the CRM has no acceptance date.
"""

from __future__ import annotations

from dataclasses import dataclass

OPEN, QUALIFIED, RECYCLED, JUNK, PURCHASED = "open", "qualified", "recycled", "junk", "purchased"
# The groups, in the order "where are they now" lists them.
LEAD_GROUPS = (OPEN, QUALIFIED, RECYCLED, JUNK, PURCHASED)
# The groups whose leads carry a reason the call reviews ("reasons for recycle and junk").
REASON_GROUPS = (RECYCLED, JUNK)


@dataclass(frozen=True)
class LeadStatus:
    """One row of lead_status_map."""

    status: str
    sort_order: int
    status_group: str
    accepted: bool = False


# (status, group, accepted)
HANDBOOK_LEAD_STATUSES = tuple(
    LeadStatus(name, order, group, accepted) for order, (name, group, accepted) in enumerate([
        ("Raw", OPEN, False),
        ("Inquiry", OPEN, False),
        ("MQL", OPEN, False),
        ("Accepted", OPEN, True),
        ("Qualifying", OPEN, True),
        ("Qualified", QUALIFIED, True),
        ("Unqualified", JUNK, False),
        ("Nurture", RECYCLED, False),
        ("Bad Data", JUNK, False),
        ("Web Portal Purchase", PURCHASED, False),
    ]))

# Salesforce's default Lead Status picklist, so an org that never customised it imports as is.
SALESFORCE_LEAD_STATUSES = tuple(
    LeadStatus(name, 100 + order, group, accepted) for order, (name, group, accepted) in
    enumerate([
        ("Open - Not Contacted", OPEN, False),
        ("Working - Contacted", OPEN, True),
        ("Closed - Converted", QUALIFIED, True),
        ("Closed - Not Converted", JUNK, False),
    ]))


def default_lead_statuses() -> list[LeadStatus]:
    """The shipped lead_status_map: the handbook's statuses, then Salesforce's defaults."""
    return [*HANDBOOK_LEAD_STATUSES, *SALESFORCE_LEAD_STATUSES]

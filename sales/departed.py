"""Deals deleted from the CRM keep the descriptive fields they last had (docs/data-model.md#deleted-deals).

The opportunities table is the current state, so a full export that no longer has a deal
removes it there; its history stays, and without its region, team, type or channel a filtered
past view would lose it (last week's Commit for EMEA would no longer be what the same view
showed last week, and movement could not count it as removed). Before a deal leaves the
current state its row moves to `departed_opportunities`; if it comes back, the current row
wins again. Every view past or present reads the deals' fields from `known_opportunities`,
the two tables together, each deal once.
"""

from __future__ import annotations

from datetime import date

import duckdb


def replace_current(con: duckdb.DuckDBPyConnection, present: str, day: date) -> int:
    """Make room for a new current state whose ids are the relation `present` (a table or view
    name of our own with an opportunity_id column): deals it lacks move from opportunities to
    departed_opportunities (departed on `day`, the new picture's date), deals it has leave the
    departed table. Run inside the caller's transaction; returns how many left the current
    state."""
    con.execute(f"""delete from departed_opportunities
                    where opportunity_id in (select opportunity_id from {present})""")  # noqa: S608
    con.execute(f"""insert into departed_opportunities by name
                    select *, ?::date as departed_on from opportunities
                    where opportunity_id not in (select opportunity_id from {present})""",  # noqa: S608
                [day])
    return con.execute(f"""delete from opportunities
                           where opportunity_id not in (select opportunity_id from {present})"""  # noqa: S608
                       ).fetchall()[0][0]


def remember(con: duckdb.DuckDBPyConnection, described: str, day: date) -> int:
    """Keep the descriptive fields of deals an older picture has but nothing current or departed
    knows (an export dated before the latest snapshot: deals deleted since it). `described` is a
    relation with the opportunities table's columns. Returns how many were added."""
    return con.execute(f"""insert into departed_opportunities by name
                           select d.*, ?::date as departed_on from {described} d
                           where d.opportunity_id not in (select opportunity_id from known_opportunities)""",  # noqa: S608, E501
                       [day]).fetchall()[0][0]

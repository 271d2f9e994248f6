"""A CRM's users into the sales hierarchy (`sales.hierarchy.replace_hierarchy`), inside the
sync's write.

The first sync's hierarchy stands for all earlier history (it is effective from the first day
there is); later syncs replace it from the sync's date, so a change of manager starts a new
membership that day and the old one ends. Inactive users stay (their deals and calls keep a
place in past roll-ups). A hierarchy that cannot stand (two users sharing an email, a cycle)
is not applied: the sync says why and records the deals all the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from sales.hierarchy import HierarchyError, User, hierarchy_in, replace_hierarchy

# "Stands for all earlier history": the effective date of the first hierarchy a sync brings.
SINCE_ALWAYS = date(1, 1, 1)


@dataclass(frozen=True)
class CrmUser:
    """One CRM user: its id, name (as deals carry it as owner), email, its manager's id, whether
    it is active, and its role or team as the title."""

    user_id: str
    name: str
    email: str | None
    manager_id: str | None
    active: bool = True
    title: str | None = None


def record_users(cur: duckdb.DuckDBPyConnection, users: list[CrmUser], label: str, day: date,
                 actor: str) -> str:
    """Make `users` the hierarchy (from the beginning on a first sync, else from `day`);
    returns the note for the sync's report."""
    names = {u.user_id: u.name for u in users}
    people = [User(u.name, u.email or "", names.get(u.manager_id) if u.manager_id else None,
                   u.title) for u in users if u.name]
    first = cur.execute("select count(*) from memberships").fetchall()[0][0] == 0
    effective = SINCE_ALWAYS if first else day
    try:
        summary = replace_hierarchy(cur, people, effective, actor or label)
    except HierarchyError as error:
        return f"the hierarchy was not updated from {label}'s users: {error}"
    inactive = sum(not u.active for u in users)
    return (f"{label} users → {summary}"
            + (f"; {inactive:,} inactive user(s) kept for history" if inactive else ""))


def record_owners(cur: duckdb.DuckDBPyConnection, owners: list[CrmUser], label: str,
                  day: date, actor: str) -> str:
    """A CRM without managers (HubSpot: owners and their primary team): the owners join the
    hierarchy with their team as the title; managers stay as the hierarchy has them (set by
    `import FILE --kind hierarchy`), and people it has who are not owners stay too."""
    standing = hierarchy_in(cur, day).users
    people = {u.name: u for u in standing.values()}
    for owner in owners:
        known = standing.get(owner.name)
        people[owner.name] = User(owner.name, owner.email or (known.email if known else ""),
                                  known.manager if known else None,
                                  owner.title or (known.title if known else None))
    first = cur.execute("select count(*) from memberships").fetchall()[0][0] == 0
    try:
        summary = replace_hierarchy(cur, list(people.values()),
                                    SINCE_ALWAYS if first else day, actor or label)
    except HierarchyError as error:
        return f"the hierarchy was not updated from {label}'s owners: {error}"
    return f"{label} owners → {summary} (managers as the hierarchy had them)"

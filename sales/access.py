"""Who may do what: roles and scopes for a team serving the dashboard (team mode).

- `viewer` (leadership): every Forecast, Pipeline, Diagnostics and Planning page, the deal
  explorer and exports; writes nothing.
- `manager`: what a viewer has, plus saving in-blood calls.
- `rep`: their own deals and calls (the deals they own, by the hierarchy's user their email
  maps to), and submitting their own forecast call.
- `analyst`: everything: imports, maps, targets and settings, the Database and SQL pages
  (they describe all of the data), access and the audit trail.

A manager's scope is their subtree in the hierarchy at as-of (`scope_for`: the deals owned by
them or anyone below them), unless their grant names a scope by hand. A viewer or a manager may
have a scope by hand: teams, regions and owners. A deal is in the scope when
it is in one of its teams, one of its regions and one of its owners (a dimension left empty
does not limit). The scope is applied where views are made (`sales.view.View`), so every
number, list and export stays inside it, and sidebar filters can narrow it, never widen it.

Grants live in the `access` table; every change is on the audit trail. In local mode (no
sign-in configured) the one user is an analyst.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import pandas as pd

from sales import audit
from sales.hierarchy import User, hierarchy_at
from sales.query import distinct_values
from sales.view import NOTHING, Filters

VIEWER, MANAGER, ANALYST, REP = "viewer", "manager", "analyst", "rep"
ROLES = (VIEWER, REP, MANAGER, ANALYST)
# What a role may do beyond reading the numbers in its scope. SUBMIT_CALL: a forecast call of
# one's own (and, for a manager, for those below them: `sales.people_calls.submit_call`).
SAVE_CALLS, MANAGE_DATA, SUBMIT_CALL = "save calls", "manage data", "submit call"
_MAY = {VIEWER: frozenset(), REP: frozenset({SUBMIT_CALL}),
        MANAGER: frozenset({SAVE_CALLS, SUBMIT_CALL}),
        ANALYST: frozenset({SAVE_CALLS, MANAGE_DATA, SUBMIT_CALL})}
# The dimensions a scope may limit: the grant's field → the filter dimension.
SCOPE_DIMENSIONS = {"teams": "team", "regions": "region", "owners": "owner"}
# The identity of the one user of a local install (no sign-in configured).
LOCAL = "local"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccessError(ValueError):
    """A grant that cannot be made as asked; the message says why and what would do."""


@dataclass(frozen=True)
class Grant:
    """One person's access: role and scope (empty tuples: no limit)."""

    email: str
    role: str
    teams: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    granted_by: str = ""
    granted_at: datetime | None = None

    def scope(self) -> Filters:
        return Filters.of(team=self.teams, region=self.regions, owner=self.owners)

    def may(self, permission: str) -> bool:
        return permission in _MAY.get(self.role, frozenset())

    def describe(self) -> str:
        """'manager of team T1; region EMEA', 'analyst'."""
        limits = [f"{SCOPE_DIMENSIONS[f]} {', '.join(getattr(self, f))}"
                  for f in SCOPE_DIMENSIONS if getattr(self, f)]
        return self.role + (f" of {'; '.join(limits)}" if limits else "")


LOCAL_GRANT = Grant(LOCAL, ANALYST)


def normalise_email(email: str) -> str:
    """Emails match whatever their case and surrounding spaces."""
    cleaned = (email or "").strip().lower()
    if not _EMAIL.match(cleaned):
        raise AccessError(f"{email!r} is not an email address")
    return cleaned


def grant_for(con: duckdb.DuckDBPyConnection, email: str | None) -> Grant | None:
    """The grant of a signed-in email; None without one (signed in, but no access yet)."""
    if not email:
        return None
    row = con.cursor().execute(
        "select email, role, teams, regions, owners, granted_by, granted_at from access "
        "where email = ?", [email.strip().lower()]).fetchall()
    if not row:
        return None
    email, role, teams, regions, owners, by, at = row[0]
    return Grant(email, role, tuple(teams), tuple(regions), tuple(owners), by, at)


def grants(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every grant. Grain: one row per email. Columns: email, role, teams, regions, owners
    (each as text, comma-separated), granted_by, granted_at."""
    return con.cursor().execute(
        """select email, role, array_to_string(teams, ', ') as teams,
                  array_to_string(regions, ', ') as regions,
                  array_to_string(owners, ', ') as owners, granted_by, granted_at
           from access order by role, email""").df()


def grant(con: duckdb.DuckDBPyConnection, email: str, role: str, teams: tuple[str, ...] = (),
          regions: tuple[str, ...] = (), owners: tuple[str, ...] = (), by: str = "",
          at: datetime | None = None) -> Grant:
    """Give (or change) someone's role and scope, inside the caller's write transaction; the
    change goes on the audit trail. Raises AccessError naming what is wrong."""
    email = normalise_email(email)
    if role not in ROLES:
        raise AccessError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    scope = {"teams": _clean(teams), "regions": _clean(regions), "owners": _clean(owners)}
    if role == ANALYST and any(scope.values()):
        raise AccessError("an analyst sees everything: give a scope to a viewer or a manager")
    if role == REP and any(scope.values()):
        raise AccessError("a rep sees their own deals (from the hierarchy): give a rep no scope")
    for field, values in scope.items():
        _check_known(con, SCOPE_DIMENSIONS[field], values)
    before = grant_for(con, email)
    made = Grant(email, role, **scope, granted_by=by or "unknown",
                 granted_at=at or datetime.now().replace(microsecond=0))
    con.execute("insert or replace into access values (?, ?, ?, ?, ?, ?, ?)",
                [made.email, made.role, list(made.teams), list(made.regions), list(made.owners),
                 made.granted_by, made.granted_at])
    what = (f"changed {email} from {before.describe()} to {made.describe()}" if before
            else f"granted {email} {made.describe()}")
    audit.record(con, made.granted_by, audit.ACCESS, what, made.granted_at)
    return made


def user_for(con: duckdb.DuckDBPyConnection, grant: Grant | None, day: date) -> User | None:
    """The hierarchy's user a grant's email maps to on `day`; None without one."""
    if grant is None:
        return None
    return hierarchy_at(con, day).user_for_email(grant.email)


def scope_for(con: duckdb.DuckDBPyConnection, grant: Grant, day: date) -> Filters:
    """The deals a grant may see on `day`: an analyst all; a rep the deals they own; a
    manager their scope by hand when the grant names one, else the owners of their subtree in
    the hierarchy at `day` (all, when their email maps to no user); a viewer their scope by
    hand. A rep whose email maps to no user sees nothing."""
    if grant.role == ANALYST:
        return Filters()
    if grant.role == VIEWER or (grant.role == MANAGER and grant.scope().active()):
        return grant.scope()
    tree = hierarchy_at(con, day)
    user = tree.user_for_email(grant.email)
    if grant.role == REP:
        return Filters.of(owner=[user.name if user else NOTHING])
    return Filters.of(owner=tree.subtree(user.name)) if user else grant.scope()


def revoke(con: duckdb.DuckDBPyConnection, email: str, by: str = "") -> bool:
    """Take someone's access away (inside the caller's write transaction); False when they
    had none."""
    email = normalise_email(email)
    before = grant_for(con, email)
    if before is None:
        return False
    con.execute("delete from access where email = ?", [email])
    audit.record(con, by or "unknown", audit.ACCESS, f"revoked {email} ({before.describe()})")
    return True


def _clean(values: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    return tuple(sorted({v.strip() for v in values or () if v and v.strip()}))


def _check_known(con: duckdb.DuckDBPyConnection, dimension: str, values: tuple[str, ...]) -> None:
    """A scope names values the data has: a typo would otherwise show a manager nothing."""
    if not values:
        return
    known = distinct_values(con, dimension)
    unknown = [v for v in values if v not in known]
    if unknown:
        shown = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
        raise AccessError(f"unknown {dimension} {', '.join(unknown)}; known: {shown or 'none'}")

"""The sales hierarchy: who reports to whom, effective-dated (docs/metrics.md#14-the-forecast-roll-up).

A user is named as the deals' owner field spells them, with an email (how a signed-in person
is recognised) and an optional title. Memberships say who a user's manager is from `valid_from`
(inclusive) to `valid_to` (exclusive, null while standing): a rep who moves team on D rolls up
under the old manager before D and the new one from D, so past views keep their history.

A hierarchy is always replaced whole from a day (`replace_hierarchy`, the import's and the
CRM sync's one path): it is checked first — a cycle, a manager who is not a user, two users
with one email are refused with a one-line message — and nothing is written when refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb

from sales import audit


class HierarchyError(ValueError):
    """A hierarchy that cannot stand; the one-line message names the problem."""


@dataclass(frozen=True)
class User:
    """One person in the hierarchy: `manager` None at the top."""

    name: str
    email: str
    manager: str | None
    title: str | None = None


@dataclass(frozen=True)
class Hierarchy:
    """The hierarchy as it stood at the end of a day: the users with a membership standing
    then (their manager from it)."""

    users: dict[str, User]
    _directs: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        directs: dict[str, list[str]] = {name: [] for name in self.users}
        for user in self.users.values():
            if user.manager in directs:
                directs[user.manager].append(user.name)
        object.__setattr__(self, "_directs", {k: tuple(sorted(v)) for k, v in directs.items()})

    def manager_of(self, name: str) -> str | None:
        user = self.users.get(name)
        return user.manager if user else None

    def directs(self, name: str) -> list[str]:
        """The user's direct reports, sorted."""
        return list(self._directs.get(name, ()))

    def subtree(self, name: str) -> list[str]:
        """The user and everyone below them (depth first, each level sorted); [] for a
        stranger."""
        if name not in self.users:
            return []
        found, stack = [], [name]
        while stack:
            current = stack.pop()
            found.append(current)
            stack.extend(reversed(self._directs.get(current, ())))
        return found

    def chain(self, name: str) -> list[str]:
        """The user's managers, nearest first."""
        found: list[str] = []
        manager = self.manager_of(name)
        while manager is not None and manager not in found and manager in self.users:
            found.append(manager)
            manager = self.manager_of(manager)
        return found

    def tops(self) -> list[str]:
        """Users without a manager, sorted."""
        return sorted(n for n, u in self.users.items() if u.manager is None)

    def user_for_email(self, email: str | None) -> User | None:
        """The user signed in with this email (any case, surrounding spaces ignored)."""
        wanted = (email or "").strip().lower()
        return next((u for u in self.users.values() if u.email == wanted), None) if wanted else None

    def order(self) -> list[str]:
        """Every user, each top's subtree in turn (a reading order for tables)."""
        return [name for top in self.tops() for name in self.subtree(top)]


def hierarchy_at(con: duckdb.DuckDBPyConnection, day: date) -> Hierarchy:
    """The hierarchy as it stood at the end of `day`."""
    return hierarchy_in(con.cursor(), day)


def hierarchy_in(cur: duckdb.DuckDBPyConnection, day: date) -> Hierarchy:
    """`hierarchy_at` read on `cur` itself: inside a write transaction, what it has written
    so far counts (a new cursor would not see it)."""
    rows = cur.execute(
        """select m.name, u.email, m.manager, u.title
           from memberships m left join users u using (name)
           where m.valid_from <= $day and (m.valid_to is null or m.valid_to > $day)""",
        {"day": day}).fetchall()
    return Hierarchy({name: User(name, email or "", manager, title)
                      for name, email, manager, title in rows})


def owners_under(con: duckdb.DuckDBPyConnection, name: str, day: date) -> list[str]:
    """The deal owners in a user's subtree at the end of `day` (the user included)."""
    return hierarchy_at(con, day).subtree(name)


def check(users: list[User]) -> list[User]:
    """The users cleaned (names and titles trimmed, emails lower-case, empty manager None) and
    checked as one whole hierarchy; HierarchyError names the first problem."""
    cleaned = [User(u.name.strip(), (u.email or "").strip().lower(),
                    (u.manager or "").strip() or None, (u.title or "").strip() or None)
               for u in users]
    names: set[str] = set()
    emails: dict[str, str] = {}
    for user in cleaned:
        if not user.name:
            raise HierarchyError("a user without a name")
        if user.name in names:
            raise HierarchyError(f"'{user.name}' is listed twice")
        names.add(user.name)
        if "@" not in user.email:
            raise HierarchyError(f"'{user.name}' has no email address")
        if user.email in emails:
            raise HierarchyError(f"two users share {user.email} ({emails[user.email]} and "
                                 f"{user.name})")
        emails[user.email] = user.name
    managers = {u.name: u.manager for u in cleaned}
    for user in cleaned:
        if user.manager is not None and user.manager not in managers:
            raise HierarchyError(f"manager '{user.manager}' of '{user.name}' is not a user")
    _check_cycles(managers)
    return cleaned


def _check_cycles(managers: dict[str, str | None]) -> None:
    cleared: set[str] = set()
    for start in sorted(managers):
        path: list[str] = []
        current: str | None = start
        while current is not None and current not in cleared:
            if current in path:
                loop = path[path.index(current):] + [current]
                raise HierarchyError("cycle: " + " → ".join(loop))
            path.append(current)
            current = managers[current]
        cleared.update(path)


def replace_hierarchy(con: duckdb.DuckDBPyConnection, users: list[User], effective: date,
                      by: str) -> str:
    """The whole hierarchy from `effective`, inside the caller's write transaction: checked
    first (HierarchyError, nothing written); memberships the list no longer names, or names
    under another manager, end on `effective`; later-dated ones give way. Returns the
    summary, also put on the audit trail."""
    cleaned = check(users)
    wanted = {u.name: u.manager for u in cleaned}
    standing = {name: manager for name, manager in con.execute(
        """select name, manager from memberships
           where valid_from <= ? and (valid_to is null or valid_to > ?)""",
        [effective, effective]).fetchall()}
    con.execute("delete from memberships where valid_from > ?", [effective])
    changed = [n for n, m in standing.items() if n not in wanted or wanted[n] != m]
    if changed:
        # A membership that began that very day is replaced outright, not left zero-long.
        con.execute("""delete from memberships where valid_from = $day
                       and list_contains($names, name)""",
                    {"day": effective, "names": changed})
        con.execute("""update memberships set valid_to = $day
                       where valid_from < $day and (valid_to is null or valid_to > $day)
                         and list_contains($names, name)""",
                    {"day": effective, "names": changed})
    added = [u for u in cleaned if u.name not in standing or standing[u.name] != u.manager]
    if added:
        con.executemany("insert into memberships values (?, ?, ?, null)",
                        [[u.name, u.manager, effective] for u in added])
    con.executemany("""insert into users values (?, ?, ?)
                       on conflict (name) do update set email = excluded.email,
                                                        title = excluded.title""",
                    [[u.name, u.email, u.title] for u in cleaned])
    left = sorted(n for n in standing if n not in wanted)
    moved = sorted(n for n in standing if n in wanted and wanted[n] != standing[n])
    joined = sorted(n for n in wanted if n not in standing)
    summary = (f"hierarchy from {effective}: {len(cleaned):,} users; {len(joined):,} joined, "
               f"{len(moved):,} moved, {len(left):,} left"
               + (f" (moved: {', '.join(moved[:10])}{' …' if len(moved) > 10 else ''})"
                  if moved else ""))
    audit.record(con, by, audit.IMPORT, summary)
    return summary

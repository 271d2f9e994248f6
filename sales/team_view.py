"""What the Roll-up page and its downloads show of the team roll-up (`sales.team_rollup`): a
row per person, the number before a manager's adjustment, and who may submit a call for whom."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from sales.hierarchy import Hierarchy, User
from sales.team_rollup import PersonRollup

# The table's columns, in the order a manager reads them: the person's word, then what their
# pipeline says.
ROLLUP_COLUMNS = ("user", "title", "forecast", "upside", "submitted_at", "change_since_week",
                  "stale", "effective_forecast", "source", "team_forecast", "adjustment",
                  "without_adjustment", "closed", "commit", "best_case", "pipeline", "in_blood",
                  "directs")


def without_adjustment(person: PersonRollup) -> float | None:
    """The person's number before their own adjustment: for a manager with a call, the team's
    calls + Closed and Commit of the deals they own themselves (= forecast − adjustment);
    otherwise their number as it stands (a rep's call, a roll-up, the CRM's)."""
    if person.effective_forecast is None:
        return None
    return person.effective_forecast - (person.adjustment or 0.0)


def rollup_frame(people: dict[str, PersonRollup], names: list[str]) -> pd.DataFrame:
    """The roll-up of `names` (say, a manager's direct reports), in that order.

    Grain: one row per person: ROLLUP_COLUMNS, `directs` being how many report to them."""
    rows = []
    for name in names:
        person = people[name]
        row = {column: getattr(person, column, None) for column in ROLLUP_COLUMNS}
        row.update(user=name, without_adjustment=without_adjustment(person),
                   directs=len(person.directs))
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(ROLLUP_COLUMNS))
    return frame.astype({"stale": bool, "directs": int})


def home_of(tree: Hierarchy, email: str | None) -> str | None:
    """The user a signed-in email is, in the hierarchy; None when it names nobody."""
    user = tree.user_for_email(email) if email else None
    return user.name if user is not None else None


def call_targets(tree: Hierarchy, by: str) -> list[str]:
    """Whose call `by` may submit from the Roll-up page: their own, then their direct
    reports' (recorded with `submitted_by`)."""
    return [by, *tree.directs(by)]


def with_user(tree: Hierarchy, user: User) -> list[User]:
    """The hierarchy's users with one added or changed (its manager, email, title), for
    `sales.hierarchy.replace_hierarchy`: the Access page's edit of one person is a whole new
    hierarchy, checked as one."""
    return [u for name, u in tree.users.items() if name != user.name] + [user]


def without_user(tree: Hierarchy, name: str) -> list[User]:
    """The hierarchy's users without one (their reports must move first, or the check refuses
    a manager who is not a user)."""
    return [u for n, u in tree.users.items() if n != name]


def hierarchy_frame(tree: Hierarchy) -> pd.DataFrame:
    """The hierarchy as a table, in reading order. Grain: one row per user: user, email,
    manager, title, directs (how many report to them)."""
    return pd.DataFrame(
        [{"user": n, "email": tree.users[n].email, "manager": tree.users[n].manager,
          "title": tree.users[n].title, "directs": len(tree.directs(n))} for n in tree.order()],
        columns=["user", "email", "manager", "title", "directs"])


def change(now: float | None, then: float | None) -> float | None:
    """now − then, None unless both are known (a call the week before, say)."""
    return None if now is None or then is None else now - then


def viewer_for_tiles(tree: Hierarchy, email: str | None, team_mode: bool) -> str | None:
    """Whose call the Forecast call page's tiles show: the signed-in person's; locally, the
    top of the hierarchy when there is one top (else nobody: there is no single viewer)."""
    if team_mode:
        return home_of(tree, email)
    tops = tree.tops()
    return tops[0] if len(tops) == 1 else None


def included_deals(members: pd.DataFrame, changes: Mapping[str, object]) -> tuple[str, ...]:
    """The deals a call counts on, from the in-blood board: the `members` (Commit and Best
    Case deals: opportunity_id, start_included) that are included once the session's
    `changes` (opportunity id → `sales.inblood.Change`) are applied, sorted."""
    return tuple(sorted(
        row.opportunity_id for row in members.itertuples(index=False)
        if (changes[row.opportunity_id].included if row.opportunity_id in changes
            else bool(row.start_included))))

"""Hierarchy files: who reports to whom (sales.hierarchy), `user,email,manager[,title]` or a
Salesforce User export (Name, Email, Manager — or ManagerId beside the users' Id, translated to
names through the file's own rows).

A file is the whole hierarchy from the import's day (`--as-of`, default today): a user it no
longer names leaves then, and the hierarchy before that day stays as it was. The file is
checked as a whole (a cycle, a manager who is not a user, two users with one email) before
anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb
import pandas as pd

from sales.hierarchy import HierarchyError, User, check, replace_hierarchy
from sales.ingest.headers import (
    HIERARCHY,
    check_required,
    report_repeated,
    resolve,
)
from sales.ingest.mapping import Mapping
from sales.ingest.readers import Source
from sales.ingest.validate import ERROR, Findings
from sales.ingest.values import clean_text


@dataclass
class PreparedUsers:
    source: Source
    columns: dict[str, str]
    ignored: list[str]
    frame: pd.DataFrame
    users: list[User] = field(default_factory=list)


def prepare(source: Source, mapping: Mapping | None, findings: Findings) -> PreparedUsers | None:
    """The file's users, checked one by one and as one hierarchy; None when unusable."""
    explicit = dict(mapping.user_columns) if mapping else None
    columns, ignored, missing = resolve(source.headers, HIERARCHY, explicit)
    for line in missing:
        findings.add(ERROR, "mapping_header_missing", source.name, None,
                     f"the mapping's [user_columns] {line} is not a header of the file",
                     "fix the header name in the mapping file")
    found = check_required(source.name, HIERARCHY, columns, findings,
                           "a hierarchy file has the columns user, email, manager (and title)")
    report_repeated(source.name, source.headers, columns, explicit, findings, "user_columns")
    if not found:
        return None
    frame = pd.DataFrame({c: clean_text(source.frame[columns[c]]) if c in columns
                          else pd.Series(pd.NA, index=source.frame.index, dtype="string")
                          for c in ("user", "email", "manager", "title", "user_id")})
    for canonical, what in (("user", "the user's name"), ("email", "the email")):
        findings.add(ERROR, f"missing_{canonical}", source.name, columns[canonical],
                     f"{what} is empty", "every user needs a name (as deals' owners spell it) "
                     "and an email", frame[canonical].isna().to_numpy(),
                     source.frame[columns[canonical]])
    frame["manager"] = _manager_names(frame)
    return PreparedUsers(source, columns, ignored, frame.drop(columns=["user_id"]))


def _manager_names(frame: pd.DataFrame) -> pd.Series:
    """Managers named by the users' ids (a Salesforce User export's ManagerId) as names."""
    ids = frame.dropna(subset=["user_id"]).set_index("user_id")["user"]
    managers = frame["manager"].dropna()
    if len(ids) and len(managers) and managers.isin(ids.index).all():
        return frame["manager"].map(lambda m: ids.get(m) if pd.notna(m) else m)
    return frame["manager"]


def check_whole(prepared: PreparedUsers, findings: Findings) -> None:
    """The rows as one hierarchy (after rows set aside): a file-level error when it cannot
    stand."""
    frame = prepared.frame.dropna(subset=["user", "email"])
    users = [User(r.user, r.email, None if pd.isna(r.manager) else r.manager,
                  None if pd.isna(r.title) else r.title)
             for r in frame.itertuples(index=False)]
    try:
        prepared.users = check(users)
    except HierarchyError as error:
        findings.add(ERROR, "bad_hierarchy", prepared.source.name, None, str(error),
                     "fix the file so each user has one row, one email of their own and a "
                     "manager who is a user (or none at the top), without loops")


def write(con: duckdb.DuckDBPyConnection, prepared: PreparedUsers, day: date, by: str) -> str:
    return replace_hierarchy(con, prepared.users, day, by)

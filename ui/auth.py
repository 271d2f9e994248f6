"""Who is using the app, and the gate every page goes through.

Local mode (no `[auth]` in `.streamlit/secrets.toml`): one user, an analyst, on localhost.
Team mode (`[auth]` configured for any OpenID Connect provider, as `st.login` documents it):
nothing but a sign-in screen until the user signs in; a signed-in user without a grant sees
that they have no access yet; everyone else gets their role and scope (`sales.access`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import streamlit as st

from sales import access
from sales import formatting as fmt
from sales.access import Grant
from sales.view import Filters
from ui import state
from ui.data import access_grant, access_scope


@dataclass(frozen=True)
class Identity:
    """The person behind this session: who writes are attributed to, and their grant (None:
    signed in, no access yet)."""

    who: str
    grant: Grant | None
    team_mode: bool

    def may(self, permission: str) -> bool:
        return self.grant is not None and self.grant.may(permission)

    def scope(self) -> Filters:
        """The deals this person may see: a manager's part of the hierarchy and a rep's own
        deals as they stand at the view's as-of (`sales.access.scope_for`)."""
        if self.grant is None or self.grant.role == access.ANALYST:
            return Filters()
        return access_scope(self.grant, state.view_as_of())


def team_mode() -> bool:
    """Whether sign-in is configured: Streamlit then tells every session whether it is signed
    in (`st.user.is_logged_in`), and only then."""
    return "is_logged_in" in st.user


def _expired() -> bool:
    """Streamlit keeps the identity token's claims but does not check its expiry."""
    expires = st.user.get("exp")
    try:
        return expires is not None and float(expires) < time.time()
    except (TypeError, ValueError):
        return True  # an expiry we cannot read is not a valid one


def identity() -> Identity | None:
    """This session's identity; None when team mode wants a sign-in first."""
    if not team_mode():
        return Identity(access.LOCAL, access.LOCAL_GRANT, False)
    if not st.user.get("is_logged_in"):
        return None
    if _expired():
        st.logout()  # reruns signed out
        return None
    email = str(st.user.get("email") or "").strip().lower()
    return Identity(email or str(st.user.get("sub") or "unknown"),
                    access_grant(email) if email else None,
                    True)


def _nothing() -> None:
    """The one page a session that may see nothing navigates to."""


def _stop(entry: bool) -> None:
    """Stop the script. From the app's entry script, first register a navigation of nothing:
    left without one, Streamlit would list the `pages/` folder in the sidebar."""
    if entry:
        st.navigation([st.Page(_nothing, title="Sales forecast", url_path="signed-out")],
                      position="hidden")
    st.stop()


def _sign_in_screen(entry: bool) -> None:
    st.title("Sales forecast")
    st.write("Sign in to see the forecast.")
    st.button("Sign in", type="primary", on_click=st.login)
    _stop(entry)


def gate(entry: bool = False) -> Identity:
    """The identity of a session allowed to see numbers; otherwise the sign-in screen or the
    no-access message, and nothing else (the script stops; `entry` is the app's entry script).
    The first run of a local install builds the demo database here, once someone may see it."""
    if team_mode() and not st.user.get("is_logged_in"):
        _sign_in_screen(entry)
    state.ensure_database()
    try:
        state.version()  # opens the file: another server writing it is said plainly, once
    except state.DatabaseHeld as held:
        st.error(fmt.text(str(held)))
        _stop(entry)
    me = identity()
    if me is None:  # signed out just now: the token had expired
        _sign_in_screen(entry)
    if me.grant is None:
        st.title("Sales forecast")
        st.info(f"You are signed in as {fmt.text(me.who)} but have no access yet; ask an "
                "analyst to grant you a role.")
        st.button("Sign out", on_click=st.logout)
        _stop(entry)
    return me


def who() -> str:
    """Whom this session's writes are attributed to on the audit trail."""
    me = identity()
    return me.who if me is not None else "unknown"


def require(me: Identity, permission: str, what: str) -> None:
    """Stop a page the role may not use, saying so (a direct link to it lands here)."""
    if not me.may(permission):
        st.error(f"{what} is for analysts. You are signed in as {fmt.text(me.who)} "
                 f"({fmt.text(me.grant.describe() if me.grant else 'no access')}).")
        st.stop()


"""The frame every page script starts with: routing guard, title, empty state, caption."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from sales.view import View
from ui import auth, state, widgets


def _route_through_app() -> None:
    """Make a deep link to a page run through app.py's navigation.

    Streamlit treats a `pages/` folder beside the entry script as the old multipage layout
    until some session has called `st.navigation`; a server whose first request is a link such
    as /pipeline would then run the page alone, without the sidebar. The flag it keeps is
    internal, so this is guarded: if Streamlit changes it, deep links degrade, nothing breaks.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a Streamlit without it has no such mode
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def start(title: str, needs_data: bool = True, caption: str | Callable[[], str] = "",
          permission: str | None = None) -> View:
    """Check who may see the page (`ui.auth.gate`, and `permission` of `sales.access` when it
    needs one), title it and return the sidebar's view within the user's scope; with no data,
    show how to get some and stop. A `caption` that reads the database is passed as a function:
    it is asked once the session may see data."""
    _route_through_app()
    me = auth.gate()
    if permission is not None:
        auth.require(me, permission, f"The {title} page")
    view = state.current_view(me.scope())
    st.title(title)
    if needs_data and state.database_is_empty():
        widgets.empty_database()
        st.stop()
    if needs_data:
        widgets.view_caption(view, caption() if callable(caption) else caption)
    return view

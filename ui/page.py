"""The frame every page script starts with: routing guard, title, empty state, caption."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from sales import formatting as fmt
from sales.view import View
from ui import auth, collector, state, streamlit_hooks, widgets


def start(title: str, needs_data: bool = True, caption: str | Callable[[], str] = "",
          permission: str | None = None) -> View:
    """Check who may see the page (`ui.auth.gate`, and `permission` of `sales.access` when it
    needs one), title it and return the sidebar's view within the user's scope; with no data,
    show how to get some and stop. A `caption` that reads the database is passed as a function:
    it is asked once the session may see data."""
    streamlit_hooks.install()  # a fresh server's first run may be this page, alone
    collector.settle()  # once per process, its modules imported: no 0.1 s collector pauses
    me = auth.gate()
    if permission is not None:
        auth.require(me, permission, f"The {title} page")
    view = state.current_view(me.scope())
    # Money on this page is in the display currency, else the corporate one.
    fmt.use_currency(state.display_currency() or state.settings(
        state.database_path(), state.version()).corporate_currency)
    st.title(title)
    if needs_data and state.database_is_empty():
        widgets.empty_database()
        st.stop()
    if needs_data:
        widgets.view_caption(view, caption() if callable(caption) else caption)
    return view

"""The frame every page script starts with: routing guard, title, empty state, caption."""

from __future__ import annotations

import streamlit as st

from sales.view import View
from ui import state, widgets


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


def start(title: str, needs_data: bool = True, caption: str = "") -> View:
    """Title the page and return the sidebar's view; with no data, show how to get some and stop."""
    _route_through_app()
    view = state.current_view()
    st.title(title)
    if needs_data and state.database_is_empty():
        widgets.empty_database()
        st.stop()
    if needs_data:
        widgets.view_caption(view, caption)
    return view

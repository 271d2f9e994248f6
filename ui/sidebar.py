"""The shared sidebar: period, as-of and the six filters, bound to the URL."""

from __future__ import annotations

import streamlit as st

from sales import formatting as fmt
from sales.periods import MONTH, QUARTER, period_choices
from sales.view import FILTER_DIMENSIONS
from ui import state
from ui.auth import Identity
from ui.data import filter_options

_LABELS = {"segment": "Segment", "region": "Region", "team": "Team", "owner": "Owner",
           "type": "Type", "channel": "Channel"}


def render(me: Identity) -> None:
    """Draw who is signed in and the filters; their values land in st.session_state under the
    same keys, which `state.current_view()` reads. Each is bound to a query parameter so a link
    reproduces the view (values are plain strings; nothing is unpickled from the URL). A scoped
    user's pickers offer only values inside the scope, and the scope applies whatever the URL
    asks for."""
    with st.sidebar:
        _who(me)
        default_as_of = state.default_view_as_of()
        as_of = st.date_input("As of", value=default_as_of, key="as_of", bind="query-params",
                              help="Every number shows the latest snapshot on or before this "
                                   "date, so a view can be reproduced later.")
        fy_start = state.fy_start_month()
        periods = (period_choices(as_of, fy_start, QUARTER, back=8, ahead=2)
                   + period_choices(as_of, fy_start, MONTH, back=3, ahead=3))
        labels = [p.label for p in periods]
        current = period_choices(as_of, fy_start, QUARTER, back=0, ahead=0)[0].label
        st.selectbox("Period", labels, index=labels.index(current), key="period",
                     bind="query-params", help="Fiscal quarter or month (fiscal year start "
                     f"month {fy_start}; change it in settings).")
        for name in FILTER_DIMENSIONS:
            st.multiselect(_LABELS[name], filter_options(name, me.scope()), key=name,
                           bind="query-params", placeholder="All")
        _currency()


def _currency() -> None:
    """Every screen says which currency its amounts are in (docs/data-model.md#currencies),
    and may show them in another at the latest rate in force today."""
    corporate, rates = state.display_choices(state.database_path(), state.version())
    if rates:
        st.selectbox("Show amounts in", [corporate, *rates], key=state.DISPLAY_KEY,
                     bind="query-params",
                     help="Every amount converted from the corporate currency at the latest "
                          "rate in force today (dated, else static).")
    shown = state.display_currency()
    if shown and shown in rates:
        st.caption(f"Amounts in {fmt.text(shown)}, converted from {fmt.text(corporate)} at "
                   f"today's rate: 1 {fmt.text(corporate)} = {rates[shown]:,.4f} "
                   f"{fmt.text(shown)}. Deals keep their own amount and currency on the "
                   "Deals page.")
    else:
        st.caption(f"Amounts in {fmt.text(corporate)}, the corporate currency; deals in other "
                   "currencies are converted at their close date's rate (the Deals page shows "
                   "each deal's own amount and currency).")


def _who(me: Identity) -> None:
    if not me.team_mode:
        st.caption("Local mode: no sign-in. The README says how to serve a team.")
        return
    role = me.grant.describe() if me.grant else "no access"
    st.caption(f"Signed in as {fmt.text(me.who)} · {fmt.text(role)}")
    st.button("Sign out", key="sign_out", on_click=st.logout)

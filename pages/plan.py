"""Plan attainment: targets against closed won and forecastable pipeline."""

import plotly.graph_objects as go
import streamlit as st

from sales import formatting as fmt
from sales.stages import CLOSED
from sales.targets import targets_fit
from ui import page, state, widgets
from ui.data import attainment

view = page.start("Plan attainment")
settings = state.settings(state.database_path(), state.version())
healthy = settings.coverage_multiple

@st.fragment
def attainment_by(view, healthy: float) -> None:
    """Attainment by the chosen target scope: a choice of scope redraws only this part."""
    scope = st.radio("Targets by", ["segment", "region", "team", "owner"], horizontal=True,
                     key="plan_scope", format_func=str.capitalize)
    frame = attainment(view, scope)
    if frame.empty:
        st.info(f"No targets or deals by {scope} for {view.period.label}. Targets live in the "
                "`targets` table (period, scope, scope_value, amount).")
        return
    if not targets_fit(view.filters, scope):
        others = ", ".join(d for d in view.filters.active() if d != scope)
        st.warning(f"No target for this view: a {scope}'s target covers all of its deals, and this "
                   f"view is also cut by {others}. Closed won and pipeline are shown by {scope} "
                   "without attainment or coverage; clear the other filters to compare with the "
                   "plan.")

    figure = go.Figure()
    figure.add_bar(x=frame[scope].map(fmt.chart_text), y=frame["target"], name="Target",
                   marker_color="#d9d9d9")
    figure.add_bar(x=frame[scope].map(fmt.chart_text), y=frame["closed_won"], name="Closed won",
                   marker_color=widgets.CATEGORY_COLOURS[CLOSED])
    figure.update_layout(barmode="group", yaxis_tickprefix="$", legend_orientation="h", height=360,
                         margin=dict(t=10))
    st.plotly_chart(figure, width="stretch")

    no_target = frame["target"].isna().sum()
    if no_target and targets_fit(view.filters, scope):
        st.caption(f"{no_target} {scope} value(s) have deals but no target for {view.period.label}.")
    st.caption(f"Coverage = (closed won + commit + best case) / target; healthy at {healthy:.1f}×.")
    widgets.table(
        frame, f"attainment-{scope}-{view.period.label}.csv",
        **{c: widgets.money_column(c.replace("_", " ").capitalize())
           for c in ("target", "closed_won", "commit", "best_case", "pipeline")},
        attainment=widgets.percent_column("Attainment"),
        coverage=st.column_config.ProgressColumn("Coverage", format="%.1f×", min_value=0,
                                                 max_value=max(healthy * 1.5, 1.0)))


attainment_by(view, healthy)

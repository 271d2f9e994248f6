"""Maps, targets and settings: edit, check and save what every page reads."""

import streamlit as st

from sales import editors
from sales import formatting as fmt
from sales.access import MANAGE_DATA
from sales.lead_statuses import LEAD_GROUPS
from sales.losses import LOSS_CLASSES
from sales.settings import SETTINGS
from sales.stages import FORECAST_CATEGORIES
from sales.targets import TARGET_SCOPES
from ui import auth, page, state, widgets
from ui.data import (
    lead_status_table,
    loss_reason_table,
    settings_form,
    stage_map_table,
    target_periods,
    targets_table,
)

view = page.start("Maps, targets & settings", needs_data=False, permission=MANAGE_DATA)
if state.database_is_empty():
    widgets.empty_database()
version = state.version()  # editors are keyed by it: after a save they start from the new data

if message := st.session_state.pop("editor_saved", None):
    st.success(message)


def _save(what: str, save, *args) -> None:
    """Run one validated save in the app's write transaction; problems are listed, nothing saved."""
    try:
        with state.writing() as cur:
            result = save(cur, *args, by=auth.who())
    except editors.EditError as error:
        st.error(f"{what} not saved — fix these first:\n\n"
                 + "\n".join(f"- {fmt.text(problem)}" for problem in error.problems))
        return
    changed = f" ({', '.join(result)})" if isinstance(result, list) and result else ""
    st.session_state["editor_saved"] = f"{what} saved{changed}: every page uses it now."
    st.rerun()


stage_tab, lead_tab, loss_tab, target_tab, settings_tab = st.tabs(
    ["Stage map", "Lead statuses", "Loss reasons", "Targets", "Settings"])

with stage_tab:
    st.caption("Each CRM stage's forecast category and flags. Qualified = at or past the "
               "SAL/SAO point (an open deal before it is reported as Unqualified); won stages are "
               "closed; redlining = the buyer is redlining or signing. Probability (0-100%) is "
               "what the stage-weighted forecast counts of a deal's amount (empty: its "
               "category's); an import with the CRM's own probability sets it unless you have. "
               "A stage deals use cannot be removed.")
    stages = st.data_editor(
        stage_map_table(), key=f"stage_editor_{version}", hide_index=True,
        num_rows="dynamic", width="stretch", disabled=["deals", "probability_source"],
        column_config={
            "stage": st.column_config.TextColumn("Stage", required=True),
            "probability": st.column_config.NumberColumn(
                "Probability", min_value=0, max_value=100, step=1, format="%.0f%%",
                help="% of an open deal's amount the stage-weighted forecast counts"),
            "probability_source": st.column_config.TextColumn(
                "Probability from", help="default (the shipped list), import (the CRM's own) "
                                         "or analyst (edited here; imports keep it)"),
            "sort_order": st.column_config.NumberColumn("Order", step=1),
            "forecast_category": st.column_config.SelectboxColumn(
                "Category", options=list(FORECAST_CATEGORIES), required=True),
            **{flag: st.column_config.CheckboxColumn(flag.capitalize(), default=False)
               for flag in ("qualified", "closed", "won", "redlining")},
            "deals": st.column_config.NumberColumn("Deals now")})
    if st.button("Save the stage map", key="save_stages", type="primary"):
        _save("Stage map", editors.save_stage_map, stages)

with lead_tab:
    st.caption("Each CRM lead status and the group the forecast call counts it in: open "
               "(still being worked), qualified (handed to sales; a converted lead is qualified "
               "whatever its status), recycled (nurture), junk, purchased (bought through self "
               "serve). Accepted = at or past sales acceptance (for the days MQL → accepted). "
               "A status leads use cannot be removed; a status no map knows is an import error.")
    statuses = st.data_editor(
        lead_status_table(), key=f"lead_status_editor_{version}", hide_index=True,
        num_rows="dynamic", width="stretch", disabled=["leads"],
        column_config={
            "status": st.column_config.TextColumn("Status", required=True),
            "sort_order": st.column_config.NumberColumn("Order", step=1),
            "status_group": st.column_config.SelectboxColumn(
                "Group", options=list(LEAD_GROUPS), required=True),
            "accepted": st.column_config.CheckboxColumn("Accepted", default=False),
            "leads": st.column_config.NumberColumn("Leads now")})
    if st.button("Save the lead status map", key="save_lead_statuses", type="primary"):
        _save("Lead status map", editors.save_lead_statuses, statuses)

with loss_tab:
    st.caption("Lost reason → loss class. A lost deal naming a competitor is competition "
               "whatever its reason; a reason without a class counts as no decision. Reasons of "
               "lost deals that are not mapped yet are listed with an empty class.")
    reasons = st.data_editor(
        loss_reason_table(), key=f"loss_editor_{version}", hide_index=True,
        num_rows="dynamic", width="stretch", disabled=["deals"],
        column_config={"lost_reason": st.column_config.TextColumn("Lost reason"),
                       "loss_class": st.column_config.SelectboxColumn(
                           "Loss class", options=list(LOSS_CLASSES)),
                       "deals": st.column_config.NumberColumn("Lost deals")})
    if st.button("Save the loss-reason map", key="save_losses", type="primary"):
        _save("Loss-reason map", editors.save_loss_reasons, reasons)

with target_tab:
    fy_start = state.fy_start_month()
    periods = target_periods(view.as_of, fy_start)
    period = st.selectbox("Period", periods, index=periods.index(view.period.label)
                          if view.period.label in periods else 0, key="target_period")
    st.caption("One row per target: company (no value), or a segment, region, team or owner "
               "by name. A quarter without its own row sums its three months.")
    targets = st.data_editor(
        targets_table(period), key=f"target_editor_{period}_{version}",
        hide_index=True, num_rows="dynamic", width="stretch",
        column_config={"scope": st.column_config.SelectboxColumn(
                           "Scope", options=list(TARGET_SCOPES), required=True),
                       "scope_value": st.column_config.TextColumn("Value"),
                       # Typed in: any amount, cents included, shown in whole dollars.
                       "amount": st.column_config.NumberColumn("Target", format="$%,.0f",
                                                               min_value=0)})
    if st.button(f"Save the targets for {period}", key="save_targets", type="primary"):
        _save(f"Targets for {period}", editors.save_targets, period, targets, fy_start)

with settings_tab:
    current = settings_form().set_index("setting")["value"].to_dict()
    with st.form(f"settings_form_{version}", border=False):
        values = {}
        for setting in SETTINGS:
            label = setting.name.replace("_", " ").capitalize()
            key, value = f"setting_{setting.name}_{version}", current[setting.name]
            if setting.type is bool:
                values[setting.name] = st.checkbox(label, value=bool(value), key=key,
                                                   help=setting.help)
            elif setting.type is int:
                values[setting.name] = st.number_input(label, value=int(value), step=1, key=key,
                                                       help=setting.help)
            elif setting.type is float:
                values[setting.name] = st.number_input(label, value=float(value), step=0.05,
                                                       format="%.2f", key=key, help=setting.help)
            else:
                values[setting.name] = st.text_input(label, value=str(value), key=key,
                                                     help=setting.help)
            st.caption(setting.help)
        submitted = st.form_submit_button("Save settings", type="primary")
    if submitted:
        _save("Settings", editors.save_settings, values)

"""CRM sync: which CRM is connected, the last syncs, "Sync now" with progress, the schedule."""

import tempfile
from datetime import date
from pathlib import Path

import pandas as pd
import streamlit as st

from sales import formatting as fmt
from sales.access import MANAGE_DATA
from sales.crm.command import CRMS, schedule
from ui import auth, page, state, sync, widgets
from ui.data import crm_stage_probabilities, last_syncs

page.start("CRM sync", needs_data=False, permission=MANAGE_DATA)
if state.database_is_empty():
    widgets.empty_database()
st.caption("Reads the CRM's opportunities and records today's snapshot through the same "
           "checks as an import (all or nothing: a refused sign-in, a missing permission or an "
           "unknown stage changes nothing). After the first sync only what changed since the "
           "last one is read. The same from the command line: "
           "`python -m sales sync salesforce|hubspot`.")

outcome = st.session_state.pop("sync_outcome", None)
if outcome:
    (st.success if outcome["ok"] else st.error)(fmt.text(outcome["message"]))
    for line in outcome["lines"]:
        st.write(f"- {fmt.text(line)}")

st.subheader("Connections")
connections = [sync.connection(crm) for crm in CRMS]
columns = st.columns(len(connections))
for column, found in zip(columns, connections, strict=True):
    with column.container(border=True):
        st.markdown(f"**{found.label}**")
        if found.ready:
            st.success(f"Configured: {found.flow} (from the {found.where})")
        else:
            st.info("Not configured: set the variables below in the app's environment or "
                    f"in `.streamlit/secrets.toml` under `[{found.crm}]` (README, Live CRM "
                    "sync).")
        st.caption("  \n".join(f"{'✓' if present else '·'} `{name}`"
                               for name, present in found.variables))

st.subheader("Last syncs")
history = last_syncs()
if history.empty:
    st.info("No sync yet. Configure a CRM above, then sync now or schedule it.")
else:
    history = history.assign(source=history["source"].map(
        {c.crm: c.label for c in connections}).fillna(history["source"]))
    st.dataframe(history, hide_index=True, width="stretch", column_config={
        "source": "CRM", "as_of": st.column_config.DateColumn("Snapshot of"),
        "started_at": st.column_config.DatetimeColumn("Started", format="D MMM YYYY, HH:mm"),
        "finished_at": st.column_config.DatetimeColumn("Finished", format="D MMM YYYY, HH:mm"),
        "seconds": st.column_config.NumberColumn("Took (s)", format="%.1f"),
        "full_read": st.column_config.CheckboxColumn("Full read"),
        "records_read": "Records read", "changed": "New or changed", "deleted": "Deleted",
        "opportunities": "Opportunities"})

    probabilities = crm_stage_probabilities()
    if probabilities:
        with st.expander("Stage probabilities the CRM reports"):
            st.dataframe(pd.DataFrame({"stage": list(probabilities),
                                       "probability": list(probabilities.values())}),
                         hide_index=True, width="stretch", column_config={
                             "stage": "Stage", "probability": st.column_config.NumberColumn(
                                 "Probability", format="percent")})

st.subheader("Sync now")
ready = [c for c in connections if c.ready]
if not ready:
    st.info("Nothing to sync until a CRM is configured.")
else:
    options = st.columns(3)
    chosen = options[0].selectbox("CRM", [c.crm for c in ready], key="sync_crm",
                                  format_func={c.crm: c.label for c in ready}.get)
    as_of = options[1].date_input("Snapshot date", value=date.today(), key="sync_as_of",
                                  help="The org's picture is recorded as the snapshot of this "
                                       "day (syncing again the same day replaces it).")
    full = options[2].checkbox("Re-read everything", key="sync_full",
                               help="Read every record instead of those changed since the last "
                                    "sync (catches records purged from the recycle bin).")
    mapping_file = st.file_uploader(
        "Mapping file (optional, TOML)", type=["toml"], key="sync_mapping",
        help="[columns] naming CRM fields for region, channel, loss reason, competitor, …; "
             "[stages] for the org's stages (README, Live CRM sync).")
    if st.button("Sync now", type="primary", key="sync_go"):
        bar = st.progress(0.0, text="Starting")
        with tempfile.TemporaryDirectory(prefix="sync-") as folder:
            mapping = None
            if mapping_file is not None:
                mapping = str(Path(folder) / "mapping.toml")
                Path(mapping).write_bytes(mapping_file.getvalue())
            done = sync.run(chosen, state.database_path(), as_of, mapping, full, auth.who(),
                            progress=lambda f, m: bar.progress(f, text=m))
        st.session_state["sync_outcome"] = {"ok": done.ok, "message": done.message,
                                            "lines": list(done.lines)}
        st.rerun()

st.subheader("Schedule")
st.caption("Run the sync every morning from cron or a systemd timer on the machine that holds "
           "the database. Put the credentials in the environment file (mode 600, owned by the "
           "user that runs the app), never on the command line.")
crm = st.session_state.get("sync_crm") or (ready[0].crm if ready else "salesforce")
lines = schedule(crm, str(sync.ROOT), state.database_path())
st.markdown("crontab (`crontab -e`):")
st.code(lines["cron"], language="bash")
st.markdown(f"systemd: `/etc/systemd/system/sales-sync-{crm}.service`")
st.code(lines["service"], language="ini")
st.markdown(f"and `/etc/systemd/system/sales-sync-{crm}.timer`, then "
            f"`systemctl enable --now sales-sync-{crm}.timer`:")
st.code(lines["timer"], language="ini")

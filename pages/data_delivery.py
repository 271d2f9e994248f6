"""Delivery: who gets the digest, alerts and reminders, the last runs, a test message, the
schedule."""

from datetime import datetime

import streamlit as st

from sales import delivery
from sales import formatting as fmt
from sales.access import MANAGE_DATA, normalise_email
from sales.alerts import RULE_LABELS, RULE_SETTINGS
from sales.digest_schedule import schedule
from ui import auth, page, state, sync, widgets
from ui import delivery as ui_delivery
from ui.data import access_grants, last_delivery_runs

page.start("Delivery", needs_data=False, permission=MANAGE_DATA)
if state.database_is_empty():
    widgets.empty_database()
st.caption("The Monday digest by e-mail (each person with access gets their own scope) or "
           "Slack, the deal alerts inside it (each sent once per recipient), and reminders to "
           "people without a call this week. The same from the command line: "
           "`python -m sales digest | alerts | reminders` (README, Digest, alerts and reminders).")
env = ui_delivery.environment()
settings = state.settings(state.database_path(), state.version())

st.subheader("Connection")
st.caption("  \n".join(f"{'✓' if present else '·'} `{name}`"
                       for name, present in delivery.configured(env)))
st.caption("Set these in the app's environment or in `.streamlit/secrets.toml` (top level or "
           "under `[delivery]`); values are never shown, stored or logged.")

st.subheader("Who gets what")
grants = access_grants()
if grants.empty:
    st.info("No one has access yet: `--all-grants` sends to no one. Grant access on the Access "
            "page, or send to named addresses with `--to`.")
else:
    st.dataframe(grants[["email", "role", "teams", "regions", "owners"]], hide_index=True,
                 width="stretch")
rules = [f"{RULE_LABELS[r]}: {'on' if getattr(settings, RULE_SETTINGS[r]) else 'off'}"
         for r in RULE_LABELS]
st.caption("Alert rules (Maps, targets & settings): " + " · ".join(rules))

st.subheader("Last runs")
runs = last_delivery_runs()
if runs.empty:
    st.info("Nothing sent yet. Send a test below, then schedule the digest.")
else:
    st.dataframe(runs.drop(columns=["run_id"]), hide_index=True, width="stretch", column_config={
        "started": st.column_config.DatetimeColumn("When", format="D MMM YYYY, HH:mm"),
        "kind": "What", "channel": "Channel", "recipients": "To", "sent": "Sent",
        "failed": "Failed", "alerts": "Alerts", "failures": "Server's message"})

st.subheader("Send a test to me")
me = auth.identity()
address = st.text_input("Address", value=me.who if me and "@" in me.who else "",
                        key="delivery_test_to")
if st.button("Send a test", key="delivery_test_go"):
    try:
        to = normalise_email(address)
        config = delivery.smtp_config(env)
    except ValueError as error:
        st.error(fmt.text(str(error)))
    else:
        outing = delivery.Outgoing(delivery.TEST, delivery.EMAIL, to, ui_delivery.test_message(
            to, config.sender, settings.app_url))

        def keep(outcome: delivery.Outcome) -> None:
            with state.writing() as cur:
                delivery.record(cur, outcome, auth.who())

        with st.spinner("Sending"):
            done = delivery.deliver([outing], env, keep, delivery.new_run_id())
        if done.ok:
            st.success(f"Sent to {fmt.text(to)} at {datetime.now():%H:%M}.")
        else:
            st.error(fmt.text(done.outage or "; ".join(f"{r}: {m}" for r, m in done.refused)))

st.subheader("Schedule")
st.caption("Send the digest on Monday morning and the reminders before calls are due, from "
           "cron or a systemd timer on the machine that holds the database. Keep the SMTP and "
           "Slack settings in the environment file (mode 600), never on the command line.")
lines = schedule(str(sync.ROOT), state.database_path())
st.markdown("crontab (`crontab -e`):")
st.code(lines["cron"], language="bash")
st.markdown("systemd: `/etc/systemd/system/sales-digest.service`")
st.code(lines["service"], language="ini")
st.markdown("and `/etc/systemd/system/sales-digest.timer`, then "
            "`systemctl enable --now sales-digest.timer`:")
st.code(lines["timer"], language="ini")

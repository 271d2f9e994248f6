"""Import: upload CRM exports, see what will be imported and what is wrong, then import."""

from datetime import date

import streamlit as st

from sales import formatting as fmt
from sales.access import MANAGE_DATA
from sales.ingest import MAIN_KINDS
from sales.ingest.validate import findings_frame
from ui import importer, page, state, widgets
from ui.data import quality_deals, quality_summary

AUTO = "recognise from the headers"

view = page.start("Import data", needs_data=False, permission=MANAGE_DATA)
if state.database_is_empty():
    widgets.empty_database()

st.caption("A full opportunity export replaces the current deals and records the snapshot of "
           "its date (an earlier date only adds history). Accounts and owners files fill "
           "employees, segment, team and region. Salesforce OpportunityHistory rebuilds the "
           "snapshots; targets and submissions files add the plan and reps' numbers; a leads "
           "export (Salesforce Lead, with the MQL date named in a mapping file's "
           "[lead_columns]) records the lead snapshot of its date for the forecast call's lead "
           "pipeline. Nothing is written unless every check passes. The same import from the command line: "
           "`python -m sales import FILE... --mapping FILE.toml`.")

outcome = st.session_state.pop("import_outcome", None)
if outcome:
    st.success(outcome["message"])
    for line in outcome["done"]:
        st.write(f"- {fmt.text(line)}")
    if outcome["rejected"]:
        st.download_button("Download the rejected rows (CSV)", outcome["rejected"],
                           file_name="rejected-rows.csv", mime="text/csv", key="rejected_download")

generation = st.session_state.setdefault("import_generation", 0)
left, right = st.columns([3, 2])
uploads = left.file_uploader("CRM export files (CSV or XLSX)", type=["csv", "txt", "xlsx"],
                             accept_multiple_files=True, key=f"import_files_{generation}",
                             help="An opportunity export with its accounts and owners files, "
                                  "or a history, targets, submissions or leads file. Up to 200 MB a "
                                  "file (about 800,000 deals); bigger exports import from the "
                                  "command line: python -m sales import FILE.")
mapping_file = right.file_uploader("Mapping file (optional, TOML)", type=["toml"],
                                   key=f"import_mapping_{generation}",
                                   help="Header names, stages and the accounts/owners files for "
                                        "exports the built-in names do not cover (README, "
                                        "\"Import\").")
options = st.columns(3)
kind = options[0].selectbox("The files hold", [AUTO, *MAIN_KINDS], key="import_kind")
as_of = options[1].date_input("Export date (snapshot)", value=date.today(), key="import_as_of",
                              help="The snapshot of a full export is recorded on this date; "
                                   "importing again on the same date replaces it.")
skip_invalid = options[2].checkbox("Skip invalid rows", key="import_skip_invalid",
                                   help="Import the valid rows and set the rejected ones aside "
                                        "(download them with their reasons).")

mapping_text = mapping_file.getvalue().decode("utf-8-sig") if mapping_file else None
mapping_name = mapping_file.name if mapping_file else "mapping.toml"
chosen_kind = None if kind == AUTO else kind

if uploads:
    staged = importer.stage(uploads)
    options = (mapping_text, mapping_name, chosen_kind, as_of, skip_invalid)
    with st.spinner("Checking the files…"):
        result = importer.preview(staged, *options)
    if result.problem:
        st.error(f"The files could not be read: {fmt.text(result.problem)}")
    else:
        st.subheader("What will be imported")
        for line in result.summary:
            st.write(f"- {fmt.text(line)}")
        for file_view in result.files:
            with st.expander(f"Preview {fmt.text(file_view.name)} ({file_view.kind}, "
                             f"{fmt.count(file_view.rows)} rows)"):
                st.dataframe(file_view.sample, hide_index=True, width="stretch")
        st.subheader("Validation report")
        if result.errors:
            rows = (f" in {fmt.count(result.rejected_rows)} row(s)" if result.rejected_rows
                    else "")
            st.error(f"{len(result.errors)} problem(s){rows} "
                     + ("— these rows will be skipped." if result.ok else
                        "— nothing will be imported until they are fixed."))
            st.dataframe(findings_frame(list(result.errors)), hide_index=True, width="stretch")
            if result.stage_suggestions:
                st.caption("Mapping lines for the unknown stages (check each category and flag, "
                           "then upload the mapping file with the export):")
                st.code("[stages]\n" + "\n".join(result.stage_suggestions), language="toml")
        else:
            st.success("Every check passed.")
        if result.warnings:
            st.warning(f"{len(result.warnings)} data-quality warning(s): imported as they are.")
            st.dataframe(findings_frame(list(result.warnings)), hide_index=True, width="stretch")
        if st.button("Import", type="primary", disabled=not result.ok, key="import_go"):
            bar = st.progress(0.0, text="Starting")
            try:
                done = importer.run(staged, *options,
                                    progress=lambda f, m: bar.progress(f, text=m))
            except importer.WorkerFailed as error:
                st.error(f"Nothing was imported: {fmt.text(error)}")
            else:
                if not done.imported:
                    problems = f" ({done.errors} problem(s))" if done.errors else ""
                    st.error(f"Nothing was imported: {fmt.text(done.message)}{problems}.")
                else:
                    st.session_state["import_outcome"] = {
                        "message": f"Imported (data version {done.data_version}); every page "
                                   "now shows the new data.",
                        "done": list(done.done), "rejected": done.rejected_csv}
                    st.session_state["import_generation"] = generation + 1
                    importer.discard(staged)
                    st.rerun()
else:
    st.info("Choose the files to import: they are checked and previewed before anything is "
            "written.")

st.subheader("Data quality of the loaded deals")
quality = quality_summary(view.as_of)
if quality.empty:
    st.success("Nothing to flag in the loaded deals.")
else:
    st.dataframe(quality, hide_index=True, width="stretch",
                 column_order=["label", "deals", "amount", "meaning", "fix"],
                 column_config={"amount": widgets.money_column("Amount"),
                                "label": "Check", "deals": "Deals", "meaning": "What it means",
                                "fix": "What to do"})
    labels = dict(zip(quality["check"], quality["label"], strict=True))
    check = st.selectbox("Show the deals of", list(labels), format_func=labels.get,
                         key="quality_check")
    widgets.deal_table(quality_deals(check, view.as_of), f"quality-{check}.csv")

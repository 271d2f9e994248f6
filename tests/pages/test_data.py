"""The Data section as a user sees it: upload and import, the validation report, the
data-quality panel, the deal explorer, the SQL page and the editors."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from sales.db import connect
from tests.conftest import DEALS, _earlier_picture, _picture
from tests.helpers import (
    FIXTURES,
    ROOT,
    add_target,
    content,
    d,
    metrics,
    open_database,
    page,
    plain,
    seed,
    upload,
)


def table_with(at: AppTest, column: str):
    """The first table on the page that has `column`."""
    return next(t.value for t in at.dataframe if column in t.value.columns)


def texts(elements) -> str:
    """What the elements read as (file names and summaries are shown as escaped text)."""
    return " | ".join(plain(str(e.value)) for e in elements)


@pytest.fixture
def empty(tmp_path, monkeypatch):
    path = tmp_path / "empty.duckdb"
    connect(path).close()
    monkeypatch.setenv("SALES_DB", str(path))
    return path


@pytest.fixture
def fixture_db(tmp_path, monkeypatch):
    path = tmp_path / "fixture.duckdb"
    con = connect(path)
    seed(con, DEALS, {d("2026-11-13"): _earlier_picture(), d("2026-11-20"): _picture(DEALS)})
    add_target(con, "FY2026-Q4", "company", "", 1000)
    con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    return path


@pytest.mark.slow
def test_upload_preview_and_import(empty):
    at = page("data_import.py", import_as_of=d("2026-11-20"))
    assert not at.exception
    assert any("Choose the files to import" in i.value for i in at.info)
    at = upload(at, FIXTURES / "opportunities.csv")
    assert not at.exception, [e.value for e in at.exception]
    assert "opportunities.csv: opportunities, 8 rows" in texts(at.markdown)
    assert any("Every check passed" in s.value for s in at.success)
    assert any("data-quality warning" in w.value for w in at.warning)  # O8's unmapped reason
    assert plain(at.expander[0].label).startswith("Preview opportunities.csv")
    at.button(key="import_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Imported (data version" in s.value for s in at.success)
    assert "8 opportunities → the current deals and the snapshot of 2026-11-20" in texts(at.markdown)
    # Every page sees it at once: the Database page counts the deals.
    assert metrics(page("database.py"))["Opportunities"] == "8"


@pytest.mark.slow
def test_a_bad_file_shows_the_report_and_cannot_be_imported(fixture_db):
    before = content(fixture_db)
    at = upload(page("data_import.py"), FIXTURES / "bad" / "unknown_stage.csv")
    assert any("nothing will be imported until they are fixed" in e.value for e in at.error)
    report = table_with(at, "reason")
    row = report[report.reason.str.contains("Verbal Commit")].iloc[0]
    assert (row.row, row.column, row.value, row["rows affected"]) == (3, "stage", "Verbal Commit", 2)
    assert '"Verbal Commit" = { category' in at.code[0].value  # the mapping lines to add
    assert at.button(key="import_go").disabled
    assert content(fixture_db) == before


@pytest.mark.slow
def test_skip_invalid_imports_the_rest_and_offers_the_rejected_rows(empty):
    at = page("data_import.py", import_skip_invalid=True)
    at = upload(at, FIXTURES / "bad" / "unknown_stage.csv")
    assert any("these rows will be skipped" in e.value for e in at.error)
    at.button(key="import_go").click().run()
    assert not at.exception
    assert at.download_button(key="rejected_download") is not None
    con = open_database(empty)
    assert con.execute("select count(*) from opportunities").fetchone()[0] == 1


@pytest.mark.slow
def test_maven_with_its_mapping_file(empty):
    folder = FIXTURES / "maven"
    at = upload(page("data_import.py"), folder / "sales_pipeline.csv", folder / "accounts.csv",
                folder / "sales_teams.csv", mapping=ROOT / "mappings" / "maven.toml")
    assert not at.exception, [e.value for e in at.exception]
    summary = texts(at.markdown)
    assert "sales_teams.csv joined to sales_pipeline.csv on sales_agent = sales_agent: 11 of 11" in summary
    at.button(key="import_go").click().run()
    con = open_database(empty)
    assert con.execute("select count(*), count(team) from opportunities").fetchone() == (11, 11)


def test_the_data_quality_panel_lists_the_deals(tmp_path, monkeypatch, capsys):
    from sales.cli import main

    path = tmp_path / "maven.duckdb"
    folder = FIXTURES / "maven"
    assert main(["import", str(folder / "sales_pipeline.csv"), "--mapping",
                 str(ROOT / "mappings" / "maven.toml"), "--db", str(path)]) == 0
    monkeypatch.setenv("SALES_DB", str(path))
    at = page("data_import.py")
    panel = table_with(at, "check").set_index("check")
    assert panel.loc["open_without_close_date", "deals"] == 3  # M08, M09, M10
    assert panel.loc["lost_zero_amount", "deals"] == 3  # M02, M04, M07
    # M08 and M09 have no account, so no employee count and no segment; no type is unknown.
    assert panel.loc["no_segment", "deals"] == 2 and "unknown_type" not in panel.index
    at.selectbox(key="quality_check").select("open_without_close_date").run()
    assert sorted(table_with(at, "opportunity_id").opportunity_id) == ["M08", "M09", "M10"]


def test_deal_explorer_filters_and_downloads(fixture_db):
    at = page("data_deals.py")
    assert not at.exception, [e.value for e in at.exception]
    frame = at.dataframe[0].value
    assert len(frame) == 18 and "lead_source" in frame.columns
    assert any("18 deals match" in c.value for c in at.caption)
    at.text_input(key="deals_search").input("D1").run()
    assert sorted(at.dataframe[0].value.opportunity_id) == ["D1", "D10", "D11"]
    labels = [b.label for b in at.get("download_button")]
    assert any(label.startswith("Download CSV") for label in labels)
    assert any(label.startswith("Download XLSX") for label in labels)


def test_sql_page_runs_read_only_queries(fixture_db):
    at = page("data_sql.py")
    assert not at.exception
    assert any("opportunities" in e.label for e in at.expander)  # the schema beside the editor
    at.text_area(key="sql_text").input("select count(*) as deals from opportunities")
    at.form_submit_button[0].click().run()
    assert table_with(at, "deals").iloc[0, 0] == 18
    assert any("1 row(s) in" in c.value for c in at.caption)
    at.text_area(key="sql_text").input("delete from opportunities")
    at.form_submit_button[0].click().run()
    assert any("only SELECT queries" in e.value for e in at.error)
    assert len(content(fixture_db)["opportunities"]) == 18


def test_settings_are_saved_for_every_page(fixture_db):
    at = page("data_settings.py")
    assert not at.exception, [e.value for e in at.exception]
    helps = texts(at.caption)
    assert "Enterprise coverage counted healthy" in helps  # each setting shows its help
    version = next(k for k in at.session_state if k.startswith("setting_coverage_multiple_"))
    at.number_input(key=version).set_value(2.0)
    next(b for b in at.button if b.label == "Save settings").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Settings saved (coverage_multiple)" in s.value for s in at.success)
    con = open_database(fixture_db)
    assert con.execute("select value from settings where name = 'coverage_multiple'").fetchone() == ("2.0",)


def test_a_bad_stage_map_edit_is_explained_and_not_saved(fixture_db):
    at = page("data_settings.py")
    editor = at.data_editor[0]
    rows = list(editor.value["stage"])
    at.session_state[editor.key] = {"edited_rows": {rows.index("4-Proposal"): {"won": True}},
                                    "added_rows": [], "deleted_rows": []}
    at = at.run()
    at.button(key="save_stages").click().run()
    assert any("a won stage is closed" in e.value for e in at.error)
    con = open_database(fixture_db)
    assert con.execute("select won from stage_map where stage = '4-Proposal'").fetchone() == (False,)


@pytest.mark.slow
def test_an_uploaded_mapping_never_reads_server_files(empty):
    mapping = ROOT / "mappings" / "maven.toml"
    at = upload(page("data_import.py"), FIXTURES / "maven" / "sales_pipeline.csv", mapping=mapping)
    # The mapping names accounts.csv and sales_teams.csv; they exist beside the fixture on the
    # server, but only uploaded files are used.
    report = table_with(at, "reason")
    assert report.reason.str.contains("was not uploaded").sum() == 2
    assert at.button(key="import_go").disabled


@pytest.mark.slow
def test_checking_and_importing_run_outside_the_app_process(empty, monkeypatch):
    # The app process never parses or imports the files (a million-row file would outgrow its
    # memory budget): break both in this process and the page still previews and imports.
    import sales.ingest.preview
    import sales.ingest.run

    def not_here(*args, **kwargs):
        raise AssertionError("ran inside the app process")

    monkeypatch.setattr(sales.ingest.preview, "preview_against", not_here)
    monkeypatch.setattr(sales.ingest.run, "run_import", not_here)
    at = upload(page("data_import.py"), FIXTURES / "opportunities.csv")
    assert any("Every check passed" in s.value for s in at.success)
    at.button(key="import_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert open_database(empty).execute("select count(*) from opportunities").fetchone()[0] == 8


@pytest.mark.slow
def test_a_worker_that_fails_is_reported_not_hidden(empty, tmp_path):
    from ui.importer import IMPORT, Job, WorkerFailed, _run_worker

    job = Job(IMPORT, str(empty), (("gone.csv", str(tmp_path / "no-such-file.csv")),))
    with pytest.raises(WorkerFailed, match="no-such-file.csv"):
        _run_worker(job)
    assert open_database(empty).execute("select count(*) from opportunities").fetchone()[0] == 0

"""Every page renders under AppTest with the demo and with an empty database, and shows what a
user should see."""


import pytest

from tests.helpers import ROOT, d, metrics, run

PAGES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py"))






def test_every_page_is_routed():
    app = (ROOT / "app.py").read_text()
    assert PAGES and all(f'"{page}"' in app for page in PAGES)


@pytest.mark.parametrize("page", ["app.py", *PAGES])
def test_page_renders_on_demo_data(page, demo_db, monkeypatch):
    monkeypatch.setenv("SALES_DB", str(demo_db))
    at = run(page)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, "every page has a title"
    assert not any("No opportunities in this database" in i.value for i in at.info)


@pytest.mark.parametrize("page", ["app.py", *PAGES])
def test_page_renders_on_an_empty_database(page, empty_db, monkeypatch):
    monkeypatch.setenv("SALES_DB", str(empty_db))
    at = run(page)
    assert not at.exception, [e.value for e in at.exception]
    assert any("No opportunities in this database yet" in i.value for i in at.info)
    assert "python -m sales demo" in " ".join(i.value for i in at.info)


def test_overview_tiles_have_numbers_on_the_demo(demo_db, monkeypatch):
    monkeypatch.setenv("SALES_DB", str(demo_db))
    tiles = metrics(run("pages/overview.py"))
    # the projection's tile too once a model is in the file beside the database
    assert set(tiles) - {"Projection (P50)"} == {
        "Closed won", "In-blood number", "Upside", "Enterprise coverage",
        "Close rate (trailing 4 quarters)", "Win rate (trailing 4 quarters)"}
    assert all(value.startswith("$") for label, value in tiles.items()
               if label in ("Closed won", "In-blood number", "Upside"))
    assert tiles["Enterprise coverage"].endswith("×")
    assert tiles["Close rate (trailing 4 quarters)"].endswith("%")




def test_overview_shows_the_hand_computed_numbers(fixture_db):
    tiles = metrics(run("pages/overview.py"))
    # conftest.py: Closed 500; in-blood 500 + Commit 600 = 1,100; upside Best Case 900;
    # coverage (500 + 600 + 900) / 1,000 = 2.0×; close rate 2/4 deals; win rate 2/3.
    assert tiles == {"Closed won": "$500", "In-blood number": "$1.1K", "Upside": "$900",
                     "Enterprise coverage": "2.0×", "Close rate (trailing 4 quarters)": "50%",
                     "Win rate (trailing 4 quarters)": "67%"}


def test_overview_follows_the_filters(fixture_db):
    # Enterprise only: Closed 500, Commit 300 (D2 100 + D3 200), target 600 → 800 / 600 = 1.3×.
    tiles = metrics(run("pages/overview.py", segment=["Enterprise"]))
    assert tiles["Closed won"] == "$500"
    assert tiles["In-blood number"] == "$800"
    assert tiles["Enterprise coverage"] == "1.3×"
    # A view with no target says so instead of inventing one.
    at = run("pages/overview.py", segment=["SMB"])
    assert metrics(at)["Enterprise coverage"] == "—"
    assert any("No target for this view" in w.value for w in at.warning)


def test_overview_as_of_an_earlier_snapshot(fixture_db):
    # As of 2026-11-19 (snapshot 2026-11-13) D5 was Pipeline 350: upside is D6's 500 only.
    tiles = metrics(run("pages/overview.py", as_of=d("2026-11-19")))
    assert tiles["Upside"] == "$500"


def test_pipeline_pivot_totals_and_drill(fixture_db):
    at = run("pages/pipeline.py")
    pivot = at.dataframe[0].value.set_index("segment")
    # Total row: Closed 500, Commit 600, Best Case 900, Pipeline 600 → 2,600; Unqualified apart.
    assert pivot.loc["Total", "Total"] == 2600
    assert pivot.loc["Total", "Unqualified"] == 700
    at.selectbox(key="drill_category").select("Commit").run()
    at.selectbox(key="drill_value").select("Enterprise").run()
    deals = at.dataframe[1].value
    assert sorted(deals.opportunity_id) == ["D2", "D3"]  # 100 + 200 = the cell's 300
    assert deals.amount.sum() == pivot.loc["Enterprise", "Commit"]


def test_plan_attainment_by_segment(fixture_db):
    at = run("pages/plan.py")
    frame = at.dataframe[0].value.set_index("segment")
    # Enterprise: closed 500 of 600 → 83%; coverage (500 + 300) / 600.
    assert frame.loc["Enterprise", "attainment"] == pytest.approx(500 / 600)
    assert frame.loc["Enterprise", "coverage"] == pytest.approx(800 / 600)


def test_plan_with_a_region_filter_does_not_divide_by_a_segment_target(fixture_db):
    # Region = AMER: Enterprise's 600 target is the whole company's Enterprise plan, not
    # AMER's, so there is no target for this view (it used to read AMER's closed 500 / 600).
    at = run("pages/plan.py", region=["AMER"])
    frame = at.dataframe[0].value.set_index("segment")
    assert frame.loc["Enterprise", "closed_won"] == 500  # D1, AMER
    assert frame["target"].isna().all() and frame["attainment"].isna().all()
    assert frame["coverage"].isna().all()
    assert any("No target for this view" in w.value for w in at.warning)
    # By region the region's own targets would fit; there are none in this fixture.
    at.radio(key="plan_scope").set_value("region").run()
    assert not any("No target for this view" in w.value for w in at.warning)


def test_rates_page_matches_the_report(fixture_db):
    tiles = metrics(run("pages/rates.py"))
    assert tiles["Close rate (deals)"] == "50%"
    assert tiles["Close rate (amount)"] == "40%"  # 400 / 1,000
    assert tiles["Coverage this close rate needs"] == "2.0×"  # 1 / 0.5


def test_database_page_counts(fixture_db):
    tiles = metrics(run("pages/database.py"))
    assert tiles["Opportunities"] == "18"
    assert tiles["Latest snapshot"] == "2026-11-20"


@pytest.mark.slow
def test_first_run_builds_the_demo_then_shows_the_overview(tmp_path, monkeypatch):
    path = tmp_path / "fresh" / "forecast.duckdb"
    monkeypatch.setenv("SALES_DB", str(path))
    at = run("app.py")
    assert not at.exception, [e.value for e in at.exception]
    assert path.exists()
    assert any("Demo database ready" in s.label for s in at.status)  # the progress box
    tiles = metrics(at)
    assert tiles["Closed won"].startswith("$") and tiles["Enterprise coverage"].endswith("×")


@pytest.fixture(scope="module")
def shared_state_demo(demo_db, postgres, tmp_path_factory):
    """The demo with its state moved to PostgreSQL (state mode), shared by this module's page
    runs."""
    import shutil

    from sales.cli import main

    path = tmp_path_factory.mktemp("shared") / "demo.duckdb"
    shutil.copyfile(demo_db, path)
    url = postgres.new_database()
    assert main(["state", "migrate", "--to", url, "--db", str(path)]) == 0
    return path, url


@pytest.mark.slow
@pytest.mark.parametrize("page", ["app.py", *PAGES])
def test_page_renders_with_the_state_in_postgresql(page, shared_state_demo, monkeypatch):
    path, url = shared_state_demo
    monkeypatch.setenv("SALES_DB", str(path))
    monkeypatch.setenv("SALES_STATE_URL", url)
    at = run(page)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, "every page has a title"
    assert not any("No opportunities in this database" in i.value for i in at.info)


def _without_projection(tiles: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in tiles.items() if not name.startswith("Projection")}


@pytest.mark.slow
def test_overview_reads_targets_from_postgresql(shared_state_demo, demo_db, monkeypatch):
    # The same data either way gives the same tiles; a target changed in PostgreSQL (by another
    # process) changes the coverage tile on the next render.
    from sales.state.replica import Replica
    from sales.state.store import Store

    path, url = shared_state_demo
    monkeypatch.setenv("SALES_DB", str(demo_db))
    # The projection's tile shows once the deal scores beside a file are computed (in the
    # background, per file): the copy may not have them yet, so it is left out here.
    embedded = _without_projection(metrics(run("pages/overview.py")))
    monkeypatch.setenv("SALES_DB", str(path))
    monkeypatch.setenv("SALES_STATE_URL", url)
    shared = _without_projection(metrics(run("pages/overview.py")))
    assert shared == embedded
    with Replica(path, Store(url)).writing() as tx:
        tx.execute("update targets set amount = amount * 2 where scope = 'company'")
    import time

    time.sleep(0.3)  # the app looks at the state version at most every 0.25 s
    changed = metrics(run("pages/overview.py"))
    assert changed["Enterprise coverage"] != embedded["Enterprise coverage"]
    assert changed["Closed won"] == embedded["Closed won"]

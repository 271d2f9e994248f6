"""On a small generated company: `scores` and the report's `projection` keys from one cached
model, its file reused, a page's non-blocking read, and an empty database saying why."""

from __future__ import annotations

import json
import time

import pytest

from sales.cli import main
from sales.db import connect, open_current
from sales.periods import QUARTER, period_containing
from sales.view import View
from sales.winprob import store
from sales.winprob.scores import PROJECTION_KEYS, projection_keys
from tests.helpers import MODEL_AS_OF, d, model_company

AS_OF = MODEL_AS_OF


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    return model_company(tmp_path_factory.mktemp("winprob"))


@pytest.mark.slow
def test_scores_and_the_projection_from_one_cached_model(company, capsys):
    assert main(["scores", "--db", str(company), "--segment", "SMB"]) == 0
    scores = json.loads(capsys.readouterr().out)
    model = scores["model"]
    assert model["eligible"] and model["kind"] == "lightgbm" and model["calibrated"]
    assert model["period"] == "FY2026-Q4" and len(model["trained_periods"]) == 8
    assert scores["deals"] and set(scores["deals"][0]) == {"opportunity_id", "win_probability",
                                                          "factors"}
    assert all(0 <= deal["win_probability"] <= 1 for deal in scores["deals"])
    assert {tuple(f) for f in scores["deals"][0]["factors"]} == {("feature", "effect")}
    models = {p: p.stat().st_mtime_ns for p in store.files(company) if p.suffix == ".json"}
    assert len(models) == 1

    assert main(["report", "--db", str(company)]) == 0
    projection = json.loads(capsys.readouterr().out)["projection"]
    assert set(projection) == {*PROJECTION_KEYS, "model", "at_last_call"}
    assert set(projection["at_last_call"]) == {"as_of", "p10", "p50", "p90", "prob_target"}
    assert projection["eligible"] and projection["reason"] is None
    assert projection["p10"] <= projection["p50"] <= projection["p90"]
    assert 0 <= projection["prob_target"] <= 1 and projection["target"] > 0
    assert projection["model"]["trained_rows"] > 0
    # the same history: the model is reused (the last call's snapshot gets scores of its own)
    assert {p: p.stat().st_mtime_ns for p in store.files(company) if p.suffix == ".json"} == models

    assert main(["scores", "--db", str(company), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "opportunity_id,win_probability,factors" and " pts" in lines[1]


@pytest.mark.slow
def test_a_page_read_never_waits_and_the_previous_scores_serve(company):
    con = open_current(company)
    period = period_containing(AS_OF, QUARTER, 1)
    served = store.learned_for(con, period, AS_OF, wait=True)
    other_day = d("2026-11-13")  # another key: the saved model serves while a new one trains
    started = time.monotonic()
    previous = store.learned_for(con, period, other_day, wait=False)
    assert time.monotonic() - started < 1.0
    assert previous.cutoff == served.cutoff == AS_OF
    while store.training():  # the new one lands in a file of its own; the next read is it
        time.sleep(0.1)
    assert store.learned_for(con, period, other_day, wait=False).cutoff == other_day
    assert store.learned_for(con, period, AS_OF, wait=False).cutoff == AS_OF  # kept too

    # Scores: the previous model's at the same snapshot serve while this model's are computed.
    now = store.scored_for(con, period, AS_OF, wait=True)
    own = store.scores_file(company, store.key_of(con, period, AS_OF), period, now.snap)
    previous_model = store.scores_file(company, "an earlier history", period, now.snap)
    own.rename(previous_model)
    started = time.monotonic()
    meanwhile = store.scored_for(con, period, AS_OF, wait=False)
    assert time.monotonic() - started < 1.0
    assert not meanwhile.fresh and len(meanwhile.deals) == len(now.deals)
    while store.training():
        time.sleep(0.1)
    assert store.scored_for(con, period, AS_OF, wait=False).fresh and own.exists()
    con.close()


@pytest.mark.slow  # the module's generated company takes seconds to build
def test_a_saved_call_does_not_retrain_and_a_stage_map_edit_does(company, tmp_path):
    import shutil

    from sales.db import bump_data_version, connect

    path = tmp_path / "copy.duckdb"
    shutil.copy(company, path)
    con = connect(path)
    period = period_containing(AS_OF, QUARTER, 1)
    key = store.key_of(con, period, AS_OF)
    bump_data_version(con)  # what a saved call, a follow-up or a setting does
    assert store.key_of(con, period, AS_OF) == key
    assert store.key_of(con, period, d("2026-12-31")) == key  # past the data: nothing new known
    con.execute("update stage_map set qualified = not qualified where stage = "
                "(select min(stage) from stage_map)")
    assert store.key_of(con, period, AS_OF) != key
    con.close()


def test_an_empty_database_says_why_there_is_no_model(tmp_path, capsys):
    path = tmp_path / "empty.duckdb"
    con = connect(path)
    view = View(period_containing(AS_OF, QUARTER, 1), AS_OF)
    keys = projection_keys(con, view, store.scored_for(con, view.period, AS_OF))
    assert not keys["eligible"] and keys["p50"] is None
    assert keys["reason"].startswith("no win-probability model: 0 completed period(s)")
    con.close()
    assert main(["scores", "--db", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["deals"] == [] and not out["model"]["eligible"]


@pytest.mark.slow
def test_the_board_packs_call_carries_the_projection(company):
    from sales import formatting as fmt
    from sales.boardpack.sections import the_call
    from sales.report import board_report

    con = open_current(company)
    view = View(period_containing(AS_OF, QUARTER, 1), AS_OF)
    store.scored_for(con, view.period, AS_OF)  # the command line scores before the pack
    keys = board_report(con, view).as_report()
    con.close()
    section = the_call(keys)
    tile = next(t for t in section.tiles if t.label == "Projection (P50)")
    projected = keys["projection"]
    assert tile.value == fmt.money(projected["p50"])
    assert tile.note.startswith(f"P10–P90 {fmt.money(projected['p10'])} – ")
    assert any(n.startswith("Projection: closed won + each open") for n in section.notes)
    assert "projection.p50" in set(section.figures["report key"])  # the XLSX's figures sheet

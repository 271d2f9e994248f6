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
from tests.helpers import d

AS_OF = d("2026-11-20")


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    from sales.demo import build_demo

    path = tmp_path_factory.mktemp("winprob") / "company.duckdb"
    build_demo(path, opportunities=6000, seed=3, as_of=AS_OF, history_quarters=8)
    return path


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
    cached = store.model_file(company)
    assert cached.exists()
    written = cached.stat().st_mtime_ns

    assert main(["report", "--db", str(company)]) == 0
    projection = json.loads(capsys.readouterr().out)["projection"]
    assert set(projection) == {*PROJECTION_KEYS, "model", "at_last_call"}
    assert set(projection["at_last_call"]) == {"as_of", "p10", "p50", "p90", "prob_target"}
    assert projection["eligible"] and projection["reason"] is None
    assert projection["p10"] <= projection["p50"] <= projection["p90"]
    assert 0 <= projection["prob_target"] <= 1 and projection["target"] > 0
    assert projection["model"]["trained_rows"] > 0
    assert cached.stat().st_mtime_ns == written  # the same data version: the file is reused

    assert main(["scores", "--db", str(company), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "opportunity_id,win_probability,factors" and " pts" in lines[1]


@pytest.mark.slow
def test_a_page_read_never_waits_and_the_previous_model_serves(company):
    con = open_current(company)
    period = period_containing(AS_OF, QUARTER, 1)
    served = store.learned_for(con, period, AS_OF, wait=True)
    other_day = d("2026-11-13")  # another key: the saved model serves while a new one trains
    started = time.monotonic()
    previous = store.learned_for(con, period, other_day, wait=False)
    assert time.monotonic() - started < 1.0
    assert previous.cutoff == served.cutoff == AS_OF
    while store.training():  # the new one lands in the file; the next read is its own
        time.sleep(0.1)
    assert store.learned_for(con, period, other_day, wait=False).cutoff == other_day
    con.close()


def test_an_empty_database_says_why_there_is_no_model(tmp_path, capsys):
    path = tmp_path / "empty.duckdb"
    con = connect(path)
    view = View(period_containing(AS_OF, QUARTER, 1), AS_OF)
    keys = projection_keys(con, view, store.learned_for(con, view.period, AS_OF))
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
    store.learned_for(con, view.period, AS_OF)  # the command line trains it before the pack
    keys = board_report(con, view).as_report()
    con.close()
    section = the_call(keys)
    tile = next(t for t in section.tiles if t.label == "Projection (P50)")
    projected = keys["projection"]
    assert tile.value == fmt.money(projected["p50"])
    assert tile.note.startswith(f"P10–P90 {fmt.money(projected['p10'])} – ")
    assert any(n.startswith("Projection: closed won + each open") for n in section.notes)
    assert "projection.p50" in set(section.figures["report key"])  # the XLSX's figures sheet

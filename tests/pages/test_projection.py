"""The projection and the win % on screen, on a small generated company whose model is in its
file: the Overview's tile equals the report's `projection` keys, the In-blood board shows each
deal's win % and factors, and before any model the Overview says why there is none."""

from __future__ import annotations

import pytest

from sales import formatting as fmt
from sales.db import open_current
from sales.periods import QUARTER, period_containing
from sales.view import View
from sales.winprob import store
from sales.winprob.scores import deal_scores, projection_keys
from tests.helpers import d, run_page, tiles

AS_OF = d("2026-11-20")


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    from sales.demo import build_demo

    path = tmp_path_factory.mktemp("projection") / "company.duckdb"
    build_demo(path, opportunities=6000, seed=3, as_of=AS_OF, history_quarters=8)
    return path


@pytest.mark.slow
def test_before_any_model_the_overview_says_why(company, monkeypatch):
    store.model_file(company).unlink(missing_ok=True)
    at = run_page("overview.py", company, monkeypatch)
    assert "Projection (P50)" not in tiles(at)
    assert any("Projection: no win-probability model yet" in c.value for c in at.caption)
    while store.training():  # the render started the training: let it land
        import time

        time.sleep(0.1)


@pytest.mark.slow
def test_the_overview_and_the_board_show_the_models_numbers(company, monkeypatch):
    con = open_current(company)
    view = View(period_containing(AS_OF, QUARTER, 1), AS_OF)
    learned = store.learned_for(con, view.period, AS_OF)  # trained and saved beside the file
    keys = projection_keys(con, view, learned)
    scored = deal_scores(con, view, learned)
    con.close()
    at = run_page("overview.py", company, monkeypatch)
    value, delta = tiles(at)["Projection (P50)"]
    assert value == fmt.money(keys["p50"])
    assert delta == (f"P10–P90 {fmt.money(keys['p10'])} – {fmt.money(keys['p90'])} · "
                     f"{fmt.pct(keys['prob_target'])} chance of making the target")
    board = run_page("inblood.py", company, monkeypatch)
    shown = board.dataframe[0].value if board.dataframe else None
    editor = next(e for e in board.get("arrow_data_editor")).value if shown is None else shown
    assert {"Win %", "Why"} <= set(editor.columns)
    first = editor.iloc[0]
    expected = scored.set_index("opportunity_id").loc[first["Opportunity"]]
    assert first["Win %"] == pytest.approx(expected["win_probability"])
    assert " pts" in first["Why"]

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
from tests.helpers import MODEL_AS_OF, d, model_company, run_page, tiles

AS_OF = MODEL_AS_OF


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    return model_company(tmp_path_factory.mktemp("projection"))


@pytest.mark.slow
def test_before_any_model_the_overview_says_why(company, monkeypatch):
    for found in store.files(company):
        found.unlink()
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
    stored = store.scored_for(con, view.period, AS_OF)  # trained, scored, saved beside the file
    keys = projection_keys(con, view, stored)
    scored = deal_scores(view, stored)
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


@pytest.mark.slow
def test_the_accuracy_page_shows_the_projections_band_calibration_and_verdict(company,
                                                                               monkeypatch):
    from sales import backtest as bt
    from sales.settings import load_settings
    from sales.view import Filters

    at = run_page("forecast_accuracy.py", company, monkeypatch, accuracy_projection=True)
    con = open_current(company)
    periods = bt.default_periods(AS_OF, 1)
    result = bt.backtest(con, periods, AS_OF, Filters(), load_settings(con))
    con.close()
    assert result.bands  # a model for at least one of the four quarters
    assert bt.projection_verdict(result) in [i.value for i in at.info]
    assert any(f"held the actual in {fmt.pct(result.interval_coverage())}" in c.value
               for c in at.caption)
    assert len(at.get("plotly_chart")) == 3  # error by week, one period with its band, deciles
    frame = at.dataframe[0].value
    assert bt.PROJECTION in set(frame["method"])



@pytest.mark.slow
def test_the_forecast_call_shows_the_projection_now_and_at_the_last_call(company, monkeypatch):
    from sales.report import projection_for

    at = run_page("forecast_call.py", company, monkeypatch)
    last_call = d(at.selectbox(key="last_call").value)
    con = open_current(company)
    keys = projection_for(con, View(period_containing(AS_OF, QUARTER, 1), AS_OF),
                          last_call=last_call)
    con.close()
    at = run_page("forecast_call.py", company, monkeypatch)  # the last call's scores now stored
    value, delta = tiles(at)["Projection (P50)"]
    assert value == fmt.money(keys["p50"])
    assert delta == fmt.money(keys["p50"] - keys["at_last_call"]["p50"])
    assert tiles(at)["Chance of making the target"] == (
        fmt.pct(keys["prob_target"]),
        f"{fmt.pct(keys['at_last_call']['prob_target'])} at the last call")


@pytest.mark.slow
def test_the_deal_explorer_shows_the_win_probability(company, monkeypatch):
    con = open_current(company)
    view = View(period_containing(AS_OF, QUARTER, 1), AS_OF)
    scored = deal_scores(view, store.scored_for(con, view.period, AS_OF))
    con.close()
    at = run_page("data_deals.py", company, monkeypatch)
    shown = at.dataframe[0].value
    with_score = shown.dropna(subset=["win_probability"])
    assert len(with_score)  # the largest deals include some open ones of the quarter
    row = with_score.iloc[0]
    expected = scored.set_index("opportunity_id").loc[row["opportunity_id"]]
    assert row["win_probability"] == pytest.approx(expected["win_probability"])


@pytest.mark.slow
def test_while_new_scores_are_computed_the_previous_ones_serve_and_the_page_says_so(
        company, monkeypatch):
    con = open_current(company)
    view = View(period_containing(AS_OF, QUARTER, 1), AS_OF)
    now = store.scored_for(con, view.period, AS_OF)
    keys = projection_keys(con, view, now)
    own = store.scores_file(company, store.key_of(con, view.period, AS_OF), view.period,
                            now.snap)
    con.close()
    own.rename(store.scores_file(company, "the model before an import", view.period, now.snap))
    at = run_page("overview.py", company, monkeypatch)
    assert tiles(at)["Projection (P50)"][0] == fmt.money(keys["p50"])  # the same deals' scores
    assert any("from the previous scores, while the deals are being scored again" in c.value
               for c in at.caption)
    while store.training():  # the render started the scoring: let it land
        import time

        time.sleep(0.1)
    assert own.exists()

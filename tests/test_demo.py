"""The demo database: deterministic, weekly history stored as valid changes, and data every page
can show (a populated current quarter, coverage that differs by segment, slips, all loss classes).

Small demos in tmp_path against real DuckDB; the shared one is built once per module.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from sales.demo import build_demo
from sales.losses import unmapped_reasons
from sales.periods import MONTH, QUARTER, period_containing

AS_OF = date(2026, 11, 22)  # week 8 of FY2026-Q4 (calendar fiscal year)
DEALS = 2_500

# State as of snapshot date S: the history row valid at S.
AS_OF_STATE = """
    select h.*
    from opportunity_history h
    where h.valid_from <= ? and (h.valid_to is null or h.valid_to > ?)
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    calls: list[tuple[float, str]] = []
    summary = build_demo(path, DEALS, seed=42, as_of=AS_OF,
                         progress=lambda f, m: calls.append((f, m)))
    con = duckdb.connect(str(path), read_only=True)
    yield {"path": path, "summary": summary, "progress": calls, "con": con}
    con.close()


def rows(con, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def one(con, sql: str, params: list | None = None):
    return rows(con, sql, params)[0][0]


def table_frames(path) -> dict[str, pd.DataFrame]:
    """Every base table, sorted by all its columns."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in rows(con, "select table_name from information_schema.tables "
                                         "where table_type = 'BASE TABLE' order by 1")]
        frames = {}
        for name in names:
            frame = con.sql(f"select * from {name}").df()
            frames[name] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
        return frames
    finally:
        con.close()


def test_summary_progress_and_no_leftovers(demo):
    summary, con = demo["summary"], demo["con"]
    assert summary["opportunities"] == DEALS == one(con, "select count(*) from opportunities")
    assert summary["history_rows"] == one(con, "select count(*) from opportunity_history")
    assert summary["snapshot_dates"] == one(con, "select count(*) from snapshot_dates")
    assert summary["last_snapshot"] == AS_OF
    assert summary["first_snapshot"] == one(con, "select min(snapshot_date) from snapshot_dates")
    assert summary["seconds"] >= 0
    fractions = [f for f, _ in demo["progress"]]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) >= 6
    assert sorted(p.name for p in demo["path"].parent.iterdir()) == ["demo.duckdb"]
    assert one(con, "select value from meta where key = 'data_version'") == "1"


def test_same_seed_same_tables_other_seed_differs(tmp_path):
    kwargs = {"opportunities": 1_500, "as_of": AS_OF}
    build_demo(tmp_path / "a.duckdb", seed=7, **kwargs)
    build_demo(tmp_path / "b.duckdb", seed=7, **kwargs)
    build_demo(tmp_path / "c.duckdb", seed=8, **kwargs)
    a, b, c = (table_frames(tmp_path / f"{x}.duckdb") for x in "abc")
    assert a.keys() == b.keys()
    for name in a:
        assert_frame_equal(a[name], b[name], obj=name)
    for name in ("opportunities", "opportunity_history", "targets", "submissions",
                 "forecast_call_decisions"):
        assert not a[name].equals(c[name]), name
    assert not any(p.name.endswith((".building", ".wal")) for p in tmp_path.iterdir())


def test_rebuild_replaces_file_and_failed_build_keeps_old(tmp_path):
    path = tmp_path / "demo.duckdb"
    path.write_text("not a database")
    build_demo(path, 300, seed=1, as_of=AS_OF)
    con = duckdb.connect(str(path), read_only=True)
    assert one(con, "select count(*) from opportunities") == 300
    con.close()

    def crash(fraction, message):
        if message == "writing history":
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        build_demo(path, 400, seed=2, as_of=AS_OF, progress=crash)
    con = duckdb.connect(str(path), read_only=True)
    assert one(con, "select count(*) from opportunities") == 300
    con.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.duckdb"]


def test_snapshots_weekly_back_six_quarters(demo):
    con = demo["con"]
    dates = [r[0] for r in rows(con, "select snapshot_date from snapshot_dates order by 1")]
    assert dates[-1] == AS_OF
    assert all(b - a == timedelta(days=7) for a, b in zip(dates, dates[1:], strict=False))
    current = period_containing(AS_OF, QUARTER, 1)
    assert dates[0] <= current.shift(-6).start
    assert dates[0] > current.shift(-6).start - timedelta(days=7)


def test_history_contiguous_chronological_no_repeats(demo):
    con = demo["con"]
    bad = one(con, """
        with h as (
            select *,
                   lead(valid_from) over w as next_from,
                   lag(stage) over w as p_stage, lag(forecast_category) over w as p_cat,
                   lag(amount) over w as p_amount, lag(close_date) over w as p_close,
                   lag(owner) over w as p_owner,
                   row_number() over w as n, count(*) over (partition by opportunity_id) as rows
            from opportunity_history
            window w as (partition by opportunity_id order by valid_from)
        )
        select count(*) from h
        where (valid_to is not null and valid_to <= valid_from)
           or (n < rows and valid_to is distinct from next_from)
           or (n = rows and valid_to is not null)
           or (n > 1 and stage = p_stage and forecast_category is not distinct from p_cat
               and amount is not distinct from p_amount
               and close_date is not distinct from p_close and owner is not distinct from p_owner)
    """)
    assert bad == 0
    off_grid = one(con, """
        select count(*) from opportunity_history h
        where h.valid_from not in (select snapshot_date from snapshot_dates)
           or (h.valid_to is not null and h.valid_to not in (select snapshot_date from snapshot_dates))
    """)
    assert off_grid == 0


def test_deals_appear_at_first_snapshot_after_creation_and_stay(demo):
    con = demo["con"]
    wrong = one(con, """
        with first_seen as (
            select opportunity_id, min(valid_from) as seen from opportunity_history group by 1
        )
        select count(*) from opportunities o
        left join first_seen f using (opportunity_id)
        where f.seen is distinct from
              (select min(snapshot_date) from snapshot_dates where snapshot_date >= o.created_date)
    """)
    assert wrong == 0
    assert one(con, "select max(created_date) from opportunities") <= AS_OF
    # No deleted deals: every deal has a current row.
    assert one(con, "select count(distinct opportunity_id) from opportunity_history "
                    "where valid_to is null") == DEALS


def test_closed_deals_never_reopen(demo):
    con = demo["con"]
    reopened = one(con, """
        with h as (
            select h.opportunity_id, h.valid_from, m.closed, m.won,
                   bool_or(m.closed) over w as was_closed,
                   first_value(case when m.closed then m.won end ignore nulls) over w as first_won
            from opportunity_history h join stage_map m using (stage)
            window w as (partition by h.opportunity_id order by h.valid_from
                         rows between unbounded preceding and current row)
        )
        select count(*) from h where was_closed and (not closed or won <> first_won)
    """)
    assert reopened == 0
    assert one(con, """
        select count(*) from opportunity_history h join stage_map m using (stage)
        where m.closed and h.forecast_category not in ('Closed', 'Omitted')
    """) == 0
    assert one(con, """
        select count(*) from opportunity_history h join stage_map m using (stage)
        where m.closed and h.close_date > h.valid_from
    """) == 0


def test_last_snapshot_equals_opportunities(demo):
    con = demo["con"]
    columns = "opportunity_id, stage, forecast_category, amount, close_date, owner"
    state = con.sql(f"select {columns} from ({AS_OF_STATE}) order by 1",
                    params=[AS_OF, AS_OF]).df()
    current = con.sql(f"select {columns} from opportunities order by 1").df()
    assert len(state) == DEALS
    assert_frame_equal(state, current)


def test_descriptive_columns(demo):
    con = demo["con"]
    assert one(con, """
        select count(*) from opportunities
        where not (segment = case when account_employees >= 5000 then 'Enterprise'
                                  when account_employees >= 500 then 'Mid-Market'
                                  else 'SMB' end)
    """) == 0
    assert one(con, "select count(distinct owner) from opportunities") >= 28
    # Each team sits in one segment and one region; each rep in one team.
    assert one(con, "select max(n) from (select count(distinct segment || region) as n "
                    "from opportunities group by team)") == 1
    assert one(con, "select max(n) from (select count(distinct team) as n "
                    "from opportunities group by owner)") == 1
    assert one(con, "select count(*) from opportunities "
                    "where sales_accepted_date < created_date") == 0
    assert one(con, "select count(*) from opportunities "
                    "where stage in ('9-Unqualified', '10-Duplicate') "
                    "and sales_accepted_date is not null") == 0
    assert one(con, "select count(*) from opportunities o join stage_map m using (stage) "
                    "where m.qualified and sales_accepted_date is null") == 0
    assert one(con, "select count(*) from opportunities where renewal_risk is not null "
                    "and (type <> 'Renewal' or stage like '7-%' or stage like '8-%')") == 0
    assert one(con, "select count(*) from opportunities where renewal_risk is not null") > 0
    assert one(con, "select count(*) from opportunities "
                    "where segment = 'SMB' and channel = 'Self Serve'") > 0
    assert one(con, "select count(*) from opportunities "
                    "where segment <> 'SMB' and channel = 'Self Serve'") == 0
    assert one(con, "select count(distinct account_name) from opportunities") < DEALS / 1.5
    overrides = one(con, "select count(*) from opportunity_history h join stage_map m "
                         "using (stage) where h.forecast_category <> m.forecast_category")
    assert overrides > 0
    owner_changes = one(con, "select count(*) from (select opportunity_id from "
                             "opportunity_history group by 1 having count(distinct owner) > 1)")
    assert owner_changes > 0


def test_current_quarter_is_populated(demo):
    con = demo["con"]
    quarter = period_containing(AS_OF, QUARTER, 1)
    found = dict(rows(con, f"""
        select case when m.won then 'Won' else s.forecast_category end, count(*)
        from ({AS_OF_STATE}) s join stage_map m using (stage)
        where s.close_date between ? and ? and (m.won or (m.qualified and not m.closed))
        group by 1
    """, [AS_OF, AS_OF, quarter.start, quarter.end]))
    for category in ("Won", "Commit", "Best Case", "Pipeline"):
        assert found.get(category, 0) >= 5, (category, found)
    later = one(con, "select count(*) from opportunities o join stage_map m using (stage) "
                     "where m.qualified and not m.closed and close_date > ?", [quarter.end])
    assert later > 50


def test_coverage_differs_by_segment(demo):
    con = demo["con"]
    quarter = period_containing(AS_OF, QUARTER, 1)
    coverage = dict(rows(con, f"""
        with s as (
            select s.*, o.segment, m.won, m.qualified and not m.closed as open_qualified
            from ({AS_OF_STATE}) s
            join opportunities o using (opportunity_id)
            join stage_map m on m.stage = s.stage
            where s.close_date between ? and ?
        ),
        ccb as (
            select segment, sum(amount) as amount from s
            where won or (open_qualified and forecast_category in ('Commit', 'Best Case'))
            group by 1
        )
        select c.segment, c.amount / t.amount
        from ccb c join targets t
          on t.scope = 'segment' and t.scope_value = c.segment and t.period = ?
    """, [AS_OF, AS_OF, quarter.start, quarter.end, quarter.label]))
    assert len(coverage) == 3
    assert max(coverage.values()) >= 3.0, coverage
    assert min(coverage.values()) < 2.5, coverage
    assert 3.5 <= coverage["Enterprise"] <= 4.5 and 1.5 <= coverage["Mid-Market"] <= 2.2


def test_close_dates_slip_and_pull_in(demo):
    con = demo["con"]
    pushes = rows(con, """
        with h as (
            select opportunity_id, close_date,
                   lag(close_date) over (partition by opportunity_id order by valid_from) as prev
            from opportunity_history
        )
        select opportunity_id,
               count(*) filter (where date_trunc('quarter', close_date)
                                      > date_trunc('quarter', prev)) as pushes,
               count(*) filter (where close_date < prev) as pulls
        from h group by 1
    """)
    assert max(p for _, p, _ in pushes) >= 2
    assert sum(1 for _, p, _ in pushes if p >= 2) >= 10
    # Pulled in while still open (not the close itself).
    assert one(con, """
        with h as (
            select h.*, m.closed, lag(close_date) over (partition by opportunity_id
                                                        order by valid_from) as prev
            from opportunity_history h join stage_map m using (stage)
        )
        select count(*) from h where not closed and close_date < prev
    """) > 0
    assert one(con, """
        with h as (
            select opportunity_id, amount,
                   lag(amount) over (partition by opportunity_id order by valid_from) as prev
            from opportunity_history
        )
        select count(distinct opportunity_id) from h where amount <> prev
    """) > 0


def test_loss_classes_and_rates(demo):
    con = demo["con"]
    classes = dict(rows(con, "select loss_class, count(*) from opportunities "
                             "where loss_class is not null group by 1"))
    assert set(classes) == {"competition", "no_decision", "excluded"}
    assert one(con, "select count(*) from opportunities where loss_class = 'competition' "
                    "and competitor is null") < classes["competition"]
    assert unmapped_reasons(con), "some lost reasons should be left for the analyst to map"
    rates = rows(con, """
        select segment,
               count(*) filter (where stage = '7-Closed Won') as won,
               count(*) filter (where loss_class = 'competition') as comp,
               count(*) filter (where loss_class = 'no_decision') as nodec
        from opportunities where close_date between ? and ?
        group by 1
    """, [AS_OF - timedelta(days=365), AS_OF])
    for segment, won, comp, nodec in rates:
        assert 0.2 <= won / (won + comp + nodec) <= 0.5, segment
        assert 0.4 <= won / (won + comp) <= 0.8, segment
    cycles = dict(rows(con, "select segment, median(close_date - created_date) "
                            "from opportunities where stage = '7-Closed Won' group by 1"))
    assert cycles["SMB"] < 90 < cycles["Mid-Market"] < cycles["Enterprise"]


def test_targets_roll_up_and_cover_the_periods(demo):
    con = demo["con"]
    first = one(con, "select min(snapshot_date) from snapshot_dates")
    start = period_containing(first, QUARTER, 1)
    current = period_containing(AS_OF, QUARTER, 1)
    quarters = []
    q = start
    while q <= current.shift(2):
        quarters.append(q)
        q = q.shift(1)
    expected = {q.label for q in quarters} | {m.label for q in quarters for m in q.months()}
    assert {r[0] for r in rows(con, "select distinct period from targets")} == expected
    # company = Σ segments = Σ regions = Σ teams = Σ owners, for every period.
    sums = rows(con, """
        select period, scope, sum(amount) from targets group by 1, 2
    """)
    by_period: dict[str, dict[str, float]] = {}
    for period, scope, amount in sums:
        by_period.setdefault(period, {})[scope] = float(amount)
    for period, scopes in by_period.items():
        assert len({round(v, 2) for v in scopes.values()}) == 1, (period, scopes)
    assert one(con, """
        with team_seg as (select distinct team, segment from opportunities),
        t as (select period, s.segment, sum(amount) as amount from targets
              join team_seg s on s.team = scope_value where scope = 'team' group by 1, 2)
        select count(*) from t join targets g
          on g.scope = 'segment' and g.scope_value = t.segment and g.period = t.period
        where g.amount <> t.amount
    """) == 0
    assert one(con, """
        with rep_team as (select distinct owner, team from opportunities),
        t as (select period, r.team, sum(amount) as amount from targets
              join rep_team r on r.owner = scope_value where scope = 'owner' group by 1, 2)
        select count(*) from t join targets g
          on g.scope = 'team' and g.scope_value = t.team and g.period = t.period
        where g.amount <> t.amount
    """) == 0
    # Months add up to their quarter.
    for q in quarters:
        months = [m.label for m in q.months()]
        diff = one(con, """
            select count(*) from targets t
            where t.period = ? and t.amount <> (
                select sum(m.amount) from targets m
                where m.period in (?, ?, ?) and m.scope = t.scope and m.scope_value = t.scope_value)
        """, [q.label, *months])
        assert diff == 0, q.label
    # Completed quarters were attained at 70-120% company-wide.
    for q in quarters:
        if q.end < current.start and q.start >= first:
            won = one(con, "select sum(amount) from opportunities where stage = '7-Closed Won' "
                           "and close_date between ? and ?", [q.start, q.end])
            target = one(con, "select amount from targets where scope = 'company' "
                              "and period = ?", [q.label])
            assert 0.7 <= won / target <= 1.2, q.label


def test_submissions_every_rep_every_week(demo):
    con = demo["con"]
    reps = one(con, "select count(distinct owner) from opportunities")
    weeks = one(con, "select count(*) from snapshot_dates")
    assert one(con, "select count(*) from submissions") == reps * weeks
    for period, submitted in rows(con, "select distinct period, submitted_date from submissions"):
        assert period == period_containing(submitted, QUARTER, 1).label
    assert one(con, "select count(*) from submissions where submitted_date not in "
                    "(select snapshot_date from snapshot_dates)") == 0
    assert one(con, "select sum(forecast) from submissions where period = ?",
               [period_containing(AS_OF, QUARTER, 1).label]) > 0


def test_forecast_calls_decide_every_open_deal(demo):
    con = demo["con"]
    current = period_containing(AS_OF, QUARTER, 1)
    calls = rows(con, "select call_id, period, call_date from forecast_calls order by call_date")
    periods = {p for _, p, _ in calls}
    assert periods == {current.label, current.shift(-1).label, current.shift(-2).label}
    assert all(d < AS_OF for _, _, d in calls)
    assert sum(1 for _, p, _ in calls if p == current.label) == 7  # weeks 1-7 before as_of
    for call_id, period, call_date in calls[::5]:
        q = period_containing(call_date, QUARTER, 1)
        assert q.label == period
        expected = con.sql(f"""
            select s.opportunity_id, s.amount, s.forecast_category
            from ({AS_OF_STATE}) s join stage_map m using (stage)
            where m.qualified and not m.closed and s.close_date between ? and ?
              and s.forecast_category in ('Commit', 'Best Case', 'Pipeline')
            order by 1
        """, params=[call_date, call_date, q.start, q.end]).df()
        decided = con.sql("select opportunity_id, amount, forecast_category "
                          "from forecast_call_decisions where call_id = ? order by 1",
                          params=[call_id]).df()
        assert_frame_equal(decided, expected)
    defaults = dict(rows(con, """
        select forecast_category, avg(case when included = (forecast_category = 'Commit')
                                           then 1.0 else 0.0 end)
        from forecast_call_decisions group by 1
    """))
    assert all(share >= 0.8 for share in defaults.values()), defaults
    flips = one(con, "select count(*) from forecast_call_decisions "
                     "where included <> (forecast_category = 'Commit')")
    assert flips > 0
    assert one(con, "select count(*) from forecast_call_decisions "
                    "where included <> (forecast_category = 'Commit') and reason is null") == 0


def test_fiscal_year_start_month_two(tmp_path):
    path = tmp_path / "fy2.duckdb"
    build_demo(path, 600, seed=3, as_of=AS_OF, fy_start_month=2)
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert rows(con, "select value from settings where name = 'fiscal_year_start_month'") \
            == [("2",)]
        current = period_containing(AS_OF, QUARTER, 2)
        assert current.label == "FY2027-Q4"
        first = one(con, "select min(snapshot_date) from snapshot_dates")
        assert first <= current.shift(-6).start
        labels = {r[0] for r in rows(con, "select distinct period from targets")}
        quarters = [period_containing(first, QUARTER, 2)]
        while quarters[-1] != current.shift(2):
            quarters.append(quarters[-1].shift(1))
        assert labels == ({q.label for q in quarters}
                          | {m.label for q in quarters for m in q.months()})
        assert period_containing(AS_OF, MONTH, 2).label == "FY2027-M10" and "FY2027-M10" in labels
        for period, submitted in rows(con, "select distinct period, submitted_date "
                                           "from submissions"):
            assert period == period_containing(submitted, QUARTER, 2).label
        assert current.label in {r[0] for r in rows(con, "select period from forecast_calls")}
    finally:
        con.close()

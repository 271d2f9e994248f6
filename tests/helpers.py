"""Seeding real DuckDB databases from small, readable fixtures (no mocks of our data layer)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
from streamlit.testing.v1 import AppTest

from sales.db import bump_data_version, connect
from sales.departed import replace_current
from sales.losses import reclassify_losses
from sales.segments import segment_for
from sales.snapshots import STATE_COLUMNS, record_snapshot

_DESCRIPTIVE = ("name", "account_name", "account_employees", "segment", "region", "team", "type",
                "channel", "created_date", "sales_accepted_date", "lost_reason", "competitor",
                "renewal_risk", "next_step", "lead_source")


def d(text: str) -> date:
    return date.fromisoformat(text)


def seed(con: duckdb.DuckDBPyConnection, deals: list[dict],
         snapshots: dict[date, list[tuple]] | None = None) -> None:
    """Load opportunities (dicts: id, stage, category, amount, close, owner + descriptive keys)
    and, optionally, snapshots {date: [(id, stage, category, amount, close, owner), ...]} in
    date order. With snapshots, the current state is the last picture, as after an import: a
    deal it lacks was deleted in the CRM and keeps its descriptive fields as departed."""
    rows = []
    for deal in deals:
        row = {c: deal.get(c) for c in _DESCRIPTIVE}
        row.update(opportunity_id=deal["id"], stage=deal["stage"],
                   forecast_category=deal.get("category"), amount=deal.get("amount"),
                   close_date=_day(deal.get("close")), owner=deal.get("owner"))
        row["segment"] = segment_for(row["account_employees"], row["segment"])
        row["created_date"] = _day(row["created_date"])
        row["sales_accepted_date"] = _day(row["sales_accepted_date"])
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["opportunity_id", *_DESCRIPTIVE, "owner", "stage",
                                        "forecast_category", "amount", "close_date"])
    con.register("fixture_deals", frame)
    con.execute("""insert into opportunities by name
                   select * exclude (amount), amount::decimal(18, 2) as amount
                   from fixture_deals""")
    con.unregister("fixture_deals")
    reclassify_losses(con)  # a deal deleted below keeps the class it had
    state, last_day = None, None
    for day, pictures in sorted((snapshots or {}).items()):
        state = pd.DataFrame(pictures, columns=list(STATE_COLUMNS))
        state["close_date"] = pd.to_datetime(state["close_date"]).dt.date
        record_snapshot(con, day, state)
        last_day = day
    if state is not None:  # as after an import: the current table is the latest picture, and
        con.register("last_picture", state)  # deals it lacks keep their fields as departed
        replace_current(con, "last_picture", last_day)
        con.execute("""update opportunities o set stage = p.stage,
                           forecast_category = p.forecast_category, amount = p.amount,
                           close_date = p.close_date, owner = p.owner
                       from last_picture p where p.opportunity_id = o.opportunity_id""")
        con.unregister("last_picture")
    reclassify_losses(con)
    bump_data_version(con)


def seed_lives(con: duckdb.DuckDBPyConnection, lives: dict[str, tuple[str, list]],
               days: list[date], **fields: object) -> None:
    """Seed deals from their lives: {id: (created_date, [picture at each of `days`])}, a
    picture being (stage, category, amount, close) or None while the deal does not exist. The
    current state is the last picture; `fields` (owner, account_employees, …) apply to all."""
    owner = fields.get("owner")
    current = {i: next(p for p in reversed(pictures) if p is not None)
               for i, (_, pictures) in lives.items()}
    deals = [{"id": i, "stage": now[0], "category": now[1], "amount": now[2], "close": now[3],
              "created_date": lives[i][0], **fields} for i, now in current.items()]
    seed(con, deals, {day: [(i, *pictures[k], owner) for i, (_, pictures) in lives.items()
                            if pictures[k] is not None] for k, day in enumerate(days)})


def add_target(con: duckdb.DuckDBPyConnection, period: str, scope: str, value: str,
               amount: float) -> None:
    con.execute("insert into targets values (?, ?, ?, ?)", [period, scope, value, amount])


def add_submissions(con: duckdb.DuckDBPyConnection, values: str) -> None:
    """Reps' numbers as the submissions import writes them: each row of `values` (SQL rows of
    period, owner, submitted date, forecast, upside) a call by its owner at the date, 00:00."""
    con.execute(f"""insert into people_calls (user_name, period, forecast, upside, note,
                                              submitted_at, submitted_by)
                    select owner, period, forecast, upside, '', submitted::date::timestamp, owner
                    from (values {values}) v(period, owner, submitted, forecast, upside)""")  # noqa: S608 - test SQL


def _day(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def private_copy(path, folder) -> duckdb.DuckDBPyConnection:
    """A read-only connection to a copy of the database at `path`: the shared demo file may be
    held by a page test's connection in this process, with another configuration."""
    import shutil
    from pathlib import Path

    copy = Path(folder) / f"copy-{Path(path).name}"
    shutil.copyfile(path, copy)
    return duckdb.connect(str(copy), read_only=True)


# The small generated company the win-probability tests learn from: eight completed quarters
# before as-of, enough won and lost deals for a model (tests/sales/winprob, tests/pages).
MODEL_AS_OF = date(2026, 11, 20)


def model_company(folder: Path) -> Path:
    """The company built in `folder` (each test module builds its own: its tests move model
    files about)."""
    from sales.demo import build_demo

    path = folder / "company.duckdb"
    build_demo(path, opportunities=6000, seed=3, as_of=MODEL_AS_OF, history_quarters=8)
    return path


def run_page(script: str, database, monkeypatch, **session):
    """Render pages/`script` under AppTest against the database file, with session values set
    first; fails with the page's exception if it raised one."""
    monkeypatch.setenv("SALES_DB", str(database))
    at = AppTest.from_file(str(ROOT / "pages" / script), default_timeout=TIMEOUT)
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def tiles(at) -> dict[str, tuple[str, str]]:
    """A page's metric tiles: label → (value, delta)."""
    return {m.label: (m.value, m.delta) for m in at.metric}


def plain(markdown: str) -> str:
    """What Markdown written with `sales.formatting.text` reads as: its escapes undone, the
    invisible word joiners gone."""
    import re

    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


ROOT = Path(__file__).resolve().parent.parent


TIMEOUT = 60


def run(script: str, **session) -> AppTest:
    at = AppTest.from_file(str(ROOT / script), default_timeout=TIMEOUT)
    for key, value in session.items():
        at.session_state[key] = value
    return at.run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


FIXTURES = Path(__file__).resolve().parent / "fixtures"


def content(path: Path | str) -> dict[str, list[tuple]]:
    """Every table's rows, sorted: two files with equal content give equal results."""
    con = open_database(path)
    try:
        return {t: sorted(con.execute(f"select * from {t}").fetchall(), key=repr) for t in TABLES}
    finally:
        con.close()


def open_database(path: Path | str) -> duckdb.DuckDBPyConnection:
    """Read-only; or, when this process's app connection holds the file, a connection like it
    (DuckDB refuses a second configuration of a file in one process)."""
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.ConnectionException:
        return connect(path)


def page(script: str, **session) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / script), default_timeout=TIMEOUT)
    for key, value in session.items():
        at.session_state[key] = value
    return at.run()


def upload(at: AppTest, *files, mapping=None) -> AppTest:
    at.file_uploader[0].set_value([(p.name, p.read_bytes(), "text/csv") for p in files])
    if mapping is not None:
        at.file_uploader[1].set_value((mapping.name, mapping.read_bytes(), "application/toml"))
    return at.run()


# Every table a user's data lives in, compared row by row ("unchanged in content").
TABLES = ("opportunities", "opportunity_history", "snapshot_dates", "stage_map", "loss_reason_map",
          "targets", "forecast_calls", "forecast_call_decisions", "submissions", "settings", "meta", "users",
          "memberships", "people_calls", "people_call_deals")


# The charts the board pack draws (its sections' figures).
CHARTS = 9

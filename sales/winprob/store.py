"""The model and its deal scores, cached in files beside the database.

The model file (`<database>.winprob.json`) is keyed on what the model learned from: the
completed periods it trained on, the day it learns up to, a fingerprint of the history and
of the stage map (the only setting among its inputs). A saved call, a follow-up or a setting
bumps the data version but changes none of these, so it never retrains; an import, a sync or
an edit of the stage map does.

The scores (`<database>.winprob.<period>.<snapshot>.<key>.parquet`) are every open, qualified
deal closing in a period scored at one snapshot, with its top signed factors and the closed
won then, by the filter dimensions: a page only filters and sums them
(`sales.winprob.scores`).

Two ways to read: `scored_for(..., wait=True)` (the command line: trains and scores when
stale) and `wait=False` (a page render: returns what is on file — the previous model's scores
for the same period serve while the new ones are computed in a background process; None only
before that period was ever scored). The model file is JSON with the trees as LightGBM's own
text; the scores are Parquet: nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sales.db import file_lock, open_for_reading, source_file
from sales.periods import Period, parse_period
from sales.query import latest_snapshot, snapshot_on_or_before
from sales.view import Filters
from sales.winprob import features
from sales.winprob.model import TOP_FACTORS, Trained, factors
from sales.winprob.projection import Learned, completed, learn, training_share

# Score files kept per database: the views of the current and last few periods, at today's
# snapshot and at the last call's; older ones are deleted when a new one is written.
KEPT_SCORE_FILES = 12
# How long a background job waits for another one on the same database (training and scoring
# a million opportunities takes under a minute on a loaded machine).
BACKGROUND_WAIT_S = 600
_running: dict[str, subprocess.Popen] = {}
_lock = threading.Lock()


def database_file(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The file the connection's database lives in, or that its private copy was taken from
    (None: in memory)."""
    row = con.cursor().execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    return source_file(row[0]) if row and row[0] else None


def cutoff_for(con: duckdb.DuckDBPyConnection, as_of: date) -> date:
    """The day a model for `as_of` learns up to: as-of, or the latest snapshot when as-of is
    later (nothing is known after it), so moving as-of on past the data does not retrain."""
    latest = latest_snapshot(con)
    return min(as_of, latest) if latest is not None else as_of


def key_of(con: duckdb.DuckDBPyConnection, period: Period, as_of: date) -> str:
    """What the cached model must match: the periods it learns from, the cutoff, a fingerprint
    of the history (rows and last change: a rebuilt demo starts again at data version 1) and
    of the stage map (which stages are qualified, closed, won, their categories)."""
    cutoff = cutoff_for(con, as_of)
    rows, last = con.cursor().execute(
        "select count(*), max(valid_from) from opportunity_history").fetchone()
    stages = con.cursor().execute(
        "select coalesce(string_agg(m::varchar, '|' order by stage), '') from stage_map m"
    ).fetchone()[0]
    learned_from = ",".join(p.label for p in completed(period, cutoff))
    stage_hash = hashlib.sha1(stages.encode()).hexdigest()[:12]
    return f"{rows}|{last}|{stage_hash}|{learned_from}|{cutoff.isoformat()}"


def learn_for(con: duckdb.DuckDBPyConnection, period: Period, as_of: date) -> Learned:
    """The model the view of `period` as of `as_of` reads: the completed periods of its kind
    before it that had ended by the cutoff, with the outcomes as they stood then."""
    cutoff = cutoff_for(con, as_of)
    return learn(con, completed(period, cutoff), cutoff, share=training_share(con))


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def model_file(database: Path, key: str) -> Path:
    """The model trained for `key` (one file per key: a view whose as-of is moved back reads
    its own model without evicting today's)."""
    return database.with_name(f"{database.name}.winprob.{_digest(key)}.json")


def scores_file(database: Path, key: str, period: Period, snap: date) -> Path:
    return database.with_name(
        f"{database.name}.winprob.{_digest(key)}.{period.label}.{snap.isoformat()}.parquet")


def files(database: Path | str) -> list[Path]:
    """Every model and score file beside the database, newest first."""
    database = Path(database)
    found = [p for p in database.parent.glob(f"{database.name}.winprob.*")
             if p.suffix in (".json", ".parquet")]
    return sorted(found, key=_mtime, reverse=True)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def stamp(database: Path | str) -> int:
    """When a model or score file beside the database last landed (0: none): a cache of what
    they compute keys on it, so scores computed in the background are seen at once."""
    found = files(database)
    return _mtime(found[0]) if found else 0


def learned_for(con: duckdb.DuckDBPyConnection, period: Period, as_of: date,
                wait: bool = True, key: str | None = None) -> Learned | None:
    """The cached model for the view, trained (and saved) when stale if `wait`; else the
    newest model on file whatever its key, with the view's own computed in the background.
    `key`: `key_of` for the same period and as-of, when the caller has it (it reads the
    whole history)."""
    database = database_file(con)
    key = key or key_of(con, period, as_of)
    if database is None:  # in memory: nothing to cache in
        return learn_for(con, period, as_of) if wait else None
    saved = read(model_file(database, key))
    if saved is not None:
        return saved
    if wait:
        learned = learn_for(con, period, as_of)
        write(model_file(database, key), learned)
        return learned
    _compute_in_background(database, period, as_of, key, as_of)
    newest = next((p for p in files(database) if p.suffix == ".json"), None)
    return read(newest) if newest is not None else None


@dataclass(frozen=True)
class Scored:
    """A period's open, qualified deals scored at a snapshot, filter-free.

    `deals` grain: one row per deal: opportunity_id, the filter dimensions, stage, category,
    amount, win_probability, and the top factors, strongest first: feature_<i> (as a manager
    reads it) and effect_<i> (signed probability points as a share of 1), i = 1…TOP_FACTORS.
    `closed` grain: one row per filter-dimension combination: won (closed won at the
    snapshot). `fresh` False: these are the previous model's or snapshot's, being refreshed."""

    learned: Learned
    deals: pd.DataFrame
    closed: pd.DataFrame
    week: int
    snap: date | None  # None: no snapshot on or before as-of, nothing scored
    fresh: bool = True


FACTOR_COLUMNS = tuple(f"{kind}_{i}" for i in range(1, TOP_FACTORS + 1)
                       for kind in ("feature", "effect"))
SCORE_COLUMNS = ("opportunity_id", *features.DIMENSIONS, "stage", "category", "amount",
                 "win_probability", *FACTOR_COLUMNS)


def score(con: duckdb.DuckDBPyConnection, learned: Learned, period: Period, as_of: date
          ) -> Scored | None:
    """Score every open, qualified deal closing in the period at as-of's snapshot (features,
    trees and their per-row contributions: the expensive part, done once per model and
    snapshot) with the closed won then; None without a snapshot."""
    from sales.winprob.projection import score_rows

    key, rows = score_rows(con, period, as_of, Filters())
    if key is None:
        return None
    if learned.trained.eligible and len(rows):
        probabilities, found = factors(learned.trained, rows)
    else:
        probabilities, found = [], []
    if not learned.trained.eligible:
        rows = rows.iloc[0:0]
    columns = {f"{kind}_{i + 1}": [f[i][kind] if i < len(f) else None for f in found]
               for i in range(TOP_FACTORS) for kind in ("feature", "effect")}
    deals = rows.assign(win_probability=pd.Series(probabilities, index=rows.index, dtype=float),
                        **{c: pd.Series(v, index=rows.index, dtype=object if c[0] == "f"
                                        else float) for c, v in columns.items()}
                        )[list(SCORE_COLUMNS)]
    closed = features.won_amounts(con, [key], as_of)
    closed = closed[closed["week"] == key.week].drop(columns=["period", "week"])
    return Scored(learned, deals.reset_index(drop=True), closed.reset_index(drop=True),
                  key.week, key.snap)


def scored_for(con: duckdb.DuckDBPyConnection, period: Period, as_of: date,
               wait: bool = True, earlier: bool = True, at: date | None = None
               ) -> Scored | None:
    """The period's scores at as-of's snapshot (or `at`'s: the deals as they stood that day,
    scored by as-of's model) from the cached model: computed (and saved) when missing if
    `wait`; else what is on file — this model's, or (`fresh` False) the previous model's at
    the same snapshot or, with `earlier`, at the latest earlier one — while the new ones are
    computed in the background. None: (not waiting) nothing on file to serve yet."""
    day = at or as_of
    snap = snapshot_on_or_before(con, day)
    if snap is None:  # nothing to score; the model (or why there is none) still says why
        learned = learned_for(con, period, as_of, wait)
        return None if learned is None else Scored(
            learned, pd.DataFrame(columns=list(SCORE_COLUMNS)), pd.DataFrame(), 1, None)
    database = database_file(con)
    if database is None:
        return score(con, learn_for(con, period, as_of), period, day) if wait else None
    key = key_of(con, period, as_of)
    found = _read_scores(scores_file(database, key, period, snap))
    if found is not None:
        learned = learned_for(con, period, as_of, wait=wait, key=key)
        return Scored(learned, *found) if learned is not None else None
    if wait:
        return _score_and_save(con, database, period, as_of, key, day)
    _compute_in_background(database, period, as_of, key, day)
    learned = learned_for(con, period, as_of, wait=False, key=key)
    for stale in _served_meanwhile(database, period, snap, earlier):
        found = _read_scores(stale)
        if found is not None and learned is not None:
            return Scored(learned, *found[:-1], fresh=False)
    return None


def _served_meanwhile(database: Path, period: Period, snap: date, earlier: bool) -> list[Path]:
    """The period's score files that may serve while its own are computed: at the same
    snapshot (another model), then (with `earlier`) at the latest earlier snapshots."""
    out = []
    for path in files(database):
        parts = path.name.split(".")
        if path.suffix != ".parquet" or parts[-3] != period.label:
            continue
        day = date.fromisoformat(parts[-2])
        if day == snap or (earlier and day < snap):
            out.append((day, path))
    return [path for _, path in sorted(out, key=lambda found: found[0], reverse=True)]


def _score_and_save(con: duckdb.DuckDBPyConnection, database: Path, period: Period,
                    as_of: date, key: str, day: date) -> Scored | None:
    """Train when the model is missing, score, and save the scores before the model: a
    model on file means its scores are too."""
    path = model_file(database, key)
    learned = read(path) or learn_for(con, period, as_of)
    scored = score(con, learned, period, day)
    if scored is not None:
        _write_scores(scores_file(database, key, period, scored.snap), scored)
    if not path.exists():
        write(path, learned)
    _prune(database)
    return scored


def _write_scores(path: Path, scored: Scored) -> None:
    table = pa.Table.from_pandas(scored.deals, preserve_index=False)
    meta = {"closed": scored.closed.to_json(orient="split", index=False),
            "week": str(scored.week), "snap": scored.snap.isoformat()}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           **{k.encode(): v.encode() for k, v in meta.items()}})
    aside = path.with_name(path.name + ".building")
    pq.write_table(table, aside)
    os.replace(aside, path)


# The last score file read per path, with its modification time.
_scores_memo: dict[Path, tuple[int, tuple]] = {}


def _read_scores(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, int, date, bool] | None:
    """(deals, closed, week, snap, True) from a score file; None when there is none."""
    try:
        changed = path.stat().st_mtime_ns
        held = _scores_memo.get(path)
        if held and held[0] == changed:
            return held[1]
        table = pq.read_table(path)
    except (OSError, pa.ArrowException):
        return None
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    split = json.loads(meta["closed"])
    closed = pd.DataFrame(split["data"], columns=split["columns"])
    closed[list(features.DIMENSIONS)] = closed[list(features.DIMENSIONS)].astype(object)
    deals = table.to_pandas()
    found = (deals, closed, int(meta["week"]), date.fromisoformat(meta["snap"]), True)
    _scores_memo[path] = (changed, found)
    return found


def _prune(database: Path) -> None:
    """Keep the newest few model and score files; a reader holding an older one is served
    from memory (the memo), and the file would be recomputed if asked again."""
    found = files(database)
    models = [p for p in found if p.suffix == ".json"]
    scores = [p for p in found if p.suffix == ".parquet"]
    for old in models[KEPT_SCORE_FILES // 3:] + scores[KEPT_SCORE_FILES:]:
        old.unlink(missing_ok=True)


def _compute_in_background(database: Path, period: Period, as_of: date, key: str,
                           day: date) -> None:
    """Train and score in a process of its own (`python -m sales.winprob.store`): the render
    goes on, the app's process keeps its cores and memory, and nothing native is left running
    in it when it exits. One process per (key, period, as-of) at a time."""
    job = f"{database}|{key}|{period.label}|{day.isoformat()}"
    with _lock:
        running = _running.get(job)
        if running is not None and running.poll() is None:
            return
        root = str(Path(__file__).resolve().parents[2])  # where the `sales` package sits
        paths = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, paths]) if paths else root}
        _running[job] = subprocess.Popen(
            [sys.executable, "-m", "sales.winprob.store", str(database), period.label,
             str(period.fy_start_month), as_of.isoformat(), day.isoformat()],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def training() -> bool:
    """Whether a model or scores are being computed in the background now."""
    with _lock:
        return any(p.poll() is None for p in _running.values())


def main(argv: list[str]) -> int:
    """The background work: DATABASE PERIOD FY_START_MONTH AS_OF DAY (the deals as they stood
    on DAY scored by AS_OF's model). One at a time per database (a lock beside it): a second
    job for the same key then finds the model on file."""
    database, label, fy_start, as_of, at = argv
    database = Path(database)
    with file_lock(database.with_name(database.name + ".winprob"), timeout=BACKGROUND_WAIT_S):
        con = open_for_reading(database)  # the app may hold the file: a copy, then
        try:
            period = parse_period(label, int(fy_start))
            model_day, day = date.fromisoformat(as_of), date.fromisoformat(at)
            key = key_of(con, period, model_day)
            snap = snapshot_on_or_before(con, day)
            done = model_file(database, key).exists() and (
                snap is None or scores_file(database, key, period, snap).exists())
            if not done:
                _score_and_save(con, database, period, model_day, key, day)
        finally:
            con.close()
    return 0


def write(path: Path, learned: Learned) -> None:
    """Save aside and swap in, so a reader never sees half a file."""
    t = learned.trained
    payload = {
        "cutoff": learned.cutoff.isoformat(),
        "trained": {"reason": t.reason, "trained_periods": t.trained_periods,
                    "trained_rows": t.trained_rows, "won_deals": t.won_deals,
                    "lost_deals": t.lost_deals, "brier": t.brier, "calibrated": t.calibrated,
                    "platt": list(t.platt), "categories": t.categories,
                    "model": t.booster.model_to_string() if t.booster is not None else None},
        "history": json.loads(learned.history.to_json(orient="split", index=False)),
        "stage_rates": learned.stage_rates,
        "shocks": {str(k): v for k, v in learned.shocks.items()},
    }
    aside = path.with_name(path.name + ".building")
    aside.write_text(json.dumps(payload))
    os.replace(aside, path)


# The last file read per path, with its modification time: a page render does not parse the
# file again while it is unchanged.
_read_memo: dict[Path, tuple[int, Learned]] = {}


def read(path: Path) -> Learned | None:
    """The saved model, or None when there is no readable file."""
    try:
        changed = path.stat().st_mtime_ns
        held = _read_memo.get(path)
        if held and held[0] == changed:
            return held[1]
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    found = _parse(payload)
    _read_memo[path] = (changed, found)
    return found


class _Trees:
    """LightGBM's trees from their text, parsed on first use: a page that only reads stored
    scores (the projection's draws need no trees) never loads LightGBM."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._booster = None

    def __getattr__(self, name: str) -> object:
        if self._booster is None:
            import lightgbm

            self._booster = lightgbm.Booster(model_str=self._text)
        return getattr(self._booster, name)


def _parse(payload: dict) -> Learned:
    t = payload["trained"]
    booster = _Trees(t["model"]) if t["model"] else None
    trained = Trained(t["reason"], t["trained_periods"], t["trained_rows"], t["won_deals"],
                      t["lost_deals"], t["brier"], t["calibrated"], booster,
                      tuple(t["platt"]), t["categories"])
    split = payload["history"]
    history = pd.DataFrame(split["data"], columns=split["columns"])
    return Learned(date.fromisoformat(payload["cutoff"]), trained, history,
                   payload["stage_rates"], {int(k): v for k, v in payload["shocks"].items()})


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

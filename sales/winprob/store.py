"""The model cached in a file beside the database, keyed on the data version and the day it
learns up to, so it is trained once per data version: after an import or a sync the key
changes and the next reader trains a new one.

Two ways to read it: `learned_for(..., wait=True)` (the command line: trains when the file is
stale) and `wait=False` (a page render: returns the file's model even when stale — the previous
model serves — and trains the new one in a background process; None only before any model
was ever trained). The file is JSON with the trees as LightGBM's own text: nothing is unpickled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from sales.db import data_version, open_for_reading
from sales.periods import Period, parse_period
from sales.winprob.model import Trained
from sales.winprob.projection import Learned, completed, learn, training_share

SUFFIX = ".winprob.json"
_running: dict[str, subprocess.Popen] = {}
_lock = threading.Lock()


def database_file(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The file the connection's database lives in (None: in memory)."""
    row = con.cursor().execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    return Path(row[0]) if row and row[0] else None


def model_file(database: Path) -> Path:
    return database.with_name(database.name + SUFFIX)


def key_of(con: duckdb.DuckDBPyConnection, period: Period, as_of: date) -> str:
    """What the cached model must match: the data version, a fingerprint of the history (a
    rebuilt demo starts again at version 1, so the version alone could match another
    company's model), the period kind and start, and the as-of it learns up to."""
    rows, last = con.cursor().execute(
        "select count(*), max(valid_from) from opportunity_history").fetchone()
    return (f"{data_version(con)}|{rows}|{last}|{period.kind}|{period.start.isoformat()}|"
            f"{as_of.isoformat()}")


def learn_for(con: duckdb.DuckDBPyConnection, period: Period, as_of: date) -> Learned:
    """The model the view of `period` as of `as_of` reads: the completed periods of its kind
    before it that had ended by as-of, with the outcomes as they stood on as-of."""
    return learn(con, completed(period, as_of), as_of, share=training_share(con))


def learned_for(con: duckdb.DuckDBPyConnection, period: Period, as_of: date,
                wait: bool = True) -> Learned | None:
    """The cached model for the view, trained (and saved) when stale if `wait`; else the
    file's model whatever its key, with the new one training in the background."""
    database = database_file(con)
    key = key_of(con, period, as_of)
    if database is None:  # in memory: nothing to cache in
        return learn_for(con, period, as_of) if wait else None
    path = model_file(database)
    saved = read(path)
    if saved is not None and saved[0] == key:
        return saved[1]
    if wait:
        learned = learn_for(con, period, as_of)
        write(path, key, learned)
        return learned
    _train_in_background(con, period, as_of, path, key)
    return saved[1] if saved is not None else None


def _train_in_background(con: duckdb.DuckDBPyConnection, period: Period, as_of: date,
                         path: Path, key: str) -> None:
    """Train in a process of its own (`python -m sales.winprob.store`): the render goes on,
    the app's process keeps its cores and memory, and nothing native is left running in it
    when it exits. One process per key at a time."""
    database = database_file(con)
    with _lock:
        running = _running.get(key)
        if running is not None and running.poll() is None:
            return
        root = str(Path(__file__).resolve().parents[2])  # where the `sales` package sits
        paths = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, paths]) if paths else root}
        _running[key] = subprocess.Popen(
            [sys.executable, "-m", "sales.winprob.store", str(database), period.label,
             str(period.fy_start_month), as_of.isoformat(), key, str(path)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def training(key: str | None = None) -> bool:
    """Whether a model (that key's, or any) is being trained now."""
    with _lock:
        found = [p for k, p in _running.items() if key is None or k == key]
        return any(p.poll() is None for p in found)


def main(argv: list[str]) -> int:
    """The background training: DATABASE PERIOD FY_START_MONTH AS_OF KEY MODEL_FILE."""
    database, label, fy_start, as_of, key, path = argv
    con = open_for_reading(database)  # the app may hold the file: a copy, then
    try:
        period = parse_period(label, int(fy_start))
        write(Path(path), key, learn_for(con, period, date.fromisoformat(as_of)))
    finally:
        con.close()
    return 0


def write(path: Path, key: str, learned: Learned) -> None:
    """Save aside and swap in, so a reader never sees half a file."""
    t = learned.trained
    payload = {
        "key": key, "cutoff": learned.cutoff.isoformat(),
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


def stamp(database: Path | str) -> int:
    """When the model file beside the database last changed (0: none): a cache of what the
    model computes keys on it, so a model trained in the background is seen at once."""
    try:
        return model_file(Path(database)).stat().st_mtime_ns
    except OSError:
        return 0


# The last file read per path, with its modification time: a page render does not parse the
# file again while it is unchanged.
_read_memo: dict[Path, tuple[int, tuple[str, Learned]]] = {}


def read(path: Path) -> tuple[str, Learned] | None:
    """The saved (key, model), or None when there is no readable file."""
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


def _parse(payload: dict) -> tuple[str, Learned]:
    t = payload["trained"]
    booster = None
    if t["model"]:
        import lightgbm

        booster = lightgbm.Booster(model_str=t["model"])
    trained = Trained(t["reason"], t["trained_periods"], t["trained_rows"], t["won_deals"],
                      t["lost_deals"], t["brier"], t["calibrated"], booster,
                      tuple(t["platt"]), t["categories"])
    split = payload["history"]
    history = pd.DataFrame(split["data"], columns=split["columns"])
    learned = Learned(date.fromisoformat(payload["cutoff"]), trained, history,
                      payload["stage_rates"],
                      {int(k): v for k, v in payload["shocks"].items()})
    return payload["key"], learned


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Weekly snapshots as change rows: one row per stretch of unchanged state per deal.

Each deal's events (stage moves, close-date changes, amount changes, an owner change, the
close) are laid out as a fixed number of slots, sorted by time and read at the weekly
snapshots, each field carrying the value of the latest event that set it. An event is first
seen at the first snapshot on or after it, and of several events in one week only the last
state is seen. Rows that repeat the previous state are dropped. Deals are processed in blocks
so a million of them stay within memory.
"""

from __future__ import annotations

import numpy as np

from sales.demo import company as co
from sales.demo.fiscal import NEVER, Calendar
from sales.demo.simulate import CD_SLOTS, LATER_STAGES

# Deals simulated per block: bounds the slot matrices at a million deals.
CHUNK_DEALS = 125_000
FIELDS = ("stage", "cd", "amount", "owner")


def history(d: dict, cal: Calendar) -> dict[str, np.ndarray]:
    """Change rows of every deal, sorted by deal then time.

    Columns: deal, kf (first snapshot index), kt (snapshot index where the next state is first
    seen; len(snap_days) while current), stage, cat, amount, cd, owner.
    """
    n = len(d["seg"])
    parts = [_block(d, lo, min(lo + CHUNK_DEALS, n), cal) for lo in range(0, n, CHUNK_DEALS)]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def last_rows(h: dict) -> np.ndarray:
    """Index of each deal's current history row (the state at as_of), by deal."""
    return np.flatnonzero(np.concatenate([h["deal"][1:] != h["deal"][:-1], [True]]))


def _events(d: dict, sl: slice) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """The slots of a block of deals: (time, {field: value}) each, in tie-break order (on one
    day a later slot wins). Every slot sets only some fields."""
    def col(name: str, row: int | None = None) -> np.ndarray:
        return d[name][sl] if row is None else d[name][row, sl]

    slots = [
        (col("created"), {"stage": np.where(col("start_pre"), co.PRE, co.PENDING),
                          "cd": col("cd_init"), "amount": col("amount0"), "owner": col("owner0")}),
        (col("t_pre"), {"stage": co.PENDING}),
        (col("accepted"), {"stage": co.DISCOVERY}),
    ]
    slots += [(col("stage_t", j), {"stage": code}) for j, code in enumerate(LATER_STAGES)]
    slots += [(col("cd_t", j), {"cd": col("cd_v", j)}) for j in range(CD_SLOTS)]
    slots += [(col("amount_t", j), {"amount": col("amount_v", j)}) for j in range(2)]
    slots.append((col("owner_t"), {"owner": col("owner1")}))
    slots.append((col("close"), {"stage": col("close_stage"), "cd": col("close")}))
    return slots


def _block(d: dict, lo: int, hi: int, cal: Calendar) -> dict[str, np.ndarray]:
    n = hi - lo
    slots = _events(d, slice(lo, hi))
    width = len(slots)
    t = np.empty((n, width), np.int64)
    for j, (time, _) in enumerate(slots):
        t[:, j] = time
    close = t[:, -1].copy()
    # Unobserved: after as_of, or (for anything but creation and the close) on or after the close.
    middle = (np.arange(width) > 0) & (np.arange(width) < width - 1)
    t[(t > cal.as_of) | ((t >= close[:, None]) & middle)] = NEVER
    # Stable: on one day the later slot comes later, so its state wins.
    order = np.argsort(t, axis=1, kind="stable").astype(np.int8)
    t = np.take_along_axis(t, order, axis=1)
    valid = t < NEVER
    k = np.where(valid, cal.snapshot_of(np.where(valid, t, cal.first)), NEVER)
    k_next = np.concatenate([k[:, 1:], np.full((n, 1), NEVER)], axis=1)
    rows, cols = np.nonzero(valid & (k != k_next))
    out = {"deal": (rows + lo).astype(np.int32), "kf": k[rows, cols].astype(np.int32)}
    for name in FIELDS:
        out[name] = _value_at(slots, name, order, valid, rows, cols)
    out["stage"] = out["stage"].astype(np.int8)
    out["owner"] = out["owner"].astype(np.int16)
    out["cd"] = cal.clip(out["cd"].astype(np.int64))
    ov = d["ov_stage"][out["deal"]]
    out["cat"] = np.where(out["stage"] == ov, d["ov_cat"][out["deal"]],
                          co.STAGE_CAT[out["stage"]]).astype(np.int8)
    return _drop_repeats(out, len(cal.snap_days))


def _value_at(slots: list, name: str, order: np.ndarray, valid: np.ndarray, rows: np.ndarray,
              cols: np.ndarray) -> np.ndarray:
    """One field's value after the sorted events (rows, cols): the value of the latest slot at
    or before it that sets the field. Creation sets every field and always sorts first."""
    width = len(slots)
    setters = [j for j, (_, fields) in enumerate(slots) if name in fields]
    sets = np.zeros(width, bool)
    sets[setters] = True
    positions = np.where(sets[order] & valid, np.arange(width, dtype=np.int8), np.int8(0))
    latest = np.maximum.accumulate(positions, axis=1)[rows, cols]
    slot = order[rows, latest]
    column = np.zeros(width, np.int64)
    column[setters] = np.arange(len(setters))
    values = np.stack([np.broadcast_to(slots[j][1][name], (len(valid),)) for j in setters],
                      axis=1)
    return values[rows, column[slot]]


def _drop_repeats(out: dict[str, np.ndarray], n_snaps: int) -> dict[str, np.ndarray]:
    """Drop rows whose state equals the previous row of the same deal; set kt."""
    same = out["deal"][1:] == out["deal"][:-1]
    for name in ("stage", "cat", "amount", "cd", "owner"):
        same &= out[name][1:] == out[name][:-1]
    keep = np.concatenate([[True], ~same])
    out = {key: v[keep] for key, v in out.items()}
    last = np.concatenate([out["deal"][1:] != out["deal"][:-1], [True]])
    kt = np.concatenate([out["kf"][1:], [0]])
    out["kt"] = np.where(last, n_snaps, kt).astype(np.int32)
    return out

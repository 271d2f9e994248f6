"""Python's garbage collector in an app process: the objects start-up leaves are set aside.

An app process holds some 160,000 objects from its imports alone (Streamlit, pandas, Plotly,
DuckDB, our modules: functions, types, dicts) that live as long as it does. Python's full
collection walks every one of them each time it runs, and on this 2-core machine that is a
0.1 s pause in whichever render it lands on: at a million opportunities the Forecast call's
first filter change after the first render took 0.63 s where the next ones took 0.51 s, the
difference one full collection (measured with gc.callbacks). `gc.freeze()` moves the objects
alive at that moment out of the collector's sight, so a full collection walks only what
arrived since (a few thousand objects: 10 ms). Freezing is for objects that stay: it happens
once, after the first run's imports, and what start-up left as garbage is collected first. At
exit they are handed back, so the interpreter's shutdown frees them as usual (DuckDB's bindings
otherwise report its frozen type objects as leaked).
"""

from __future__ import annotations

import atexit
import gc
import threading

_lock = threading.Lock()
_settled = False


def settle() -> None:
    """Once per process, on the first page run (its modules imported): collect, then freeze
    what is left."""
    global _settled
    with _lock:
        if _settled:
            return
        _settled = True
        gc.collect()
        gc.freeze()
        atexit.register(gc.unfreeze)

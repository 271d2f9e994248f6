"""ui.collector: once per process, what is alive is collected then frozen (out of the full
collections' sight); a second call does nothing."""

import gc

from ui import collector


def test_settle_freezes_once(monkeypatch):
    monkeypatch.setattr(collector, "_settled", False)
    gc.unfreeze()  # a page test in this process may have settled it already
    assert gc.get_freeze_count() == 0
    try:
        collector.settle()
        frozen = gc.get_freeze_count()
        assert frozen > 1000  # the test process's imports, at least
        collector.settle()
        assert gc.get_freeze_count() == frozen  # once: nothing new frozen
    finally:
        gc.unfreeze()  # the rest of the suite as it was

"""A text progress bar for long command-line work (demo build, import, bench)."""

from __future__ import annotations

import sys
from typing import TextIO

_WIDTH = 30


class ProgressBar:
    """Call with (fraction 0..1, message); redraws in place on a terminal, one line per step
    otherwise (so CI logs stay readable)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last = ""

    def __call__(self, fraction: float, message: str) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        filled = int(fraction * _WIDTH)
        line = f"[{'#' * filled}{'.' * (_WIDTH - filled)}] {fraction * 100:3.0f}% {message}"
        if self.tty:
            self.stream.write("\r" + line.ljust(len(self._last)))
            if fraction >= 1.0:
                self.stream.write("\n")
        elif line != self._last:
            self.stream.write(line + "\n")
        self._last = line
        self.stream.flush()

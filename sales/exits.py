"""What the commands share: the exit statuses of the writing commands (`import`, `sync`: 0
done, and these), the error a bad request raises, and how a date is read."""

import argparse
from datetime import date

# 1 refused: the checks failed or the CRM said no, and the database is unchanged; 2 a bad
# command line, mapping, file or missing credentials; 3 the database stayed busy.
EXIT_REFUSED, EXIT_USAGE, EXIT_BUSY = 1, 2, 3


class UsageError(Exception):
    """A problem with what the user asked for: one line, no traceback, exit 2."""


def iso_date(text: str) -> date:
    """A command-line date (2026-11-23), or argparse's one-line refusal."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-23") from None

"""A CRM sync in a process of its own, for the app's Sync page (the app's memory stays flat
whatever the org's size, as the Import page's worker does for files).

    python -m sales.crm.worker CRM DATABASE [--as-of DATE] [--mapping FILE] [--full] [--actor WHO]

Credentials come in the environment the app passes (its own, plus the `[salesforce]` /
`[hubspot]` Streamlit secrets as the variables the command line reads), never as arguments.
Progress goes to stdout as `progress<TAB>fraction<TAB>text` lines, then one `done<TAB>json`
line (the sync's figures) or `failed<TAB>message` (one line, no credential in it).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from sales.crm.command import make_reader
from sales.crm.sync import SyncError, run_sync
from sales.db import DatabaseBusy
from sales.ingest.mapping import MappingError, load_mapping
from sales.ingest.run import ImportRejected
from sales.ingest.validate import render

PROGRESS, DONE, FAILED = "progress", "done", "failed"


def _say(kind: str, *parts: object) -> None:
    print("\t".join([kind, *(str(p).replace("\t", " ").replace("\n", " ") for p in parts)]),
          flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sales.crm.worker")
    parser.add_argument("crm")
    parser.add_argument("database", type=Path)
    parser.add_argument("--as-of", type=date.fromisoformat, default=None)
    parser.add_argument("--mapping", type=Path, default=None)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--actor", default="")
    args = parser.parse_args(argv)
    try:
        mapping = load_mapping(args.mapping) if args.mapping else None
        reader = make_reader(args.crm, mapping)
        outcome = run_sync(args.database, reader, args.as_of, mapping, args.full, args.actor,
                           progress=lambda f, m: _say(PROGRESS, f"{f:.3f}", m))
    except (SyncError, MappingError, DatabaseBusy) as error:
        _say(FAILED, error)
        return 1
    except ImportRejected as rejected:
        lines = render(rejected.plan.findings.errors).splitlines()[:12]
        if rejected.plan.stage_suggestions:
            lines += ["Add to the mapping file:", "[stages]", *rejected.plan.stage_suggestions]
        _say(FAILED, json.dumps({"message": "the org's data failed the import's checks; "
                                            "nothing was changed", "details": lines}))
        return 1
    _say(DONE, json.dumps({"lines": outcome.lines(), "read": outcome.read,
                           "changed": outcome.changed, "deleted": outcome.deleted,
                           "opportunities": outcome.opportunities,
                           "data_version": outcome.result.data_version}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

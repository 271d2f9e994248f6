"""Checking and importing uploaded files in a process of their own, for the Import page.

A million-row export takes ~1.5 GB to check and ~2.5 GB to import in pandas and DuckDB; in the
app's process that would outgrow the memory budget (docs/budgets.md#budgets: the app stays under 1.5 GB)
and keep it for the life of the server. Here it is given back to the system when the job ends.

    python -m sales.ingest.worker JOB.pickle RESULT.pickle

The job is a `Job` the app wrote; the result is a `Preview` (action "preview") or an `Outcome`
(action "import"). While importing, progress goes to stdout as `progress<TAB>fraction<TAB>text`
lines. Both files come from the app and go back to it: nothing else reads them.
"""

from __future__ import annotations

import pickle
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sales.currency import CurrencyError
from sales.db import DatabaseBusy
from sales.ingest.mapping import MappingError
from sales.ingest.preview import Preview, build_request, preview_against, rejected_csv
from sales.ingest.readers import ReadError
from sales.ingest.reference import Reference
from sales.ingest.run import ImportRejected, run_import

PREVIEW, IMPORT = "preview", "import"
PROGRESS = "progress"


@dataclass(frozen=True)
class Job:
    """What to check or import: the uploaded files (name as uploaded, path on disk), the
    mapping's text and the options; the reference data for a preview (read by the app on its
    own connection, so the worker need not open a file the app holds)."""

    action: str
    database: str
    files: tuple[tuple[str, str], ...]
    mapping_text: str | None = None
    mapping_name: str = "mapping.toml"
    kind: str | None = None
    as_of: date | None = None
    skip_invalid: bool = False
    reference: Reference | None = None
    actor: str = ""  # whom an import is attributed to on the audit trail


@dataclass(frozen=True)
class Outcome:
    """An import's result, small enough to send back: what was done, or why nothing was."""

    imported: bool
    message: str = ""
    done: tuple[str, ...] = ()
    data_version: int | None = None
    errors: int = 0
    rejected_csv: bytes = field(default=b"", repr=False)


def _uploads(job: Job) -> tuple[tuple[str, bytes], ...]:
    return tuple((name, Path(path).read_bytes()) for name, path in job.files)


def _report(fraction: float, message: str) -> None:
    print(f"{PROGRESS}\t{fraction:.3f}\t{message}", flush=True)


def run(job: Job) -> Preview | Outcome:
    uploads = _uploads(job)
    options = (job.mapping_text, job.mapping_name, job.kind, job.as_of, job.skip_invalid)
    if job.action == PREVIEW:
        return preview_against(job.reference, uploads, *options)
    try:
        request = build_request(uploads, *options, actor=job.actor)
        del uploads  # the request holds the parsed files; the raw bytes can go
        result = run_import(job.database, request, progress=_report)
    except ImportRejected as rejected:
        return Outcome(False, "the files changed or failed the checks",
                       errors=len(rejected.plan.findings.errors))
    except (ReadError, MappingError, DatabaseBusy, CurrencyError) as error:
        return Outcome(False, str(error))
    return Outcome(True, done=tuple(result.done), data_version=result.data_version,
                   rejected_csv=rejected_csv(result.plan.rejected))


def main(argv: list[str] | None = None) -> int:
    job_path, result_path = argv if argv is not None else sys.argv[1:]
    with open(job_path, "rb") as handle:
        job = pickle.load(handle)  # noqa: S301 - written by the app for this worker
    result = run(job)
    with open(result_path, "wb") as handle:
        pickle.dump(result, handle)
    return 0


if __name__ == "__main__":
    # Run the module under its own name, so what it pickles loads as sales.ingest.worker.Outcome
    # in the app (not as __main__.Outcome, which the app has no such thing as).
    from sales.ingest import worker

    raise SystemExit(worker.main())

"""The Import page's work: uploads staged on disk once, then checked and imported by
`sales.ingest.worker` in a process of its own, so a million-row file never grows the app's
memory (the worker gives its ~2.5 GB back when it ends)."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import streamlit as st

from sales.ingest.preview import Preview
from sales.ingest.reference import load_reference
from sales.ingest.worker import IMPORT, PREVIEW, PROGRESS, Job, Outcome
from ui import auth
from ui.state import database_path, reading, version

ROOT = Path(__file__).resolve().parent.parent
STAGING = Path(tempfile.gettempdir()) / "sales-forecast-uploads"
# Staged uploads a session left behind (closed tab, server restart) go after this long.
STALE_AFTER_S = 24 * 3600
# What the page shows of a worker that failed: the end of its error output.
ERROR_TAIL_CHARS = 600


class WorkerFailed(RuntimeError):
    """The worker process ended without a result (it crashed, or was killed)."""


@dataclass(frozen=True)
class Staged:
    """Uploaded files written to a folder of their own: (name as uploaded, path) pairs."""

    folder: str
    files: tuple[tuple[str, str], ...]


def stage(uploads: list) -> Staged:
    """The session's uploads on disk, written once per set of uploaded files."""
    key = tuple(upload.file_id for upload in uploads)
    held = st.session_state.get("import_staged")
    if held and held[0] == key and Path(held[1].folder).is_dir():
        return held[1]
    if held:
        discard(held[1])
    _sweep()
    folder = tempfile.mkdtemp(prefix="upload-", dir=STAGING)
    files = []
    for index, upload in enumerate(uploads):
        path = Path(folder) / f"{index:02d}{Path(upload.name).suffix.lower()}"
        upload.seek(0)
        with open(path, "wb") as out:
            shutil.copyfileobj(upload, out)  # no second copy of a big file in memory
        files.append((upload.name, str(path)))
    staged = Staged(folder, tuple(files))
    st.session_state["import_staged"] = (key, staged)
    return staged


def discard(staged: Staged) -> None:
    shutil.rmtree(staged.folder, ignore_errors=True)


def _sweep() -> None:
    STAGING.mkdir(parents=True, exist_ok=True)
    for folder in STAGING.iterdir():
        try:
            if time.time() - folder.stat().st_mtime > STALE_AFTER_S:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass  # another session removed it first


def preview(staged: Staged, mapping_text: str | None, mapping_name: str, kind: str | None,
            as_of: date | None, skip_invalid: bool) -> Preview:
    """What the files hold and every finding, against the current database; writes nothing."""
    return _preview(staged, mapping_text, mapping_name, kind, as_of, skip_invalid,
                    database_path(), version())


@st.cache_data(show_spinner=False, max_entries=8)
def _preview(staged: Staged, mapping_text: str | None, mapping_name: str, kind: str | None,
             as_of: date | None, skip_invalid: bool, path: str, data_version: int) -> Preview:
    with reading() as cur:
        reference = load_reference(cur)  # read here: the worker cannot open a file we hold
    job = Job(PREVIEW, path, staged.files, mapping_text, mapping_name, kind, as_of,
              skip_invalid, reference)
    return _run_worker(job)


def run(staged: Staged, mapping_text: str | None, mapping_name: str, kind: str | None,
        as_of: date | None, skip_invalid: bool,
        progress: Callable[[float, str], None]) -> Outcome:
    """Import the staged files into the current database (on a copy swapped in, as the command
    line does); progress is reported as the worker goes."""
    job = Job(IMPORT, database_path(), staged.files, mapping_text, mapping_name, kind, as_of,
              skip_invalid, actor=auth.who())
    return _run_worker(job, progress)


def _run_worker(job: Job, progress: Callable[[float, str], None] | None = None
                ) -> Preview | Outcome:
    STAGING.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="job-", dir=STAGING) as work:
        job_path, result_path = Path(work) / "job.pickle", Path(work) / "result.pickle"
        errors_path = Path(work) / "stderr.txt"
        with open(job_path, "wb") as handle:
            pickle.dump(job, handle)
        with open(errors_path, "w") as errors:
            worker = subprocess.Popen(
                [sys.executable, "-m", "sales.ingest.worker", str(job_path), str(result_path)],
                cwd=ROOT, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=errors,
                text=True)
            for line in worker.stdout:
                parts = line.rstrip("\n").split("\t")
                if progress is not None and len(parts) == 3 and parts[0] == PROGRESS:
                    progress(min(max(float(parts[1]), 0.0), 1.0), parts[2])
            code = worker.wait()
        if code != 0 or not result_path.exists():
            tail = errors_path.read_text(errors="replace")[-ERROR_TAIL_CHARS:].strip()
            raise WorkerFailed(f"the import process stopped (exit {code}): {tail or 'no output'}")
        with open(result_path, "rb") as handle:
            return pickle.load(handle)  # noqa: S301 - written by our own worker just now

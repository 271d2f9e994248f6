"""The Sync page's work: which CRM credentials are configured (names, never values), and a
sync run by `sales.crm.worker` in a process of its own with the credentials in its
environment (the process's own, plus the `[salesforce]` / `[hubspot]` Streamlit secrets)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import streamlit as st

from sales.crm import hubspot, salesforce
from sales.crm.sync import SyncError
from sales.crm.worker import DONE, FAILED, PROGRESS

ROOT = Path(__file__).resolve().parent.parent
_PREFIX = {"salesforce": "SALESFORCE_", "hubspot": "HUBSPOT_"}


def _secrets(crm: str) -> dict[str, str]:
    """The app's `[crm]` secrets as the environment variables the command line reads
    (`access_token` or `SALESFORCE_ACCESS_TOKEN` both work)."""
    try:
        section = st.secrets.get(crm)
    except Exception:  # noqa: BLE001 - no secrets file at all is the common case
        return {}
    if not section:
        return {}
    prefix = _PREFIX[crm]
    out = {}
    for key, value in dict(section).items():
        name = str(key).upper()
        out[name if name.startswith(prefix) else prefix + name] = str(value)
    return out


def environment(crm: str) -> dict[str, str]:
    """The environment a sync of `crm` runs with: the process's, then the app's secrets."""
    env = os.environ.copy()
    env.update(_secrets(crm))
    return env


@dataclass(frozen=True)
class Connection:
    crm: str
    label: str
    flow: str          # how it signs in, or "not configured"
    where: str         # environment, Streamlit secrets, both, or ''
    variables: tuple[tuple[str, bool], ...]  # (name, set?) — never a value

    @property
    def ready(self) -> bool:
        return self.flow != "not configured"


def connection(crm: str) -> Connection:
    """What is configured for `crm`, without showing any value."""
    env, secrets = environment(crm), _secrets(crm)
    module = salesforce if crm == "salesforce" else hubspot
    variables = tuple(module.configured(env).items())
    try:
        flow = (salesforce.credentials(env).flow if crm == "salesforce"
                else "private app token" if hubspot.client(env) else "")
    except SyncError:
        flow = "not configured"
    in_env = any(os.environ.get(name) for name, _ in variables)
    where = " and ".join(w for w, hit in (("environment", in_env),
                                          ("Streamlit secrets", bool(secrets))) if hit)
    return Connection(crm, module.LABEL, flow, where, variables)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str
    lines: tuple[str, ...] = ()


def run(crm: str, database: str, as_of: date | None, mapping: str | None, full: bool,
        actor: str, progress: Callable[[float, str], None]) -> Outcome:
    """Run one sync in a worker process; progress is reported as it goes."""
    command = [sys.executable, "-m", "sales.crm.worker", crm, database, "--actor", actor]
    if as_of:
        command += ["--as-of", as_of.isoformat()]
    if mapping:
        command += ["--mapping", mapping]
    if full:
        command.append("--full")
    worker = subprocess.Popen(command, cwd=ROOT, env=environment(crm), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    result = Outcome(False, "the sync process ended without a result")
    for line in worker.stdout:
        kind, _, rest = line.rstrip("\n").partition("\t")
        if kind == PROGRESS:
            fraction, _, text = rest.partition("\t")
            progress(min(max(float(fraction), 0.0), 1.0), text)
        elif kind == DONE:
            body = json.loads(rest)
            result = Outcome(True, f"Synced: {body['opportunities']:,} opportunities "
                                   f"(data version {body['data_version']}); every page now "
                                   "shows the new data.", tuple(body["lines"]))
        elif kind == FAILED:
            try:
                body = json.loads(rest)
                result = Outcome(False, body["message"], tuple(body["details"]))
            except ValueError:
                result = Outcome(False, rest)
    worker.wait()
    return result

"""Reading a Salesforce org's opportunities with `simple-salesforce` over the REST API.

- Credentials from the environment only (`credentials`): an access token and instance URL, a
  username + password + security token (SALESFORCE_DOMAIN=test for a sandbox), or the JWT
  bearer flow. They live in the client and nowhere else: never in the database, a log line or
  a message (every error is rewritten here into one line of our own).
- TLS is verified the way `requests` does it (REQUESTS_CA_BUNDLE is honoured); never disabled.
- The SOQL names only fields the org has: each path (`Owner.Manager.Name`, a mapping's
  `Region__c`) is checked against describe first. A field the mapping names that the org (or
  this user) does not have is an error naming it; an optional standard field that is missing is
  left out with a note.
- Reads go through queryAll (deleted records show with IsDeleted) and nextRecordsUrl paging;
  REQUEST_LIMIT_EXCEEDED, 5xx answers and dropped connections are retried with backoff.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from sales.crm.leads import LeadsFetched
from sales.crm.retry import call_with_retries, retries
from sales.crm.sync import Fetched, Progress, SyncError, weekly_day
from sales.crm.users import CrmUser
from sales.currency import CurrencyError, Rate, RateTable, check_rates
from sales.exits import EXIT_USAGE
from sales.ingest.mapping import Mapping as ImportMapping

SOURCE, LABEL = "salesforce", "Salesforce"
API_VERSION = "59.0"
# Connect and read timeouts of one API call (a page of 2,000 records comes back in seconds).
TIMEOUT_S = (15, 300)
# --bulk: records per result chunk of a Bulk API 2.0 job, and the first wait for the job.
BULK_PAGE = 50_000
BULK_WAIT_S = 2

# The environment variables each way of signing in needs (README "Live CRM sync").
TOKEN_FLOW = ("SALESFORCE_INSTANCE_URL", "SALESFORCE_ACCESS_TOKEN")
PASSWORD_FLOW = ("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN")
JWT_FLOW = ("SALESFORCE_CONSUMER_KEY", "SALESFORCE_PRIVATE_KEY_FILE", "SALESFORCE_USERNAME")
ENV_VARS = tuple(dict.fromkeys(TOKEN_FLOW + PASSWORD_FLOW + JWT_FLOW + ("SALESFORCE_DOMAIN",)))

# canonical column → Opportunity field path read by default. `team` is the owner's manager
# unless the mapping names another source; the mapping's [columns] add to and override these.
DEFAULT_FIELDS: dict[str, str] = {
    "opportunity_id": "Id",
    "name": "Name",
    "account_name": "Account.Name",
    "account_employees": "Account.NumberOfEmployees",
    "owner": "Owner.Name",
    "team": "Owner.Manager.Name",
    "type": "Type",
    "stage": "StageName",
    "forecast_category": "ForecastCategoryName",
    "amount": "Amount",
    "close_date": "CloseDate",
    "created_date": "CreatedDate",
    "lead_source": "LeadSource",
    "next_step": "NextStep",
    "is_closed": "IsClosed",
    "is_won": "IsWon",
}
# Without these there is no picture to record.
REQUIRED_FIELDS = ("Id", "StageName", "Amount", "CloseDate", "IsDeleted", "SystemModstamp")
_CONTROL_FIELDS = ("IsDeleted", "SystemModstamp")
_DATE_COLUMNS = ("close_date", "created_date", "sales_accepted_date")
# A user's or a queue's record id (15 or 18 characters, prefix 005 or 00G).
_SALESFORCE_ID = re.compile(r"(?:005|00G)[a-zA-Z0-9]{12}(?:[a-zA-Z0-9]{3})?")
_HISTORY_FIELDS = ("OpportunityId", "CreatedDate", "StageName", "Amount", "CloseDate",
                   "ForecastCategory")
# canonical lead column → Lead field path read by default; the mapping's [lead_columns] add to
# and override these (Company/Country/a custom MQL date field: `region = "Country"`,
# `mql_date = "MQL_Date__c"`).
LEAD_FIELDS: dict[str, str] = {
    "lead_id": "Id",
    "status": "Status",
    "lead_source": "LeadSource",
    "created_date": "CreatedDate",
    "owner": "Owner.Name",
    "account_employees": "NumberOfEmployees",
    "converted_opportunity_id": "ConvertedOpportunityId",
    "converted_date": "ConvertedDate",
}
_LEAD_DATES = ("created_date", "mql_date", "accepted_date", "converted_date")
_USER_FIELDS = ("Id", "Name", "Email", "ManagerId", "IsActive")


@dataclass(frozen=True)
class Credentials:
    """How to sign in: the flow's name and its values. The values never print."""

    flow: str
    values: tuple[tuple[str, str], ...]

    def __repr__(self) -> str:
        return f"Credentials(flow={self.flow!r})"

    __str__ = __repr__


def credentials(env: Mapping[str, str] | None = None) -> Credentials:
    """The first complete set of credentials in `env` (default: the environment): access
    token, then username/password, then JWT; SyncError naming the variables otherwise."""
    env = os.environ if env is None else env
    have = {name for name in ENV_VARS if env.get(name)}
    for flow, names in (("access token", TOKEN_FLOW), ("password", PASSWORD_FLOW),
                        ("JWT bearer", JWT_FLOW)):
        if set(names) <= have:
            extra = ("SALESFORCE_DOMAIN",) if "SALESFORCE_DOMAIN" in have else ()
            return Credentials(flow, tuple((n, env[n]) for n in names + extra))
    raise SyncError("no Salesforce credentials: set SALESFORCE_INSTANCE_URL and "
                    "SALESFORCE_ACCESS_TOKEN, or SALESFORCE_USERNAME, SALESFORCE_PASSWORD and "
                    "SALESFORCE_SECURITY_TOKEN, or SALESFORCE_CONSUMER_KEY, "
                    "SALESFORCE_PRIVATE_KEY_FILE and SALESFORCE_USERNAME (README, Live CRM "
                    "sync)", EXIT_USAGE)


def configured(env: Mapping[str, str] | None = None) -> dict[str, bool]:
    """Which Salesforce variables are set (names only, for the Sync page)."""
    env = os.environ if env is None else env
    return {name: bool(env.get(name)) for name in ENV_VARS}


def connect(creds: Credentials) -> Salesforce:
    """A signed-in client (the password and JWT flows sign in here)."""
    values = dict(creds.values)
    domain = values.get("SALESFORCE_DOMAIN") or None
    session = requests.Session()  # verifies TLS; REQUESTS_CA_BUNDLE is read per request
    try:
        if creds.flow == "access token":
            return Salesforce(instance_url=values["SALESFORCE_INSTANCE_URL"],
                              session_id=values["SALESFORCE_ACCESS_TOKEN"],
                              version=API_VERSION, session=session)
        if creds.flow == "password":
            return Salesforce(username=values["SALESFORCE_USERNAME"],
                              password=values["SALESFORCE_PASSWORD"],
                              security_token=values["SALESFORCE_SECURITY_TOKEN"],
                              domain=domain, version=API_VERSION, session=session)
        key_file = values["SALESFORCE_PRIVATE_KEY_FILE"]
        if not os.path.isfile(key_file):
            raise SyncError(f"SALESFORCE_PRIVATE_KEY_FILE names {key_file}, which is not a "
                            "file: point it at the Connected App's private key (PEM)",
                            EXIT_USAGE)
        return Salesforce(username=values["SALESFORCE_USERNAME"],
                          consumer_key=values["SALESFORCE_CONSUMER_KEY"],
                          privatekey_file=key_file, domain=domain, version=API_VERSION,
                          session=session)
    except SalesforceAuthenticationFailed as error:
        raise SyncError(_login_failed(creds.flow, error)) from None
    except (SalesforceError, requests.RequestException) as error:
        raise _translate(error, "signing in") from None


def _login_failed(flow: str, error: SalesforceAuthenticationFailed) -> str:
    code = str(error.code or "").strip() or "refused"
    if flow == "password":
        return (f"Salesforce login failed ({code}): check SALESFORCE_USERNAME, "
                "SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN (reset the token from the "
                "user's settings; a sandbox needs SALESFORCE_DOMAIN=test)")
    return (f"Salesforce JWT login failed ({code}): check that the Connected App holds the "
            "certificate of SALESFORCE_PRIVATE_KEY_FILE, that SALESFORCE_CONSUMER_KEY is its "
            "consumer key and that SALESFORCE_USERNAME is pre-authorized for it")


def _error_code(error: SalesforceError) -> tuple[str, str]:
    content = error.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode", "")), str(content[0].get("message", ""))
    if isinstance(content, dict):
        return str(content.get("errorCode", "")), str(content.get("message", ""))
    return "", ""


def _retryable(error: Exception) -> bool:
    if isinstance(error, (requests.ConnectionError, requests.Timeout)) and \
            not isinstance(error, requests.exceptions.SSLError):
        return True
    if isinstance(error, SalesforceRefusedRequest):
        return _error_code(error)[0] == "REQUEST_LIMIT_EXCEEDED"
    return isinstance(error, SalesforceGeneralError) and error.status >= 500


def _translate(error: Exception, doing: str) -> SyncError:
    """One line naming what to fix; never the request (its headers hold the token)."""
    if isinstance(error, requests.exceptions.SSLError):
        return SyncError(f"TLS verification failed while {doing}: the certificate is not "
                         "trusted (behind a proxy that re-signs traffic, point "
                         "REQUESTS_CA_BUNDLE at its CA bundle; verification stays on)")
    if isinstance(error, requests.RequestException):
        return SyncError(f"cannot reach Salesforce while {doing}: {type(error).__name__} "
                         "(check the network and SALESFORCE_INSTANCE_URL)")
    code, message = _error_code(error) if isinstance(error, SalesforceError) else ("", "")
    if isinstance(error, SalesforceExpiredSession):
        return SyncError(f"Salesforce refused the session ({code or 'INVALID_SESSION_ID'}): "
                         "the access token has expired or was revoked; set a fresh "
                         "SALESFORCE_ACCESS_TOKEN, or use the username/password or JWT "
                         "variables, which sign in again on each sync")
    if code == "REQUEST_LIMIT_EXCEEDED":
        return SyncError("Salesforce's API request limit is used up (REQUEST_LIMIT_EXCEEDED) "
                         f"and stayed so after {retries()} retries; try again when "
                         "the org's 24-hour allowance frees up (Setup › Company Information "
                         "shows it)")
    if code in ("API_DISABLED_FOR_ORG", "API_CURRENTLY_DISABLED"):
        return SyncError(f"Salesforce refused API access ({code}): give the user's profile or a "
                         "permission set the 'API Enabled' permission")
    if isinstance(error, (SalesforceRefusedRequest, SalesforceResourceNotFound)) or code in (
            "INSUFFICIENT_ACCESS", "INSUFFICIENT_ACCESS_OR_READONLY", "INVALID_TYPE"):
        return SyncError(f"Salesforce refused {doing} ({code or error.status}): give the "
                         "user Read access to Opportunity, Account and User (and 'View All' "
                         "or sharing for every opportunity) through its profile or a "
                         "permission set")
    if isinstance(error, SalesforceMalformedRequest):
        return SyncError(f"Salesforce rejected {doing} ({code}): {message[:200]}")
    if isinstance(error, SalesforceGeneralError):
        return SyncError(f"Salesforce kept failing while {doing} (HTTP {error.status}) after "
                         f"{retries()} retries; try again later")
    return SyncError(f"Salesforce failed while {doing}: {type(error).__name__}")


class Org:
    """A signed-in org: every API call retried and translated here."""

    def __init__(self, client: Salesforce,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.sleep = sleep
        self._described: dict[str, dict] = {}
        self.retries = 0

    def call(self, doing: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return call_with_retries(lambda: fn(*args, timeout=TIMEOUT_S, **kwargs),
                                 retryable=_retryable,
                                 translate=lambda error: _translate(error, doing),
                                 sleep=self.sleep, on_retry=self._count_retry,
                                 catch=(SalesforceError, requests.RequestException))

    def _count_retry(self) -> None:
        self.retries += 1

    def describe(self, sobject: str) -> dict:
        """The object's fields by name and its relationships by name (cached)."""
        if sobject not in self._described:
            result = self.call(f"describing {sobject}", self.client.restful,
                               f"sobjects/{sobject}/describe")
            fields = {f["name"].lower(): f for f in result.get("fields", [])}
            relations = {f["relationshipName"].lower(): f for f in result.get("fields", [])
                         if f.get("relationshipName")}
            self._described[sobject] = {"fields": fields, "relations": relations,
                                        "name": result.get("name", sobject)}
        return self._described[sobject]

    def path_exists(self, sobject: str, path: str) -> bool:
        """Whether `Owner.Manager.Name` resolves from `sobject`, hop by hop through describe."""
        *hops, last = path.split(".")
        current = sobject
        for hop in hops:
            relation = self.describe(current)["relations"].get(hop.lower())
            if relation is None or not relation.get("referenceTo"):
                return False
            current = relation["referenceTo"][0]
        return last.lower() in self.describe(current)["fields"]

    def bulk_query(self, doing: str, soql: str, progress: Callable[[int, int], None]
                   ) -> list[dict]:
        """Every record of a Bulk API 2.0 queryAll job (its CSV results read by locator), as
        flat rows keyed by field path; the whole job is retried like one call."""

        def run(timeout: object = None) -> list[dict]:
            rows: list[dict] = []
            job = self.client.bulk2.Opportunity
            for chunk in job.query_all(soql, max_records=BULK_PAGE, wait=BULK_WAIT_S):
                rows += [{k: (v if v != "" else None) for k, v in row.items()}
                         for row in csv.DictReader(io.StringIO(chunk))]
                progress(len(rows), len(rows))
            return rows

        return self.call(doing, run)

    def query(self, doing: str, soql: str, progress: Callable[[int, int], None]
              ) -> list[dict]:
        """Every record of a queryAll, page by page through nextRecordsUrl."""
        page = self.call(doing, self.client.query, soql, include_deleted=True)
        records = list(page["records"])
        total = int(page.get("totalSize", len(records)))
        progress(len(records), total)
        while not page.get("done", True):
            page = self.call(doing, self.client.query_more, page["nextRecordsUrl"],
                             identifier_is_url=True)
            records += page["records"]
            progress(len(records), total)
        return records


class SalesforceReader:
    """`sales.crm.sync.Reader` for Salesforce; `bulk` reads opportunities through a Bulk API
    2.0 job instead of REST pages (for orgs with millions of them)."""

    source, label = SOURCE, LABEL

    def __init__(self, org: Org, mapping: ImportMapping | None = None,
                 bulk: bool = False) -> None:
        self.org = org
        self.mapping = mapping
        self.bulk = bulk
        self.notes: list[str] = []
        # The leads' own high-water mark (None: read every lead), set by the sync engine.
        self.leads_since: str | None = None

    def fields(self) -> dict[str, str]:
        """canonical column → field path, every one checked against describe."""
        org = self.org
        for field in REQUIRED_FIELDS:
            if not org.path_exists("Opportunity", field):
                raise SyncError(f"the Opportunity field {field} is not visible to this "
                                "Salesforce user: grant read access to it (field-level "
                                "security in its profile or a permission set)")
        wanted = dict(DEFAULT_FIELDS)
        if org.path_exists("Opportunity", "CurrencyIsoCode"):  # a multi-currency org
            wanted["currency"] = "CurrencyIsoCode"
        named = dict(self.mapping.columns) if self.mapping else {}
        wanted.update(named)
        if "team" not in named and "team" in wanted and not org.path_exists(
                "Opportunity", wanted["team"]):
            wanted.pop("team")
            self.notes.append("the owner's manager (Owner.Manager.Name) is not readable: "
                              "team left empty (name a team field in the mapping's [columns])")
        for canonical, path in list(wanted.items()):
            if org.path_exists("Opportunity", path):
                continue
            if canonical in named:
                raise SyncError(f"the mapping's [columns] {canonical} = \"{path}\" names a "
                                "field the org does not have on Opportunity (or this user "
                                "cannot read): check the API name in Setup › Object Manager › "
                                "Opportunity › Fields, or grant field-level read access",
                                EXIT_USAGE)
            wanted.pop(canonical)
            self.notes.append(f"Opportunity field {path} is not readable: {canonical} left "
                              "empty")
        return wanted

    def fetch(self, since: str | None, backfill: bool, as_of: date,
              progress: Progress) -> Fetched:
        self.notes = []
        fields = self.fields()
        paths = list(dict.fromkeys([*fields.values(), *_CONTROL_FIELDS]))
        # Every path was found in describe: field names only, never free text.
        soql = f"SELECT {', '.join(paths)} FROM Opportunity"  # noqa: S608
        if since:
            # An account's employee count or an owner's manager changing does not touch the
            # opportunity's own SystemModstamp: the related records' stamps are asked too.
            stamp = _soql_datetime(since)
            related = sorted({p.split(".")[0] for p in paths if "." in p})
            soql += " WHERE " + " OR ".join(
                f"{prefix}SystemModstamp >= {stamp}"
                for prefix in ["", *(f"{r}." for r in related
                                    if self.org.path_exists("Opportunity",
                                                            f"{r}.SystemModstamp"))])

        def step(read: int, total: int) -> None:
            progress(0.8 * read / max(total, 1), f"Read {read:,} / {total:,} opportunities")

        progress(0.0, "Reading opportunities from Salesforce"
                 + (" (Bulk API 2.0 job)" if self.bulk else ""))
        read = self.org.bulk_query if self.bulk else self.org.query
        rows = read("reading opportunities", soql, step)
        records, deleted, mark = _split(rows, fields, _text)
        fetched = Fetched(records, [] if not since else deleted, mark, since is None,
                          ",".join(f"{c}={p}" for c, p in sorted(fields.items())), len(rows))
        fetched.probabilities = stage_probabilities(self.org)
        if "currency" in fields:
            progress(0.82, "Reading the currencies and their rates")
            fetched.rates, fetched.corporate = org_rates(self.org)
            self.notes.append(f"{len(fetched.rates.codes()):,} currencies, corporate "
                              f"{fetched.corporate}"
                              + (", dated rates by close date"
                                 if any(r.dated for r in fetched.rates.rates) else ""))
        if backfill:
            progress(0.85, "Reading the opportunity history")
            currencies = {r["opportunity_id"]: r.get("currency") for r in records}
            fetched.history = self.history(as_of, currencies)
        progress(0.9, "Reading leads and users")
        fetched.leads = self.leads(self.leads_since)
        fetched.users = self.users()
        fetched.notes = list(self.notes)
        progress(1.0, f"Read {len(rows):,} opportunities")
        return fetched

    def history(self, as_of: date, currencies: dict[str, str | None] | None = None
                ) -> list[dict] | None:
        """OpportunityHistory as a weekly change log (changes after as-of left out), with the
        owner of each moment where OpportunityFieldHistory tracks owner changes; None with a
        note when the user cannot read the history."""
        org = self.org
        if not all(org.path_exists("OpportunityHistory", f) for f in _HISTORY_FIELDS):
            self.notes.append("OpportunityHistory is not readable by this user: no history "
                              "rebuilt (grant Read on Opportunity history, then sync into an "
                              "empty database)")
            return None
        rows = org.query("reading OpportunityHistory",
                         f"SELECT {', '.join(_HISTORY_FIELDS)}, IsDeleted "  # noqa: S608
                         "FROM OpportunityHistory", lambda read, total: None)
        changes = [dict(r, _owner_event=False) for r in rows
                   if not r.get("IsDeleted") and r.get("CreatedDate")]
        owners = self.owner_changes()
        changes += _owner_events(changes, owners)
        log = []
        for row in sorted(changes, key=lambda r: (r["CreatedDate"], r["_owner_event"])):
            day = weekly_day(date.fromisoformat(row["CreatedDate"][:10]), as_of)
            if day is None:
                continue
            log.append({"opportunity_id": row.get("OpportunityId"),
                        "changed_at": day.isoformat(), "row_id": None,
                        "stage": _text(row.get("StageName"), "stage"),
                        "forecast_category": _text(row.get("ForecastCategory"), ""),
                        "amount": _text(row.get("Amount"), "amount"),
                        "close_date": _text(row.get("CloseDate"), "close_date"),
                        "owner": _owner_at(owners.get(row.get("OpportunityId"), []),
                                           row["CreatedDate"]),
                        # a history row's amount is in the deal's currency
                        "currency": (currencies or {}).get(row.get("OpportunityId"))})
        tracked = sum(len(v) for v in owners.values())
        self.notes.append(f"history rebuilt from {len(rows):,} OpportunityHistory change(s)"
                          + (f" and {tracked:,} owner change(s)" if tracked else "")
                          + ", one snapshot a week")
        return log

    def _readable(self, sobject: str, fields: tuple[str, ...] | list[str]) -> bool:
        try:
            return all(self.org.path_exists(sobject, f) for f in fields)
        except SyncError:
            return False  # the object is not there, or not for this user

    def leads(self, since: str | None) -> LeadsFetched | None:
        """Lead (incremental by SystemModstamp, deletions through queryAll) and its status
        changes from LeadHistory; None when this user cannot read leads."""
        if not self._readable("Lead", ["Id", "Status", "IsDeleted", "SystemModstamp"]):
            return None
        wanted = dict(LEAD_FIELDS)
        wanted.update(dict(self.mapping.lead_columns) if self.mapping else {})
        fields = {c: p for c, p in wanted.items() if self._readable("Lead", [p])}
        missing = sorted(set(wanted) - set(fields))
        if missing:
            self.notes.append("Lead field(s) not readable, left empty: "
                              + ", ".join(f"{c} ({wanted[c]})" for c in missing))
        paths = list(dict.fromkeys([*fields.values(), "IsDeleted", "SystemModstamp"]))
        soql = f"SELECT {', '.join(paths)} FROM Lead"  # noqa: S608 - described fields only
        if since:
            soql += f" WHERE SystemModstamp >= {_soql_datetime(since)}"
        rows = self.org.query("reading leads", soql, lambda read, total: None)
        records, deleted, mark = _split(rows, fields, _lead_text)
        changes = []
        if self._readable("LeadHistory", ["LeadId", "CreatedDate", "Field", "OldValue",
                                          "NewValue"]):
            history = self.org.query(
                "reading LeadHistory", "SELECT LeadId, CreatedDate, Field, OldValue, NewValue "
                "FROM LeadHistory WHERE Field = 'Status'", lambda read, total: None)
            changes = sorted((r["LeadId"], r["CreatedDate"], r.get("OldValue"),
                              r.get("NewValue")) for r in history
                             if r.get("LeadId") and r.get("CreatedDate"))
            changes.sort(key=lambda c: c[1])
        return LeadsFetched(records, deleted if since else [], mark, since is None,
                            ",".join(f"{c}={p}" for c, p in sorted(fields.items())), changes)

    def users(self) -> list[CrmUser] | None:
        """Every User (Name, Email, ManagerId, IsActive, UserRole.Name) for the hierarchy;
        None when this user cannot read them."""
        if not self._readable("User", _USER_FIELDS):
            return None
        role = self._readable("User", ["UserRole.Name"])
        paths = [*_USER_FIELDS, *(["UserRole.Name"] if role else [])]
        rows = self.org.query("reading users", f"SELECT {', '.join(paths)} FROM User",  # noqa: S608
                              lambda read, total: None)
        return [CrmUser(r["Id"], r.get("Name") or "", r.get("Email"), r.get("ManagerId"),
                        r.get("IsActive") not in (False, "false"),
                        _walk(r, "UserRole.Name") if role else None)
                for r in rows if r.get("UserType", "Standard") == "Standard"]

    def owner_changes(self) -> dict[str, list[tuple[str, str | None, str | None]]]:
        """Deal id → [(when, old owner name, new owner name)] from OpportunityFieldHistory,
        oldest first; {} when owner changes are not tracked or not readable."""
        org = self.org
        fields = ("OpportunityId", "CreatedDate", "Field", "OldValue", "NewValue")
        try:
            if not all(org.path_exists("OpportunityFieldHistory", f) for f in fields):
                return {}
            rows = org.query("reading OpportunityFieldHistory",
                             f"SELECT {', '.join(fields)} FROM OpportunityFieldHistory "  # noqa: S608
                             "WHERE Field = 'Owner'", lambda read, total: None)
        except SyncError:
            return {}
        changes: dict[str, list] = {}
        for row in sorted(rows, key=lambda r: r.get("CreatedDate") or ""):
            old, new = row.get("OldValue"), row.get("NewValue")
            # A lookup's change is recorded twice: once with the user ids, once with names.
            if _is_id(old) or _is_id(new) or not row.get("CreatedDate"):
                continue
            changes.setdefault(row["OpportunityId"], []).append((row["CreatedDate"], old, new))
        return changes


def _is_id(value: object) -> bool:
    return isinstance(value, str) and bool(_SALESFORCE_ID.fullmatch(value))


def _owner_at(changes: list[tuple[str, str | None, str | None]], moment: str) -> str | None:
    """The owner at `moment`: the last change's new owner before it, else the first change's
    old owner; None (the current owner) when no change is tracked."""
    before = [new for when, _, new in changes if when <= moment]
    if before:
        return before[-1]
    return changes[0][1] if changes else None


def _owner_events(changes: list[dict], owners: dict[str, list]) -> list[dict]:
    """A change row at each owner change, carrying the deal's stage, amount and close date of
    that moment (its last OpportunityHistory row before it)."""
    by_deal: dict[str, list[dict]] = {}
    for row in sorted(changes, key=lambda r: r["CreatedDate"]):
        by_deal.setdefault(row.get("OpportunityId"), []).append(row)
    events = []
    for deal, moves in owners.items():
        for when, _, _ in moves:
            state = [r for r in by_deal.get(deal, []) if r["CreatedDate"] <= when]
            if state:
                events.append(dict(state[-1], CreatedDate=when, _owner_event=True))
    return events


def stage_probabilities(org: Org) -> dict[str, float]:
    """The org's stage → default probability (0..1), from OpportunityStage.DefaultProbability;
    {} when the user cannot read it. Keyed by the stage's API name (what StageName holds)."""
    try:
        if not org.path_exists("OpportunityStage", "DefaultProbability"):
            return {}
        key = "ApiName" if org.path_exists("OpportunityStage", "ApiName") else "MasterLabel"
        rows = org.query("reading OpportunityStage",
                         f"SELECT {key}, DefaultProbability FROM OpportunityStage",  # noqa: S608
                         lambda read, total: None)
    except SyncError:
        return {}
    return {row[key]: float(row["DefaultProbability"]) / 100 for row in rows
            if row.get(key) and row.get("DefaultProbability") is not None}


def org_rates(org: Org) -> tuple[RateTable, str]:
    """The org's rate table (CurrencyType's static rates, DatedConversionRate's ranges where
    advanced currency management keeps them) and its corporate currency. ConversionRate is
    units of the currency per one unit of the corporate currency, as `sales.currency` reads it.
    """
    rows = org.query("reading CurrencyType", "SELECT IsoCode, ConversionRate, IsCorporate "
                     "FROM CurrencyType", lambda read, total: None)
    corporate = next((r["IsoCode"] for r in rows if r.get("IsCorporate") in (True, "true")),
                     None)
    if corporate is None:
        raise SyncError("the org's CurrencyType names no corporate currency: check Setup › "
                        "Company Information › Currencies")
    rates = [Rate(r["IsoCode"], Decimal(str(r["ConversionRate"]))) for r in rows
             if r.get("ConversionRate") is not None]
    try:
        readable = org.path_exists("DatedConversionRate", "NextStartDate")
    except SyncError:
        readable = False  # no advanced currency management
    if readable:
        dated = org.query("reading DatedConversionRate",
                          "SELECT IsoCode, StartDate, NextStartDate, ConversionRate "
                          "FROM DatedConversionRate", lambda read, total: None)
        rates += [Rate(r["IsoCode"], Decimal(str(r["ConversionRate"])), True,
                       date.fromisoformat(r["StartDate"][:10]),
                       date.fromisoformat(r["NextStartDate"][:10]))
                  for r in dated if r.get("ConversionRate") is not None]
    try:
        check_rates(rates)
    except CurrencyError as error:
        raise SyncError(f"Salesforce's rates cannot be used: {error}; nothing was changed"
                        ) from None
    return RateTable(tuple(rates)), corporate


def org_stage_probabilities(env: Mapping[str, str] | None = None) -> dict[str, float]:
    """Stage → probability (0..1) as the org configured in the environment reports it."""
    return stage_probabilities(Org(connect(credentials(env))))


def reader(env: Mapping[str, str] | None = None, mapping: ImportMapping | None = None,
           bulk: bool = False) -> SalesforceReader:
    """A reader signed in with the environment's credentials."""
    return SalesforceReader(Org(connect(credentials(env))), mapping, bulk)


def _split(rows: list[dict], fields: dict[str, str], text: Callable[[Any, str], str]
           ) -> tuple[list[dict], list[str], str | None]:
    """Rows read with queryAll → (the live records as canonical text fields, the ids deleted
    in the CRM, the latest SystemModstamp seen: the next incremental read's mark)."""
    records, deleted, mark = [], [], None
    for row in rows:
        mark = max(mark or "", row.get("SystemModstamp") or "") or mark
        if row.get("IsDeleted") in (True, "true"):
            deleted.append(row["Id"])
            continue
        records.append({c: text(_walk(row, path), c) for c, path in fields.items()})
    return records, deleted, mark


def _walk(record: dict, path: str) -> Any:
    """A field path's value: a REST record nests relationships, a Bulk API row is flat."""
    if path in record:
        return record[path]
    value: Any = record
    for hop in path.split("."):
        if not isinstance(value, dict):
            return None
        match = next((k for k in value if k.lower() == hop.lower()), None)
        value = value.get(match) if match else None
    return value


def _text(value: Any, column: str) -> str | None:
    """An API value as an export would write it."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)).normalize(), "f")
    text = str(value)
    if column in _DATE_COLUMNS and len(text) > 10 and text[4] == "-" and text[10] == "T":
        return text[:10]  # a datetime (CreatedDate) as its UTC date
    return text


def _lead_text(value: Any, column: str) -> str | None:
    text = _text(value, column)
    if column in _LEAD_DATES and text and len(text) > 10 and text[10] == "T":
        return text[:10]
    return text


def _soql_datetime(stamp: str) -> str:
    """`2026-11-30T12:00:00.000+0000` → a SOQL datetime literal (seconds; the filter is >=)."""
    moment = datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

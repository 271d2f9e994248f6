"""Reading a HubSpot portal's deals with `hubspot-api-client` and a private app's token.

- HUBSPOT_ACCESS_TOKEN from the environment (or the app's Streamlit secrets), never stored,
  logged or shown. HUBSPOT_API_BASE points the client elsewhere (a proxy; the tests' local
  server); TLS is verified against REQUESTS_CA_BUNDLE when set, as `requests` would.
- Deals with their pipeline stage (the pipelines API gives each stage's label, whether it is
  closed and its probability: a stage is read by its label and mapped like any stage list),
  the associated company's name and number of employees, and the owner's name and primary team.
- Paging by `after`. A full read lists every deal; an incremental one searches for deals whose
  hs_lastmodifieddate is at or after the mark, and the archived (deleted) deals since it.
- A first sync rebuilds the history from the deals' properties with history (stage, amount,
  close date), one snapshot a week.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
import urllib3
from hubspot import HubSpot

from sales.crm.leads import LeadsFetched
from sales.crm.retry import call_with_retries, retries
from sales.crm.sync import LINK, Fetched, Progress, SyncError, weekly_day
from sales.crm.users import CrmUser
from sales.currency import CurrencyError, RateTable, check_rates, dated_ranges
from sales.exits import EXIT_USAGE
from sales.ingest.mapping import Mapping as ImportMapping

SOURCE, LABEL = "hubspot", "HubSpot"
ENV_VARS = ("HUBSPOT_ACCESS_TOKEN", "HUBSPOT_API_BASE")
DEFAULT_HOST = "https://api.hubapi.com"
PAGE = 100           # deals per page (the API's maximum)
HISTORY_PAGE = 50    # deals per page with property history (the API's maximum)
BATCH = 100          # companies / associations per batch read
# Connect and read timeouts of a settings call (small answers).
TIMEOUT_S = (15, 60)
SEARCH_LIMIT = 10_000  # the search API pages through at most this many results
_SCOPES = ("crm.objects.deals.read, crm.objects.companies.read, crm.objects.owners.read, "
           "crm.schemas.deals.read")

# canonical column → deal property read by default; the mapping's [columns] add and override.
DEFAULT_PROPERTIES: dict[str, str] = {
    "name": "dealname",
    "amount": "amount",
    "close_date": "closedate",
    "created_date": "createdate",
    "type": "dealtype",
    "forecast_category": "hs_manual_forecast_category",
    "next_step": "hs_next_step",
    "lead_source": "hs_analytics_source",
}
_ALWAYS = ("dealstage", "pipeline", "hubspot_owner_id", "hs_lastmodifieddate")
# A contact's lifecycle stage → the handbook's lead status (sales.lead_statuses); a stage not
# here is kept as HubSpot names it and listed by the sync (sales.crm.leads).
LIFECYCLE_STATUSES = {
    "subscriber": "Raw", "lead": "Inquiry", "marketingqualifiedlead": "MQL",
    "salesqualifiedlead": "Accepted", "opportunity": "Qualified", "customer": "Qualified",
    "evangelist": "Qualified",
}
# canonical lead column → contact property read by default; the mapping's [lead_columns] add
# to and override these (e.g. `region = "country"`).
CONTACT_PROPERTIES: dict[str, str] = {
    "created_date": "createdate",
    "lead_source": "hs_analytics_source",
    "mql_date": "hs_lifecyclestage_marketingqualifiedlead_date",
    "status_reason": "hs_lead_status",
}
_HISTORY = ("dealstage", "amount", "closedate")
_DATE_COLUMNS = ("close_date", "created_date", "sales_accepted_date")


def configured(env: Mapping[str, str] | None = None) -> dict[str, bool]:
    env = os.environ if env is None else env
    return {name: bool(env.get(name)) for name in ENV_VARS}


def client(env: Mapping[str, str] | None = None) -> HubSpot:
    """A client with the environment's token; TLS verified."""
    env = os.environ if env is None else env
    token = env.get("HUBSPOT_ACCESS_TOKEN")
    if not token:
        raise SyncError("no HubSpot credentials: set HUBSPOT_ACCESS_TOKEN to a private app's "
                        f"access token (scopes {_SCOPES}; README, Live CRM sync)", EXIT_USAGE)
    ca = env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE") or _certifi()
    host = (env.get("HUBSPOT_API_BASE") or DEFAULT_HOST).rstrip("/")
    return HubSpot(access_token=token, host=host, ssl_ca_cert=ca, verify_ssl=True)


def _certifi() -> str | None:
    try:
        import certifi
    except ImportError:  # pragma: no cover - requests always brings it
        return None
    return certifi.where()


def _status(error: Exception) -> int:
    return int(getattr(error, "status", 0) or 0)


def _category(error: Exception) -> str:
    try:
        return str(json.loads(getattr(error, "body", "") or "{}").get("category", ""))
    except (ValueError, AttributeError):
        return ""


def _retryable(error: Exception) -> bool:
    """Load (429), a server error, or no answer at all, unless TLS verification failed."""
    status = _status(error)
    return status == 429 or status >= 500 or (
        status == 0 and not isinstance(error, urllib3.exceptions.SSLError)
        and "CERTIFICATE_VERIFY_FAILED" not in str(getattr(error, "reason", "")))


def _translate(error: Exception, doing: str) -> SyncError:
    status = _status(error)
    if isinstance(error, urllib3.exceptions.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(
            getattr(error, "reason", "")):
        return SyncError(f"TLS verification failed while {doing}: the certificate is not "
                         "trusted (behind a proxy that re-signs traffic, point "
                         "REQUESTS_CA_BUNDLE at its CA bundle; verification stays on)")
    if status == 401:
        return SyncError("HubSpot refused the token (401): set HUBSPOT_ACCESS_TOKEN to a valid "
                         "private app access token (Settings › Integrations › Private Apps)")
    if status == 403:
        return SyncError(f"HubSpot refused {doing} ({_category(error) or 'MISSING_SCOPES'}): "
                         f"give the private app the scopes {_SCOPES}")
    if status == 429:
        return SyncError(f"HubSpot's rate limit held for {retries()} retries while "
                         f"{doing}; try again later (the private app's limits are in its "
                         "settings)")
    if status >= 500:
        return SyncError(f"HubSpot kept failing while {doing} (HTTP {status}) after "
                         f"{retries()} retries; try again later")
    if status:
        return SyncError(f"HubSpot rejected {doing} (HTTP {status} "
                         f"{_category(error) or ''}".rstrip() + ")")
    return SyncError(f"cannot reach HubSpot while {doing}: {type(error).__name__} (check the "
                     "network and HUBSPOT_API_BASE)")


class Portal:
    """A HubSpot portal: each call retried and translated, answers as the API's JSON."""

    def __init__(self, hub: HubSpot, sleep: Callable[[float], None] = time.sleep) -> None:
        self.hub = hub
        self.sleep = sleep

    def call(self, doing: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict:
        def answer() -> dict:
            response = fn(*args, _preload_content=False, **kwargs)
            return json.loads(response.data or b"{}")

        # Any exception: each API package the client wraps has its own classes.
        return call_with_retries(answer, retryable=_retryable,
                                 translate=lambda error: _translate(error, doing),
                                 sleep=self.sleep)

    def get(self, doing: str, path: str, **params: object) -> dict:
        """A GET of an endpoint the client has no API class for (the account's currency
        settings), signed with the client's token; TLS verified as `requests` does it."""
        config = self.hub.config

        def answer() -> dict:
            response = requests.get(f"{config['host']}{path}", params=params, timeout=TIMEOUT_S,
                                    headers={"Authorization": f"Bearer {config['access_token']}"})
            if response.status_code >= 400:
                raise _HttpError(response.status_code)
            return response.json()

        return call_with_retries(answer, retryable=_retryable,
                                 translate=lambda error: _translate(error, doing),
                                 sleep=self.sleep)


class _HttpError(Exception):
    """A refused GET, shaped as the client's errors are (`status`)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class HubSpotReader:
    """`sales.crm.sync.Reader` for HubSpot."""

    source, label = SOURCE, LABEL

    def __init__(self, portal: Portal, mapping: ImportMapping | None = None) -> None:
        self.portal = portal
        self.mapping = mapping
        self.notes: list[str] = []
        self.people: list[CrmUser] = []

    # -- reference data ----------------------------------------------------------------
    def stages(self) -> dict[str, dict]:
        """Stage id → {label, closed, won, probability} over every deal pipeline."""
        body = self.portal.call("reading the deal pipelines",
                                self.portal.hub.crm.pipelines.pipelines_api.get_all, "deals")
        stages = {}
        for pipeline in body.get("results", []):
            for stage in pipeline.get("stages", []):
                meta = stage.get("metadata") or {}
                probability = _number(meta.get("probability"))
                closed = str(meta.get("isClosed", "false")).lower() == "true"
                stages[stage["id"]] = {"label": stage.get("label") or stage["id"],
                                       "closed": closed,
                                       "won": closed and probability == 1.0,
                                       "probability": probability}
        return stages

    def owners(self) -> dict[str, tuple[str, str | None]]:
        """Owner id → (name, primary team)."""
        api = self.portal.hub.crm.owners.owners_api
        owners, after = {}, None
        self.people = []
        while True:
            body = self.portal.call("reading the owners", api.get_page, limit=500,
                                    **({"after": after} if after else {}))
            for owner in body.get("results", []):
                name = " ".join(filter(None, (owner.get("firstName"), owner.get("lastName"))))
                teams = owner.get("teams") or []
                team = next((t.get("name") for t in teams if t.get("primary")),
                            teams[0].get("name") if teams else None)
                owners[str(owner["id"])] = (name or owner.get("email") or str(owner["id"]), team)
                self.people.append(CrmUser(str(owner["id"]), owners[str(owner["id"])][0],
                                           owner.get("email"), None,
                                           not owner.get("archived", False), team))
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return owners

    def properties(self) -> dict[str, str]:
        """canonical column → deal property, every one checked against the portal's schema."""
        body = self.portal.call("reading the deal properties",
                                self.portal.hub.crm.properties.core_api.get_all, "deals")
        known = {p["name"] for p in body.get("results", [])}
        wanted = dict(DEFAULT_PROPERTIES)
        named = dict(self.mapping.columns) if self.mapping else {}
        for fixed in ("opportunity_id", "stage"):  # the deal's id and its pipeline stage
            named.pop(fixed, None)
        wanted.update(named)
        if "deal_currency_code" in known and "currency" not in wanted:  # a multi-currency portal
            wanted["currency"] = "deal_currency_code"
        for canonical, name in list(wanted.items()):
            if name in known:
                continue
            if canonical in named:
                raise SyncError(f"the mapping's [columns] {canonical} = \"{name}\" names a deal "
                                "property the portal does not have: check its internal name "
                                "in Settings › Properties › Deal properties", EXIT_USAGE)
            wanted.pop(canonical)
        return wanted

    # -- reading -----------------------------------------------------------------------
    def fetch(self, since: str | None, backfill: bool, as_of: date,
              progress: Progress) -> Fetched:
        self.notes = []
        progress(0.0, "Reading pipelines, owners and properties from HubSpot")
        stages, owners, fields = self.stages(), self.owners(), self.properties()
        names = list(dict.fromkeys([*fields.values(), *_ALWAYS]))

        def step(read: int, total: int) -> None:
            progress(0.1 + 0.6 * read / max(total, 1), f"Read {read:,} / {total:,} deals")

        deals = None if since is None else self._search(names, since, step)
        if deals is None:  # a first or full read, or more changes than a search can page
            since = None
            deals, deleted = self._list(names, step), []
        else:
            deleted = self._archived_since(since)
        progress(0.75, "Reading the deals' companies")
        companies = self._companies([d["id"] for d in deals], since is None, deals)
        records, mark = [], None
        for deal in deals:
            props = deal.get("properties") or {}
            mark = max(mark or "", props.get("hs_lastmodifieddate") or "") or mark
            records.append(self._record(deal, props, fields, stages, owners, companies))
        fetched = Fetched(records, deleted, mark, since is None,
                          ",".join(f"{c}={p}" for c, p in sorted(fields.items())),
                          len(deals) + len(deleted))
        fetched.probabilities = {s["label"]: s["probability"] for s in stages.values()
                                 if s["probability"] is not None}
        if since is not None:
            changed = self._companies_changed_since(since)
            fetched.refresh = functools.partial(relink, companies=changed, owners=owners,
                                                team_from_owner="team" not in fields)
        if backfill:
            progress(0.85, "Reading the deals' stage history")
            fetched.history = self.history(stages, as_of)
        if "currency" in fields:
            progress(0.95, "Reading the account's currencies and exchange rates")
            fetched.rates, fetched.corporate = self.rates()
        fetched.users = list(self.people)
        fetched.owners_only = True
        progress(0.97, "Reading contacts (leads)")
        fetched.leads = self.leads(owners)
        fetched.notes = list(self.notes)
        progress(1.0, f"Read {len(deals):,} deals")
        return fetched

    def leads(self, owners: dict[str, tuple[str, str | None]]) -> LeadsFetched | None:
        """Every contact as a lead: its lifecycle stage as the status (LIFECYCLE_STATUSES) and
        the stage's history as the status changes; None without the contacts scope. Read in
        full each sync (a portal's contacts page quickly with their history)."""
        api = self.portal.hub.crm.contacts.basic_api
        fields = dict(CONTACT_PROPERTIES)
        fields.update(dict(self.mapping.lead_columns) if self.mapping else {})
        names = list(dict.fromkeys([*fields.values(), "lifecyclestage", "hubspot_owner_id",
                                    "lastmodifieddate"]))
        contacts, after = [], None
        try:
            while True:
                body = self.portal.call("reading contacts", api.get_page, limit=HISTORY_PAGE,
                                        properties=names,
                                        properties_with_history=["lifecyclestage"],
                                        archived=False, **({"after": after} if after else {}))
                contacts += body.get("results", [])
                after = ((body.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
        except SyncError as error:
            self.notes.append(f"contacts not read ({error}): no leads from HubSpot (grant the "
                              "crm.objects.contacts.read scope)")
            return None
        records, changes, mark = [], [], None
        for contact in contacts:
            props = contact.get("properties") or {}
            mark = max(mark or "", props.get("lastmodifieddate") or "") or mark
            key = str(contact["id"])
            record = {c: _text(props.get(n), c) for c, n in fields.items()}
            for column in ("created_date", "mql_date"):
                if record.get(column):
                    record[column] = record[column][:10]
            record.update(lead_id=key, status=_lifecycle(props.get("lifecyclestage")) or "Raw",
                          owner=owners.get(str(props.get("hubspot_owner_id") or ""),
                                           (None, None))[0])
            records.append(record)
            stages = sorted((h.get("timestamp") or "", h.get("value"))
                            for h in (contact.get("propertiesWithHistory") or {}).get(
                                "lifecyclestage", []))
            previous = None
            for when, value in stages:
                status = _lifecycle(value)
                if when and status != previous:
                    changes.append((key, when, previous, status))
                previous = status
        changes.sort(key=lambda c: c[1])
        return LeadsFetched(records, [], mark, True,
                            ",".join(f"{c}={n}" for c, n in sorted(fields.items())), changes)

    def rates(self) -> tuple[RateTable, str]:
        """The account's company currency and its exchange rates (each from its effectiveAt
        until the currency's next one), as Salesforce-style rates: units of the currency per
        one unit of the company currency."""
        company = self.portal.get("reading the company currency",
                                  "/settings/v3/currencies/company-currency").get("currencyCode")
        if not company:
            raise SyncError("HubSpot names no company currency: check Settings › Account "
                            "defaults › Currency")
        rows, after = [], None
        while True:
            body = self.portal.get("reading the exchange rates",
                                   "/settings/v3/currencies/exchange-rates",
                                   limit=100, **({"after": after} if after else {}))
            rows += body.get("results", [])
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        dated = []
        for row in rows:
            # 1 fromCurrency = conversionRate toCurrency; one side is the company currency.
            rate = Decimal(str(row.get("conversionRate") or 0))
            start = date.fromisoformat(str(row.get("effectiveAt") or "0001-01-01")[:10])
            if row.get("toCurrencyCode") == company and rate > 0:
                dated.append((row.get("fromCurrencyCode"), start, 1 / rate))
            elif row.get("fromCurrencyCode") == company:
                dated.append((row.get("toCurrencyCode"), start, rate))
        table = RateTable(tuple(dated_ranges(dated)))
        try:
            check_rates(list(table.rates))
        except CurrencyError as error:
            raise SyncError(f"HubSpot's exchange rates cannot be used: {error}; nothing was "
                            "changed") from None
        return table, company

    def _list(self, names: list[str], step: Callable[[int, int], None]) -> list[dict]:
        api = self.portal.hub.crm.deals.basic_api
        deals, after = [], None
        while True:
            body = self.portal.call("reading deals", api.get_page, limit=PAGE,
                                    properties=names, associations=["companies"],
                                    archived=False, **({"after": after} if after else {}))
            deals += body.get("results", [])
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            step(len(deals), len(deals) + (PAGE if after else 0))
            if not after:
                return deals

    def _search(self, names: list[str], since: str,
                step: Callable[[int, int], None]) -> list[dict] | None:
        api = self.portal.hub.crm.deals.search_api
        millis = str(int(_moment(since).timestamp() * 1000))
        deals, after = [], None
        while True:
            request = {"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate",
                                                      "operator": "GTE", "value": millis}]}],
                       "sorts": [{"propertyName": "hs_lastmodifieddate",
                                  "direction": "ASCENDING"}],
                       "properties": names, "limit": PAGE, **({"after": after} if after else {})}
            body = self.portal.call("searching changed deals", api.do_search, request)
            if int(body.get("total", 0)) > SEARCH_LIMIT:
                self.notes.append(f"{int(body['total']):,} deals changed since the last sync, "
                                  f"more than a search returns ({SEARCH_LIMIT:,}): read them all")
                return None
            deals += body.get("results", [])
            step(len(deals), int(body.get("total", len(deals))))
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return deals

    def _companies_changed_since(self, since: str) -> dict[str, tuple[str | None, str | None]]:
        """Company id → (name, employees) of the companies changed since the mark (a deal is
        not dated by its company's changes)."""
        api = self.portal.hub.crm.companies.search_api
        millis = str(int(_moment(since).timestamp() * 1000))
        companies, after = {}, None
        while True:
            request = {"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate",
                                                      "operator": "GTE", "value": millis}]}],
                       "properties": ["name", "numberofemployees"], "limit": PAGE,
                       **({"after": after} if after else {})}
            body = self.portal.call("searching changed companies", api.do_search, request)
            for company in body.get("results", []):
                props = company.get("properties") or {}
                companies[str(company["id"])] = (props.get("name"),
                                                 props.get("numberofemployees"))
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after or len(companies) >= SEARCH_LIMIT:
                return companies

    def _archived_since(self, since: str) -> list[str]:
        api = self.portal.hub.crm.deals.basic_api
        gone, after = [], None
        while True:
            body = self.portal.call("reading deleted deals", api.get_page, limit=PAGE,
                                    archived=True, **({"after": after} if after else {}))
            gone += [str(d["id"]) for d in body.get("results", [])
                     if _moment(d.get("archivedAt") or d.get("updatedAt") or since)
                     >= _moment(since)]
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return gone

    def _companies(self, deal_ids: list[str], listed: bool,
                   deals: list[dict]) -> dict[str, tuple[str, str | None, str | None]]:
        """Deal id → (company id, name, number of employees) of its first associated
        company."""
        link: dict[str, str] = {}
        if listed:
            for deal in deals:
                found = ((deal.get("associations") or {}).get("companies") or {}).get("results")
                if found:
                    link[str(deal["id"])] = str(found[0]["id"])
        else:
            api = self.portal.hub.crm.associations.v4.batch_api
            for start in range(0, len(deal_ids), BATCH):
                body = self.portal.call(
                    "reading the deals' companies", api.get_page, "deals", "companies",
                    {"inputs": [{"id": i} for i in deal_ids[start:start + BATCH]]})
                for row in body.get("results", []):
                    if row.get("to"):
                        link[str(row["from"]["id"])] = str(row["to"][0]["toObjectId"])
        api = self.portal.hub.crm.companies.batch_api
        ids = sorted(set(link.values()))
        companies = {}
        for start in range(0, len(ids), BATCH):
            body = self.portal.call("reading companies", api.read,
                                    {"properties": ["name", "numberofemployees"],
                                     "inputs": [{"id": i} for i in ids[start:start + BATCH]]})
            for company in body.get("results", []):
                props = company.get("properties") or {}
                companies[str(company["id"])] = (props.get("name"),
                                                 props.get("numberofemployees"))
        return {deal: (company, *companies.get(company, (None, None)))
                for deal, company in link.items()}

    def _record(self, deal: dict, props: dict, fields: dict[str, str], stages: dict,
                owners: dict, companies: dict) -> dict[str, str | None]:
        stage = stages.get(props.get("dealstage") or "", {})
        owner_id = str(props.get("hubspot_owner_id") or "")
        owner, team = owners.get(owner_id, (None, None))
        company_id, company, employees = companies.get(str(deal["id"]), (None, None, None))
        record = {"opportunity_id": str(deal["id"]),
                  "stage": stage.get("label") or props.get("dealstage"),
                  "account_name": company, "account_employees": _whole(employees),
                  "owner": owner, "team": team,
                  "is_closed": _flag(stage.get("closed")), "is_won": _flag(stage.get("won")),
                  # links, kept with the picture (not imported): a later incremental sync
                  # re-reads a deal's company or owner when they change without the deal
                  f"{LINK}company": company_id, f"{LINK}owner": owner_id or None}
        for canonical, name in fields.items():
            record[canonical] = _text(props.get(name), canonical)
        return record

    def history(self, stages: dict, as_of: date) -> list[dict]:
        """Every deal's stage, amount and close date over time, as a weekly change log."""
        api = self.portal.hub.crm.deals.basic_api
        log, after = [], None
        while True:
            body = self.portal.call("reading the deals' history", api.get_page,
                                    limit=HISTORY_PAGE, properties=list(_HISTORY),
                                    properties_with_history=list(_HISTORY), archived=False,
                                    **({"after": after} if after else {}))
            for deal in body.get("results", []):
                log += _deal_history(str(deal["id"]), deal.get("propertiesWithHistory") or {},
                                     stages, as_of)
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        log.sort(key=lambda row: row.pop("_at"))
        self.notes.append(f"history rebuilt from {len(log):,} deal change(s), one snapshot a "
                          "week")
        return log


def relink(previous: dict[str, dict], companies: dict[str, tuple[str | None, str | None]],
           owners: dict[str, tuple[str, str | None]],
           team_from_owner: bool) -> list[dict]:
    """The stored deals whose company or owner changed since the last sync, with the new
    company name and employees and the owner's current name and team."""
    changed = []
    for record in previous.values():
        fresh = dict(record)
        company = record.get(f"{LINK}company")
        if company in companies:
            name, employees = companies[company]
            fresh["account_name"], fresh["account_employees"] = name, _whole(employees)
        owner = record.get(f"{LINK}owner")
        if owner in owners:
            fresh["owner"] = owners[owner][0]
            if team_from_owner:
                fresh["team"] = owners[owner][1]
        if fresh != record:
            changed.append(fresh)
    return changed


def _deal_history(deal_id: str, history: dict, stages: dict, as_of: date) -> list[dict]:
    """A deal's states at each change of stage, amount or close date (oldest first)."""
    events = sorted({v["timestamp"] for name in _HISTORY for v in history.get(name) or []})
    rows = []
    for moment in events:
        state = {}
        for name in _HISTORY:
            values = [v for v in history.get(name) or [] if v["timestamp"] <= moment]
            state[name] = max(values, key=lambda v: v["timestamp"])["value"] if values else None
        if state["dealstage"] is None:
            continue
        day = weekly_day(_moment(moment).date(), as_of)
        if day is None:
            continue
        stage = stages.get(state["dealstage"], {})
        rows.append({"_at": moment, "opportunity_id": deal_id, "changed_at": day.isoformat(),
                     "row_id": None, "stage": stage.get("label") or state["dealstage"],
                     "forecast_category": None, "amount": _text(state["amount"], "amount"),
                     "close_date": _text(state["closedate"], "close_date")})
    return rows


def stage_probabilities(portal: Portal) -> dict[str, float]:
    """Stage label → the probability HubSpot's pipeline stage metadata gives (0..1)."""
    return {s["label"]: s["probability"] for s in HubSpotReader(portal).stages().values()
            if s["probability"] is not None}


def org_stage_probabilities(env: Mapping[str, str] | None = None) -> dict[str, float]:
    """Stage → probability as the portal configured in the environment reports it."""
    return stage_probabilities(Portal(client(env)))


def reader(env: Mapping[str, str] | None = None,
           mapping: ImportMapping | None = None) -> HubSpotReader:
    return HubSpotReader(Portal(client(env)), mapping)


def _moment(text: str) -> datetime:
    """An API timestamp (ISO 8601, or milliseconds since 1970) as an aware datetime."""
    text = str(text)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _lifecycle(value: Any) -> str | None:
    """A lifecycle stage's internal value as the lead status it maps to."""
    if value in (None, ""):
        return None
    return LIFECYCLE_STATUSES.get(str(value).lower(), str(value))


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _whole(value: Any) -> str | None:
    number = _number(value)
    return None if number is None else str(int(number))


def _flag(value: Any) -> str | None:
    return None if value is None else ("true" if value else "false")


def _text(value: Any, column: str) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    if column in _DATE_COLUMNS and "T" in text:
        return _moment(text).date().isoformat()
    if column == "amount":
        try:
            return format(Decimal(text).normalize(), "f")
        except InvalidOperation:
            return text
    return text

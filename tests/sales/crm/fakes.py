"""Local HTTPS stand-ins for the Salesforce REST API (and a scenario both an org and CSV exports
are made from), for the sync tests.

The server speaks the shapes simple-salesforce reads: `sobjects/X/describe`, `query` /
`queryAll` with `totalSize`, `done` and `nextRecordsUrl` paging, relationship fields as nested
objects, errors as `[{"message", "errorCode"}]`. TLS is real: a throwaway CA from `trustme`
signs the server's certificate, and tests point REQUESTS_CA_BUNDLE at it.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import trustme
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from sales import cli

API = "/services/data/v59.0"
TOKEN = "00Dxx0000001gPF!AQ4AQFakeSecretTokenValue.x9Ks2qLm"


def tls_server(folder: Path) -> tuple[HTTPServer, str]:
    """A started HTTPS server on 127.0.0.1 and the CA bundle that trusts it."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    bundle = folder / "test-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    return server, str(bundle)


# Describe metadata: object → (field, relationship name, referenced object).
_OBJECTS: dict[str, list[tuple[str, str | None, str | None]]] = {
    "Opportunity": [("Id", None, None), ("Name", None, None), ("AccountId", "Account", "Account"),
                    ("OwnerId", "Owner", "User"), ("Type", None, None),
                    ("StageName", None, None), ("ForecastCategoryName", None, None),
                    ("Amount", None, None), ("CloseDate", None, None),
                    ("CreatedDate", None, None), ("LeadSource", None, None),
                    ("NextStep", None, None), ("IsClosed", None, None), ("IsWon", None, None),
                    ("IsDeleted", None, None), ("SystemModstamp", None, None),
                    ("Region__c", None, None)],
    "Account": [("Id", None, None), ("Name", None, None), ("NumberOfEmployees", None, None),
                ("SystemModstamp", None, None)],
    "User": [("Id", None, None), ("Name", None, None), ("ManagerId", "Manager", "User"),
             ("UserRoleId", "UserRole", "UserRole"), ("SystemModstamp", None, None)],
    "UserRole": [("Id", None, None), ("Name", None, None)],
    "OpportunityHistory": [("Id", None, None), ("OpportunityId", None, None),
                           ("CreatedDate", None, None), ("StageName", None, None),
                           ("Amount", None, None), ("CloseDate", None, None),
                           ("ForecastCategory", None, None), ("IsDeleted", None, None)],
    "OpportunityFieldHistory": [("Id", None, None), ("OpportunityId", None, None),
                                ("CreatedDate", None, None), ("Field", None, None),
                                ("OldValue", None, None), ("NewValue", None, None)],
    "OpportunityStage": [("Id", None, None), ("ApiName", None, None),
                         ("MasterLabel", None, None), ("DefaultProbability", None, None)],
    # A multi-currency org only (FakeSalesforce.currencies), with advanced currency
    # management for the dated rates (FakeSalesforce.dated_rates).
    "CurrencyType": [("Id", None, None), ("IsoCode", None, None), ("ConversionRate", None, None),
                     ("IsCorporate", None, None), ("IsActive", None, None)],
    # Leads, only in an org with FakeSalesforce.leads.
    "Lead": [("Id", None, None), ("Status", None, None), ("LeadSource", None, None),
             ("CreatedDate", None, None), ("OwnerId", "Owner", "User"),
             ("NumberOfEmployees", None, None), ("ConvertedOpportunityId", None, None),
             ("ConvertedDate", None, None), ("IsConverted", None, None), ("Company", None, None),
             ("Country", None, None), ("IsDeleted", None, None), ("SystemModstamp", None, None)],
    "LeadHistory": [("Id", None, None), ("LeadId", None, None), ("CreatedDate", None, None),
                    ("Field", None, None), ("OldValue", None, None), ("NewValue", None, None)],
    "DatedConversionRate": [("Id", None, None), ("IsoCode", None, None),
                            ("StartDate", None, None), ("NextStartDate", None, None),
                            ("ConversionRate", None, None)],
}
_QUERY = re.compile(r"SELECT (?P<fields>.+?) FROM (?P<object>\w+)(?: WHERE (?:(?P<stamps>"
                    r"[\w.]*SystemModstamp >= \S+(?: OR [\w.]*SystemModstamp >= \S+)*)"
                    r"|Field = '(?P<field>\w+)'))?$", re.S)
_STAMP = re.compile(r"([\w.]*SystemModstamp) >= (\S+)")
PROBABILITIES = {"Prospecting": 10, "Qualification": 20, "Needs Analysis": 30,
                 "Perception Analysis": 60, "Proposal/Price Quote": 75,
                 "Negotiation/Review": 90, "Closed Won": 100, "Closed Lost": 0}


@dataclass
class FakeSalesforce:
    """An org: opportunities as flat {field path: value} rows, OpportunityHistory rows, and
    knobs for failures, paging and a pause."""

    opportunities: list[dict] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)
    field_history: list[dict] = field(default_factory=list)
    page_size: int = 2000
    token: str = TOKEN
    hidden_fields: set[str] = field(default_factory=set)
    failures: list[tuple[int, list]] = field(default_factory=list)  # served before queries
    pause_on_more: bool = False
    requests: list[str] = field(default_factory=list)
    # CurrencyType rows ({"IsoCode", "ConversionRate", "IsCorporate"}) and DatedConversionRate
    # rows ({"IsoCode", "StartDate", "NextStartDate", "ConversionRate"}); None: the org has one
    # currency (no CurrencyIsoCode, no currency objects), or no dated rates.
    currencies: list[dict] | None = None
    dated_rates: list[dict] | None = None
    # Lead rows (flat, like opportunities) and LeadHistory rows; User rows ({"Id", "Name",
    # "Email", "ManagerId", "IsActive", "UserRole.Name"}). None: not readable by the user.
    leads: list[dict] | None = None
    lead_history: list[dict] = field(default_factory=list)
    users: list[dict] | None = None

    def __post_init__(self) -> None:
        self._cursors: dict[str, list[dict]] = {}
        self.paused = threading.Event()
        self.release = threading.Event()

    def install(self, server: HTTPServer) -> None:
        server.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    # -- the API -------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        self.requests.append(request.full_path)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _json([{"message": "Session expired or invalid",
                           "errorCode": "INVALID_SESSION_ID"}], 401)
        path = request.path
        if path.endswith("/describe"):
            name = path.split("/")[-2]
            if name not in _OBJECTS or (name == "CurrencyType" and self.currencies is None) or (
                    name == "DatedConversionRate" and self.dated_rates is None) or (
                    name in ("Lead", "LeadHistory") and self.leads is None):
                return _json([{"message": "The requested resource does not exist",
                               "errorCode": "NOT_FOUND"}], 404)
            return _json(self.describe(name))
        if "/query" in path and self.failures:
            status, body = self.failures.pop(0)
            return _json(body, status)
        if path == f"{API}/jobs/query" and request.method == "POST":
            return self.bulk_job(json.loads(request.data))
        if path.startswith(f"{API}/jobs/query/"):
            job = path.split("/")[6]
            if path.endswith("/results"):
                return self.bulk_results(job, int(request.args["maxRecords"]),
                                         int(request.args.get("locator") or 0))
            return _json({"id": job, "state": "JobComplete",
                          "numberRecordsProcessed": len(self._cursors[job])})
        if path in (f"{API}/query/", f"{API}/queryAll/"):
            return self.query(request.args["q"], deleted=path.endswith("queryAll/"))
        cursor = path.rsplit("/", 1)[-1]
        if cursor in self._cursors:
            if self.pause_on_more:
                self.paused.set()
                self.release.wait(60)
            return self.page(cursor)
        return _json([{"message": "not found", "errorCode": "NOT_FOUND"}], 404)

    def describe(self, name: str) -> dict:
        listed = list(_OBJECTS[name])
        if self.currencies is not None and name in ("Opportunity", "OpportunityHistory"):
            listed.append(("CurrencyIsoCode", None, None))
        if self.users is not None and name == "User":
            listed += [("Email", None, None), ("IsActive", None, None)]
        fields = [{"name": f, "relationshipName": r, "referenceTo": [t] if t else []}
                  for f, r, t in listed if f"{name}.{f}" not in self.hidden_fields]
        return {"name": name, "fields": fields}

    def query(self, soql: str, deleted: bool) -> Response:
        match = _QUERY.match(soql.strip())
        assert match, soql
        paths = [p.strip() for p in match["fields"].split(",")]
        rows = {"Opportunity": self.opportunities, "OpportunityHistory": self.history,
                "OpportunityFieldHistory": self.field_history,
                "OpportunityStage": [{"ApiName": s, "MasterLabel": s, "DefaultProbability": p}
                                     for s, p in PROBABILITIES.items()],
                "CurrencyType": self.currencies or [],
                "Lead": self.leads or [], "LeadHistory": self.lead_history,
                "User": self.users or [],
                "DatedConversionRate": self.dated_rates or []}[match["object"]]
        if not deleted:
            rows = [r for r in rows if not r.get("IsDeleted")]
        if match["field"]:
            rows = [r for r in rows if r.get("Field") == match["field"]]
        if match["stamps"]:
            stamps = [(path, datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ"))
                      for path, when in _STAMP.findall(match["stamps"])]
            rows = [r for r in rows if any(r.get(path) and _stamp(r[path]) >= when
                                           for path, when in stamps)]
        records = [_shape(match["object"], r, paths) for r in rows]
        cursor = f"01gD0000000{len(self._cursors):04d}"
        self._cursors[cursor] = records
        return self.page(cursor, first=True)

    def bulk_job(self, job: dict) -> Response:
        """A Bulk API 2.0 query job: done at once; its rows flat, by the paths selected."""
        match = _QUERY.match(job["query"].strip())
        assert match and match["object"] == "Opportunity", job
        paths = [p.strip() for p in match["fields"].split(",")]
        rows = self.opportunities if job["operation"] == "queryAll" else [
            r for r in self.opportunities if not r.get("IsDeleted")]
        job_id = f"750D0000000{len(self._cursors):04d}"
        self._cursors[job_id] = [{p: r.get(p) for p in paths} for r in rows]
        self._cursors[job_id + ":paths"] = paths
        return _json({"id": job_id, "operation": job["operation"], "state": "UploadComplete"})

    def bulk_results(self, job: str, size: int, offset: int) -> Response:
        rows = self._cursors[job][offset:offset + size]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self._cursors[job + ":paths"])
        for row in rows:
            writer.writerow(["" if v is None else str(v).lower() if isinstance(v, bool)
                             else v for v in row.values()])
        more = offset + size < len(self._cursors[job])
        return Response(out.getvalue(), status=200, content_type="text/csv", headers={
            "Sforce-Locator": str(offset + size) if more else "null",
            "Sforce-NumberOfRecords": str(len(rows))})

    def page(self, cursor: str, first: bool = False) -> Response:
        records = self._cursors[cursor]
        offset = 0 if first else int(self._cursors.get(cursor + ":offset", 0))
        chunk = records[offset:offset + self.page_size]
        done = offset + self.page_size >= len(records)
        body = {"totalSize": len(records), "done": done, "records": chunk}
        if not done:
            self._cursors[cursor + ":offset"] = offset + self.page_size
            body["nextRecordsUrl"] = f"{API}/query/{cursor}"
        return _json(body)


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _stamp(text: str) -> datetime:
    return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")


def _shape(sobject: str, row: dict, paths: list[str]) -> dict:
    """A flat row as the API nests it: `Account.Name` → {"Account": {"Name": …}}."""
    record: dict = {"attributes": {"type": sobject, "url": f"{API}/sobjects/{sobject}/x"}}
    for path in paths:
        *hops, last = path.split(".")
        target = record
        missing = False
        for depth, hop in enumerate(hops):
            prefix = ".".join(hops[:depth + 1])
            if not any(k.startswith(prefix + ".") and row.get(k) is not None for k in row):
                target[hop] = None
                missing = True
                break
            target = target.setdefault(hop, {"attributes": {"type": hop}})
        if not missing:
            target[last] = row.get(path)
    return record


# -- a scenario: the same org week by week, as API rows and as CSV exports -----------------------

STAGES = [("Prospecting", "Pipeline"), ("Qualification", "Pipeline"),
          ("Needs Analysis", "Pipeline"), ("Perception Analysis", "Best Case"),
          ("Proposal/Price Quote", "Best Case"), ("Negotiation/Review", "Commit")]
WON, LOST = ("Closed Won", "Closed"), ("Closed Lost", "Omitted")
_API_CATEGORY = {"Pipeline": "Pipeline", "Best Case": "BestCase", "Commit": "Forecast",
                 "Closed": "Closed", "Omitted": "Omitted"}
EXPORT_HEADERS = ["Id", "Name", "Account.Name", "Account.NumberOfEmployees", "Owner.Name",
                  "team", "Type", "StageName", "ForecastCategoryName", "Amount", "CloseDate",
                  "CreatedDate", "LeadSource", "NextStep", "IsClosed", "IsWon"]
_EXPORT_PATHS = ["Id", "Name", "Account.Name", "Account.NumberOfEmployees", "Owner.Name",
                 "Owner.Manager.Name", "Type", "StageName", "ForecastCategoryName", "Amount",
                 "CloseDate", "CreatedDate", "LeadSource", "NextStep", "IsClosed", "IsWon"]


class Scenario:
    """Deals that move every week (stage, amount, close date, wins, losses, new deals, one
    deletion), each change stamped at 09:00 on a weekly date, so daily history (an import of
    OpportunityHistory) and weekly history (a sync's backfill) are the same."""

    def __init__(self, first_week: date, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.first_week = first_week
        self.deals: dict[str, dict] = {}
        self.history: list[dict] = []
        self.deleted: dict[str, dict] = {}
        self.serial = 0
        self.owners = [("Ana Ortiz", "Maya Chen"), ("Ben Okafor", "Maya Chen"),
                       ("Cleo Park", "Raj Patel"), ("Dev Singh", "Raj Patel")]

    def _stamp(self, day: date) -> str:
        return f"{day.isoformat()}T09:00:00.000+0000"

    def _log(self, deal: dict, day: date) -> None:
        self.serial += 1
        self.history.append({
            "Id": f"008D{self.serial:014d}", "OpportunityId": deal["Id"],
            "CreatedDate": self._stamp(day), "StageName": deal["StageName"],
            "Amount": deal["Amount"], "CloseDate": deal["CloseDate"],
            "ForecastCategory": _API_CATEGORY[deal["ForecastCategoryName"]],
            "IsDeleted": False, "SystemModstamp": self._stamp(day)})

    def _new_deal(self, day: date) -> dict:
        rng = self.rng
        number = len(self.deals) + len(self.deleted) + 1
        owner, manager = rng.choice(self.owners)
        stage, category = STAGES[rng.randrange(0, 3)]
        deal = {"Id": f"006D{number:014d}", "Name": f"Deal {number}",
                "Account.Name": f"Account {number % 9}",
                "Account.NumberOfEmployees": rng.choice([120, 800, 2400, 9000, None]),
                "Owner.Name": owner, "Owner.Manager.Name": manager,
                "Type": rng.choice(["New Business", "Existing Customer - Upgrade",
                                    "Existing Customer - Replacement"]),
                "StageName": stage, "ForecastCategoryName": category,
                "Amount": float(rng.randrange(5, 200) * 1000),
                "CloseDate": (day + timedelta(days=rng.randrange(10, 120))).isoformat(),
                "CreatedDate": self._stamp(day), "LeadSource": rng.choice(["Web", "Partner"]),
                "NextStep": rng.choice([None, "Demo", "=cmd|' /C calc'!A0"]),
                "IsClosed": False, "IsWon": False, "IsDeleted": False,
                "Region__c": rng.choice(["EMEA", "AMER"]), "SystemModstamp": self._stamp(day)}
        self.deals[deal["Id"]] = deal
        self._log(deal, day)
        return deal

    def _move(self, deal: dict, day: date) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.12:
            deal["StageName"], deal["ForecastCategoryName"] = WON if rng.random() < 0.5 else LOST
            deal["IsClosed"], deal["IsWon"] = True, deal["StageName"] == WON[0]
            deal["CloseDate"] = day.isoformat()
        elif roll < 0.45:
            index = min([s for s, _ in STAGES].index(deal["StageName"]) + 1, len(STAGES) - 1)
            deal["StageName"], deal["ForecastCategoryName"] = STAGES[index]
        elif roll < 0.6:
            deal["Amount"] = float(max(1000, deal["Amount"] + rng.randrange(-20, 30) * 1000))
        elif roll < 0.7:
            deal["CloseDate"] = (date.fromisoformat(deal["CloseDate"])
                                 + timedelta(days=rng.choice([14, 35, 70]))).isoformat()
        else:
            return
        deal["SystemModstamp"] = self._stamp(day)
        self._log(deal, day)

    def week(self, day: date, new: int = 3, delete: bool = False) -> None:
        """One week of changes, all made on `day`."""
        for deal in list(self.deals.values()):
            if not deal["IsClosed"] and date.fromisoformat(deal["CreatedDate"][:10]) < day:
                self._move(deal, day)
        for _ in range(new):
            self._new_deal(day)
        if delete:
            victim = sorted(d for d in self.deals if not self.deals[d]["IsClosed"])[0]
            deal = self.deals.pop(victim)
            deal["IsDeleted"] = True
            deal["SystemModstamp"] = self._stamp(day)
            self.deleted[victim] = deal

    def org_rows(self) -> list[dict]:
        """What queryAll sees: live deals and the deleted ones (IsDeleted)."""
        return [dict(d) for d in [*self.deals.values(), *self.deleted.values()]]

    def export_csv(self) -> bytes:
        """Today's full opportunity export, as a report export would write it."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(EXPORT_HEADERS)
        for deal in self.deals.values():
            writer.writerow(["" if deal.get(p) is None else _csv_value(deal[p])
                             for p in _EXPORT_PATHS])
        return out.getvalue().encode()

    def history_csv(self) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        columns = ["Id", "OpportunityId", "CreatedDate", "StageName", "Amount", "CloseDate",
                   "ForecastCategory", "IsDeleted"]
        writer.writerow(columns)
        for row in self.history:
            writer.writerow([_csv_value(row[c]) for c in columns])
        return out.getvalue().encode()


def _csv_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, str) and len(value) > 10 and value[10:11] == "T":
        return value[:10] + " " + value[11:19]
    return str(value)


# -- HubSpot -------------------------------------------------------------------------------

HUBSPOT_TOKEN = "pat-na1-11111111-2222-3333-4444-fakeHubSpotSecret"
HUBSPOT_STAGES = [("appointmentscheduled", "Appointment Scheduled", "false", "0.2"),
                  ("qualifiedtobuy", "Qualified To Buy", "false", "0.4"),
                  ("contractsent", "Contract Sent", "false", "0.9"),
                  ("closedwon", "Closed Won", "true", "1.0"),
                  ("closedlost", "Closed Lost", "true", "0.0")]
HUBSPOT_MAPPING = """
[columns]
region = "region"
[stages]
"Appointment Scheduled" = { category = "Pipeline", qualified = false, closed = false, won = false }
"Qualified To Buy" = { category = "Pipeline", qualified = true, closed = false, won = false }
"Contract Sent" = { category = "Commit", qualified = true, closed = false, won = false }
"""


@dataclass
class FakeHubSpot:
    """A portal: deals as {"id", "properties", "company", "archivedAt", "history"} and
    companies and owners; the CRM v3/v4 endpoints the reader calls, paged by `after`."""

    deals: list[dict] = field(default_factory=list)
    companies: dict[str, dict] = field(default_factory=dict)
    owners: list[dict] = field(default_factory=list)
    page_size: int = 100
    token: str = HUBSPOT_TOKEN
    failures: list[tuple[int, dict]] = field(default_factory=list)  # before deal reads
    requests: list[str] = field(default_factory=list)
    # A multi-currency account: {"company": "USD", "rates": [{"fromCurrencyCode",
    # "toCurrencyCode", "conversionRate", "effectiveAt"}]}; None: one currency.
    currencies: dict | None = None
    # Contacts as {"id", "properties", "history": {"lifecyclestage": [{"value", "timestamp"}]}};
    # None: the token lacks the contacts scope.
    contacts: list[dict] | None = None

    def install(self, server: HTTPServer) -> None:
        server.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.requests.append(f"{request.method} {request.full_path}")
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _json({"status": "error", "category": "INVALID_AUTHENTICATION",
                          "message": "Authentication credentials not found."}, 401)
        path = request.path.rstrip("/")
        if path.startswith("/crm/v3/objects/deals") and self.failures:
            status, body = self.failures.pop(0)
            return _json(body, status)
        if path == "/crm/v3/pipelines/deals":
            return _json({"results": [{"id": "default", "label": "Sales Pipeline", "stages": [
                {"id": i, "label": label, "displayOrder": n,
                 "metadata": {"isClosed": closed, "probability": p}}
                for n, (i, label, closed, p) in enumerate(HUBSPOT_STAGES)]}]})
        if path == "/crm/v3/owners":
            return _json({"results": self.owners})
        if path.startswith("/settings/v3/currencies") and self.currencies is None:
            return _json({"status": "error", "category": "OBJECT_NOT_FOUND"}, 404)
        if path == "/settings/v3/currencies/company-currency":
            return _json({"currencyCode": self.currencies["company"]})
        if path == "/settings/v3/currencies/exchange-rates":
            return _json(self._paged(self.currencies["rates"], request.args.get("after")))
        if path == "/crm/v3/properties/deals":
            names = ["dealname", "amount", "closedate", "createdate", "dealtype", "dealstage",
                     "pipeline", "hubspot_owner_id", "hs_lastmodifieddate", "region",
                     *(["deal_currency_code"] if self.currencies else [])]
            return _json({"results": [{"name": n} for n in names]})
        if path == "/crm/v3/objects/deals" and request.method == "GET":
            return self.list_deals(request)
        if path == "/crm/v3/objects/contacts" and request.method == "GET":
            if self.contacts is None:
                return _json({"status": "error", "category": "MISSING_SCOPES",
                              "message": "This app hasn't been granted all required scopes"},
                             403)
            names = [n for v in request.args.getlist("properties") for n in v.split(",")]
            history = [n for v in request.args.getlist("propertiesWithHistory")
                       for n in v.split(",")]
            rows = [self._shape(c, names, history, False) for c in self.contacts]
            return _json(self._paged(rows, request.args.get("after")))
        if path == "/crm/v3/objects/deals/search":
            return self.search(json.loads(request.data))
        if path == "/crm/v4/associations/deals/companies/batch/read":
            ids = {i["id"] for i in json.loads(request.data)["inputs"]}
            return _json({"status": "COMPLETE", "results": [
                {"from": {"id": d["id"]}, "to": [{"toObjectId": int(d["company"]),
                                                  "associationTypes": []}]}
                for d in self.deals if d["id"] in ids and d.get("company")]})
        if path == "/crm/v3/objects/companies/search":
            body = json.loads(request.data)
            value = int(body["filterGroups"][0]["filters"][0]["value"])
            since = datetime.fromtimestamp(value / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
            rows = [{"id": i, "properties": p} for i, p in self.companies.items()
                    if (p.get("hs_lastmodifieddate") or "")[:19] >= since]
            return _json({"total": len(rows), "results": rows})
        if path == "/crm/v3/objects/companies/batch/read":
            ids = [i["id"] for i in json.loads(request.data)["inputs"]]
            return _json({"status": "COMPLETE", "results": [
                {"id": i, "properties": self.companies[i]} for i in ids if i in self.companies]})
        return _json({"status": "error", "category": "OBJECT_NOT_FOUND"}, 404)

    def _paged(self, rows: list[dict], after: str | None) -> dict:
        start = int(after or 0)
        body: dict = {"results": rows[start:start + self.page_size]}
        if start + self.page_size < len(rows):
            body["paging"] = {"next": {"after": str(start + self.page_size)}}
        return body

    def _shape(self, deal: dict, names: list[str], history: list[str],
               associations: bool) -> dict:
        row = {"id": deal["id"], "properties": {n: deal["properties"].get(n) for n in names},
               "archived": bool(deal.get("archivedAt"))}
        if deal.get("archivedAt"):
            row["archivedAt"] = deal["archivedAt"]
        if history:
            row["propertiesWithHistory"] = {n: list(reversed(deal["history"].get(n, [])))
                                            for n in history}
        if associations and deal.get("company"):
            row["associations"] = {"companies": {"results": [
                {"id": deal["company"], "type": "deal_to_company"}]}}
        return row

    def list_deals(self, request: Request) -> Response:
        names = [n for v in request.args.getlist("properties") for n in v.split(",")]
        history = [n for v in request.args.getlist("propertiesWithHistory")
                   for n in v.split(",")]
        archived = request.args.get("archived", "false").lower() == "true"
        rows = [self._shape(d, names, history, "companies" in request.args.get(
            "associations", "")) for d in self.deals if bool(d.get("archivedAt")) == archived]
        return _json(self._paged(rows, request.args.get("after")))

    def search(self, body: dict) -> Response:
        value = int(body["filterGroups"][0]["filters"][0]["value"])
        since = datetime.fromtimestamp(value / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        rows = [self._shape(d, body["properties"], [], False) for d in self.deals
                if not d.get("archivedAt")
                and d["properties"]["hs_lastmodifieddate"][:19] >= since[:19]]
        page = self._paged(rows, body.get("after"))
        page["total"] = len(rows)
        return _json(page)


def one_deal(**fields) -> dict:
    deal = {"Id": "006D00000000000001", "Name": "Acme renewal", "Account.Name": "Acme",
            "Account.NumberOfEmployees": 1200, "Owner.Name": "Ana Ortiz",
            "Owner.Manager.Name": "Maya Chen", "Type": "New Business",
            "StageName": "Qualification", "ForecastCategoryName": "Pipeline",
            "Amount": 50000.0, "CloseDate": "2026-12-15",
            "CreatedDate": "2026-09-01T10:00:00.000+0000", "LeadSource": "Web",
            "NextStep": None, "IsClosed": False, "IsWon": False, "IsDeleted": False,
            "Region__c": "EMEA", "SystemModstamp": "2026-10-01T10:00:00.000+0000"}
    deal.update(fields)
    return deal


def numbered(n: int, **fields) -> dict:
    return one_deal(Id=f"006D{n:014d}", Name=f"Deal {n}", **fields)


def deals(db: Path) -> dict[str, tuple]:
    """The synced deals' fields the sync tests compare, by id."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r[0]: r[1:] for r in con.execute(
            "select opportunity_id, name, account_name, account_employees, owner, team, stage, "
            "forecast_category, amount, close_date, region from opportunities").fetchall()}
    finally:
        con.close()


def sync(db: Path, *options: str) -> int:
    return cli.main(["sync", "salesforce", "--db", str(db), *options])

"""Which source header feeds which canonical column, per kind of file, and what a file holds.

Headers are matched after folding case and dropping everything but letters and digits, so
`Close Date`, `CloseDate`, `close_date` and `CLOSE-DATE` are the same header. Each canonical
column lists its aliases in priority order (canonical name, Salesforce API names, common report
labels): when a file has two of them, the first wins and the other is listed as ignored. A file
with the same header twice (after folding) is another matter: nothing says which column is
meant, so a column read from such a header is an error until the mapping file names one
(`repeated`).
"""

from __future__ import annotations

import re

from sales.ingest.validate import ERROR, Findings

OPPORTUNITIES, HISTORY, TARGETS, SUBMISSIONS = "opportunities", "history", "targets", "submissions"
LEADS = "leads"
CURRENCY_RATES = "currency_rates"
HIERARCHY = "hierarchy"
ACCOUNTS, OWNERS = "accounts", "owners"
# Kinds that are imported on their own; accounts and owners files only enrich an export.
MAIN_KINDS = (OPPORTUNITIES, HISTORY, TARGETS, SUBMISSIONS, LEADS, HIERARCHY, CURRENCY_RATES)
KINDS = (*MAIN_KINDS, ACCOUNTS, OWNERS)

_OPPORTUNITY_ALIASES: dict[str, tuple[str, ...]] = {
    "opportunity_id": ("opportunity_id", "Id", "Opportunity ID", "Opportunity 18 Digit ID",
                       "Deal ID", "Record ID"),
    "name": ("name", "Opportunity Name", "Deal Name", "Opportunity"),
    "account_id": ("account_id", "AccountId", "Account.Id", "Account 18 Digit ID"),
    "account_name": ("account_name", "Account Name", "Account.Name", "Account", "Company",
                     "Company Name", "Customer"),
    "account_employees": ("account_employees", "NumberOfEmployees", "Account.NumberOfEmployees",
                          "Employees", "Number of Employees", "Account Employees"),
    "segment": ("segment", "Customer Segment", "Market Segment", "Sales Segment"),
    "region": ("region", "Sales Region", "Territory", "Sales Territory", "Geo"),
    "team": ("team", "Sales Team", "Team Name"),
    "owner": ("owner", "Opportunity Owner", "Owner.Name", "Owner Name", "Owner Full Name",
              "Sales Rep", "Rep", "OwnerId", "Owner ID"),
    "type": ("type", "Opportunity Type", "Deal Type", "Business Type"),
    "channel": ("channel", "Sales Channel", "Route to Market"),
    "stage": ("stage", "StageName", "Stage Name", "Opportunity Stage", "Deal Stage"),
    # ForecastCategoryName (the label) before ForecastCategory (the API value), which folds
    # to the same text as the canonical name.
    "forecast_category": ("ForecastCategoryName", "forecast_category", "Forecast Category"),
    "amount": ("amount", "Opportunity Amount", "ARR", "IACV", "ACV", "Deal Value",
               "Total Amount"),
    # docs/import.md#currencies: the currency the amount is in, and the CRM's own conversion
    # into the corporate currency, which wins over any rate table when present.
    "currency": ("currency", "CurrencyIsoCode", "Opportunity Currency", "Amount Currency",
                 "deal_currency_code", "Deal Currency", "Currency Code"),
    "amount_converted": ("amount_converted", "Amount (converted)",
                         "Opportunity Amount (converted)", "Amount in company currency",
                         "amount_in_home_currency"),
    "close_date": ("close_date", "CloseDate", "Expected Close Date"),
    "created_date": ("created_date", "CreatedDate", "Create Date", "Date Created",
                     "Opportunity Created Date"),
    "sales_accepted_date": ("sales_accepted_date", "Sales Accepted Date", "SAO Date",
                            "SAL Date", "Qualified Date", "Sales_Accepted_Date__c"),
    "lost_reason": ("lost_reason", "Loss Reason", "Closed Lost Reason", "Reason Lost",
                    "Loss_Reason__c", "Lost_Reason__c"),
    "competitor": ("competitor", "Primary Competitor", "Competitor__c", "MainCompetitors__c",
                   "Main Competitors"),
    "renewal_risk": ("renewal_risk", "Renewal_Risk__c"),
    "next_step": ("next_step", "NextStep"),
    "lead_source": ("lead_source", "LeadSource"),
    # The CRM's own win probability (%): sets each stage's probability in the stage map unless
    # an analyst has (sales.ingest.opportunities.crm_probabilities).
    "probability": ("probability", "Probability (%)", "Win Probability"),
    # Read for advice only (the mapping lines suggested for an unknown stage).
    "is_closed": ("is_closed", "IsClosed", "Closed"),
    "is_won": ("is_won", "IsWon", "Won"),
}

# Salesforce OpportunityHistory: `Id` is the history row, `OpportunityId` the deal, and
# `CreatedDate` the moment of the change.
_HISTORY_ALIASES: dict[str, tuple[str, ...]] = {
    "opportunity_id": ("opportunity_id", "OpportunityId", "Opportunity ID"),
    "changed_at": ("changed_at", "Changed Date", "Change Date", "Edit Date", "snapshot_date",
                   "valid_from", "CreatedDate"),
    "stage": _OPPORTUNITY_ALIASES["stage"],
    "forecast_category": _OPPORTUNITY_ALIASES["forecast_category"],
    "amount": ("amount",),
    "currency": ("currency", "CurrencyIsoCode"),
    "close_date": _OPPORTUNITY_ALIASES["close_date"],
    "row_id": ("row_id", "Id"),
    "is_deleted": ("is_deleted", "IsDeleted"),
    # The owner at the change, when the log has it (a CRM sync's rebuilt history does, from
    # the owner changes the CRM tracks); otherwise pictures carry each deal's current owner.
    "owner": ("owner",),
}

_TARGET_ALIASES: dict[str, tuple[str, ...]] = {
    "period": ("period", "Fiscal Period"),
    "scope": ("scope", "Target Scope", "Level"),
    "scope_value": ("scope_value", "Value", "Scope Name", "Name"),
    "amount": ("amount", "Target", "Quota", "Plan"),
}

_SUBMISSION_ALIASES: dict[str, tuple[str, ...]] = {
    "period": ("period", "Fiscal Period"),
    "owner": ("owner", "Rep", "Submitted By", "Owner Name"),
    "submitted_date": ("submitted_date", "Submitted", "Submission Date", "Date"),
    "forecast": ("forecast", "Forecast Amount", "Commit", "Call"),
    "upside": ("upside", "Upside Amount", "Best Case"),
}

_ACCOUNT_ALIASES: dict[str, tuple[str, ...]] = {
    "account_id": ("account_id", "Id", "AccountId", "Account ID"),
    "account_name": ("account_name", "Name", "Account Name", "Account", "Company"),
    "account_employees": ("account_employees", "NumberOfEmployees", "Employees",
                          "Number of Employees"),
    "segment": ("segment", "Customer Segment", "Market Segment"),
    "region": ("region", "Sales Region", "Territory"),
}

_OWNER_ALIASES: dict[str, tuple[str, ...]] = {
    "owner_key": ("owner", "owner_id", "Id", "OwnerId", "User ID", "Sales Rep", "Sales Agent",
                  "Rep"),
    "owner_name": ("owner_name", "Name", "Full Name", "User Name"),
    "team": ("team", "Sales Team", "Manager"),
    "region": ("region", "Sales Region", "Territory", "Regional Office"),
    "segment": ("segment",),
}

# A full leads export (Salesforce Lead, by API name or report label). The MQL date lives in a
# custom field in most orgs: a mapping file names it (`[lead_columns] mql_date = "MQL_Date__c"`).
_LEAD_ALIASES: dict[str, tuple[str, ...]] = {
    "lead_id": ("lead_id", "Lead ID", "Id", "Lead 18 Digit ID", "Record ID"),
    "created_date": ("created_date", "CreatedDate", "Create Date", "Date Created",
                     "Lead Created Date"),
    "status": ("status", "Lead Status", "Lead Stage"),
    "mql_date": ("mql_date", "MQL Date", "MQL_Date__c", "Marketo Qualified Date",
                 "Became an MQL Date", "MQL Timestamp"),
    "accepted_date": ("accepted_date", "Accepted Date", "Accepted_Date__c", "SAL Date"),
    "owner": ("owner", "Lead Owner", "Owner.Name", "Owner Name", "Owner Full Name", "OwnerId",
              "Owner ID"),
    "lead_source": ("lead_source", "LeadSource", "Source", "Original Source"),
    "account_employees": ("account_employees", "NumberOfEmployees", "Employees",
                          "Number of Employees", "No. of Employees"),
    "segment": ("segment", "Customer Segment", "Market Segment", "Sales Segment"),
    "region": ("region", "Sales Region", "Territory", "Sales Territory", "Geo"),
    "converted_opportunity_id": ("converted_opportunity_id", "ConvertedOpportunityId",
                                 "Converted Opportunity ID", "Converted Opportunity"),
    "converted_date": ("converted_date", "ConvertedDate"),
    "status_reason": ("status_reason", "Status Reason", "Lead Status Reason",
                      "Recycle Reason", "Disqualification Reason", "Unqualified Reason",
                      "Disqualified_Reason__c", "Status_Reason__c"),
}

# A rate table (docs/import.md#currencies): Salesforce's DatedConversionRate or CurrencyType
# exported, or written by hand; the rate is units of the currency per one corporate unit.
_RATE_ALIASES: dict[str, tuple[str, ...]] = {
    "iso_code": ("iso_code", "IsoCode", "Currency", "Currency Code", "ISO Code"),
    "start_date": ("start_date", "StartDate", "Start Date", "Effective Date"),
    "rate": ("rate", "ConversionRate", "Conversion Rate", "Exchange Rate"),
}

# The sales hierarchy: one row per user (sales.hierarchy). A Salesforce User export names the
# manager by `Manager.Name` (a report's `Manager`), or by `ManagerId` alongside the users' `Id`
# (translated to names through the file's own rows). `Username` is Salesforce's login, not the
# name deals carry, so it is not an alias of `user`.
_HIERARCHY_ALIASES: dict[str, tuple[str, ...]] = {
    "user": ("user", "name", "Full Name", "User Full Name", "Owner Name", "Sales Rep"),
    "email": ("email", "Email Address", "E-mail", "User Email"),
    "manager": ("manager", "Manager.Name", "Manager Name", "Manager Full Name", "Reports To",
                "ManagerId", "Manager ID"),
    "title": ("title", "Job Title", "Role", "UserRole.Name"),
    "user_id": ("user_id", "Id", "User ID", "User 18 Digit ID"),
}

ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    OPPORTUNITIES: _OPPORTUNITY_ALIASES, HISTORY: _HISTORY_ALIASES, TARGETS: _TARGET_ALIASES,
    SUBMISSIONS: _SUBMISSION_ALIASES, ACCOUNTS: _ACCOUNT_ALIASES, OWNERS: _OWNER_ALIASES,
    LEADS: _LEAD_ALIASES, HIERARCHY: _HIERARCHY_ALIASES, CURRENCY_RATES: _RATE_ALIASES,
}

REQUIRED: dict[str, tuple[str, ...]] = {
    OPPORTUNITIES: ("opportunity_id", "stage"),
    HISTORY: ("opportunity_id", "changed_at", "stage"),
    TARGETS: ("period", "scope", "amount"),
    SUBMISSIONS: ("period", "owner", "submitted_date", "forecast"),
    LEADS: ("lead_id", "status"),
    CURRENCY_RATES: ("iso_code", "rate"),
    HIERARCHY: ("user", "email", "manager"),
    ACCOUNTS: (),
    OWNERS: ("owner_key",),
}

# Columns of the Salesforce OpportunityHistory object that no opportunity export has.
_SALESFORCE_HISTORY_MARKERS = {"validthroughdate", "fromforecastcategory", "prevforecastupdate",
                               "fromopportunitystagename", "createddateforinsert"}
# Columns only a leads export has (folded): Salesforce Lead's API names and report labels.
_LEAD_MARKERS = {"leadid", "leadstatus", "convertedopportunityid", "converteddate",
                 "isconverted", "convertedaccountid", "convertedcontactid", "leadowner",
                 "mqldate"}
_HISTORY_TIME_MARKERS = {"changedat", "changeddate", "changedate", "editdate", "snapshotdate",
                         "validfrom"}


# How the reader labels each copy of a header a file has more than once: `stage (column 5)`.
_REPEATED_SUFFIX = re.compile(r" \(column \d+\)$")


def repeated_label(header: str, position: int) -> str:
    """The label of a header written more than once, by its 1-based column number."""
    return f"{header} (column {position})"


def fold(header: str) -> str:
    """`Close Date` → `closedate`: the form in which headers are compared (a repeated header's
    label folds as the header itself)."""
    return re.sub(r"[^0-9a-z]", "", _REPEATED_SUFFIX.sub("", str(header)).lower())


def resolve(headers: list[str], kind: str, explicit: dict[str, str] | None = None,
            strict: bool = True) -> tuple[dict[str, str], list[str], list[str]]:
    """Match a file's headers to the canonical columns of `kind`.

    `explicit` (canonical → source header, from a mapping file) wins over the aliases. Returns
    (canonical → source header, headers left unused, explicit headers not found in the file);
    with `strict` False, explicit lines naming a header the file lacks are skipped silently.
    """
    by_fold: dict[str, str] = {}
    for header in headers:
        by_fold.setdefault(fold(header), header)
    found: dict[str, str] = {}
    missing: list[str] = []
    used: set[str] = set()
    for canonical, source in (explicit or {}).items():
        header = source if source in headers else by_fold.get(fold(source))
        if header is None:
            if strict:
                missing.append(f"{canonical} = {source!r}")
            continue
        found[canonical] = header
        used.add(header)
    for canonical, aliases in ALIASES[kind].items():
        if canonical in found:
            continue
        for alias in aliases:
            header = by_fold.get(fold(alias))
            if header is not None and header not in used:
                found[canonical] = header
                used.add(header)
                break
    unused = [h for h in headers if h not in used]
    return found, unused, missing


def repeated(headers: list[str], found: dict[str, str],
             explicit: dict[str, str] | None = None) -> list[tuple[str, list[str]]]:
    """Columns read from a header the file has more than once (after folding) that the mapping
    does not pick by its exact label: (canonical column, every header it could be)."""
    groups: dict[str, list[str]] = {}
    for header in headers:
        groups.setdefault(fold(header), []).append(header)
    picked = {c for c, source in (explicit or {}).items() if source in headers}
    return [(canonical, groups[fold(header)]) for canonical, header in found.items()
            if len(groups.get(fold(header), ())) > 1 and canonical not in picked]


def report_repeated(file: str, headers: list[str], found: dict[str, str],
                    explicit: dict[str, str] | None, findings: Findings,
                    section: str = "columns") -> None:
    """One error per column the file could give from several columns of the same header."""
    for canonical, group in repeated(headers, found, explicit):
        named = ", ".join(f'"{h}"' for h in group)
        findings.add(ERROR, "repeated_header", file, None,
                     f"{canonical} could come from any of the columns {named}: the file has "
                     "that header more than once",
                     f"keep one of them in the file, or pick one in the mapping file: "
                     f'[{section}] {canonical} = "{group[-1]}"')


def detect_kind(headers: list[str], explicit: dict[str, str] | None = None,
                lead_explicit: dict[str, str] | None = None) -> str | None:
    """What a file holds, from its headers alone; None when it cannot be told. `explicit` is
    the mapping's [columns], `lead_explicit` its [lead_columns]."""
    folded = {fold(h) for h in headers}
    leads, _, _ = resolve(headers, LEADS, lead_explicit, strict=False)
    if "lead_id" in leads and "status" in leads and (
            folded & _LEAD_MARKERS or fold(leads["lead_id"]) in ("leadid", "leadid18digitid")
            or any(h in headers for h in (lead_explicit or {}).values())):
        return LEADS
    rates, _, _ = resolve(headers, CURRENCY_RATES, strict=False)
    if {"iso_code", "rate"} <= set(rates) and "opportunity_id" not in resolve(
            headers, OPPORTUNITIES, explicit, strict=False)[0]:
        return CURRENCY_RATES
    if folded & _SALESFORCE_HISTORY_MARKERS or (
            folded & _HISTORY_TIME_MARKERS and _has_required(headers, HISTORY, explicit)):
        return HISTORY
    for kind, marker in ((TARGETS, "scope"), (SUBMISSIONS, "submitted_date")):
        found, _, _ = resolve(headers, kind, explicit, strict=False)
        if marker in found and _has_required(headers, kind, explicit):
            return kind
    if _has_required(headers, HIERARCHY, None) and not folded & {"stage", "stagename"}:
        return HIERARCHY
    deals, _, _ = resolve(headers, OPPORTUNITIES, explicit, strict=False)
    if "opportunity_id" in deals and {"stage", "amount", "close_date", "forecast_category"} & set(deals):
        return OPPORTUNITIES  # a missing stage column is then reported, not guessed around
    accounts, _, _ = resolve(headers, ACCOUNTS, strict=False)
    if ({"account_id", "account_name"} & set(accounts)
            and {"account_employees", "segment"} & set(accounts)):
        return ACCOUNTS
    owners, _, _ = resolve(headers, OWNERS, strict=False)
    if "owner_key" in owners and {"team", "region", "owner_name"} & set(owners):
        return OWNERS
    return None


def _has_required(headers: list[str], kind: str, explicit: dict[str, str] | None) -> bool:
    found, _, _ = resolve(headers, kind, explicit, strict=False)
    return all(c in found for c in REQUIRED[kind])


def expected_headers(kind: str, canonical: str) -> str:
    """`Id, Opportunity ID, …` — the headers that would have been recognised, for messages."""
    return ", ".join(ALIASES[kind][canonical])


def check_required(file: str, kind: str, columns: dict[str, str], findings: Findings,
                   fix: str) -> bool:
    """Whether every column the kind requires was found; each one missing is an error that
    names the headers looked for and `fix` (how to give it)."""
    missing = [c for c in REQUIRED[kind] if c not in columns]
    for canonical in missing:
        findings.add(ERROR, "missing_column", file, None,
                     f"no column for {canonical} (looked for {expected_headers(kind, canonical)})",
                     fix.format(canonical=canonical))
    return not missing

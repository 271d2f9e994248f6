"""Deal types (docs/data-model.md#deals): New Business, Expansion, Renewal. New business and expansion
are reviewed together on the forecast call, renewals apart.

CRMs spell them many ways; the import reads the common spellings (`SPELLINGS`), Salesforce's
default picklist included: "New Customer" is new business, "Existing Customer - Upgrade" an
expansion, and "Existing Customer - Replacement" / "- Downgrade" the renewal of what a customer
already has (a mapping file's [types] can say otherwise). Ambiguous spellings such as "Existing
Business" are kept as written, with a warning, for the mapping file to settle.
"""

from __future__ import annotations

NEW_BUSINESS, EXPANSION, RENEWAL = "New Business", "Expansion", "Renewal"
DEAL_TYPES = (NEW_BUSINESS, EXPANSION, RENEWAL)

# Spellings folded to lower-case letters and digits → the canonical type.
SPELLINGS = {
    "newbusiness": NEW_BUSINESS, "new": NEW_BUSINESS, "newcustomer": NEW_BUSINESS,
    "newlogo": NEW_BUSINESS, "newlogos": NEW_BUSINESS, "nb": NEW_BUSINESS,
    "expansion": EXPANSION, "upsell": EXPANSION, "crosssell": EXPANSION, "addon": EXPANSION,
    "upgrade": EXPANSION, "existingcustomerupgrade": EXPANSION,
    "renewal": RENEWAL, "renewals": RENEWAL, "existingcustomerreplacement": RENEWAL,
    "existingcustomerdowngrade": RENEWAL,
}

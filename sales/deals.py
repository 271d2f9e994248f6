"""Lists of deals behind a number: one capped page, never the whole table, reaches pandas."""

from __future__ import annotations

# A deal list is for reading on screen; past this many rows the user narrows the filter or
# downloads from the deal explorer. Keeps a 1M-deal database from filling the browser.
MAX_DEAL_ROWS = 1_000

DEAL_COLUMNS = ("opportunity_id", "name", "account_name", "owner", "team", "segment", "region",
                "type", "channel", "category", "stage", "amount", "close_date", "created_date",
                "competitor", "lost_reason", "loss_class", "renewal_risk", "next_step")

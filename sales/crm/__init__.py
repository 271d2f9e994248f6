"""Live CRM sync: Salesforce and HubSpot opportunities read through their APIs and recorded as
the day's snapshot through the import's own validated, all-or-nothing path.

`sync` is the engine every CRM shares (the previous picture, the merge of what changed, the
write through `sales.ingest.run.import_into` on a copy swapped into place under the import
lock, the sync's own bookkeeping); `salesforce` and `hubspot` read each CRM into the import's
canonical columns; `command` is `python -m sales sync salesforce|hubspot`. Credentials come
from the environment (or the app's Streamlit secrets) and never reach the database, a log or a
message.
"""

from sales.crm.sync import SyncError, SyncResult, last_syncs, stage_probabilities

__all__ = ["SyncError", "SyncResult", "last_syncs", "stage_probabilities"]

"""Importing CRM exports: opportunities (with accounts and owners files), Salesforce
OpportunityHistory, targets and submissions, from CSV or XLSX.

`readers` turns files into text tables, `headers` and `mapping` say which column is which,
`opportunities`, `history` and `plans` check and shape each kind, `validate` collects what is
wrong, and `run` ties it together: check everything, then write it all on a copy of the
database that is swapped into place.
"""

from sales.ingest.headers import KINDS, MAIN_KINDS
from sales.ingest.mapping import Mapping, MappingError, load_mapping, parse_mapping
from sales.ingest.readers import ReadError, Source, read_bytes, read_path
from sales.ingest.run import ImportRejected, ImportRequest, Plan, Result, plan, run_import

__all__ = ["KINDS", "MAIN_KINDS", "ImportRejected", "ImportRequest", "Mapping", "MappingError",
           "Plan", "ReadError", "Result", "Source", "load_mapping", "parse_mapping", "plan",
           "read_bytes", "read_path", "run_import"]

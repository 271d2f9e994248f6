"""The CRM's records as the last sync read them (table `crm_records`, JSON text per record): the
picture the next incremental sync merges its changes into. Never a credential."""

from __future__ import annotations

import json

import duckdb
import pandas as pd


def stored_records(cur: duckdb.DuckDBPyConnection, source: str) -> dict[str, dict]:
    """A source's stored records by id (`source`: a CRM, or a CRM's leads)."""
    rows = cur.execute("select opportunity_id, fields from crm_records where source = ?",
                       [source]).fetchall()
    return {key: json.loads(fields) for key, fields in rows}


def write_records(cur: duckdb.DuckDBPyConnection, source: str, picture: dict[str, dict],
          keys: list[str] | None = None) -> None:
    """Store the picture's records: all of them in place of the source's (`keys` None), or only
    `keys`, in place of those ids (an incremental sync rewrites what changed: storing 100,000
    deals whole took 2 s for 1% changed). A key the picture lacks was deleted: it goes."""
    if keys is None:
        cur.execute("delete from crm_records where source = ?", [source])
        keys = list(picture)
    else:
        cur.execute("delete from crm_records where source = ? and list_contains(?, "
                    "opportunity_id)", [source, keys])
        keys = [key for key in keys if key in picture]
    rows = pd.DataFrame({"source": source, "opportunity_id": keys,
                         "fields": [json.dumps(picture[k], sort_keys=True) for k in keys]},
                        columns=["source", "opportunity_id", "fields"])
    cur.register("crm_records_written", rows)
    try:
        cur.execute("insert into crm_records select source, opportunity_id, fields "
                    "from crm_records_written")
    finally:
        cur.unregister("crm_records_written")

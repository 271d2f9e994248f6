"""Lost reason → loss class (competition, no_decision, excluded) through loss_reason_map."""

from __future__ import annotations

import duckdb

COMPETITION, NO_DECISION, EXCLUDED = "competition", "no_decision", "excluded"
LOSS_CLASSES = (COMPETITION, NO_DECISION, EXCLUDED)


def classify_loss(lost_reason: str | None, competitor: str | None,
                  reason_map: dict[str, str]) -> str:
    """A lost deal naming a competitor is competition; otherwise its reason's mapped class;
    an unmapped reason counts as no_decision. Reason matching ignores case and spaces."""
    if competitor is not None and str(competitor).strip():
        return COMPETITION
    folded = {k.strip().lower(): v for k, v in reason_map.items()}
    return folded.get(str(lost_reason or "").strip().lower(), NO_DECISION)


# Same rule as classify_loss, for every deal at once: lost in a qualified closed stage gets a
# class, everything else none. Only rows whose class changes are written.
_RECLASSIFY_SQL = """
update opportunities as o
set loss_class = x.loss_class
from (
    select d.opportunity_id,
           case when m.closed and not m.won and m.qualified then
               case when nullif(trim(d.competitor), '') is not null then 'competition'
                    else coalesce(r.loss_class, 'no_decision') end
           end as loss_class
    from opportunities d
    left join stage_map m on m.stage = d.stage
    left join (select lower(trim(lost_reason)) as reason, min(loss_class) as loss_class
               from loss_reason_map group by 1) r
           on r.reason = lower(trim(d.lost_reason))
) x
where x.opportunity_id = o.opportunity_id and x.loss_class is distinct from o.loss_class
"""


def reclassify_losses(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute opportunities.loss_class after an import or an edit of loss_reason_map."""
    con.execute(_RECLASSIFY_SQL)


def unmapped_reasons(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """Lost reasons of deals without a competitor that the map does not know, with deal counts."""
    return con.cursor().execute("""
        select o.lost_reason, count(*) as deals
        from opportunities o
        join stage_map m on m.stage = o.stage and m.closed and not m.won and m.qualified
        where nullif(trim(o.competitor), '') is null
          and nullif(trim(o.lost_reason), '') is not null
          and lower(trim(o.lost_reason)) not in
              (select lower(trim(lost_reason)) from loss_reason_map)
        group by 1
        order by deals desc, 1
    """).fetchall()

"""Lost reason → loss class (competition, no_decision, excluded) through loss_reason_map."""

from __future__ import annotations

import duckdb

from sales.stages import closed_lost_sql, stage_flag_sql

COMPETITION, NO_DECISION, EXCLUDED = "competition", "no_decision", "excluded"
LOSS_CLASSES = (COMPETITION, NO_DECISION, EXCLUDED)
# SQL over a stage_map alias m: lost after qualifying, the deals a loss class is given to.
QUALIFIED_LOSS_SQL = f"{closed_lost_sql()} and {stage_flag_sql('qualified')}"

# The one definition of a deal's loss class, for every deal at once: lost in a qualified
# closed stage gets a class — competition when it names a competitor, else its reason's class
# from loss_reason_map (matched ignoring case and spaces), else no decision; everything else
# none. Only rows whose class changes are written. Deals deleted since (departed) follow the
# map too: past rates read them.
_RECLASSIFY_SQL = """
update {table} as o
set loss_class = x.loss_class
from (
    select d.opportunity_id,
           case when {lost} then
               case when nullif(trim(d.competitor), '') is not null then 'competition'
                    else coalesce(r.loss_class, 'no_decision') end
           end as loss_class
    from {table} d
    left join stage_map m on m.stage = d.stage
    left join (select lower(trim(lost_reason)) as reason, min(loss_class) as loss_class
               from loss_reason_map group by 1) r
           on r.reason = lower(trim(d.lost_reason))
) x
where x.opportunity_id = o.opportunity_id and x.loss_class is distinct from o.loss_class
"""


def reclassify_losses(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute loss_class of current and departed deals after an import or an edit of
    loss_reason_map."""
    for table in ("opportunities", "departed_opportunities"):
        con.execute(_RECLASSIFY_SQL.format(table=table, lost=QUALIFIED_LOSS_SQL))


def unmapped_reasons(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """Lost reasons of deals without a competitor that the map does not know, with deal counts."""
    return con.cursor().execute(f"""
        select o.lost_reason, count(*) as deals
        from opportunities o
        join stage_map m on m.stage = o.stage and {QUALIFIED_LOSS_SQL}
        where nullif(trim(o.competitor), '') is null
          and nullif(trim(o.lost_reason), '') is not null
          and lower(trim(o.lost_reason)) not in
              (select lower(trim(lost_reason)) from loss_reason_map)
        group by 1
        order by deals desc, 1
    """).fetchall()  # noqa: S608 - fixed SQL

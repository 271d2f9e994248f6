"""The DuckDB schema, versioned; opening an older file upgrades it in place.

Snapshots are stored as changes: `opportunity_history` holds one row per stretch of time a deal
kept the same stage, category, amount, close date and owner (`valid_from` inclusive, `valid_to`
exclusive, null while current), and `snapshot_dates` lists the dates a full picture was taken.
The view `opportunity_snapshots` expands the two into the full picture per snapshot date, so
analysts can query the spec's table while "state as of a date" stays one range scan.

Migrations only ever add: a step never drops a table or column a user's data lives in.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from sales.lead_statuses import LEAD_GROUPS, default_lead_statuses
from sales.snapshots import standing_sql
from sales.stages import default_stage_map

_BASE_TABLES = """
create table if not exists meta (
    key varchar primary key,
    value varchar not null
);
create table if not exists settings (
    name varchar primary key,
    value varchar not null
);
create table if not exists stage_map (
    stage varchar primary key,
    sort_order integer not null,
    forecast_category varchar not null,
    qualified boolean not null,
    closed boolean not null,
    won boolean not null,
    redlining boolean not null default false
);
create table if not exists loss_reason_map (
    lost_reason varchar primary key,
    loss_class varchar not null
        check (loss_class in ('competition', 'no_decision', 'excluded'))
);
create table if not exists opportunities (
    opportunity_id varchar primary key,
    name varchar,
    account_name varchar,
    account_employees integer,
    segment varchar,
    region varchar,
    team varchar,
    owner varchar,
    type varchar,
    channel varchar,
    stage varchar not null,
    forecast_category varchar,
    amount decimal(18, 2),
    close_date date,
    created_date date,
    sales_accepted_date date,
    lost_reason varchar,
    competitor varchar,
    loss_class varchar,
    renewal_risk varchar,
    next_step varchar,
    lead_source varchar
);
create table if not exists opportunity_history (
    opportunity_id varchar not null,
    valid_from date not null,
    valid_to date,
    stage varchar not null,
    forecast_category varchar,
    amount decimal(18, 2),
    close_date date,
    owner varchar
);
create table if not exists snapshot_dates (
    snapshot_date date primary key
);
create table if not exists targets (
    period varchar not null,
    scope varchar not null
        check (scope in ('company', 'segment', 'region', 'team', 'owner')),
    scope_value varchar not null default '',
    amount decimal(18, 2) not null check (amount >= 0),
    primary key (period, scope, scope_value)
);
create sequence if not exists forecast_call_ids start 1;
create table if not exists forecast_calls (
    call_id bigint primary key default nextval('forecast_call_ids'),
    period varchar not null,
    call_date date not null,
    saved_at timestamp not null,
    saved_by varchar not null,
    note varchar,
    scope varchar not null default ''
);
create table if not exists forecast_call_decisions (
    call_id bigint not null,
    opportunity_id varchar not null,
    included boolean not null,
    reason varchar,
    amount decimal(18, 2),
    forecast_category varchar,
    primary key (call_id, opportunity_id)
);
create table if not exists submissions (
    period varchar not null,
    owner varchar not null,
    submitted_date date not null,
    forecast decimal(18, 2) not null,
    upside decimal(18, 2) not null default 0,
    primary key (period, owner, submitted_date)
);
"""

# Every picture taken: the history rows standing on each snapshot date.
_SNAPSHOTS_VIEW = f"""
create or replace view opportunity_snapshots as
select d.snapshot_date, h.opportunity_id, h.stage, h.forecast_category, h.amount,
       h.close_date, h.owner
from snapshot_dates d
join opportunity_history h on {standing_sql("d.snapshot_date", "h")}
"""  # noqa: S608 - fixed SQL

# Lost reasons the shipped loss_reason_map knows. A lost deal naming a competitor is competition
# whatever its reason; an unmapped reason counts as no_decision and is listed for mapping.
DEFAULT_LOSS_REASONS = {
    "Lost to competitor": "competition",
    "Competitor": "competition",
    "Chose competitor": "competition",
    "Features": "competition",
    "Price": "competition",
    "No decision": "no_decision",
    "No budget": "no_decision",
    "Budget": "no_decision",
    "Timing": "no_decision",
    "Went dark": "no_decision",
    "Status quo": "no_decision",
    "No response": "no_decision",
    "Duplicate": "excluded",
    "Duplicate opportunity": "excluded",
    "Merged": "excluded",
    "Merged into another opportunity": "excluded",
    "Created in error": "excluded",
}


def _v1(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_BASE_TABLES)
    con.execute(_SNAPSHOTS_VIEW)
    con.executemany(
        "insert or ignore into stage_map values (?, ?, ?, ?, ?, ?, ?)",
        [[s.stage, s.sort_order, s.forecast_category, s.qualified, s.closed, s.won, s.redlining]
         for s in default_stage_map()],
    )
    con.executemany(
        "insert or ignore into loss_reason_map values (?, ?)", list(DEFAULT_LOSS_REASONS.items())
    )


def _v2(con: duckdb.DuckDBPyConnection) -> None:
    # The closed-won figure a call was saved with: the number a manager committed to is then
    # read back exactly, without re-deriving it from the history.
    con.execute("alter table forecast_calls add column if not exists closed_won decimal(18, 2)")


def _v3(con: duckdb.DuckDBPyConnection) -> None:
    # docs/data-model.md#deleted-deals: a deal deleted from the CRM since keeps the descriptive fields it last
    # had, so past views, filters and movement's "removed" still see it. `departed_on` is the
    # as-of date of the first full picture without it. The same columns as opportunities (a
    # later step that adds a column to one adds it to both); `known_opportunities` is every
    # deal ever in a full picture, each once (sales.departed keeps the two apart).
    con.execute("""create table if not exists departed_opportunities as
                   select *, null::date as departed_on from opportunities where false""")
    con.execute("""create or replace view known_opportunities as
                   select * from opportunities
                   union all by name
                   select * exclude (departed_on) from departed_opportunities""")


def _v4(con: duckdb.DuckDBPyConnection) -> None:
    # Serving a team (sales.access): who may do what, within which teams, regions and owners;
    # and every write, who made it and what it did (sales.audit). Both live in the database
    # file so imports (built on a copy of it) and restarts keep them.
    con.execute("""
        create table if not exists access (
            email varchar primary key,
            role varchar not null check (role in ('viewer', 'manager', 'analyst')),
            teams varchar[] not null default [],
            regions varchar[] not null default [],
            owners varchar[] not null default [],
            granted_by varchar not null,
            granted_at timestamp not null
        );
        create sequence if not exists audit_ids start 1;
        create table if not exists audit_log (
            audit_id bigint primary key default nextval('audit_ids'),
            happened_at timestamp not null,
            who varchar not null,
            action varchar not null,
            summary varchar not null
        );""")


def _leads_and_follow_ups(con: duckdb.DuckDBPyConnection) -> None:
    # The lead pipeline and follow-ups of the weekly call. Leads are stored like
    # opportunities: `leads` is every lead seen in a full leads export, as the latest one
    # described it, and `lead_history` its status, owner, conversion and reason as changes
    # between lead snapshots (`valid_from` inclusive, `valid_to` exclusive, null while
    # current), so "where are the period's MQLs now" compares with where they stood then.
    # `follow_ups` are the call's action items; they live in the file, so imports (built on a
    # copy of it), syncs and restarts keep them.
    groups = ", ".join(f"'{g}'" for g in LEAD_GROUPS)  # constants
    con.execute(f"""
        create table if not exists lead_status_map (
            status varchar primary key,
            sort_order integer not null,
            status_group varchar not null check (status_group in ({groups})),
            accepted boolean not null default false
        );
        create table if not exists leads (
            lead_id varchar primary key,
            created_date date,
            status varchar not null,
            mql_date date,
            accepted_date date,
            owner varchar,
            lead_source varchar,
            account_employees integer,
            segment varchar,
            region varchar,
            converted_opportunity_id varchar,
            converted_date date,
            status_reason varchar
        );
        create table if not exists lead_history (
            lead_id varchar not null,
            valid_from date not null,
            valid_to date,
            status varchar not null,
            owner varchar,
            converted_opportunity_id varchar,
            converted_date date,
            status_reason varchar
        );
        create table if not exists lead_snapshot_dates (
            snapshot_date date primary key
        );
        create sequence if not exists follow_up_ids start 1;
        create table if not exists follow_ups (
            follow_up_id bigint primary key default nextval('follow_up_ids'),
            text varchar not null,
            owner varchar not null,
            due_date date not null,
            opportunity_id varchar,
            period varchar not null,
            scope varchar not null default '',
            call_date date not null,
            created_by varchar not null,
            created_at timestamp not null,
            closed_call_date date,
            closed_by varchar,
            closed_at timestamp,
            close_note varchar
        );""")  # noqa: S608 - the groups are constants
    con.executemany("insert or ignore into lead_status_map values (?, ?, ?, ?)",
                    [[s.status, s.sort_order, s.status_group, s.accepted]
                     for s in default_lead_statuses()])


def _stage_probabilities(con: duckdb.DuckDBPyConnection) -> None:
    # The stage-weighted forecast (sales.backtest): each stage's probability, in percent, and
    # where it came from (probability_source): 'default' from the shipped stage lists,
    # 'import' from a CRM's own per-deal probability, 'analyst' from an edit (which an import
    # never overwrites). Shipped stages get their list's default; others stay empty (they
    # count at their category's, sales.stages.CATEGORY_PROBABILITIES) until an import or an
    # analyst sets one.
    con.execute("alter table stage_map add column if not exists probability double")
    con.execute("alter table stage_map add column if not exists probability_source varchar")
    con.executemany("update stage_map set probability = ?, probability_source = 'default' "
                    "where stage = ? and probability is null",
                    [[s.probability, s.stage] for s in default_stage_map()])


def _crm_sync(con: duckdb.DuckDBPyConnection) -> None:
    # Live CRM sync (sales.crm): per CRM, the last sync (its high-water mark is the data's own
    # last-modified time, never the clock), the org's records as last read (each sync's full
    # picture is the previous one with the changes merged in), and the stage probabilities the
    # org reports. No credential is ever stored.
    con.execute("""
        create table if not exists crm_sync (
            source varchar primary key,
            high_water varchar,
            columns varchar not null default '',
            as_of date,
            started_at timestamp,
            finished_at timestamp,
            seconds double,
            full_read boolean,
            records_read bigint,
            changed bigint,
            deleted bigint,
            opportunities bigint
        );
        create table if not exists crm_records (
            source varchar not null,
            opportunity_id varchar not null,
            fields varchar not null,
            primary key (source, opportunity_id)
        );
        create table if not exists crm_stages (
            source varchar not null,
            stage varchar not null,
            probability double,
            primary key (source, stage)
        );""")


def _currencies(con: duckdb.DuckDBPyConnection) -> None:
    # docs/data-model.md#currencies: `amount` stays the corporate-currency figure every metric
    # reads; a deal also keeps what its CRM holds (amount_original in `currency`), in the
    # current state, the deleted deals and every history row (a snapshot keeps the converted
    # amount of its week). Rows from before this step were all in the corporate currency.
    from sales.settings import load_settings

    corporate = load_settings(con).corporate_currency
    for table in ("opportunities", "departed_opportunities", "opportunity_history"):
        con.execute(f"alter table {table} add column if not exists amount_original "  # noqa: S608
                    "decimal(18, 2)")
        con.execute(f"alter table {table} add column if not exists currency varchar")  # noqa: S608
        con.execute(f"update {table} set amount_original = amount, currency = ? "  # noqa: S608
                    "where currency is null", [corporate])
    con.execute("""create or replace view known_opportunities as
                   select * from opportunities
                   union all by name
                   select * exclude (departed_on) from departed_opportunities""")
    con.execute(f"""
        create or replace view opportunity_snapshots as
        select d.snapshot_date, h.opportunity_id, h.stage, h.forecast_category, h.amount,
               h.close_date, h.owner, h.amount_original, h.currency
        from snapshot_dates d
        join opportunity_history h on {standing_sql("d.snapshot_date", "h")}""")  # noqa: S608
    # The rate tables, each version from the day it was recorded (sales.currency).
    con.execute("""
        create table if not exists currency_rates (
            recorded_on date not null,
            iso_code varchar not null,
            rate decimal(24, 9) not null check (rate > 0),
            dated boolean not null,
            start_date date not null,
            next_start_date date not null
        )""")
def _people_calls(con: duckdb.DuckDBPyConnection) -> None:
    # The hierarchy and the people's calls (sales.hierarchy, sales.people_calls). Users are
    # named as the deals' owner field spells them; memberships are effective-dated
    # (`valid_from` inclusive, `valid_to` exclusive, null while standing), so a rep who moves
    # team rolls up under the old manager before the move and the new one from it. Calls are
    # append-only: a new call adds a row and the history stays. All live in the file, so
    # imports (built on a copy of it) and restarts keep them. Email uniqueness is checked by
    # the code that writes users (the hierarchy as it stands), not by an index a departed
    # user's old address would trip.
    con.execute("""
        create table if not exists users (
            name varchar primary key,
            email varchar not null,
            title varchar
        );
        create table if not exists memberships (
            name varchar not null,
            manager varchar,
            valid_from date not null,
            valid_to date
        );
        create sequence if not exists people_call_ids start 1;
        create table if not exists people_calls (
            call_id bigint primary key default nextval('people_call_ids'),
            user_name varchar not null,
            period varchar not null,
            forecast decimal(18, 2) not null check (forecast >= 0),
            upside decimal(18, 2) not null default 0 check (upside >= 0),
            note varchar not null default '',
            submitted_at timestamp not null,
            submitted_by varchar not null
        );
        create table if not exists people_call_deals (
            call_id bigint not null,
            opportunity_id varchar not null,
            primary key (call_id, opportunity_id)
        );""")
    # The `rep` role: the access table's check names the roles, so it is rebuilt with the
    # grants copied across.
    con.execute("""
        create table access_with_reps (
            email varchar primary key,
            role varchar not null check (role in ('viewer', 'rep', 'manager', 'analyst')),
            teams varchar[] not null default [],
            regions varchar[] not null default [],
            owners varchar[] not null default [],
            granted_by varchar not null,
            granted_at timestamp not null
        );
        insert into access_with_reps select * from access;
        drop table access;
        alter table access_with_reps rename to access;""")
    # Yesterday's bottom-up numbers become calls by the owners they name (submitted at the
    # file's date, 00:00, by the owner), so a file of an older schema keeps its reps' numbers.
    con.execute("""
        insert into people_calls (user_name, period, forecast, upside, note, submitted_at,
                                  submitted_by)
        select owner, period, forecast, upside, '', submitted_date::timestamp, owner
        from submissions order by submitted_date, owner, period""")


def _delivery(con: duckdb.DuckDBPyConnection) -> None:
    # Delivery (sales.delivery): every message the digest, alerts and reminders handed to a mail
    # server or Slack, or failed to (with the server's message), one row per recipient and
    # run; and each alert (recipient, deal, rule, change) written only once the server accepted
    # the message carrying it, so a rerun never sends it twice. Both live in the file, so
    # imports (built on a copy of it) and restarts keep them. No credential is ever stored.
    con.execute("""
        create table if not exists delivery_log (
            run_id varchar not null,
            kind varchar not null,
            channel varchar not null,
            recipient varchar not null,
            sent_at timestamp not null,
            ok boolean not null,
            alerts integer not null default 0,
            message varchar not null default '',
            sent_by varchar not null default ''
        );
        create table if not exists alerts_sent (
            recipient varchar not null,
            opportunity_id varchar not null,
            rule varchar not null,
            change varchar not null,
            sent_at timestamp not null,
            run_id varchar not null,
            primary key (recipient, opportunity_id, rule, change)
        );""")


# Index i upgrades a file at version i to version i + 1. Append; never edit a shipped step.
MIGRATIONS: list[Callable[[duckdb.DuckDBPyConnection], None]] = [
    _v1, _v2, _v3, _v4, _leads_and_follow_ups, _crm_sync, _stage_probabilities,
    _people_calls, _delivery, _currencies]
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The file's schema version; 0 for a file without our tables."""
    # fetchall, not fetchone: a result left half-read keeps its transaction open, and an open
    # transaction on the app's connection makes every later CHECKPOINT fail.
    exists = con.execute(
        "select count(*) from information_schema.tables where table_name = 'meta'"
    ).fetchall()[0][0]
    if not exists:
        return 0
    rows = con.execute("select value from meta where key = 'schema_version'").fetchall()
    return int(rows[0][0]) if rows else 0


def upgrade(con: duckdb.DuckDBPyConnection,
            migrations: list[Callable[[duckdb.DuckDBPyConnection], None]] | None = None) -> int:
    """Bring the file to the latest schema, one transaction per step; returns the version."""
    steps = MIGRATIONS if migrations is None else migrations
    version = schema_version(con)
    if version > len(steps):
        raise RuntimeError(
            f"database schema version {version} is newer than this code ({len(steps)}); "
            "upgrade the application"
        )
    for index in range(version, len(steps)):
        con.execute("begin transaction")
        try:
            steps[index](con)
            con.execute(
                "insert or replace into meta values ('schema_version', ?)", [str(index + 1)]
            )
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    return len(steps)

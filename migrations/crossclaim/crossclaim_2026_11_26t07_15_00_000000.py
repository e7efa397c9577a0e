"""Daily analytics aggregates: `analytics_day` holds per-day and per-month sums the dashboard reads, and
`analytics_dirty` the days whose sums no longer match the cases. Triggers mark a day dirty in the same
transaction as any write to the rows behind it (web, API, imports, the supplier portal, raw SQL), and
the next read recomputes those days (app/analytics/daily.py), so the figures stay exact.

Also the indexes those recomputations and the remaining raw reads need.
"""

# ruff: noqa: S608 - the statements are assembled from constant text only

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-11-26T07:15:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "daily analytics aggregates kept exact by dirty-day triggers; indexes for analytics"

EVENT_KINDS = "('node_changed', 'responsibility_confirmed', 'responsibility_overridden', 'case_pushed')"
RESPONSE_KINDS = "('party_response', 'message')"
CASE_KEYS_CHANGED = (
    "(OLD.supplier IS NOT NEW.supplier OR OLD.carrier IS NOT NEW.carrier OR OLD.region IS NOT NEW.region "
    "OR OLD.problem_type IS NOT NEW.problem_type OR OLD.product IS NOT NEW.product "
    "OR OLD.created_at IS NOT NEW.created_at)"
)
CASE_COLUMNS = (
    "created_at, supplier, carrier, region, product, problem_type, root_cause, node, quantity_affected, "
    "confirmed_party, purchase_order"
)

COMMON = [
    'CREATE INDEX IF NOT EXISTS case_event_case_id ON case_event ("case", id)',
    "CREATE INDEX IF NOT EXISTS case_event_kind_at ON case_event (kind, at)",
    'CREATE INDEX IF NOT EXISTS stage_deadline_case ON stage_deadline ("case")',
    "CREATE INDEX IF NOT EXISTS stage_deadline_open_due ON stage_deadline (due_at) WHERE finished_at IS NULL",
    "CREATE INDEX IF NOT EXISTS after_sales_case_purchase_order ON after_sales_case (purchase_order)",
    "CREATE INDEX IF NOT EXISTS after_sales_case_product ON after_sales_case (product)",
    "CREATE INDEX IF NOT EXISTS after_sales_case_supplier ON after_sales_case (supplier)",
    "CREATE INDEX IF NOT EXISTS order_line_purchase_order ON order_line (purchase_order)",
    'CREATE INDEX IF NOT EXISTS dispute_case ON dispute ("case")',
    'CREATE INDEX IF NOT EXISTS recovery_case ON recovery ("case")',
    "CREATE INDEX IF NOT EXISTS analytics_day_read ON analytics_day (fact, grain, day)",
]


def _table(day_type: str, real: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS analytics_day (
            fact VARCHAR(12) NOT NULL, grain CHAR(1) NOT NULL, day {day_type} NOT NULL,
            supplier INTEGER, carrier INTEGER, region VARCHAR(60), product INTEGER, problem_type VARCHAR(30),
            label VARCHAR(40), party VARCHAR(20),
            n BIGINT NOT NULL DEFAULT 0, affected BIGINT NOT NULL DEFAULT 0, units BIGINT NOT NULL DEFAULT 0,
            open_n BIGINT NOT NULL DEFAULT 0, disputed BIGINT NOT NULL DEFAULT 0,
            assigned BIGINT NOT NULL DEFAULT 0, accepted BIGINT NOT NULL DEFAULT 0, met BIGINT NOT NULL DEFAULT 0,
            days {real}, max_days {real})""",
        f"""CREATE TABLE IF NOT EXISTS analytics_dirty (
            fact_group VARCHAR(12) NOT NULL, day {day_type} NOT NULL, PRIMARY KEY (fact_group, day))""",
    ]


def _mark(group: str, day: str, source: str = "") -> str:
    """One statement of a trigger marking a day dirty; `source` is FROM … WHERE … when needed."""
    where = f"WHERE {day} IS NOT NULL" if not source else f"{source} AND {day} IS NOT NULL"
    return (
        f"INSERT INTO analytics_dirty (fact_group, day) SELECT DISTINCT '{group}', {day} {where} "
        "ON CONFLICT DO NOTHING;"
    )


def _sqlite_day(column: str) -> str:
    return f"substr({column}, 1, 10)"


def _sqlite_case(row: str) -> list[str]:
    return [
        _mark("created", _sqlite_day(f"{row}.created_at")),
        _mark("cohort", "delivered_on", f"FROM purchase_order WHERE id = {row}.purchase_order"),
    ]


def _sqlite_case_events(row: str, condition: str = "1 = 1") -> list[str]:
    return [
        _mark(
            "event",
            _sqlite_day("at"),
            f'FROM case_event WHERE "case" = {row} AND kind IN {EVENT_KINDS} AND {condition}',
        ),
        _mark(
            "deadline",
            _sqlite_day("finished_at"),
            f'FROM stage_deadline WHERE "case" = {row} AND {condition}',
        ),
    ]


def _sqlite_trigger(name: str, when: str, body: list[str]) -> str:
    return f"CREATE TRIGGER IF NOT EXISTS {name} {when} BEGIN {' '.join(body)} END"


SQLITE = [
    *_table("TEXT", "REAL"),
    *COMMON,
    _sqlite_trigger("analytics_case_insert", "AFTER INSERT ON after_sales_case", _sqlite_case("NEW")),
    _sqlite_trigger(
        "analytics_case_update",
        f"AFTER UPDATE OF {CASE_COLUMNS} ON after_sales_case",
        [*_sqlite_case("OLD"), *_sqlite_case("NEW"), *_sqlite_case_events("NEW.id", CASE_KEYS_CHANGED)],
    ),
    _sqlite_trigger("analytics_case_delete", "AFTER DELETE ON after_sales_case", _sqlite_case("OLD")),
    _sqlite_trigger(
        "analytics_event_insert",
        f"AFTER INSERT ON case_event WHEN NEW.kind IN {EVENT_KINDS} OR NEW.kind IN {RESPONSE_KINDS}",
        [
            _mark("event", _sqlite_day("NEW.at"), f"WHERE NEW.kind IN {EVENT_KINDS}"),
            # A first push's answer time changes with any later push or answer on the case.
            _mark("event", _sqlite_day("at"), 'FROM case_event WHERE "case" = NEW."case" AND kind = \'case_pushed\''),
        ],
    ),
    _sqlite_trigger(
        "analytics_event_change",
        "AFTER UPDATE ON case_event",
        [_mark("event", _sqlite_day("OLD.at")), *_sqlite_case_events('OLD."case"'), *_sqlite_case_events('NEW."case"')],
    ),
    _sqlite_trigger(
        "analytics_event_delete",
        "AFTER DELETE ON case_event",
        [_mark("event", _sqlite_day("OLD.at")), *_sqlite_case_events('OLD."case"')],
    ),
    *[
        _sqlite_trigger(
            f"analytics_deadline_{op.lower()}",
            f"AFTER {op} ON stage_deadline",
            [_mark("deadline", _sqlite_day(f"{row}.finished_at")) for row in rows],
        )
        for op, rows in (("INSERT", ["NEW"]), ("UPDATE", ["OLD", "NEW"]), ("DELETE", ["OLD"]))
    ],
    *[
        _sqlite_trigger(
            f"analytics_dispute_{op.lower()}",
            f"AFTER {op} ON dispute",
            [
                _mark("created", _sqlite_day("created_at"), f'FROM after_sales_case WHERE id = {row}."case"')
                for row in rows
            ],
        )
        for op, rows in (("INSERT", ["NEW"]), ("UPDATE", ["OLD", "NEW"]), ("DELETE", ["OLD"]))
    ],
    _sqlite_trigger(
        "analytics_order_update",
        "AFTER UPDATE OF delivered_on, supplier, carrier, region ON purchase_order",
        [_mark("cohort", "OLD.delivered_on"), _mark("cohort", "NEW.delivered_on")],
    ),
    _sqlite_trigger("analytics_order_delete", "AFTER DELETE ON purchase_order", [_mark("cohort", "OLD.delivered_on")]),
    *[
        _sqlite_trigger(
            f"analytics_order_line_{op.lower()}",
            f"AFTER {op} ON order_line",
            [_mark("cohort", "delivered_on", f"FROM purchase_order WHERE id = {row}.purchase_order") for row in rows],
        )
        for op, rows in (("INSERT", ["NEW"]), ("UPDATE", ["OLD", "NEW"]), ("DELETE", ["OLD"]))
    ],
]

PG_DAY = "(({column}) AT TIME ZONE 'UTC')::date"


def _pg_day(column: str) -> str:
    return PG_DAY.format(column=column)


def _pg_case(row: str) -> list[str]:
    return [
        _mark("created", _pg_day(f"{row}.created_at")),
        _mark("cohort", "delivered_on", f"FROM purchase_order WHERE id = {row}.purchase_order"),
    ]


def _pg_case_events(row: str) -> list[str]:
    return [
        _mark("event", _pg_day("at"), f'FROM case_event WHERE "case" = {row} AND kind IN {EVENT_KINDS}'),
        _mark("deadline", _pg_day("finished_at"), f'FROM stage_deadline WHERE "case" = {row}'),
    ]


def _pg_function(name: str, body: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
       BEGIN
         {body}
         RETURN NULL;
       END;
       $$ LANGUAGE plpgsql"""


PUSHES_OF_NEW = 'FROM case_event WHERE "case" = NEW."case" AND kind = \'case_pushed\''
PG_CASE_KEYS_CHANGED = CASE_KEYS_CHANGED.replace(" IS NOT ", " IS DISTINCT FROM ")

POSTGRES = [
    *_table("DATE", "DOUBLE PRECISION"),
    *COMMON,
    _pg_function(
        "crossclaim_analytics_case",
        f"""IF TG_OP IN ('UPDATE', 'DELETE') THEN {" ".join(_pg_case("OLD"))} END IF;
         IF TG_OP IN ('INSERT', 'UPDATE') THEN {" ".join(_pg_case("NEW"))} END IF;
         IF TG_OP = 'UPDATE' AND {PG_CASE_KEYS_CHANGED} THEN {" ".join(_pg_case_events("NEW.id"))} END IF;""",
    ),
    _pg_function(
        "crossclaim_analytics_event",
        f"""IF TG_OP = 'INSERT' THEN
           IF NEW.kind IN {EVENT_KINDS} THEN {_mark("event", _pg_day("NEW.at"))} END IF;
           IF NEW.kind IN {EVENT_KINDS} OR NEW.kind IN {RESPONSE_KINDS} THEN
             {_mark("event", _pg_day("at"), PUSHES_OF_NEW)}
           END IF;
         ELSE
           {_mark("event", _pg_day("OLD.at"))}
           {" ".join(_pg_case_events('OLD."case"'))}
           IF TG_OP = 'UPDATE' THEN {" ".join(_pg_case_events('NEW."case"'))} END IF;
         END IF;""",
    ),
    _pg_function(
        "crossclaim_analytics_deadline",
        f"""IF TG_OP IN ('UPDATE', 'DELETE') THEN {_mark("deadline", _pg_day("OLD.finished_at"))} END IF;
         IF TG_OP IN ('INSERT', 'UPDATE') THEN {_mark("deadline", _pg_day("NEW.finished_at"))} END IF;""",
    ),
    _pg_function(
        "crossclaim_analytics_dispute",
        f"""IF TG_OP IN ('UPDATE', 'DELETE') THEN
           {_mark("created", _pg_day("created_at"), 'FROM after_sales_case WHERE id = OLD."case"')}
         END IF;
         IF TG_OP IN ('INSERT', 'UPDATE') THEN
           {_mark("created", _pg_day("created_at"), 'FROM after_sales_case WHERE id = NEW."case"')}
         END IF;""",
    ),
    _pg_function(
        "crossclaim_analytics_order",
        f"""{_mark("cohort", "OLD.delivered_on")}
         IF TG_OP = 'UPDATE' THEN {_mark("cohort", "NEW.delivered_on")} END IF;""",
    ),
    _pg_function(
        "crossclaim_analytics_order_line",
        f"""IF TG_OP IN ('UPDATE', 'DELETE') THEN
           {_mark("cohort", "delivered_on", "FROM purchase_order WHERE id = OLD.purchase_order")}
         END IF;
         IF TG_OP IN ('INSERT', 'UPDATE') THEN
           {_mark("cohort", "delivered_on", "FROM purchase_order WHERE id = NEW.purchase_order")}
         END IF;""",
    ),
    # TRUNCATE skips row triggers: every day already summed is recomputed on the next read.
    _pg_function(
        "crossclaim_analytics_truncated",
        """INSERT INTO analytics_dirty (fact_group, day)
           SELECT DISTINCT CASE WHEN fact IN ('cohort', 'cohort_pt') THEN 'cohort'
                                WHEN fact IN ('move', 'hint', 'answer') THEN 'event' ELSE fact END, day
           FROM analytics_day WHERE grain = 'd' ON CONFLICT DO NOTHING;""",
    ),
    f"""CREATE TRIGGER analytics_case AFTER INSERT OR DELETE OR UPDATE OF {CASE_COLUMNS} ON after_sales_case
       FOR EACH ROW EXECUTE FUNCTION crossclaim_analytics_case()""",
    """CREATE TRIGGER analytics_event AFTER INSERT OR UPDATE OR DELETE ON case_event
       FOR EACH ROW EXECUTE FUNCTION crossclaim_analytics_event()""",
    """CREATE TRIGGER analytics_deadline AFTER INSERT OR UPDATE OR DELETE ON stage_deadline
       FOR EACH ROW EXECUTE FUNCTION crossclaim_analytics_deadline()""",
    """CREATE TRIGGER analytics_dispute AFTER INSERT OR UPDATE OR DELETE ON dispute
       FOR EACH ROW EXECUTE FUNCTION crossclaim_analytics_dispute()""",
    """CREATE TRIGGER analytics_order AFTER DELETE OR UPDATE OF delivered_on, supplier, carrier, region
       ON purchase_order FOR EACH ROW EXECUTE FUNCTION crossclaim_analytics_order()""",
    """CREATE TRIGGER analytics_order_line AFTER INSERT OR UPDATE OR DELETE ON order_line
       FOR EACH ROW EXECUTE FUNCTION crossclaim_analytics_order_line()""",
    *[
        f"""CREATE TRIGGER analytics_truncate_{table} AFTER TRUNCATE ON {table}
           FOR EACH STATEMENT EXECUTE FUNCTION crossclaim_analytics_truncated()"""
        for table in ("after_sales_case", "case_event", "stage_deadline", "dispute", "purchase_order", "order_line")
    ],
]


def _backfill(day: str) -> list[str]:
    """Every day that already has rows is dirty: the first read (or `crossclaim analytics rebuild`) sums it."""
    return [
        f"INSERT INTO analytics_dirty (fact_group, day) SELECT DISTINCT 'created', {day.format(column='created_at')} "
        "FROM after_sales_case WHERE created_at IS NOT NULL ON CONFLICT DO NOTHING",
        "INSERT INTO analytics_dirty (fact_group, day) SELECT DISTINCT 'cohort', delivered_on FROM purchase_order "
        "WHERE delivered_on IS NOT NULL ON CONFLICT DO NOTHING",
        f"INSERT INTO analytics_dirty (fact_group, day) SELECT DISTINCT 'event', {day.format(column='at')} "
        f"FROM case_event WHERE kind IN {EVENT_KINDS} ON CONFLICT DO NOTHING",
        f"INSERT INTO analytics_dirty (fact_group, day) SELECT DISTINCT 'deadline', {day.format(column='finished_at')} "
        "FROM stage_deadline WHERE finished_at IS NOT NULL ON CONFLICT DO NOTHING",
    ]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="crossclaim", description=DESCRIPTION)

    async def install() -> None:
        engine = engine_finder()
        assert engine is not None
        sqlite = isinstance(engine, SQLiteEngine)
        for statement in SQLITE if sqlite else POSTGRES:
            await engine.run_ddl(statement)
        for statement in _backfill("substr({column}, 1, 10)" if sqlite else PG_DAY):
            await engine.run_ddl(statement)

    manager.add_raw(install)
    return manager

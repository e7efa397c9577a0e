"""Append-only timeline and evidence at the database level: no UPDATE or DELETE of case events, no
DELETE of evidence and no change to what an evidence row proves (case, hash, stored original).

Maintenance (test clean-up, a restore) can lift the guard for its own session: on PostgreSQL with
`SET crossclaim.maintenance = 'on'` (TRUNCATE is not a row operation and passes anyway), on SQLite by
a row in `audit_maintenance`. Anyone who can do that can also drop a trigger: the hash chain
(`crossclaim audit verify`) is what detects such tampering; the triggers stop accidents and app bugs.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-11-26T04:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "append-only triggers on case_event and evidence"

SQLITE = [
    "CREATE TABLE IF NOT EXISTS audit_maintenance (id INTEGER PRIMARY KEY)",
    """CREATE TRIGGER IF NOT EXISTS case_event_no_update BEFORE UPDATE ON case_event
       WHEN NOT EXISTS (SELECT 1 FROM audit_maintenance)
       BEGIN SELECT RAISE(ABORT, 'case events are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS case_event_no_delete BEFORE DELETE ON case_event
       WHEN NOT EXISTS (SELECT 1 FROM audit_maintenance)
       BEGIN SELECT RAISE(ABORT, 'case events are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS evidence_no_delete BEFORE DELETE ON evidence
       WHEN NOT EXISTS (SELECT 1 FROM audit_maintenance)
       BEGIN SELECT RAISE(ABORT, 'evidence is append-only: withdraw it instead'); END""",
    """CREATE TRIGGER IF NOT EXISTS evidence_keeps_its_proof BEFORE UPDATE ON evidence
       WHEN NOT EXISTS (SELECT 1 FROM audit_maintenance)
        AND (NEW.sha256 IS NOT OLD.sha256 OR NEW.original_key IS NOT OLD.original_key OR NEW."case" IS NOT OLD."case")
       BEGIN SELECT RAISE(ABORT, 'evidence is append-only: its hash and original cannot change'); END""",
]

POSTGRES = [
    """CREATE OR REPLACE FUNCTION crossclaim_events_append_only() RETURNS trigger AS $$
       BEGIN
         IF current_setting('crossclaim.maintenance', true) = 'on' THEN
           IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
           RETURN NEW;
         END IF;
         RAISE EXCEPTION 'case events are append-only (% refused)', TG_OP;
       END;
       $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE FUNCTION crossclaim_evidence_append_only() RETURNS trigger AS $$
       BEGIN
         IF current_setting('crossclaim.maintenance', true) = 'on' THEN
           IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
           RETURN NEW;
         END IF;
         IF TG_OP = 'DELETE' THEN
           RAISE EXCEPTION 'evidence is append-only: withdraw it instead';
         END IF;
         IF NEW.sha256 IS DISTINCT FROM OLD.sha256 OR NEW.original_key IS DISTINCT FROM OLD.original_key
            OR NEW."case" IS DISTINCT FROM OLD."case" THEN
           RAISE EXCEPTION 'evidence is append-only: its hash and original cannot change';
         END IF;
         RETURN NEW;
       END;
       $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER case_event_append_only BEFORE UPDATE OR DELETE ON case_event
       FOR EACH ROW EXECUTE FUNCTION crossclaim_events_append_only()""",
    """CREATE TRIGGER evidence_append_only BEFORE UPDATE OR DELETE ON evidence
       FOR EACH ROW EXECUTE FUNCTION crossclaim_evidence_append_only()""",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="crossclaim", description=DESCRIPTION)

    async def install() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in SQLITE if isinstance(engine, SQLiteEngine) else POSTGRES:
            await engine.run_ddl(statement)

    manager.add_raw(install)
    return manager

"""Full-text search over cases: one document per case (number, order number, description, supplier name
and every message), kept in step by triggers so that every writer — web, API, imports, the supplier
portal — updates it without knowing it exists.

SQLite: an FTS5 table with the trigram tokenizer (Chinese has no spaces, so words cannot be split on
them; trigrams find any substring of three or more characters). PostgreSQL: a plain table with a GIN
pg_trgm index when the extension can be installed (ILIKE then uses the index), and without the index
otherwise (ILIKE still works, only slower).
"""

# ruff: noqa: S608 - the statements are assembled from constant text only

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-11-26T05:05:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "case search documents kept by triggers (FTS5 trigram on SQLite, pg_trgm on PostgreSQL)"

SQLITE_DOCUMENT = """
SELECT c.id, c.number || ' ' || c.order_number || ' ' || c.description || ' '
    || COALESCE((SELECT s.name || ' ' || s.code FROM supplier s WHERE s.id = c.supplier), '') || ' '
    || COALESCE((SELECT group_concat(m.body, ' ') FROM message m WHERE m."case" = c.id), '')
FROM after_sales_case c
"""

SQLITE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS case_search USING fts5(document, tokenize='trigram')",
    f"INSERT INTO case_search (rowid, document) {SQLITE_DOCUMENT}",
    f"""CREATE TRIGGER IF NOT EXISTS case_search_insert AFTER INSERT ON after_sales_case BEGIN
        INSERT INTO case_search (rowid, document) {SQLITE_DOCUMENT} WHERE c.id = NEW.id; END""",
    f"""CREATE TRIGGER IF NOT EXISTS case_search_update
        AFTER UPDATE OF number, order_number, description, supplier ON after_sales_case BEGIN
        DELETE FROM case_search WHERE rowid = NEW.id;
        INSERT INTO case_search (rowid, document) {SQLITE_DOCUMENT} WHERE c.id = NEW.id; END""",
    """CREATE TRIGGER IF NOT EXISTS case_search_delete AFTER DELETE ON after_sales_case BEGIN
        DELETE FROM case_search WHERE rowid = OLD.id; END""",
    f"""CREATE TRIGGER IF NOT EXISTS case_search_message AFTER INSERT ON message BEGIN
        DELETE FROM case_search WHERE rowid = NEW."case";
        INSERT INTO case_search (rowid, document) {SQLITE_DOCUMENT} WHERE c.id = NEW."case"; END""",
    f"""CREATE TRIGGER IF NOT EXISTS case_search_supplier AFTER UPDATE OF name, code ON supplier BEGIN
        DELETE FROM case_search WHERE rowid IN (SELECT id FROM after_sales_case WHERE supplier = NEW.id);
        INSERT INTO case_search (rowid, document) {SQLITE_DOCUMENT} WHERE c.supplier = NEW.id; END""",
]

POSTGRES = [
    """CREATE TABLE IF NOT EXISTS case_search (
        case_id INTEGER PRIMARY KEY REFERENCES after_sales_case (id) ON DELETE CASCADE,
        document TEXT NOT NULL DEFAULT '')""",
    """DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm;
       EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'pg_trgm is not available: case search runs without an index';
       END $$""",
    """DO $$ BEGIN
         IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
           CREATE INDEX IF NOT EXISTS case_search_trgm ON case_search USING gin (document gin_trgm_ops);
         END IF;
       END $$""",
    """CREATE OR REPLACE FUNCTION crossclaim_case_search_refresh(target INTEGER) RETURNS void AS $$
       BEGIN
         INSERT INTO case_search (case_id, document)
         SELECT c.id, concat_ws(' ', c.number, c.order_number, c.description, s.name, s.code,
                (SELECT string_agg(m.body, ' ') FROM message m WHERE m."case" = c.id))
         FROM after_sales_case c LEFT JOIN supplier s ON s.id = c.supplier
         WHERE c.id = target
         ON CONFLICT (case_id) DO UPDATE SET document = EXCLUDED.document;
       END;
       $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE FUNCTION crossclaim_case_search_case() RETURNS trigger AS $$
       BEGIN PERFORM crossclaim_case_search_refresh(NEW.id); RETURN NULL; END;
       $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE FUNCTION crossclaim_case_search_message() RETURNS trigger AS $$
       BEGIN PERFORM crossclaim_case_search_refresh(NEW."case"); RETURN NULL; END;
       $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE FUNCTION crossclaim_case_search_supplier() RETURNS trigger AS $$
       BEGIN
         PERFORM crossclaim_case_search_refresh(c.id) FROM after_sales_case c WHERE c.supplier = NEW.id;
         RETURN NULL;
       END;
       $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER case_search_case AFTER INSERT OR UPDATE OF number, order_number, description, supplier
       ON after_sales_case FOR EACH ROW EXECUTE FUNCTION crossclaim_case_search_case()""",
    """CREATE TRIGGER case_search_message AFTER INSERT OR UPDATE OF body ON message
       FOR EACH ROW EXECUTE FUNCTION crossclaim_case_search_message()""",
    """CREATE TRIGGER case_search_supplier AFTER UPDATE OF name, code ON supplier
       FOR EACH ROW EXECUTE FUNCTION crossclaim_case_search_supplier()""",
    "SELECT crossclaim_case_search_refresh(id) FROM after_sales_case",
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

-- Fixes for two defects of FerretDB 1.24 on PostgreSQL (see shared/architecture.md), and
-- how documents are stored.
-- Installed into FerretDB's database before FerretDB starts; idempotent.

-- Defect 1: updates are read-modify-write without any check. Every document carries a
-- revision `_rev` that only PostgreSQL writes. FerretDB writes back the whole document it
-- read, so the revision it read travels with the write; a write whose revision differs
-- from the stored one is refused with SQLSTATE 40001 and the client retries.

CREATE OR REPLACE FUNCTION moneyfund_with_rev(doc jsonb, rev bigint) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
  field_order jsonb := COALESCE(doc -> '$s' -> '$k', '[]'::jsonb);
BEGIN
  IF NOT field_order @> '["_rev"]' THEN
    field_order := field_order || '["_rev"]'::jsonb;
  END IF;
  doc := jsonb_set(doc, '{_rev}', to_jsonb(rev));
  doc := jsonb_set(doc, '{$s,p,_rev}', '{"t":"long"}'::jsonb);
  RETURN jsonb_set(doc, '{$s,$k}', field_order);
END
$fn$;

CREATE OR REPLACE FUNCTION moneyfund_rev_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  NEW._jsonb := moneyfund_with_rev(NEW._jsonb, 0);
  RETURN NEW;
END
$fn$;

CREATE OR REPLACE FUNCTION moneyfund_rev_on_update() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  stored_rev bigint := COALESCE((OLD._jsonb ->> '_rev')::bigint, 0);
BEGIN
  -- A write without _rev (a whole-document replacement) cannot be checked and passes; the
  -- product never replaces documents.
  IF NOT NEW._jsonb ? '_rev' THEN
    NEW._jsonb := moneyfund_with_rev(NEW._jsonb, stored_rev + 1);
    RETURN NEW;
  END IF;
  IF (NEW._jsonb ->> '_rev')::bigint <> stored_rev THEN
    RAISE EXCEPTION 'moneyfund write conflict: document changed since it was read'
      USING ERRCODE = '40001';
  END IF;
  -- Read with its revision, the document carries the revision's type and place already:
  -- only the value changes (one copy of the document, not three).
  NEW._jsonb := jsonb_set(NEW._jsonb, '{_rev}', to_jsonb(stored_rev + 1));
  RETURN NEW;
END
$fn$;

CREATE OR REPLACE FUNCTION moneyfund_is_collection_table(table_oid oid) RETURNS boolean
LANGUAGE sql STABLE AS $fn$
  SELECT c.relkind = 'r'
     AND c.relname NOT LIKE '\_ferretdb\_%'
     AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'public')
     AND EXISTS (SELECT 1 FROM pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attname = '_jsonb' AND NOT a.attisdropped)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.oid = table_oid
$fn$;

-- Not a defect, a cost: FerretDB writes back the whole document on every update, and a
-- document above 2 kB (an account's recent step ids) was compressed with pglz on every
-- write and decompressed on every read (this build has no lz4). Stored out of line but
-- uncompressed, an update of such a document cost PostgreSQL about a fifth less CPU.
CREATE OR REPLACE FUNCTION moneyfund_store_uncompressed(table_oid oid) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = table_oid AND attname = '_jsonb' AND attstorage <> 'e') THEN
    EXECUTE format('ALTER TABLE %s ALTER COLUMN _jsonb SET STORAGE EXTERNAL', table_oid::regclass);
  END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION moneyfund_attach_rev_triggers(table_oid oid) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = table_oid AND tgname = 'moneyfund_rev_insert') THEN
    EXECUTE format('CREATE TRIGGER moneyfund_rev_insert BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION moneyfund_rev_on_insert()', table_oid::regclass);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = table_oid AND tgname = 'moneyfund_rev_update') THEN
    EXECUTE format('CREATE TRIGGER moneyfund_rev_update BEFORE UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION moneyfund_rev_on_update()', table_oid::regclass);
  END IF;
END
$fn$;

-- Defect 2: FerretDB filters with `_jsonb -> 'field' @> value`, which its btree indexes
-- cannot serve. Each btree index it creates gets a GIN twin per indexed field, on the
-- exact expression FerretDB filters with (`->` for a top-level field, `#>` for a path).
-- fastupdate = off: the pending list would otherwise be scanned by every lookup.

CREATE OR REPLACE FUNCTION moneyfund_twin_expression(btree_key_expression text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
  field_path text[];
BEGIN
  SELECT array_agg(replace(m[1], '''''', '''') ORDER BY ord) INTO field_path
  FROM regexp_matches(btree_key_expression, '''((?:[^'']|'''')*)''::text', 'g') WITH ORDINALITY AS t(m, ord);
  IF field_path IS NULL OR btree_key_expression NOT LIKE '%_jsonb%' THEN
    RETURN NULL;
  ELSIF array_length(field_path, 1) = 1 THEN
    RETURN format('(_jsonb -> %L)', field_path[1]);
  ELSE
    RETURN format('(_jsonb #> %L::text[])', field_path::text);
  END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION moneyfund_add_gin_twins(index_oid oid) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  table_oid oid;
  key_count int;
  twin text;
BEGIN
  SELECT i.indrelid, i.indnkeyatts INTO table_oid, key_count
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
  WHERE i.indexrelid = index_oid AND am.amname = 'btree';
  IF table_oid IS NULL OR NOT moneyfund_is_collection_table(table_oid) THEN
    RETURN;
  END IF;
  FOR column_number IN 1 .. key_count LOOP
    twin := moneyfund_twin_expression(pg_get_indexdef(index_oid, column_number, true));
    CONTINUE WHEN twin IS NULL;
    EXECUTE format(
      'CREATE INDEX IF NOT EXISTS %I ON %s USING gin (%s jsonb_path_ops) WITH (fastupdate = off)',
      'gin_' || md5(table_oid::regclass::text || twin), table_oid::regclass, twin);
  END LOOP;
END
$fn$;

-- Not a defect, a cost: FerretDB never reads its own btree indexes (defect 2), yet every
-- insert and every update (never a HOT update: the indexed column is the document) writes
-- an entry into each. A unique one still does a job, refusing duplicates; a plain one only
-- costs. It is rebuilt empty under its own name (a partial index of no rows), so FerretDB
-- still finds what it made and can drop it; its GIN twins serve the lookups.
CREATE OR REPLACE FUNCTION moneyfund_empty_plain_btree(index_oid oid) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  definition text;
BEGIN
  SELECT pg_get_indexdef(i.indexrelid) INTO definition
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
  WHERE i.indexrelid = index_oid AND am.amname = 'btree' AND NOT i.indisunique AND NOT i.indisprimary
    AND i.indpred IS NULL AND moneyfund_is_collection_table(i.indrelid);
  IF definition IS NULL THEN
    RETURN;
  END IF;
  EXECUTE format('DROP INDEX %s', index_oid::regclass);
  EXECUTE definition || ' WHERE false';
END
$fn$;

CREATE OR REPLACE FUNCTION moneyfund_on_ddl() RETURNS event_trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  command record;
BEGIN
  FOR command IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
    IF command.command_tag = 'CREATE TABLE' AND command.object_type = 'table'
       AND moneyfund_is_collection_table(command.objid) THEN
      PERFORM moneyfund_attach_rev_triggers(command.objid);
      PERFORM moneyfund_store_uncompressed(command.objid);
    ELSIF command.command_tag = 'CREATE INDEX' AND command.object_type = 'index' THEN
      PERFORM moneyfund_add_gin_twins(command.objid);
      PERFORM moneyfund_empty_plain_btree(command.objid);
    END IF;
  END LOOP;
END
$fn$;

DROP EVENT TRIGGER IF EXISTS moneyfund_on_ddl;
CREATE EVENT TRIGGER moneyfund_on_ddl ON ddl_command_end
  WHEN TAG IN ('CREATE TABLE', 'CREATE INDEX')
  EXECUTE FUNCTION moneyfund_on_ddl();

-- Tables and indexes made before this version of the fixes was installed get them too.
DO $fn$
DECLARE
  relation record;
BEGIN
  FOR relation IN SELECT c.oid FROM pg_class c WHERE c.relkind = 'r' LOOP
    IF moneyfund_is_collection_table(relation.oid) THEN
      PERFORM moneyfund_attach_rev_triggers(relation.oid);
      PERFORM moneyfund_store_uncompressed(relation.oid);
    END IF;
  END LOOP;
  FOR relation IN SELECT c.oid FROM pg_class c WHERE c.relkind = 'i' LOOP
    PERFORM moneyfund_add_gin_twins(relation.oid);
    PERFORM moneyfund_empty_plain_btree(relation.oid);
  END LOOP;
END
$fn$;

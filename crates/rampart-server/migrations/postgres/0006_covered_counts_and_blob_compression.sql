-- The number of computers each profile covers, kept up to date by every change to a profile's
-- coverage (tags, all_computers, access group) and to a computer (registered, moved, retagged,
-- deleted), so that reading or listing profiles never counts computers.
ALTER TABLE security_profiles ADD COLUMN covered_instances BIGINT NOT NULL DEFAULT 0;

UPDATE security_profiles AS p SET covered_instances = (
    SELECT count(*) FROM computers c
    WHERE c.account_id = p.account_id AND c.deleted_time IS NULL AND c.access_group_id IN
          (SELECT descendant_id FROM access_group_closure WHERE ancestor_id = p.access_group_id)
      AND (p.all_computers OR EXISTS (SELECT 1 FROM computer_tags t WHERE t.computer_id = c.id
           AND t.tag IN (SELECT jsonb_array_elements_text(p.tags::jsonb)))));

-- Blob chunks (report CSVs, raw uploads) compressed with lz4 rather than pglz: a detailed report
-- is written at hundreds of MB/s, several times what pglz compresses. Chunks already written keep
-- theirs. Servers that cannot keep pglz: PostgreSQL 13 and older, which have no SET COMPRESSION
-- (a syntax error, 42601: the statement is run by EXECUTE, so that it is parsed only when run
-- and the error can be caught), and servers built without lz4 (feature_not_supported, 0A000).
DO $$
BEGIN
    EXECUTE 'ALTER TABLE blob_chunks ALTER COLUMN data SET COMPRESSION lz4';
EXCEPTION WHEN syntax_error OR feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 compression is not available (%): blob chunks stay compressed with pglz',
        SQLERRM;
END
$$;

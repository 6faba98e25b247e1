-- The number of computers each profile covers, kept up to date by every change to a profile's
-- coverage (tags, all_computers, access group) and to a computer (registered, moved, retagged,
-- deleted), so that reading or listing profiles never counts computers.
ALTER TABLE security_profiles ADD COLUMN covered_instances INTEGER NOT NULL DEFAULT 0;

UPDATE security_profiles AS p SET covered_instances = (
    SELECT count(*) FROM computers c
    WHERE c.account_id = p.account_id AND c.deleted_time IS NULL AND c.access_group_id IN
          (SELECT descendant_id FROM access_group_closure WHERE ancestor_id = p.access_group_id)
      AND (p.all_computers OR EXISTS (SELECT 1 FROM computer_tags t
           JOIN json_each(p.tags) j ON t.tag = j.value WHERE t.computer_id = c.id)));

-- (Blob compression is PostgreSQL's part of this migration: SQLite keeps blobs as files.)

-- Computers (machines running the agent) and their tags.
CREATE TABLE computers (
    id                INTEGER PRIMARY KEY,
    account_id        INTEGER NOT NULL REFERENCES accounts (id),
    hostname          TEXT    NOT NULL,
    system_hostname   TEXT    NOT NULL, -- the OS's own name, which audit results carry
    title             TEXT    NOT NULL,
    access_group_id   INTEGER NOT NULL REFERENCES access_groups (id),
    secret_hash       TEXT    NOT NULL, -- SHA-256 (hex) of the agent's secret
    registration_time INTEGER NOT NULL,
    last_ping_time    INTEGER,
    deleted_time      INTEGER           -- deleted computers keep their history
);

CREATE INDEX computers_by_account ON computers (account_id, id) WHERE deleted_time IS NULL;
CREATE INDEX computers_by_group ON computers (access_group_id) WHERE deleted_time IS NULL;

CREATE TABLE computer_tags (
    computer_id INTEGER NOT NULL REFERENCES computers (id),
    tag         TEXT    NOT NULL,
    PRIMARY KEY (computer_id, tag)
) WITHOUT ROWID;

CREATE INDEX computer_tags_by_tag ON computer_tags (tag, computer_id);

-- Every (ancestor, descendant) pair of the access-group tree, each group its own ancestor:
-- coverage is "in the profile's group or below", one indexed lookup.
CREATE TABLE access_group_closure (
    ancestor_id   INTEGER NOT NULL REFERENCES access_groups (id),
    descendant_id INTEGER NOT NULL REFERENCES access_groups (id),
    PRIMARY KEY (ancestor_id, descendant_id)
) WITHOUT ROWID;

WITH RECURSIVE tree (ancestor_id, descendant_id) AS (
    SELECT id, id FROM access_groups
    UNION
    SELECT tree.ancestor_id, g.id FROM tree JOIN access_groups g ON g.parent_id = tree.descendant_id
)
INSERT INTO access_group_closure (ancestor_id, descendant_id)
SELECT ancestor_id, descendant_id FROM tree;

-- Secrets every server process sharing this database must agree on (the token-signing key when
-- the configuration gives none).
CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

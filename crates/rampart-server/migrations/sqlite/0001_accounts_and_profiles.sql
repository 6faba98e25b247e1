-- Accounts, users, access groups and security profiles. Times are Unix seconds (UTC).
CREATE TABLE accounts (
    id               INTEGER PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    title            TEXT    NOT NULL,
    registration_key TEXT    NOT NULL,
    created_at       INTEGER NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE, -- trimmed and lower-cased
    name          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,        -- argon2id PHC string
    created_at    INTEGER NOT NULL
);

CREATE TABLE account_members (
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    is_default INTEGER NOT NULL,
    PRIMARY KEY (user_id, account_id)
) WITHOUT ROWID;

CREATE TABLE access_groups (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    name       TEXT    NOT NULL,
    title      TEXT    NOT NULL,
    parent_id  INTEGER REFERENCES access_groups (id),
    UNIQUE (account_id, name)
);

CREATE TABLE security_profiles (
    id                           INTEGER PRIMARY KEY,
    account_id                   INTEGER NOT NULL REFERENCES accounts (id),
    name                         TEXT    NOT NULL,
    title                        TEXT    NOT NULL,
    title_folded                 TEXT    NOT NULL, -- lower-cased title, for `search`
    benchmark                    TEXT    NOT NULL,
    mode                         TEXT    NOT NULL,
    schedule                     TEXT    NOT NULL,
    start_date                   INTEGER NOT NULL,
    access_group_id              INTEGER NOT NULL REFERENCES access_groups (id),
    all_computers                INTEGER NOT NULL,
    tags                         TEXT    NOT NULL, -- JSON array of strings
    restart_deliver_delay        INTEGER NOT NULL,
    restart_deliver_delay_window INTEGER NOT NULL,
    retention_period             INTEGER NOT NULL,
    status                       TEXT    NOT NULL,
    next_run_time                INTEGER,
    tailoring_file_uri           TEXT,
    creation_time                INTEGER NOT NULL,
    modification_time            INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

CREATE INDEX security_profiles_by_account ON security_profiles (account_id, id);
CREATE INDEX security_profiles_due ON security_profiles (next_run_time) WHERE status = 'active';

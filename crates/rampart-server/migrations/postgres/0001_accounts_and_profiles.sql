-- Accounts, users, access groups and security profiles.
CREATE TABLE accounts (
    id               BIGSERIAL   PRIMARY KEY,
    name             TEXT        NOT NULL UNIQUE,
    title            TEXT        NOT NULL,
    registration_key TEXT        NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id            BIGSERIAL   PRIMARY KEY,
    email         TEXT        NOT NULL UNIQUE, -- trimmed and lower-cased
    name          TEXT        NOT NULL,
    password_hash TEXT        NOT NULL,        -- argon2id PHC string
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE account_members (
    account_id BIGINT  NOT NULL REFERENCES accounts (id),
    user_id    BIGINT  NOT NULL REFERENCES users (id),
    is_default BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, account_id)
);

CREATE TABLE access_groups (
    id         BIGSERIAL PRIMARY KEY,
    account_id BIGINT    NOT NULL REFERENCES accounts (id),
    name       TEXT      NOT NULL,
    title      TEXT      NOT NULL,
    parent_id  BIGINT    REFERENCES access_groups (id),
    UNIQUE (account_id, name)
);

CREATE TABLE security_profiles (
    id                           BIGSERIAL   PRIMARY KEY,
    account_id                   BIGINT      NOT NULL REFERENCES accounts (id),
    name                         TEXT        NOT NULL,
    title                        TEXT        NOT NULL,
    title_folded                 TEXT        NOT NULL, -- lower-cased title, for `search`
    benchmark                    TEXT        NOT NULL,
    mode                         TEXT        NOT NULL,
    schedule                     TEXT        NOT NULL,
    start_date                   TIMESTAMPTZ NOT NULL,
    access_group_id              BIGINT      NOT NULL REFERENCES access_groups (id),
    all_computers                BOOLEAN     NOT NULL,
    tags                         TEXT        NOT NULL, -- JSON array of strings
    restart_deliver_delay        BIGINT      NOT NULL,
    restart_deliver_delay_window BIGINT      NOT NULL,
    retention_period             BIGINT      NOT NULL,
    status                       TEXT        NOT NULL,
    next_run_time                TIMESTAMPTZ,
    tailoring_file_uri           TEXT,
    creation_time                TIMESTAMPTZ NOT NULL,
    modification_time            TIMESTAMPTZ NOT NULL,
    UNIQUE (account_id, name)
);

CREATE INDEX security_profiles_by_account ON security_profiles (account_id, id);
CREATE INDEX security_profiles_due ON security_profiles (next_run_time) WHERE status = 'active';

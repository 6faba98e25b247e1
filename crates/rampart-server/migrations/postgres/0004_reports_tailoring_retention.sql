-- Compliance reports, tailoring files, raw uploads, the blob store and retention.

-- A tailoring file is kept with its profile, byte for byte: it is small (at most 5 MiB), written in
-- the profile's own transaction and handed to agents with every activity of the profile's runs.
ALTER TABLE security_profiles ADD COLUMN tailoring_file TEXT;
-- The id of the tailoring file's Profile: what the agent audits and the results name.
ALTER TABLE security_profiles ADD COLUMN tailoring_profile TEXT;

-- A compliance report over some runs of a profile. The CSV itself is in the blob store under
-- `name`. `run_key` lists the runs and their instance counts when it was asked for: the same
-- question over unchanged runs is answered with the same report.
CREATE TABLE reports (
    id              BIGSERIAL   PRIMARY KEY,
    account_id      BIGINT      NOT NULL REFERENCES accounts (id),
    profile_id      BIGINT      NOT NULL REFERENCES security_profiles (id),
    activity_id     BIGINT      NOT NULL REFERENCES activities (id),
    name            TEXT        NOT NULL,
    detailed        BOOLEAN     NOT NULL,
    run_key         TEXT        NOT NULL,
    status          TEXT        NOT NULL, -- in-progress | succeeded | failed
    lease_until     TIMESTAMPTZ NOT NULL, -- a worker holds it until then; later, any server takes it
    lease_token     BIGINT      NOT NULL DEFAULT 0, -- changes at each takeover: a writer that lost it stops
    bytes           BIGINT,
    creation_time   TIMESTAMPTZ NOT NULL,
    completion_time TIMESTAMPTZ,
    UNIQUE (account_id, name)
);

CREATE INDEX reports_by_key ON reports (profile_id, detailed, run_key);
CREATE INDEX reports_pending ON reports (lease_until) WHERE status = 'in-progress';

CREATE TABLE report_runs (
    run_id    BIGINT NOT NULL REFERENCES runs (id),
    report_id BIGINT NOT NULL REFERENCES reports (id),
    PRIMARY KEY (run_id, report_id)
);

CREATE INDEX report_runs_by_report ON report_runs (report_id);

-- Retention finds old runs by start time.
CREATE INDEX runs_by_start ON runs (started_at);

-- The raw upload an audit came from, gzip-compressed in the blob store.
ALTER TABLE audits ADD COLUMN upload TEXT;

-- The blob store on PostgreSQL, so that every server sharing the database sees every file: one
-- row per file, its bytes in chunks of 1 MiB (the last one shorter). A file is readable once
-- `complete`; an incomplete one is a write that did not finish.
CREATE TABLE blobs (
    id            BIGSERIAL   PRIMARY KEY,
    account_id    BIGINT      NOT NULL REFERENCES accounts (id),
    name          TEXT        NOT NULL,
    bytes         BIGINT      NOT NULL,
    complete      BOOLEAN     NOT NULL,
    creation_time TIMESTAMPTZ NOT NULL
);

CREATE UNIQUE INDEX blobs_by_name ON blobs (account_id, name) WHERE complete;

CREATE TABLE blob_chunks (
    blob_id BIGINT  NOT NULL REFERENCES blobs (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    data    BYTEA   NOT NULL,
    PRIMARY KEY (blob_id, seq)
);

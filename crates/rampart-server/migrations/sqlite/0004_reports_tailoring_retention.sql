-- Compliance reports, tailoring files, raw uploads and retention. Times are Unix seconds (UTC).

-- A tailoring file is kept with its profile, byte for byte: it is small (at most 5 MiB), written in
-- the profile's own transaction and handed to agents with every activity of the profile's runs.
ALTER TABLE security_profiles ADD COLUMN tailoring_file TEXT;
-- The id of the tailoring file's Profile: what the agent audits and the results name.
ALTER TABLE security_profiles ADD COLUMN tailoring_profile TEXT;

-- A compliance report over some runs of a profile. The CSV itself is in the blob store under
-- `name`. `run_key` lists the runs and their instance counts when it was asked for: the same
-- question over unchanged runs is answered with the same report.
CREATE TABLE reports (
    id              INTEGER PRIMARY KEY,
    account_id      INTEGER NOT NULL REFERENCES accounts (id),
    profile_id      INTEGER NOT NULL REFERENCES security_profiles (id),
    activity_id     INTEGER NOT NULL REFERENCES activities (id),
    name            TEXT    NOT NULL,
    detailed        INTEGER NOT NULL,
    run_key         TEXT    NOT NULL,
    status          TEXT    NOT NULL, -- in-progress | succeeded | failed
    lease_until     INTEGER NOT NULL, -- a worker holds it until then; later, any server takes it
    lease_token     INTEGER NOT NULL DEFAULT 0, -- changes at each takeover: a writer that lost it stops
    bytes           INTEGER,
    creation_time   INTEGER NOT NULL,
    completion_time INTEGER,
    UNIQUE (account_id, name)
);

CREATE INDEX reports_by_key ON reports (profile_id, detailed, run_key);
CREATE INDEX reports_pending ON reports (lease_until) WHERE status = 'in-progress';

CREATE TABLE report_runs (
    run_id    INTEGER NOT NULL REFERENCES runs (id),
    report_id INTEGER NOT NULL REFERENCES reports (id),
    PRIMARY KEY (run_id, report_id)
) WITHOUT ROWID;

CREATE INDEX report_runs_by_report ON report_runs (report_id);

-- Retention finds old runs by start time.
CREATE INDEX runs_by_start ON runs (started_at);

-- The raw upload an audit came from, gzip-compressed in the blob store.
ALTER TABLE audits ADD COLUMN upload TEXT;

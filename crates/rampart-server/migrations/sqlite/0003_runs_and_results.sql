-- Runs of profiles, the activities they give machines, and the audit results that come back.
-- Times are Unix seconds (UTC).

CREATE TABLE activities (
    id                   INTEGER PRIMARY KEY,
    account_id           INTEGER NOT NULL REFERENCES accounts (id),
    parent_id            INTEGER REFERENCES activities (id),
    computer_id          INTEGER REFERENCES computers (id),
    run_id               INTEGER,          -- the run a UsgActivity or RestartRequest belongs to
    type                 TEXT    NOT NULL, -- UsgActivity | RestartRequest | GenerateUsgReportActivity
    action               TEXT,             -- children: audit | fix | fix-audit | restart
    summary              TEXT    NOT NULL,
    status               TEXT    NOT NULL,
    creator_id           INTEGER REFERENCES users (id),
    deliver_delay_window INTEGER NOT NULL,
    deliver_after        INTEGER,          -- a `scheduled` child waits until then
    creation_time        INTEGER NOT NULL,
    delivery_time        INTEGER,
    completion_time      INTEGER,
    result_text          TEXT,
    result_code          INTEGER,
    answer_sha256        TEXT              -- the accepted answer, so a repeat is harmless
);

CREATE INDEX activities_waiting ON activities (computer_id, status) WHERE computer_id IS NOT NULL;
CREATE INDEX activities_by_parent ON activities (parent_id);
CREATE INDEX activities_by_account ON activities (account_id, id);
CREATE INDEX activities_by_run ON activities (run_id, status);
CREATE INDEX activities_open ON activities (status, creation_time)
    WHERE status IN ('undelivered', 'delivered', 'scheduled');

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    profile_id  INTEGER NOT NULL REFERENCES security_profiles (id),
    activity_id INTEGER NOT NULL REFERENCES activities (id),
    mode        TEXT    NOT NULL,
    benchmark   TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    instances   INTEGER NOT NULL,
    -- Instance counts, kept up to date in the transaction of every change.
    not_started INTEGER NOT NULL,
    in_progress INTEGER NOT NULL,
    passing     INTEGER NOT NULL,
    failing     INTEGER NOT NULL,
    report_uri  TEXT
);

CREATE INDEX runs_by_profile ON runs (profile_id, started_at);

ALTER TABLE security_profiles ADD COLUMN last_run_id INTEGER REFERENCES runs (id);

-- The machines of a run. state: 0 not started, 1 in progress, 2 passed, 3 failed.
CREATE TABLE run_instances (
    run_id      INTEGER NOT NULL REFERENCES runs (id),
    computer_id INTEGER NOT NULL REFERENCES computers (id),
    state       INTEGER NOT NULL,
    audit_id    INTEGER,
    PRIMARY KEY (run_id, computer_id)
) WITHOUT ROWID;

-- Benchmark versions whose rule texts an account's uploads brought. Per account: what one
-- tenant uploads never changes what another tenant's reports say.
CREATE TABLE benchmark_versions (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    benchmark_id TEXT NOT NULL,
    version      TEXT NOT NULL,
    UNIQUE (account_id, benchmark_id, version)
);

-- Rule texts, stored once per benchmark version and never rewritten: old reports keep their
-- wording. `idx` is the small number rule results refer to.
CREATE TABLE rules (
    version_id  INTEGER NOT NULL REFERENCES benchmark_versions (id),
    idx         INTEGER NOT NULL,
    rule_id     TEXT    NOT NULL,
    severity    INTEGER NOT NULL,
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL,
    rationale   TEXT    NOT NULL,
    identifiers TEXT    NOT NULL, -- JSON [{"system", "value"}]
    refs        TEXT    NOT NULL, -- JSON [{"href", "text"}]
    PRIMARY KEY (version_id, idx)
) WITHOUT ROWID;

CREATE UNIQUE INDEX rules_by_rule_id ON rules (version_id, rule_id);

-- One machine's audit in a run.
CREATE TABLE audits (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    run_id        INTEGER NOT NULL REFERENCES runs (id),
    computer_id   INTEGER NOT NULL REFERENCES computers (id),
    activity_id   INTEGER NOT NULL UNIQUE REFERENCES activities (id),
    version_id    INTEGER NOT NULL REFERENCES benchmark_versions (id),
    xccdf_profile TEXT,
    target        TEXT    NOT NULL,
    start_time    INTEGER,
    end_time      INTEGER NOT NULL,
    score         REAL,
    passing_rules INTEGER NOT NULL,
    failing_rules INTEGER NOT NULL,
    other_rules   INTEGER NOT NULL
);

CREATE INDEX audits_by_run ON audits (run_id, computer_id);

-- One narrow row per (audit, selected rule): result and severity as small codes
-- (rampart_domain::xccdf), the rule's time as seconds after the audit's start. Clustered on its
-- key and written in bulk; no foreign key, as the audit row is written in the same transaction.
CREATE TABLE rule_results (
    audit_id INTEGER NOT NULL,
    rule_idx INTEGER NOT NULL,
    result   INTEGER NOT NULL,
    severity INTEGER NOT NULL,
    seconds  INTEGER,
    PRIMARY KEY (audit_id, rule_idx)
) WITHOUT ROWID;

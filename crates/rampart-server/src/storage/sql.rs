//! SQL text both backends run, written once: each macro takes the placeholders of its backend
//! (`$1`… on PostgreSQL, `?` on SQLite) and uses the backend's own `covers!` where the two differ.

/// How many computers profile `p` covers now, counted from the computers; kept in
/// `covered_instances` by every change to a profile's coverage or to a computer
/// (`count_computer_sql!`), so that reading a profile never counts its computers.
macro_rules! covered_sql {
    () => {
        concat!("(SELECT count(*) FROM computers c WHERE ", covers!(), ")")
    };
}

/// Recounts `covered_instances` of the profiles `p` where the condition (`$which`, pieces
/// concatenated) holds.
macro_rules! recount_coverage_sql {
    ($($which:expr),+) => {
        concat!(
            "UPDATE security_profiles AS p SET covered_instances = ",
            covered_sql!(),
            " WHERE ",
            $($which),+
        )
    };
}

/// Adds `$delta` to the count of every profile of account `$account` that covers computer
/// `$computer` as it stands now.
macro_rules! count_computer_sql {
    ($delta:literal, $account:literal, $computer:literal) => {
        concat!(
            "UPDATE security_profiles AS p SET covered_instances = covered_instances + ",
            $delta,
            " WHERE p.account_id = ",
            $account,
            " AND EXISTS (SELECT 1 FROM computers c WHERE c.id = ",
            $computer,
            " AND ",
            covers!(),
            ")"
        )
    };
}

/// Up to `$limit` machines of run `$run` with an id above `$after`, by id, with their audits.
macro_rules! report_instances_sql {
    ($run:literal, $after:literal, $limit:literal) => {
        concat!(
            "SELECT ri.computer_id, c.hostname, ri.state, a.id AS audit_id, a.version_id, \
             a.xccdf_profile, a.end_time, a.passing_rules, a.failing_rules, a.other_rules \
             FROM run_instances ri JOIN computers c ON c.id = ri.computer_id \
             LEFT JOIN audits a ON a.id = ri.audit_id \
             WHERE ri.run_id = ",
            $run,
            " AND ri.computer_id > ",
            $after,
            " ORDER BY ri.computer_id LIMIT ",
            $limit
        )
    };
}

/// The rule results of run `$run`'s machines with an id in (`$after`, `$through`], one row per
/// machine: its audit's id and its results packed by `$packed`, an aggregate of
/// `rule_idx << 16 | result << 8 | severity` over `rr` ordered by rule index (what
/// `unpack_results` reads). One range scan of the run's machines, each joined to its audit's
/// results by key; a row per machine rather than per result, as a row costs far more to hand
/// over than to read.
macro_rules! report_results_sql {
    ($packed:literal, $run:literal, $after:literal, $through:literal) => {
        concat!(
            "SELECT ri.audit_id, ",
            $packed,
            " FROM run_instances ri JOIN rule_results rr ON rr.audit_id = ri.audit_id \
             WHERE ri.run_id = ",
            $run,
            " AND ri.computer_id > ",
            $after,
            " AND ri.computer_id <= ",
            $through,
            " GROUP BY ri.computer_id, ri.audit_id ORDER BY ri.computer_id"
        )
    };
}

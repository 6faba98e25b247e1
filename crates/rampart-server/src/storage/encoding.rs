//! What both backends share: how values are encoded in rows, and the names rampart gives to
//! profiles, reports, tailoring files and raw uploads.

use chrono::{DateTime, Utc};

use super::{Result, StorageError, StoredResult};

/// A random registration key: 32 lower-case letters and digits.
pub(crate) fn new_registration_key() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..32)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The smallest free name among `base`, `base-2`, `base-3`, … given the names already taken
/// that start with `base`.
pub fn free_name(base: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|candidate| !taken.contains(candidate))
        .expect("an unbounded range always has a free suffix")
}

/// Decodes the JSON tag list stored in a profile row.
pub(crate) fn decode_tags(json: &str) -> Result<Vec<String>> {
    serde_json::from_str(json).map_err(|e| StorageError::Corrupt(format!("tags: {e}")))
}

pub(crate) fn encode_tags(tags: &[String]) -> String {
    serde_json::to_string(tags).expect("a list of strings always serializes")
}

/// The children a profile's mode gives each machine first.
pub(crate) fn first_action(mode: &str) -> &'static str {
    match mode {
        "fix-audit" => "fix-audit",
        "fix-restart-audit" => "fix",
        _ => "audit",
    }
}

/// The run-count column of an instance state.
pub(crate) fn state_column(state: i64) -> &'static str {
    match state {
        0 => "not_started",
        1 => "in_progress",
        2 => "passing",
        _ => "failing",
    }
}

/// Rule identifiers as stored: a JSON list of `{"system", "value"}`.
pub(crate) fn encode_identifiers(ids: &[rampart_domain::xccdf::Ident]) -> String {
    let list: Vec<serde_json::Value> = ids
        .iter()
        .map(|i| serde_json::json!({"system": i.system, "value": i.value}))
        .collect();
    serde_json::Value::Array(list).to_string()
}

/// Rule references as stored: a JSON list of `{"href", "text"}`.
pub(crate) fn encode_references(refs: &[rampart_domain::xccdf::Reference]) -> String {
    let list: Vec<serde_json::Value> = refs
        .iter()
        .map(|r| serde_json::json!({"href": r.href, "text": r.text}))
        .collect();
    serde_json::Value::Array(list).to_string()
}

/// One run's part of a report's `run_key`: the run and its instance counts (not started, in
/// progress, passing, failing). Counts only grow or move forward, so equal keys mean unchanged
/// runs.
pub(crate) fn run_key_part(id: i64, counts: [i64; 4]) -> String {
    let [not_started, in_progress, passing, failing] = counts;
    format!("{id}:{not_started}:{in_progress}:{passing}:{failing}")
}

/// The name of a report without its `.csv` and without the suffix that keeps it unique:
/// `Landscape_security_profile_audit_report_ID<profile>-<first run's date>[-<last run's
/// date>][-detailed]`, in the reference page's style.
pub(crate) fn report_base_name(
    profile_id: i64,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    detailed: bool,
) -> String {
    let mut name = format!(
        "Landscape_security_profile_audit_report_ID{profile_id}-{}",
        first.format("%Y%m%d")
    );
    if last.date_naive() != first.date_naive() {
        name.push_str(&last.format("-%Y%m%d").to_string());
    }
    if detailed {
        name.push_str("-detailed");
    }
    name
}

/// The name a profile's tailoring file is served under.
pub(crate) fn tailoring_file_name(profile_id: i64, now: DateTime<Utc>) -> String {
    format!(
        "Landscape_security_profile_tailoring_file_ID{profile_id}_{}",
        now.format("%Y%m%d%H%M%S")
    )
}

/// The blob a raw upload is kept in; `tag` tells two different uploads for one activity apart.
pub(crate) fn upload_blob_name(activity_id: i64, tag: &str) -> String {
    format!("uploads/{activity_id}-{tag}.xml.gz")
}

/// A rule result row read as (rule index, result code, severity code).
pub(crate) fn stored_result((rule_idx, result, severity): (i64, i64, i64)) -> StoredResult {
    StoredResult {
        rule_idx,
        result: result as u8,
        severity: severity as u8,
    }
}

/// Appends the rule results of `audit_id` read packed, one integer each: `rule_idx << 16 |
/// result << 8 | severity`, with result and severity cut to 8 bits as [`stored_result`] does.
pub(crate) fn unpack_results<E: std::fmt::Display>(
    audit_id: i64,
    packed: impl Iterator<Item = std::result::Result<i64, E>>,
    out: &mut Vec<(i64, StoredResult)>,
) -> Result<()> {
    for value in packed {
        let value = value
            .map_err(|e| StorageError::Corrupt(format!("rule results of audit {audit_id}: {e}")))?;
        out.push((
            audit_id,
            StoredResult {
                rule_idx: value >> 16,
                result: (value >> 8) as u8,
                severity: value as u8,
            },
        ));
    }
    Ok(())
}

/// Splits a comma-joined tag list read from the database (tags never contain commas).
pub(crate) fn split_tags(joined: Option<String>) -> Vec<String> {
    let mut tags: Vec<String> = joined
        .unwrap_or_default()
        .split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    tags.sort();
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_name_gets_the_smallest_free_suffix() {
        let taken = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(free_name("web", &taken(&[])), "web");
        assert_eq!(free_name("web", &taken(&["web-servers"])), "web");
        assert_eq!(free_name("web", &taken(&["web"])), "web-2");
        assert_eq!(
            free_name("web", &taken(&["web", "web-2", "web-4"])),
            "web-3"
        );
    }

    #[test]
    fn packed_rule_results_unpack_to_their_index_result_and_severity() {
        let mut out = Vec::new();
        let packed = [(591 << 16) | (1 << 8) | 4, 0, (7 << 16) | (8 << 8) | 2];
        unpack_results(9, packed.into_iter().map(Ok::<i64, String>), &mut out).unwrap();
        assert_eq!(
            out,
            [
                (9, stored_result((591, 1, 4))),
                (9, stored_result((0, 0, 0))),
                (9, stored_result((7, 8, 2))),
            ]
        );
        let bad = ["12", "x"].into_iter().map(|n| n.parse::<i64>());
        let error = unpack_results(3, bad, &mut out).unwrap_err();
        assert!(error.to_string().contains("audit 3"), "{error}");
    }

    #[test]
    fn registration_keys_are_long_and_distinct() {
        let (a, b) = (new_registration_key(), new_registration_key());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}

//! The detailed report's rows, rendered from pre-escaped pieces: a rule's cells are CSV-escaped
//! once per benchmark version, a machine's once per audit, the severity and result words once
//! per report, so that writing a row is a handful of copies. The bytes are those
//! [`rampart_domain::csv::CsvWriter`] writes field by field (the tests below compare them).

use rampart_domain::csv::push_field;
use rampart_domain::time::format_time;
use rampart_domain::xccdf::{ResultKind, Severity};

use crate::storage::{ReportAudit, StoredResult, StoredRule};

/// A rule's cells: `Rule ID`, and `Identifiers and References,Description,Rationale` with the
/// commas between them.
struct RuleCells {
    idx: i64,
    id: Box<[u8]>,
    texts: Box<[u8]>,
}

/// The cells of a benchmark version's rules, by rule index.
pub(super) struct VersionCells {
    rules: Vec<RuleCells>,
}

/// The cells of a result whose rule has no stored text: all empty.
const NO_RULE_ID: &[u8] = b"";
const NO_RULE_TEXTS: &[u8] = b",,";

impl VersionCells {
    /// Escapes the rules' cells once, sorted by rule index for lookup.
    pub(super) fn new(rules: Vec<StoredRule>) -> Self {
        let mut rules: Vec<RuleCells> = rules
            .into_iter()
            .map(|rule| {
                let mut id = Vec::with_capacity(rule.rule_id.len());
                push_field(&mut id, &rule.rule_id);
                let mut texts = Vec::new();
                push_field(
                    &mut texts,
                    &identifiers_and_references(&rule.identifiers, &rule.refs),
                );
                texts.push(b',');
                push_field(&mut texts, &rule.description);
                texts.push(b',');
                push_field(&mut texts, &rule.rationale);
                RuleCells {
                    idx: rule.idx,
                    id: id.into(),
                    texts: texts.into(),
                }
            })
            .collect();
        rules.sort_by_key(|rule| rule.idx);
        Self { rules }
    }

    fn get(&self, idx: i64) -> (&[u8], &[u8]) {
        match self.rules.binary_search_by_key(&idx, |rule| rule.idx) {
            Ok(at) => (&self.rules[at].id, &self.rules[at].texts),
            Err(_) => (NO_RULE_ID, NO_RULE_TEXTS),
        }
    }

    /// The bytes kept, to bound the versions held at once.
    pub(super) fn bytes(&self) -> usize {
        self.rules
            .iter()
            .map(|rule| rule.id.len() + rule.texts.len() + std::mem::size_of::<RuleCells>())
            .sum()
    }
}

/// The identifiers' values, then the references' texts, joined with `; `.
pub(super) fn identifiers_and_references(identifiers: &str, refs: &str) -> String {
    let values = |json: &str, key: &str| -> Vec<String> {
        serde_json::from_str::<Vec<serde_json::Value>>(json)
            .unwrap_or_default()
            .iter()
            .filter_map(|item| item.get(key)?.as_str().map(str::to_owned))
            .filter(|value| !value.is_empty())
            .collect()
    };
    let mut all = values(identifiers, "value");
    all.extend(values(refs, "text"));
    all.join("; ")
}

/// The `Severity` and `Pass` cells of every code, each followed by its `,`.
pub(super) struct Words {
    severity: Vec<Vec<u8>>,
    result: Vec<Vec<u8>>,
}

impl Words {
    /// Escapes every severity and result word once.
    pub(super) fn new() -> Self {
        let cell = |word: &str| {
            let mut cell = Vec::with_capacity(word.len() + 1);
            push_field(&mut cell, word);
            cell.push(b',');
            cell
        };
        Self {
            severity: (0..=u8::MAX)
                .map(|code| cell(Severity::from_code(code).map_or("unknown", Severity::as_str)))
                .collect(),
            result: (0..=u8::MAX)
                .map(|code| cell(ResultKind::from_code(code).map_or("unknown", ResultKind::as_str)))
                .collect(),
        }
    }
}

/// A machine's audit's cells: `Instance ID,Report,` before the rule, `Report Time` and the line
/// end after it.
pub(super) struct AuditCells {
    before: Vec<u8>,
    after: Vec<u8>,
}

impl AuditCells {
    /// Escapes the audit's cells once for all its rows.
    pub(super) fn new(computer_id: i64, audit: &ReportAudit) -> Self {
        let mut before = computer_id.to_string().into_bytes();
        before.push(b',');
        push_field(&mut before, audit.xccdf_profile.as_deref().unwrap_or(""));
        before.push(b',');
        let mut after = Vec::new();
        push_field(&mut after, &format_time(audit.end_time));
        after.extend_from_slice(b"\r\n");
        Self { before, after }
    }
}

/// Appends one detailed row per result taken from `results` to `out`, and stops once `out` holds
/// `until` bytes (a piece's worth), so that `out` never passes `until` by more than one row.
/// Answers how many rows it wrote; the results not taken are left in `results`.
pub(super) fn push_rows(
    out: &mut Vec<u8>,
    until: usize,
    audit: &AuditCells,
    rules: &VersionCells,
    words: &Words,
    results: &mut impl Iterator<Item = StoredResult>,
) -> usize {
    let mut rows = 0;
    while out.len() < until {
        let Some(result) = results.next() else {
            break;
        };
        let (id, texts) = rules.get(result.rule_idx);
        let severity = &words.severity[usize::from(result.severity)];
        let pass = &words.result[usize::from(result.result)];
        out.reserve(
            audit.before.len()
                + id.len()
                + 1
                + severity.len()
                + texts.len()
                + 1
                + pass.len()
                + audit.after.len(),
        );
        out.extend_from_slice(&audit.before);
        out.extend_from_slice(id);
        out.push(b',');
        out.extend_from_slice(severity);
        out.extend_from_slice(texts);
        out.push(b',');
        out.extend_from_slice(pass);
        out.extend_from_slice(&audit.after);
        rows += 1;
    }
    rows
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rampart_domain::csv::CsvWriter;

    use super::*;

    /// The rows as the writer wrote them before they were pre-rendered: field by field.
    fn field_by_field(
        computer_id: i64,
        audit: &ReportAudit,
        rules: &[StoredRule],
        results: &[StoredResult],
    ) -> Vec<u8> {
        let mut csv = CsvWriter::new(Vec::new());
        let report = audit.xccdf_profile.as_deref().unwrap_or("");
        let time = format_time(audit.end_time);
        for result in results {
            let rule = rules.iter().find(|r| r.idx == result.rule_idx);
            csv.field_display(computer_id).unwrap();
            csv.field(report).unwrap();
            csv.field(rule.map_or("", |r| r.rule_id.as_str())).unwrap();
            csv.field(Severity::from_code(result.severity).map_or("unknown", Severity::as_str))
                .unwrap();
            let ids = rule.map(|r| identifiers_and_references(&r.identifiers, &r.refs));
            csv.field(ids.as_deref().unwrap_or("")).unwrap();
            csv.field(rule.map_or("", |r| r.description.as_str()))
                .unwrap();
            csv.field(rule.map_or("", |r| r.rationale.as_str()))
                .unwrap();
            csv.field(ResultKind::from_code(result.result).map_or("unknown", ResultKind::as_str))
                .unwrap();
            csv.field(&time).unwrap();
            csv.end_row().unwrap();
        }
        csv.into_inner()
    }

    /// An audit ended at `end` whose report (XCCDF profile) is `profile`.
    fn audit(profile: Option<&str>, end: chrono::DateTime<chrono::Utc>) -> ReportAudit {
        ReportAudit {
            id: 1,
            version_id: 1,
            xccdf_profile: profile.map(str::to_owned),
            end_time: end,
            passing_rules: 0,
            failing_rules: 0,
            other_rules: 0,
        }
    }

    fn rule(idx: i64, id: &str, description: &str, rationale: &str) -> StoredRule {
        StoredRule {
            idx,
            rule_id: id.into(),
            description: description.into(),
            rationale: rationale.into(),
            identifiers: r#"[{"system":"https://ncp.nist.gov/cce","value":"CCE-83484-8"}]"#.into(),
            refs: r#"[{"href":"x","text":"1.1.2, \"a\""},{"href":"","text":""}]"#.into(),
        }
    }

    #[test]
    fn pre_rendered_rows_are_byte_for_byte_the_field_by_field_ones() {
        let rules = vec![
            rule(
                5,
                "xccdf_org.ssgproject.content_rule_b",
                "plain",
                "also plain",
            ),
            rule(
                0,
                "xccdf_org.ssgproject.content_rule_a",
                "Says \"hi\",\r\nthen",
                "",
            ),
            rule(2, "id,with,commas", "é 東京\n", "\"quoted\""),
        ];
        // Every result and severity code, known or not; an index with no rule text.
        let mut results = Vec::new();
        for code in 0..=12u8 {
            for idx in [0, 2, 3, 5] {
                results.push(StoredResult {
                    rule_idx: idx,
                    result: code,
                    severity: 12 - code,
                });
            }
        }
        let end = chrono::Utc
            .with_ymd_and_hms(2026, 12, 4, 12, 29, 28)
            .unwrap();
        for profile in [
            Some("xccdf_org.ssgproject.content_profile_cis_level1_server"),
            Some("a \"profile\", odd"),
            None,
        ] {
            let audit = audit(profile, end);
            let mut fast = Vec::new();
            let rows = push_rows(
                &mut fast,
                usize::MAX,
                &AuditCells::new(42, &audit),
                &VersionCells::new(rules.clone()),
                &Words::new(),
                &mut results.iter().copied(),
            );
            assert_eq!(rows, results.len());
            let slow = field_by_field(42, &audit, &rules, &results);
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(slow).unwrap()
            );
        }
    }

    #[test]
    fn a_result_without_rule_text_has_empty_rule_cells_not_another_rules() {
        let audit = audit(
            Some("p"),
            chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        );
        let mut out = Vec::new();
        push_rows(
            &mut out,
            usize::MAX,
            &AuditCells::new(7, &audit),
            &VersionCells::new(vec![rule(1, "r1", "d", "r")]),
            &Words::new(),
            &mut std::iter::once(StoredResult {
                rule_idx: 2,
                result: 1,
                severity: 3,
            }),
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "7,p,,medium,,,,fail,2026-01-02T03:04:05Z\r\n"
        );
    }

    #[test]
    fn rows_stop_once_the_piece_is_full_and_resume_where_they_stopped() {
        let audit = audit(
            None,
            chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        );
        let (cells, words) = (AuditCells::new(7, &audit), Words::new());
        // Texts as long as a rule's may be, every byte a quote that escaping doubles.
        let huge = "\"".repeat(256 * 1024);
        let rules = VersionCells::new(vec![rule(0, "r0", &huge, &huge)]);
        let result = StoredResult {
            rule_idx: 0,
            result: 0,
            severity: 0,
        };
        let mut one = Vec::new();
        push_rows(
            &mut one,
            usize::MAX,
            &cells,
            &rules,
            &words,
            &mut std::iter::once(result),
        );
        let row = one.len();
        assert!(row > 1024 * 1024, "a row of {row} bytes");
        let mut results = std::iter::repeat_n(result, 10);
        let mut out = vec![b'x'; 100];
        // Below the limit, rows are added until it is passed: by one row at most.
        assert_eq!(
            push_rows(&mut out, 2 * row, &cells, &rules, &words, &mut results),
            2
        );
        assert_eq!(out.len(), 100 + 2 * row);
        // At the limit already, nothing is added and nothing is taken.
        assert_eq!(
            push_rows(&mut out, 2 * row, &cells, &rules, &words, &mut results),
            0
        );
        out.clear();
        assert_eq!(
            push_rows(&mut out, 1, &cells, &rules, &words, &mut results),
            1
        );
        assert_eq!(results.count(), 7, "the rest is left to the next piece");
    }

    #[test]
    fn identifiers_come_before_references_and_empty_ones_are_left_out() {
        let ids = r#"[{"system":"https://ncp.nist.gov/cce","value":"CCE-83484-8"}]"#;
        let refs = r#"[{"href":"https://www.cisecurity.org/","text":"1.1.2"},{"href":"","text":""},{"href":"x","text":"SR 3.1"}]"#;
        assert_eq!(
            identifiers_and_references(ids, refs),
            "CCE-83484-8; 1.1.2; SR 3.1"
        );
        assert_eq!(identifiers_and_references("[]", "[]"), "");
    }
}

//! The writer's rows against a blob writer that keeps what it is sent.

use std::sync::Mutex;

use chrono::TimeZone;

use super::*;
use crate::storage::{ReportAudit, StoredRule};

/// A blob writer that keeps the size of every piece it is sent.
struct Sizes(Arc<Mutex<Vec<usize>>>);

#[async_trait::async_trait]
impl crate::storage::BlobWriter for Sizes {
    async fn write(&mut self, bytes: &[u8]) -> crate::storage::Result<()> {
        self.0.lock().unwrap().push(bytes.len());
        Ok(())
    }
    async fn finish(self: Box<Self>) -> crate::storage::Result<u64> {
        Ok(self.0.lock().unwrap().iter().sum::<usize>() as u64)
    }
}

#[tokio::test]
async fn pieces_stay_a_piece_and_a_row_however_long_the_rule_texts() {
    // Rule texts as long as they may be, every byte a quote that escaping doubles: a row is
    // over 1 MiB, so 256 rows between checks would have been a buffer of 256 MiB and more.
    let huge = "\"".repeat(256 * 1024);
    let rules: Vec<StoredRule> = (0..4)
        .map(|idx| StoredRule {
            idx,
            rule_id: format!("rule_{idx}"),
            description: huge.clone(),
            rationale: huge.clone(),
            identifiers: "[]".into(),
            refs: "[]".into(),
        })
        .collect();
    let rules = VersionCells::new(rules);
    let audit = ReportAudit {
        id: 3,
        version_id: 1,
        xccdf_profile: Some("p".into()),
        end_time: Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap(),
        passing_rules: 40,
        failing_rules: 0,
        other_rules: 0,
    };
    let instance = ReportInstance {
        computer_id: 9,
        hostname: "h".into(),
        state: 2,
        audit: Some(audit),
    };
    let results: Vec<(i64, StoredResult)> = (0..40)
        .map(|n| {
            let result = StoredResult {
                rule_idx: n % 4,
                result: 0,
                severity: 2,
            };
            (3, result)
        })
        .collect();
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let mut out = Output::new(Box::new(Sizes(sizes.clone())));
    let words = Words::new();
    detailed_rows(&words, &mut out, &instance, Some(&rules), &results)
        .await
        .unwrap();
    let total = out.finish().await.unwrap() as usize;
    let row = total / results.len();
    assert!(row > 1024 * 1024, "rows of {row} bytes");
    let sizes = sizes.lock().unwrap().clone();
    assert!(sizes.len() >= total / (PIECE + row), "{sizes:?}");
    for size in &sizes {
        assert!(*size <= PIECE + row, "a piece of {size} bytes: {sizes:?}");
    }
}

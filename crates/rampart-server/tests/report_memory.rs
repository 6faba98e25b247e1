//! A detailed report of 2,000 machines × 200 rules is written with flat memory: the peak resident
//! memory of this process grows by a small, fixed amount while the report (hundreds of
//! megabytes of CSV) is written. Real rule texts from the Ubuntu 22.04 fixture.
//!
//! Ignored by default (it takes tens of seconds); CI runs it:
//! `cargo test -p rampart-server --test report_memory -- --ignored --nocapture`.
//! It prints the figures it measured: rows per second and the memory the report added. It is
//! also the report benchmark (BENCHMARKS.md, "Detailed report"): `RAMPART_REPORT_MACHINES` and
//! `RAMPART_REPORT_RULES` change its size (default 2,000 × 200; the 5,000-machine run of the
//! fleet-scale issue is 5,000 × 189, the rules the fixture's profile selects), and
//! `RAMPART_REPORT_REPEAT` writes the report that many times and prints each (the same report,
//! its file deleted before each round, so that each round checks the file it wrote).

use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, Utc};
use rampart_domain::xccdf::{self, ResultKind, RuleResult, RuleText, TestResultInfo};
use rampart_server::storage::{
    self, Ingest, IngestResult, NewComputer, NewProfile, ReportAnswer, ReportRequest, Store,
};

mod common;

use common::{Backend, FreshDatabase};

/// A size from the environment, or its default.
fn setting(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not `{text}`")),
        Err(_) => default,
    }
}

fn machines() -> usize {
    setting("RAMPART_REPORT_MACHINES", 2_000)
}

fn rules_per_machine() -> usize {
    setting("RAMPART_REPORT_RULES", 200)
}
/// What the report may add to the peak resident memory.
const MEMORY_BUDGET: u64 = 64 * 1024 * 1024;

/// The first `RAMPART_REPORT_RULES` rules the fixture's profile selects, with their texts and results.
fn fixture_rules() -> (String, String, Vec<RuleText>, Vec<RuleResult>) {
    let wanted = rules_per_machine();
    struct Collect {
        texts: Vec<RuleText>,
        results: Vec<RuleResult>,
        benchmark: (String, String),
    }
    impl xccdf::Visitor for Collect {
        fn benchmark(&mut self, id: &str, version: &str) -> bool {
            self.benchmark = (id.to_owned(), version.to_owned());
            true
        }
        fn rule(&mut self, rule: RuleText) {
            self.texts.push(rule);
        }
        fn test_result(&mut self, _: &TestResultInfo) {}
        fn rule_result(&mut self, result: RuleResult) {
            self.results.push(result);
        }
    }
    let path = common::fixtures()
        .join("xccdf")
        .join("u2204-cis_l1_server.results.xml.gz");
    let file = std::fs::read(path).expect("fixture exists");
    let mut collect = Collect {
        texts: Vec::new(),
        results: Vec::new(),
        benchmark: Default::default(),
    };
    xccdf::parse(
        std::io::BufReader::new(xccdf::open_maybe_gzip(&file[..], 1 << 30)),
        &mut collect,
    )
    .expect("fixture parses");
    // Selected rules; results cycle through a few kinds so rows differ.
    let results: Vec<RuleResult> = collect
        .results
        .into_iter()
        .filter(|r| r.result != ResultKind::NotSelected)
        .collect();
    let mut chosen = Vec::new();
    let mut texts = Vec::new();
    for result in results.iter().cycle().take(wanted * 4) {
        if chosen.len() == wanted {
            break;
        }
        if chosen
            .iter()
            .any(|c: &RuleResult| c.rule_id == result.rule_id)
        {
            continue;
        }
        chosen.push(result.clone());
        texts.push(
            collect
                .texts
                .iter()
                .find(|t| t.id == result.rule_id)
                .expect("every result has its rule")
                .clone(),
        );
    }
    // The fixture selects 189 rules; the rest are unselected rules of the same Benchmark.
    for text in &collect.texts {
        if chosen.len() == wanted {
            break;
        }
        if !chosen.iter().any(|c| c.rule_id == text.id) {
            chosen.push(RuleResult {
                rule_id: text.id.clone(),
                result: ResultKind::Pass,
                severity: text.severity,
                time: None,
                weight: None,
            });
            texts.push(text.clone());
        }
    }
    assert_eq!(chosen.len(), wanted);
    let (id, version) = collect.benchmark;
    (id, version, texts, chosen)
}

/// Peak and current resident memory of this process, in bytes.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap()
            * 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}

async fn a_detailed_report_of_2000_machines_is_written_in_flat_memory(
    store: Arc<dyn Store>,
    backend: &str,
) {
    let (machine_count, rule_count) = (machines(), rules_per_machine());
    let now = Utc::now() - Duration::hours(1);
    let account = store.ensure_account("lumon", now).await.unwrap();
    let (benchmark_id, version, texts, rules) = fixture_rules();
    let profile = store
        .create_profile(
            &NewProfile {
                account_id: account.id,
                name: "fleet".into(),
                title: "Fleet".into(),
                benchmark: "cis_level1_server".into(),
                mode: "audit".into(),
                schedule: "RRULE:FREQ=WEEKLY".into(),
                start_date: now + Duration::days(30),
                access_group: "global".into(),
                all_computers: true,
                tags: Vec::new(),
                restart_deliver_delay: 1,
                restart_deliver_delay_window: 0,
                retention_period: 730,
                next_run_time: Some(now + Duration::days(30)),
                tailoring: None,
                now,
                start_now: false,
                creator_id: None,
                run_cap: machine_count as i64,
            },
            5,
        )
        .await
        .unwrap();
    let mut computers = Vec::with_capacity(machine_count);
    for n in 0..machine_count {
        let computer = store
            .register_computer(&NewComputer {
                account_id: account.id,
                hostname: format!("host-{n:04}"),
                system_hostname: format!("host-{n:04}"),
                title: format!("Host {n}"),
                access_group: "global".into(),
                tags: Vec::new(),
                secret_hash: format!("{n:064x}"),
                now,
            })
            .await
            .unwrap();
        computers.push(computer.id);
    }
    store
        .start_run(account.id, profile.id, None, now, machine_count as i64)
        .await
        .unwrap();
    let filled = Instant::now();
    for (n, &computer) in computers.iter().enumerate() {
        let work = store.deliver(computer, now).await.unwrap();
        let ingest = Ingest {
            benchmark_id: benchmark_id.clone(),
            version: version.clone(),
            rule_texts: (n == 0).then(|| texts.clone()),
            xccdf_profile: Some("xccdf_org.ssgproject.content_profile_cis_level1_server".into()),
            target: format!("host-{n:04}"),
            start_time: Some(now),
            end_time: now + Duration::minutes(1),
            score: None,
            results: rules
                .iter()
                .enumerate()
                .map(|(i, r)| IngestResult {
                    rule_id: r.rule_id.clone(),
                    // A share of results flipped per machine, so machines differ.
                    result: if (i + n) % 7 == 0 {
                        ResultKind::Fail
                    } else {
                        r.result
                    },
                    severity: r.severity,
                    time: None,
                })
                .collect(),
            sha256: format!("{n:064x}"),
            upload: None,
        };
        store
            .record_results(computer, work[0].id, &ingest, now)
            .await
            .unwrap();
    }
    let filled = filled.elapsed();

    let request = ReportRequest {
        account_id: account.id,
        profile_id: profile.id,
        from: now - Duration::minutes(1),
        to: now + Duration::minutes(1),
        earliest_only: false,
        detailed: true,
        creator_id: None,
        now: Utc::now(),
        lease_until: Utc::now() + Duration::minutes(2),
    };
    let ReportAnswer::Started(activity, job) = store.request_report(&request).await.unwrap() else {
        panic!("a new report starts");
    };
    let rows = machine_count * rule_count;
    // Later rounds write the same report again (a new one would need the run stored again):
    // its file is deleted first, so each round reads back the file it wrote, or none.
    for round in 0..setting("RAMPART_REPORT_REPEAT", 1) {
        if round > 0 {
            assert!(store.delete_blob(account.id, &job.name).await.unwrap());
        }
        // Measure the report alone: reset the peak to what is resident now.
        std::fs::write("/proc/self/clear_refs", "5").expect("the peak can be reset");
        let (_, before) = memory();
        let clock = Instant::now();
        rampart_server::reports::write_report(store.as_ref(), job.clone()).await;
        let took = clock.elapsed();
        let (peak, _) = memory();
        // The writer logs its errors: the report's activity says whether it was written.
        let activity = store.activity(account.id, activity.id).await.unwrap();
        let activity = activity.expect("the report's activity");
        assert_eq!(activity.status, "succeeded", "{activity:?}");
        let bytes = store
            .blob_size(account.id, &job.name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("round {} wrote no file", round + 1));
        println!(
            "[{backend}] {machine_count} machines × {rule_count} rules stored in {:.1} s; detailed report \
             {}: {:.0} MB, {rows} rows in {:.2} s = {:.0} rows/s; peak memory grew by {:.1} MB \
             to {:.1} MB (resident before: {:.1} MB); load average {}",
            filled.as_secs_f64(),
            round + 1,
            bytes as f64 / 1e6,
            took.as_secs_f64(),
            rows as f64 / took.as_secs_f64(),
            peak.saturating_sub(before) as f64 / 1e6,
            peak as f64 / 1e6,
            before as f64 / 1e6,
            std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .split(' ')
                .next()
                .unwrap_or("?"),
        );
        assert!(
            bytes > 4 * MEMORY_BUDGET,
            "the report ({bytes} bytes) is far larger than the memory budget"
        );
        assert!(
            peak.saturating_sub(before) < MEMORY_BUDGET,
            "writing a {bytes}-byte report raised peak memory by {} bytes",
            peak - before
        );
        // Every row is there: count line ends without holding the file.
        let mut lines = 0u64;
        let mut index = 0;
        let mut last = 0u8;
        while let Some(chunk) = store
            .blob_chunk(account.id, &job.name, index)
            .await
            .unwrap()
        {
            // A line end may straddle two chunks.
            lines += u64::from(last == b'\r' && chunk.first() == Some(&b'\n'));
            lines += chunk.windows(2).filter(|w| w == b"\r\n").count() as u64;
            last = chunk.last().copied().unwrap_or(last);
            index += 1;
        }
        assert_eq!(lines, rows as u64 + 1, "the header and one line per row");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "takes tens of seconds; CI runs it with --ignored"]
async fn on_sqlite() {
    let database = FreshDatabase::new(&Backend::Sqlite).await;
    let store = storage::open(&database.url).await.unwrap();
    a_detailed_report_of_2000_machines_is_written_in_flat_memory(store, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "takes tens of seconds; CI runs it with --ignored"]
async fn on_postgres() {
    let Some(backend) = Backend::postgres("report_memory") else {
        return;
    };
    let database = FreshDatabase::new(&backend).await;
    let store = storage::open(&database.url).await.unwrap();
    a_detailed_report_of_2000_machines_is_written_in_flat_memory(store, "postgres").await;
}

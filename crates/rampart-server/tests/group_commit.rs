//! Uploads recorded together: the store's writer puts the uploads waiting at the same moment into
//! one transaction, where a refused upload changes nothing and the others are kept (SQLite rolls
//! a refused upload back to its savepoint; PostgreSQL refuses before an upload writes, with a
//! savepoint only around reading or creating a version it does not know yet). Run on SQLite and
//! on PostgreSQL (`RAMPART_TEST_POSTGRES_URL`; skipped, saying so, when unset).
//!
//! The tests run on Tokio's current-thread runtime: every upload of a `join_all` is queued before
//! a writer task runs, so they share one batch (at most 32 — the tests stay below).

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use futures_util::future::join_all;
use rampart_domain::xccdf::{ResultKind, RuleText, Severity};
use rampart_server::storage::{
    self, ActivityFilter, AuditOutcome, Ingest, IngestResult, NewComputer, NewProfile,
    StorageError, Store,
};

mod common;

use common::{Backend, FreshDatabase};

struct Fresh {
    store: Arc<dyn Store>,
    database: FreshDatabase,
}

async fn open(backend: Backend) -> Fresh {
    let database = FreshDatabase::new(&backend).await;
    let store = storage::open(&database.url).await.unwrap();
    Fresh { store, database }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $( #[tokio::test] async fn $name() { super::$name(super::open(super::Backend::Sqlite).await).await } )*
        }
        mod on_postgres {
            $( #[tokio::test] async fn $name() {
                if let Some(backend) = super::Backend::postgres(stringify!($name)) {
                    super::$name(super::open(backend).await).await
                }
            } )*
        }
    };
}

on_both_backends!(
    uploads_recorded_together_are_each_stored_once_and_refused_ones_change_nothing,
    a_version_created_by_a_refused_upload_is_not_remembered,
);

const RULES: [&str; 3] = ["rule_a", "rule_b", "rule_c"];

fn t(hour: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, hour, min, 0).unwrap()
}

/// A count from the database itself, whichever the backend.
async fn count(fresh: &Fresh, sql: &str) -> i64 {
    let url = &fresh.database.url;
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    }
}

/// An account with `n` computers, a profile covering them all and a started run whose
/// activities every computer has fetched; answers the account, the computers and their
/// activities.
async fn fleet(store: &Arc<dyn Store>, n: usize) -> (i64, Vec<i64>, Vec<i64>) {
    let account = store.ensure_account("lumon", t(8, 0)).await.unwrap().id;
    let mut computers = Vec::new();
    for i in 0..n {
        let new = NewComputer {
            account_id: account,
            hostname: format!("host{i}"),
            system_hostname: format!("host{i}"),
            title: format!("Host {i}"),
            access_group: "global".into(),
            tags: vec![],
            secret_hash: "0".repeat(64),
            now: t(8, 0),
        };
        computers.push(store.register_computer(&new).await.unwrap().id);
    }
    let new = NewProfile {
        account_id: account,
        name: "all".into(),
        title: "All".into(),
        benchmark: "cis_level1_server".into(),
        mode: "audit".into(),
        schedule: "RRULE:FREQ=WEEKLY".into(),
        start_date: t(8, 0),
        access_group: "global".into(),
        all_computers: true,
        tags: vec![],
        restart_deliver_delay: 1,
        restart_deliver_delay_window: 0,
        retention_period: 730,
        next_run_time: None,
        tailoring: None,
        now: t(8, 0),
        start_now: false,
        creator_id: None,
        run_cap: 5000,
    };
    let profile = store.create_profile(&new, 10).await.unwrap().id;
    let parent = store
        .start_run(account, profile, None, t(9, 0), 5000)
        .await
        .unwrap();
    let mut activities = Vec::new();
    for &computer in &computers {
        let work = store.deliver(computer, t(9, 1)).await.unwrap();
        assert_eq!(work.len(), 1, "computer {computer} has one audit");
        activities.push(work[0].id);
    }
    let filter = ActivityFilter {
        parent_id: Some(parent.id),
        ..ActivityFilter::default()
    };
    let children = store
        .list_activities(account, &filter, 100, 0)
        .await
        .unwrap();
    assert_eq!(children.count, n as i64);
    (account, computers, activities)
}

/// Results for the three rules: `fail` for rule_b when `failing`, pass otherwise; with the rule
/// texts of version 1.0.
fn ingest(tag: &str, failing: bool) -> Ingest {
    let rule = |id: &&str| RuleText {
        id: id.to_string(),
        ..RuleText::default()
    };
    let result = |rule_id: &str, result| IngestResult {
        rule_id: rule_id.into(),
        result,
        severity: Severity::Medium,
        time: None,
    };
    let b = if failing {
        ResultKind::Fail
    } else {
        ResultKind::Pass
    };
    Ingest {
        benchmark_id: "ubuntu2204".into(),
        version: "1.0".into(),
        rule_texts: Some(RULES.iter().map(rule).collect()),
        xccdf_profile: Some("cis_level1_server".into()),
        target: "host".into(),
        start_time: None,
        end_time: t(9, 30),
        score: None,
        results: vec![
            result(RULES[0], ResultKind::Pass),
            result(RULES[1], b),
            result(RULES[2], ResultKind::Pass),
        ],
        sha256: tag.into(),
        upload: None,
    }
}

/// An upload of version 2.0 naming a rule that version does not have: refused, after the
/// version was created in its transaction.
fn with_unknown_rule(tag: &str) -> Ingest {
    let mut bad = ingest(tag, false);
    bad.version = "2.0".into();
    bad.results.push(IngestResult {
        rule_id: "rule_not_in_the_benchmark".into(),
        result: ResultKind::Pass,
        severity: Severity::Low,
        time: None,
    });
    bad
}

async fn last_run(store: &Arc<dyn Store>, account: i64) -> storage::RunCounts {
    let profiles = store
        .list_profiles(account, &Default::default(), 10, 0)
        .await
        .unwrap();
    profiles.results[0].last_run.clone().expect("a run started")
}

async fn uploads_recorded_together_are_each_stored_once_and_refused_ones_change_nothing(
    fresh: Fresh,
) {
    let store = fresh.store.clone();
    let (account, computers, activities) = fleet(&store, 12).await;
    // Computer 0 sends a file of version 2.0 naming a rule that version lacks (the version it
    // creates is rolled back with it); computer 1 answers computer 2's activity; computer 3
    // sends the same upload twice; computer 4 sends two different uploads. Computers 5–11 upload
    // once, odd ones failing.
    let mut calls: Vec<(i64, i64, Ingest)> = vec![
        (computers[0], activities[0], with_unknown_rule("bad")),
        (computers[1], activities[2], ingest("stolen", false)),
        (computers[3], activities[3], ingest("twice", false)),
        (computers[3], activities[3], ingest("twice", false)),
        (computers[4], activities[4], ingest("first", true)),
        (computers[4], activities[4], ingest("second", false)),
    ];
    for i in 5..12 {
        calls.push((
            computers[i],
            activities[i],
            ingest(&format!("m{i}"), i % 2 == 1),
        ));
    }
    let now = t(9, 31);
    let answers: Vec<Result<AuditOutcome, StorageError>> =
        join_all(calls.iter().map(|(computer, activity, ingest)| {
            store.record_results(*computer, *activity, ingest, now)
        }))
        .await;

    assert!(
        matches!(&answers[0], Err(StorageError::Invalid(m)) if m.contains("rule_not_in_the_benchmark")),
        "{:?}",
        answers[0]
    );
    assert!(
        matches!(answers[1], Err(StorageError::NotFound)),
        "{:?}",
        answers[1]
    );
    let twice = answers[2].as_ref().unwrap();
    assert_eq!(
        answers[3].as_ref().unwrap(),
        twice,
        "a repeat answers the same"
    );
    assert_eq!((twice.passing_rules, twice.failing_rules), (3, 0));
    let first = answers[4].as_ref().unwrap();
    assert_eq!((first.failing_rules, first.passed), (1, false));
    assert!(
        matches!(&answers[5], Err(StorageError::Conflict(_))),
        "a different second upload is refused: {:?}",
        answers[5]
    );
    for (i, answer) in answers.iter().enumerate().skip(6) {
        let machine = i - 1;
        let outcome = answer.as_ref().unwrap();
        assert_eq!(outcome.activity_id, activities[machine]);
        assert_eq!(outcome.passed, machine % 2 == 0, "machine {machine}");
    }

    // Stored: one audit per accepted activity (3, 4, 5–11), three rule rows each; nothing of
    // computer 0's or 2's activity.
    let accepted = 9;
    assert_eq!(count(&fresh, "SELECT count(*) FROM audits").await, accepted);
    assert_eq!(
        count(&fresh, "SELECT count(*) FROM rule_results").await,
        accepted * 3
    );
    let sql = format!(
        "SELECT count(*) FROM audits WHERE activity_id IN ({}, {})",
        activities[0], activities[2]
    );
    assert_eq!(count(&fresh, &sql).await, 0);
    assert_eq!(
        count(&fresh, "SELECT count(*) FROM benchmark_versions").await,
        1
    );
    assert_eq!(count(&fresh, "SELECT count(*) FROM rules").await, 3);
    let run = last_run(&store, account).await;
    // Passing: 3, 6, 8, 10 — failing: 4, 5, 7, 9, 11 — in progress: 0, 1, 2 (1 and 2 never
    // answered their own activities).
    assert_eq!(
        (run.passing, run.failing, run.in_progress, run.not_started),
        (4, 5, 3, 0)
    );
    for (machine, status) in [(0, "delivered"), (2, "delivered"), (3, "succeeded")] {
        let activity = store
            .activity(account, activities[machine])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(activity.status, status, "machine {machine}");
    }

    let sql = "SELECT count(*) FROM benchmark_versions WHERE version = '2.0'";
    assert_eq!(count(&fresh, sql).await, 0);
    // The refused ones can still be answered properly, and then the run ends.
    let retries = [
        (computers[0], activities[0], ingest("good", false)),
        (computers[1], activities[1], ingest("own", true)),
        (computers[2], activities[2], ingest("own2", false)),
    ];
    let answers = join_all(retries.iter().map(|(computer, activity, ingest)| {
        store.record_results(*computer, *activity, ingest, now)
    }))
    .await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    let run = last_run(&store, account).await;
    assert_eq!(
        (run.passing, run.failing, run.in_progress, run.not_started),
        (6, 6, 0, 0)
    );
    assert_eq!(count(&fresh, "SELECT count(*) FROM audits").await, 12);
    assert_eq!(count(&fresh, "SELECT count(*) FROM rule_results").await, 36);
    let sql = "SELECT count(*) FROM (SELECT activity_id FROM audits GROUP BY activity_id \
               HAVING count(*) > 1) AS repeated";
    assert_eq!(count(&fresh, sql).await, 0);
}

async fn a_version_created_by_a_refused_upload_is_not_remembered(fresh: Fresh) {
    let store = fresh.store.clone();
    let (_, computers, activities) = fleet(&store, 2).await;
    let now = t(9, 31);
    // Alone in its transaction: the refused upload creates version 2.0, then rolls it back.
    let refused = store
        .record_results(computers[0], activities[0], &with_unknown_rule("bad"), now)
        .await;
    assert!(
        matches!(refused, Err(StorageError::Invalid(_))),
        "{refused:?}"
    );
    assert_eq!(
        count(&fresh, "SELECT count(*) FROM benchmark_versions").await,
        0
    );
    // An upload without rule texts cannot use a version that was never committed…
    let mut thin = ingest("thin", false);
    thin.version = "2.0".into();
    thin.rule_texts = None;
    let answer = store
        .record_results(computers[1], activities[1], &thin, now)
        .await;
    assert!(
        matches!(&answer, Err(StorageError::Conflict(m)) if m.contains("does not know")),
        "{answer:?}"
    );
    // …and once a whole file brought it, a thin one is taken.
    let mut whole = ingest("whole", false);
    whole.version = "2.0".into();
    store
        .record_results(computers[0], activities[0], &whole, now)
        .await
        .unwrap();
    let stored = store
        .record_results(computers[1], activities[1], &thin, now)
        .await
        .unwrap();
    assert_eq!((stored.passing_rules, stored.passed), (3, true));
    assert_eq!(count(&fresh, "SELECT count(*) FROM rule_results").await, 6);
}

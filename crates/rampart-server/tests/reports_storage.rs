//! Reports, the blob store and retention against the `Store` trait, run on SQLite and on
//! PostgreSQL (`RAMPART_TEST_POSTGRES_URL`; skipped, saying so, when unset).

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use rampart_domain::xccdf::{ResultKind, RuleText, Severity};
use rampart_server::storage::{
    self, ActivityFilter, ActivityRecord, Ingest, IngestResult, NamedFile, NewComputer, NewProfile,
    ProfileRecord, Purged, ReportAnswer, ReportJob, ReportRequest, StorageError, Store, BLOB_CHUNK,
};

mod common;

use common::{Backend, FreshDatabase};

struct Fresh {
    store: Arc<dyn Store>,
    _database: FreshDatabase,
}

async fn open(backend: Backend) -> Fresh {
    let database = FreshDatabase::new(&backend).await;
    let store = storage::open(&database.url).await.unwrap();
    Fresh {
        store,
        _database: database,
    }
}

async fn sqlite() -> Fresh {
    open(Backend::Sqlite).await
}

async fn postgres(test: &str) -> Option<Fresh> {
    Some(open(Backend::postgres(test)?).await)
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $( #[tokio::test] async fn $name() { super::$name(super::sqlite().await.store).await } )*
        }
        mod on_postgres {
            $( #[tokio::test] async fn $name() {
                if let Some(fresh) = super::postgres(stringify!($name)).await { super::$name(fresh.store).await }
            } )*
        }
    };
}

const REPORT: &str = "GenerateUsgReportActivity";
const RULES: [&str; 3] = ["rule_a", "rule_b", "rule_c"];
const NO_JOBS: [ReportJob; 0] = [];

/// A time in March 2026.
fn t(day: u32, hour: u32, min: u32, sec: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, min, sec).unwrap()
}

fn days(n: i64) -> chrono::Duration {
    chrono::Duration::days(n)
}

fn seconds(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

/// Bytes that differ from one position to the next, so that a misplaced chunk shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i / 251) as u8 ^ seed)
        .collect()
}

fn detailed(request: ReportRequest) -> ReportRequest {
    ReportRequest {
        detailed: true,
        ..request
    }
}

fn started(answer: ReportAnswer) -> (ActivityRecord, ReportJob) {
    match answer {
        ReportAnswer::Started(activity, job) => (activity, job),
        other => panic!("expected a new report, got {other:?}"),
    }
}

/// A run: its parent activity and its id.
#[derive(Debug, Clone, Copy)]
struct Run {
    parent: i64,
    id: i64,
}

/// An account with two computers and a profile covering both, on one store.
struct World {
    store: Arc<dyn Store>,
    account: i64,
    profile: i64,
    computers: [i64; 2],
}

impl World {
    async fn new(store: Arc<dyn Store>, retention_days: i64) -> Self {
        let account = store.ensure_account("lumon", t(1, 0, 0, 0)).await.unwrap();
        let mut computers = [0; 2];
        for (i, id) in computers.iter_mut().enumerate() {
            let new = NewComputer {
                account_id: account.id,
                hostname: format!("host{i}"),
                system_hostname: format!("host{i}"),
                title: format!("Host {i}"),
                access_group: "global".into(),
                tags: vec![],
                secret_hash: "0".repeat(64),
                now: t(1, 0, 0, 0),
            };
            *id = store.register_computer(&new).await.unwrap().id;
        }
        let mut world = World {
            store,
            account: account.id,
            profile: 0,
            computers,
        };
        world.profile = world.create_profile("web", retention_days).await;
        world
    }

    async fn create_profile(&self, name: &str, retention_period: i64) -> i64 {
        let new = NewProfile {
            account_id: self.account,
            name: name.into(),
            title: name.into(),
            benchmark: "cis_level1_server".into(),
            mode: "audit".into(),
            schedule: "RRULE:FREQ=WEEKLY".into(),
            start_date: t(1, 0, 0, 0),
            access_group: "global".into(),
            all_computers: true,
            tags: vec![],
            restart_deliver_delay: 1,
            restart_deliver_delay_window: 0,
            retention_period,
            next_run_time: None,
            tailoring: None,
            now: t(1, 0, 0, 0),
            start_now: false,
            creator_id: None,
            run_cap: 5000,
        };
        self.store.create_profile(&new, 10).await.unwrap().id
    }

    async fn start(&self, at: DateTime<Utc>) -> Run {
        let parent = self
            .store
            .start_run(self.account, self.profile, None, at, 5000)
            .await
            .unwrap();
        Run {
            parent: parent.id,
            id: parent.run_id.unwrap(),
        }
    }

    /// A summary report of the runs that started in `[from, to]`.
    fn range(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> ReportRequest {
        ReportRequest {
            account_id: self.account,
            profile_id: self.profile,
            from,
            to,
            earliest_only: false,
            detailed: false,
            creator_id: None,
            now: t(20, 0, 0, 0),
            lease_until: t(20, 0, 2, 0),
        }
    }

    /// A summary report of the earliest run of a day.
    fn earliest_on(&self, day: u32) -> ReportRequest {
        let whole_day = self.range(t(day, 0, 0, 0), t(day, 23, 59, 59));
        ReportRequest {
            earliest_only: true,
            ..whole_day
        }
    }

    async fn other_account(&self) -> i64 {
        let other = self.store.ensure_account("other", t(1, 0, 0, 0));
        other.await.unwrap().id
    }

    async fn ask(&self, request: &ReportRequest) -> ReportAnswer {
        self.store.request_report(request).await.unwrap()
    }

    /// The name of a report of this profile: `dates` and what follows them.
    fn name(&self, dates: &str) -> String {
        let profile = self.profile;
        format!("Landscape_security_profile_audit_report_ID{profile}-{dates}.csv")
    }

    async fn finish(&self, job: &ReportJob, outcome: Result<u64, String>) {
        let ended = self
            .store
            .finish_report(job.report_id, job.lease_token, outcome, t(20, 0, 1, 0))
            .await
            .unwrap();
        assert!(ended, "the holder ends its report");
    }

    /// Finishes a report as the worker would, with a small file under its name.
    async fn finish_with_file(&self, job: &ReportJob) {
        let bytes = self.write(&job.name, &[b"Instance ID\r\n"]).await;
        self.finish(job, Ok(bytes)).await;
    }

    async fn profile(&self) -> ProfileRecord {
        let profile = self.store.profile(self.account, self.profile).await;
        profile.unwrap().expect("the profile exists")
    }

    /// The `report_uri` of the profile's last run.
    async fn report_uri(&self) -> Option<String> {
        let last_run = self.profile().await.last_run;
        last_run.expect("the profile has run").report_uri
    }

    async fn activity(&self, id: i64) -> Option<ActivityRecord> {
        self.store.activity(self.account, id).await.unwrap()
    }

    async fn count(&self, filter: ActivityFilter) -> i64 {
        let page = self.store.list_activities(self.account, &filter, 1000, 0);
        page.await.unwrap().count
    }

    async fn report_activities(&self) -> i64 {
        let kind = Some(REPORT.into());
        self.count(ActivityFilter {
            kind,
            ..Default::default()
        })
        .await
    }

    async fn children(&self, run: Run) -> i64 {
        let parent_id = Some(run.parent);
        self.count(ActivityFilter {
            parent_id,
            ..Default::default()
        })
        .await
    }

    async fn write(&self, name: &str, pieces: &[&[u8]]) -> u64 {
        let mut writer = self.store.create_blob(self.account, name).await.unwrap();
        for piece in pieces {
            writer.write(piece).await.unwrap();
        }
        writer.finish().await.unwrap()
    }

    async fn size(&self, name: &str) -> Option<u64> {
        self.store.blob_size(self.account, name).await.unwrap()
    }

    async fn delete(&self, name: &str) -> bool {
        self.store.delete_blob(self.account, name).await.unwrap()
    }

    /// The blob's chunks, read until the first `None`.
    async fn chunks(&self, name: &str) -> Vec<Vec<u8>> {
        let mut all = Vec::new();
        let next = |i: usize| self.store.blob_chunk(self.account, name, i as u64);
        while let Some(chunk) = next(all.len()).await.unwrap() {
            all.push(chunk);
        }
        all
    }

    /// Stores an audit of `computer` in the run (pass, fail, pass) with its raw upload in the
    /// blob store; answers the upload's name.
    async fn audit(&self, run: Run, computer: i64, tag: &str) -> String {
        let filter = ActivityFilter {
            parent_id: Some(run.parent),
            computer_id: Some(computer),
            ..ActivityFilter::default()
        };
        let page = self.store.list_activities(self.account, &filter, 1, 0);
        let child = page.await.unwrap().results[0].id;
        let upload = format!("uploads/{child}-{tag}.xml.gz");
        self.write(&upload, &[b"raw results"]).await;
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
        let ingest = Ingest {
            benchmark_id: "ubuntu2204".into(),
            version: "1.0".into(),
            rule_texts: Some(RULES.iter().map(rule).collect()),
            xccdf_profile: Some("cis_level1_server".into()),
            target: "host".into(),
            start_time: None,
            end_time: t(20, 0, 0, 0),
            score: None,
            results: vec![
                result(RULES[0], ResultKind::Pass),
                result(RULES[1], ResultKind::Fail),
                result(RULES[2], ResultKind::Pass),
            ],
            sha256: format!("{child}-{tag}"),
            upload: Some(upload.clone()),
        };
        self.store
            .record_results(computer, child, &ingest, t(20, 0, 0, 0))
            .await
            .unwrap();
        upload
    }
}

// What the detailed report reads.

async fn a_pages_rule_results_are_each_machines_audit_results_in_machine_order(
    store: Arc<dyn Store>,
) {
    let w = World::new(store, 730).await;
    let run = w.start(t(2, 12, 0, 0)).await;
    let other_run = w.start(t(3, 12, 0, 0)).await;
    let [first, second] = w.computers;
    w.audit(run, second, "second").await;
    w.audit(run, first, "first").await;
    // Another run's results of the same machine are not this run's.
    w.audit(other_run, first, "later").await;
    let (low, high) = (first.min(second), first.max(second));
    let page = w.store.report_page(run.id, 0, 10, true).await.unwrap();
    let ids: Vec<i64> = page.instances.iter().map(|i| i.computer_id).collect();
    assert_eq!(ids, [low, high], "by machine id");
    let audit_of = |computer: i64| {
        let instance = page.instances.iter().find(|i| i.computer_id == computer);
        instance.unwrap().audit.as_ref().expect("audited").id
    };
    let tagged = |audit: i64, results: Vec<storage::StoredResult>| {
        results.into_iter().map(move |r| (audit, r))
    };
    let (a, b) = (audit_of(low), audit_of(high));
    let mut want: Vec<_> = tagged(a, w.store.audit_results(a).await.unwrap()).collect();
    want.extend(tagged(b, w.store.audit_results(b).await.unwrap()));
    assert_eq!(want.len(), 6, "three results each");
    assert!(want
        .iter()
        .any(|(_, r)| r.result == ResultKind::Fail.code()));
    assert_eq!(page.results, want, "by machine, then rule index");

    let only_low = w.store.report_page(run.id, 0, 1, true).await.unwrap();
    assert_eq!(only_low.instances, page.instances[..1]);
    assert_eq!(
        only_low.results,
        want[..3],
        "the page ends at its last machine"
    );
    let only_high = w.store.report_page(run.id, low, 1, true).await.unwrap();
    assert_eq!(only_high.instances, page.instances[1..]);
    assert_eq!(
        only_high.results,
        want[3..],
        "and starts after the previous page's"
    );
    let none = w.store.report_page(run.id, high, 10, true).await.unwrap();
    assert_eq!(none, storage::ReportPage::default());
    // A summary reads no results.
    let summary = w.store.report_page(run.id, 0, 10, false).await.unwrap();
    assert_eq!(summary.instances, page.instances);
    assert_eq!(summary.results, []);
    // A machine of the run without an audit has no results, and is no error.
    let unaudited = w.start(t(4, 12, 0, 0)).await;
    let nothing = w
        .store
        .report_page(unaudited.id, 0, 10, true)
        .await
        .unwrap();
    assert_eq!(nothing.instances.len(), 2);
    assert!(nothing.instances.iter().all(|i| i.audit.is_none()));
    assert_eq!(nothing.results, []);
}

/// A run that receives uploads while its detailed report is read: each page shows a machine's
/// audit with exactly its results, or neither, and the report is written whole.
async fn uploads_between_pages_leave_every_page_consistent(store: Arc<dyn Store>) {
    let w = World::new(store, 730).await;
    let run = w.start(t(2, 12, 0, 0)).await;
    let [first, second] = w.computers;
    let (low, high) = (first.min(second), first.max(second));
    let before = w.store.report_page(run.id, 0, 1, true).await.unwrap();
    assert_eq!(before.instances.len(), 1);
    assert_eq!(before.instances[0].audit, None, "nothing uploaded yet");
    assert_eq!(before.results, []);
    // Both machines upload between the pages: the first one's after its page was read.
    w.audit(run, low, "late").await;
    w.audit(run, high, "between").await;
    let after = w.store.report_page(run.id, low, 1, true).await.unwrap();
    let audit = after.instances[0].audit.as_ref().expect("the upload shows");
    assert_eq!(after.instances[0].computer_id, high);
    assert_eq!(after.results.len(), 3);
    assert!(after.results.iter().all(|(id, _)| *id == audit.id));

    // The detailed report of the run, still in progress, is written and has every machine's
    // rows: three each, with the audit's results.
    let request = detailed(w.range(t(2, 0, 0, 0), t(2, 23, 0, 0)));
    let (activity, job) = started(w.ask(&request).await);
    rampart_server::reports::write_report(w.store.as_ref(), job.clone()).await;
    let ended = w.activity(activity.id).await.unwrap();
    assert_eq!(ended.status, "succeeded", "{ended:?}");
    let csv = String::from_utf8(w.chunks(&job.name).await.concat()).unwrap();
    let rows: Vec<&str> = csv.split_terminator("\r\n").skip(1).collect();
    assert_eq!(rows.len(), 6, "{csv}");
    for computer in [low, high] {
        let mine: Vec<&&str> = rows
            .iter()
            .filter(|row| row.starts_with(&format!("{computer},")))
            .collect();
        assert_eq!(mine.len(), 3, "{csv}");
        assert_eq!(mine.iter().filter(|row| row.contains(",fail,")).count(), 1);
    }
}

// Which runs a report covers.

async fn a_report_covers_the_runs_that_started_in_its_range_oldest_first(store: Arc<dyn Store>) {
    let w = World::new(store, 730).await;
    // Started out of order, so that ids do not follow start times.
    let day3 = w.start(t(3, 12, 0, 0)).await;
    let day1 = w.start(t(1, 12, 0, 0)).await;
    let day2_late = w.start(t(2, 18, 0, 0)).await;
    w.start(t(5, 12, 0, 0)).await;
    let day2 = w.start(t(2, 12, 0, 0)).await;

    let (_, job) = started(w.ask(&w.earliest_on(2)).await);
    assert_eq!(job.run_ids, [day2.id], "only the earliest run of day 2");
    assert_eq!(job.name, w.name("20260302"));

    let (_, job) = started(w.ask(&w.range(t(1, 0, 0, 0), t(3, 23, 59, 59))).await);
    let oldest_first = [day1.id, day2.id, day2_late.id, day3.id];
    assert_eq!(job.run_ids, oldest_first, "and not the day-5 run");
    assert_eq!(job.name, w.name("20260301-20260303"));
    assert_eq!(w.report_activities().await, 2);
}

async fn a_range_without_runs_starts_no_report(store: Arc<dyn Store>) {
    let w = World::new(store, 730).await;
    w.start(t(3, 12, 0, 0)).await;
    w.start(t(5, 12, 0, 0)).await;
    let answer = w.ask(&w.earliest_on(4)).await;
    assert!(matches!(answer, ReportAnswer::NoRuns), "{answer:?}");
    let between = w.range(t(3, 12, 0, 1), t(5, 11, 59, 59));
    let answer = w.ask(&detailed(between)).await;
    assert!(matches!(answer, ReportAnswer::NoRuns), "{answer:?}");
    assert_eq!(w.report_activities().await, 0, "no activity was created");
    assert_eq!(w.report_uri().await, None, "no run was touched");
}

async fn another_accounts_profile_is_not_found(store: Arc<dyn Store>) {
    let w = World::new(store, 730).await;
    w.start(t(2, 12, 0, 0)).await;
    let foreign = ReportRequest {
        account_id: w.other_account().await,
        ..w.earliest_on(2)
    };
    let answer = w.store.request_report(&foreign).await;
    assert!(matches!(answer, Err(StorageError::NotFound)), "{answer:?}");
    assert_eq!(w.report_activities().await, 0, "no activity was created");
    assert_eq!(w.report_uri().await, None, "no run was touched");
}

// Reuse.

async fn the_same_report_is_reused_until_its_runs_change(store: Arc<dyn Store>) {
    let w = World::new(store, 730).await;
    let run = w.start(t(2, 12, 0, 0)).await;
    let summary = w.earliest_on(2);
    let (first, job) = started(w.ask(&summary).await);
    assert_eq!(
        (first.kind, first.status),
        (REPORT.into(), "in-progress".into())
    );
    assert_eq!(job.name, w.name("20260302"));

    match w.ask(&summary).await {
        ReportAnswer::Pending(activity) => assert_eq!(activity.id, first.id),
        other => panic!("expected the pending report, got {other:?}"),
    }
    assert_eq!(w.report_activities().await, 1, "no second report");

    let detailed = detailed(summary.clone());
    let (other, detailed_job) = started(w.ask(&detailed).await);
    assert_ne!(other.id, first.id, "a detailed report is another report");
    assert_eq!(detailed_job.name, w.name("20260302-detailed"));

    w.finish_with_file(&job).await;
    match w.ask(&summary).await {
        ReportAnswer::Ready(name) => assert_eq!(name, job.name),
        other => panic!("expected the finished report, got {other:?}"),
    }
    let still = w.ask(&detailed).await;
    assert!(matches!(still, ReportAnswer::Pending(_)), "{still:?}");

    w.audit(run, w.computers[0], "a").await;
    let (third, changed) = started(w.ask(&summary).await);
    assert_ne!(third.id, first.id, "changed runs get a new report");
    assert_eq!(changed.name, w.name("20260302-2"), "a name of its own");
    assert_eq!(w.report_activities().await, 3);
}

// The run's `report_uri`.

async fn report_uri_follows_the_reports_of_the_run(store: Arc<dyn Store>) {
    let w = World::new(store, 730).await;
    let run = w.start(t(2, 12, 0, 0)).await;
    let summary = w.earliest_on(2);
    assert_eq!(w.report_uri().await, None);

    let (failing, job) = started(w.ask(&summary).await);
    assert_eq!(w.report_uri().await.as_deref(), Some("in-progress"));
    w.finish(&job, Err("x".into())).await;
    assert_eq!(w.report_uri().await, None, "a failure puts back null");
    let failed = w.activity(failing.id).await.unwrap();
    assert_eq!(failed.status, "failed");
    let failure = (failed.result_code, failed.result_text);
    assert_eq!(failure, (Some(1), Some("x".into())));

    let (succeeding, good) = started(w.ask(&summary).await);
    assert_ne!(good.name, job.name, "a failed report's name is not reused");
    w.finish(&good, Ok(10)).await;
    assert_eq!(w.report_uri().await, Some(good.name.clone()));
    let succeeded = w.activity(succeeding.id).await.unwrap();
    assert_eq!(succeeded.status, "succeeded");
    let success = (succeeded.result_code, succeeded.result_text);
    assert_eq!(success, (Some(0), Some(good.name.clone())));

    w.audit(run, w.computers[1], "a").await;
    let (_, later) = started(w.ask(&summary).await);
    assert_eq!(w.report_uri().await.as_deref(), Some("in-progress"));
    w.finish(&later, Err("x".into())).await;
    // A failure puts back the earlier report.
    assert_eq!(w.report_uri().await, Some(good.name));
}

// Leases.

async fn a_report_is_taken_over_only_once_its_lease_runs_out(store: Arc<dyn Store>) {
    let w = World::new(store, 730).await;
    w.start(t(2, 12, 0, 0)).await;
    let asked = w.earliest_on(2);
    let lease = asked.lease_until;
    let (_, job) = started(w.ask(&asked).await);
    let claim = |now, until| w.store.claim_stale_reports(now, until);

    let held = claim(lease - seconds(1), lease + days(1)).await.unwrap();
    assert_eq!(held, NO_JOBS, "the lease still holds");
    let taken = claim(lease + seconds(1), lease + days(1)).await.unwrap();
    let new_holder = ReportJob {
        lease_token: job.lease_token + 1,
        ..job.clone()
    };
    assert_eq!(
        taken,
        std::slice::from_ref(&new_holder),
        "the lease ran out; a new holder"
    );
    let again = claim(lease + seconds(2), lease + days(2)).await.unwrap();
    assert_eq!(again, NO_JOBS, "held until the new lease ends");

    // The first writer lost it: it can neither renew nor end the report.
    let renew =
        |job: &ReportJob, until| w.store.renew_report(job.report_id, job.lease_token, until);
    assert!(
        !renew(&job, lease + days(3)).await.unwrap(),
        "the old holder cannot renew"
    );
    let stale_end = w
        .store
        .finish_report(
            job.report_id,
            job.lease_token,
            Err("late".into()),
            lease + days(1),
        )
        .await
        .unwrap();
    assert!(!stale_end, "the old holder cannot end it");
    assert_eq!(
        w.report_uri().await.as_deref(),
        Some("in-progress"),
        "still being written"
    );

    assert!(
        renew(&new_holder, lease + days(3)).await.unwrap(),
        "the new holder renews"
    );
    let renewed = claim(lease + days(2), lease + days(4)).await.unwrap();
    assert_eq!(renewed, NO_JOBS, "a renewed lease holds");

    w.finish_with_file(&new_holder).await;
    let finished = claim(lease + days(9), lease + days(10)).await.unwrap();
    assert_eq!(finished, NO_JOBS, "a finished report is never taken over");
}

// Blobs.

async fn blobs_read_back_in_chunks_exactly_as_written(store: Arc<dyn Store>) {
    let w = World::new(store, 730).await;
    let data = pattern(BLOB_CHUNK * 5 / 2, 7);
    let (a, b, c) = (1000, BLOB_CHUNK + 1500, BLOB_CHUNK + 1512);
    let pieces = [&data[..a], &data[a..b], &data[b..c], &data[c..]];
    let written = w.write("report.csv", &pieces).await;
    assert_eq!(written, data.len() as u64);
    assert_eq!(w.size("report.csv").await, Some(written));
    let read = w.chunks("report.csv").await;
    let lengths: Vec<usize> = read.iter().map(Vec::len).collect();
    assert_eq!(lengths, [BLOB_CHUNK, BLOB_CHUNK, BLOB_CHUNK / 2]);
    assert!(read.concat() == data, "the bytes read back differ");
    let past_the_end = w.store.blob_chunk(w.account, "report.csv", 99);
    assert_eq!(past_the_end.await.unwrap(), None);
    assert_eq!(w.size("missing.csv").await, None);
    assert_eq!(w.chunks("missing.csv").await, Vec::<Vec<u8>>::new());
}

async fn a_rewritten_blob_changes_only_when_the_new_one_is_finished(store: Arc<dyn Store>) {
    let w = World::new(store, 730).await;
    let name = "uploads/1-a.xml.gz";
    let old = pattern(BLOB_CHUNK + 10, 1);
    w.write(name, &[&old]).await;

    let new = pattern(BLOB_CHUNK * 2 + 3, 2);
    let mut writer = w.store.create_blob(w.account, name).await.unwrap();
    writer.write(&new[..BLOB_CHUNK * 2]).await.unwrap();
    writer.write(&new[BLOB_CHUNK * 2..]).await.unwrap();
    let unchanged = Some(old.len() as u64);
    assert_eq!(w.size(name).await, unchanged, "not before finish");
    assert!(w.chunks(name).await.concat() == old, "still the old bytes");
    writer.finish().await.unwrap();
    assert_eq!(w.size(name).await, Some(new.len() as u64));
    assert!(w.chunks(name).await.concat() == new, "the new bytes, whole");

    w.write(name, &[b"short"]).await;
    assert_eq!(w.chunks(name).await, [b"short".to_vec()], "no chunk left");
}

async fn an_abandoned_write_leaves_the_old_content_or_nothing(store: Arc<dyn Store>) {
    let w = World::new(store, 730).await;
    w.write("kept.csv", &[b"old"]).await;
    for name in ["kept.csv", "never.csv"] {
        let mut writer = w.store.create_blob(w.account, name).await.unwrap();
        writer.write(&pattern(BLOB_CHUNK + 1, 3)).await.unwrap();
        drop(writer);
    }
    assert_eq!(w.chunks("kept.csv").await, [b"old".to_vec()]);
    assert_eq!(w.size("never.csv").await, None);
    assert_eq!(w.chunks("never.csv").await, Vec::<Vec<u8>>::new());
    // A later writer of the name is not disturbed by the abandoned one.
    w.write("never.csv", &[b"new"]).await;
    assert_eq!(w.chunks("never.csv").await, [b"new".to_vec()]);
    assert_eq!(w.chunks("kept.csv").await, [b"old".to_vec()]);
}

async fn blobs_are_per_account_and_deleted_once(store: Arc<dyn Store>) {
    let w = World::new(store, 730).await;
    w.write("report.csv", &[b"mine"]).await;
    let other = World {
        account: w.other_account().await,
        store: w.store.clone(),
        ..w
    };
    assert_eq!(other.size("report.csv").await, None);
    assert_eq!(other.chunks("report.csv").await, Vec::<Vec<u8>>::new());
    assert!(!other.delete("report.csv").await);
    assert_eq!(w.size("report.csv").await, Some(4), "still there");

    assert!(w.delete("report.csv").await);
    assert!(!w.delete("report.csv").await);
    assert_eq!(w.size("report.csv").await, None);
    assert_eq!(w.chunks("report.csv").await, Vec::<Vec<u8>>::new());
}

async fn a_blob_deleted_while_rewritten_is_readable_once_the_rewrite_finishes(
    store: Arc<dyn Store>,
) {
    let w = World::new(store, 730).await;
    w.write("report.csv", &[b"old"]).await;
    let mut writer = w.store.create_blob(w.account, "report.csv").await.unwrap();
    writer.write(&pattern(BLOB_CHUNK, 5)).await.unwrap();
    assert!(w.delete("report.csv").await);
    assert_eq!(w.size("report.csv").await, None, "the old file is gone");
    let bytes = writer.finish().await.unwrap();
    assert_eq!(w.size("report.csv").await, Some(bytes), "finish succeeded");
}

// Retention.

async fn purging_deletes_expired_runs_with_everything_that_hangs_off_them(store: Arc<dyn Store>) {
    let w = World::new(store, 2).await;
    let t0 = t(1, 12, 0, 0);
    let now = t0 + days(3) + seconds(1);
    let (a, b) = (w.start(t0).await, w.start(t0 + days(1)).await);
    let boundary = w.start(now - days(2)).await;
    let last = w.start(t0 + days(3)).await;
    let mut uploads = Vec::new();
    for (run, tag) in [(a, "a"), (b, "b"), (boundary, "boundary"), (last, "last")] {
        uploads.push(w.audit(run, w.computers[0], tag).await);
    }

    let first_two = w.range(t0, t0 + days(1));
    let (first_two_activity, first_two_job) = started(w.ask(&first_two).await);
    assert_eq!(first_two_job.run_ids, [a.id, b.id]);
    rampart_server::reports::write_report(w.store.as_ref(), first_two_job.clone()).await;
    let written = w.activity(first_two_activity.id).await.unwrap();
    assert_eq!(written.status, "succeeded", "{written:?}");
    assert!(w.size(&first_two_job.name).await.is_some(), "written");
    let (last_activity, last_job) = started(w.ask(&w.earliest_on(4)).await);
    assert_eq!(last_job.run_ids, [last.id]);
    w.finish_with_file(&last_job).await;
    let (spanning_activity, spanning) = started(w.ask(&w.range(t0 + days(1), t0 + days(3))).await);
    assert_eq!(spanning.run_ids, [b.id, boundary.id, last.id]);
    w.finish_with_file(&spanning).await;
    assert_eq!(w.report_uri().await, Some(spanning.name.clone()));

    // The machines that never answered have long timed out by then.
    w.store.expire_activities(now, now).await.unwrap();
    let purged = w.store.purge_expired(now).await.unwrap();
    let expected = Purged {
        runs: 2,
        // Each run's parent and two children, and the two reports covering run b.
        activities: 2 * 3 + 2,
        audits: 2,
        rule_results: 2 * RULES.len() as u64,
        reports: 2,
        // Both reports' files and the uploads of runs a and b.
        files: 4,
        failed: 0,
    };
    assert_eq!(purged, expected);

    let (first_two_name, spanning_name) = (&first_two_job.name, &spanning.name);
    for gone in [&uploads[0], &uploads[1], first_two_name, spanning_name] {
        assert_eq!(w.size(gone).await, None, "{gone} was deleted");
    }
    for kept in [&uploads[2], &uploads[3], &last_job.name] {
        assert!(w.size(kept).await.is_some(), "{kept} was kept");
    }
    for run in [a, b] {
        assert_eq!(w.activity(run.parent).await, None, "{run:?}");
        assert_eq!(w.children(run).await, 0, "{run:?}");
    }
    for run in [boundary, last] {
        assert!(w.activity(run.parent).await.is_some(), "{run:?} stays");
        assert_eq!(w.children(run).await, 2, "{run:?} stays");
    }
    assert_eq!(w.activity(first_two_activity.id).await, None);
    assert_eq!(w.activity(spanning_activity.id).await, None);
    assert!(w.activity(last_activity.id).await.is_some());
    let last_run = w.profile().await.last_run.unwrap();
    assert_eq!(last_run.run_id, last.id);
    assert_eq!(
        last_run.report_uri,
        Some(last_job.name.clone()),
        "no longer the purged report"
    );
    let named = |name| w.store.named_file(w.account, name);
    assert_eq!(named(&spanning.name).await.unwrap(), None);
    let still_named = named(&last_job.name).await.unwrap();
    assert_eq!(still_named, Some(NamedFile::Report));
    let answer = w.ask(&first_two).await;
    assert!(matches!(answer, ReportAnswer::NoRuns), "{answer:?}");

    let again = w.store.purge_expired(now).await.unwrap();
    assert_eq!(again, Purged::default(), "nothing is left to purge");
}

async fn runs_are_purged_only_once_expired_whatever_their_profile(store: Arc<dyn Store>) {
    let w = World::new(store, 2).await;
    let t0 = t(1, 12, 0, 0);
    let (old, recent) = (w.start(t0).await, w.start(t0 + days(3)).await);
    let archive = w.store.archive_profile(w.account, w.profile, t0 + days(3));
    archive.await.unwrap();
    let long_lived = World {
        store: w.store.clone(),
        profile: w.create_profile("kept", 730).await,
        ..w
    };
    let ancient = long_lived.start(t0).await;

    // Machines are still at work on every run: nothing is deleted under them.
    let waiting = w.store.purge_expired(t0 + days(4)).await.unwrap();
    assert_eq!(waiting, Purged::default(), "open activities hold their run");
    assert!(w.activity(old.parent).await.is_some());
    // They time out (the server's activity timeout); then expired runs go.
    w.store
        .expire_activities(t0 + days(4), t0 + days(4))
        .await
        .unwrap();
    let purged = w.store.purge_expired(t0 + days(4)).await.unwrap();
    assert_eq!((purged.runs, purged.activities), (1, 3), "{purged:?}");
    assert_eq!(w.activity(old.parent).await, None, "archived, and expired");
    assert!(w.activity(recent.parent).await.is_some(), "not expired yet");
    assert!(
        w.activity(ancient.parent).await.is_some(),
        "its profile keeps runs 730 days"
    );

    w.store
        .expire_activities(t0 + days(6), t0 + days(6))
        .await
        .unwrap();
    let purged = w.store.purge_expired(t0 + days(6)).await.unwrap();
    assert_eq!((purged.runs, purged.activities), (1, 3), "{purged:?}");
    assert_eq!(w.activity(recent.parent).await, None);
    let archived = w.profile().await;
    assert_eq!(
        (archived.status, archived.last_run),
        ("archived".into(), None)
    );
    assert!(
        w.activity(ancient.parent).await.is_some(),
        "still within 730 days"
    );
}

on_both_backends!(
    a_pages_rule_results_are_each_machines_audit_results_in_machine_order,
    uploads_between_pages_leave_every_page_consistent,
    a_report_covers_the_runs_that_started_in_its_range_oldest_first,
    a_range_without_runs_starts_no_report,
    another_accounts_profile_is_not_found,
    the_same_report_is_reused_until_its_runs_change,
    report_uri_follows_the_reports_of_the_run,
    a_report_is_taken_over_only_once_its_lease_runs_out,
    blobs_read_back_in_chunks_exactly_as_written,
    a_rewritten_blob_changes_only_when_the_new_one_is_finished,
    an_abandoned_write_leaves_the_old_content_or_nothing,
    blobs_are_per_account_and_deleted_once,
    a_blob_deleted_while_rewritten_is_readable_once_the_rewrite_finishes,
    purging_deletes_expired_runs_with_everything_that_hangs_off_them,
    runs_are_purged_only_once_expired_whatever_their_profile,
);

/// PostgreSQL keeps a file's bytes in the database: a writer that died mid-write (its server
/// gone, so nothing removed its row) leaves a row and chunks that only the retention pass
/// removes, once they are an hour old. A write running now is never taken, whatever "as of" time
/// the pass is given, and finished files are not touched.
#[tokio::test]
async fn on_postgres_partial_files_an_hour_old_are_swept_and_others_kept() {
    use sqlx::Connection;
    let test = "on_postgres_partial_files_an_hour_old_are_swept_and_others_kept";
    let Some(fresh) = postgres(test).await else {
        return;
    };
    let w = World::new(fresh.store.clone(), 730).await;
    w.write("finished-long-ago.csv", &[b"kept"]).await;
    let mut live = w.store.create_blob(w.account, "live.csv").await.unwrap();
    live.write(&pattern(BLOB_CHUNK + 1, 7)).await.unwrap();
    let mut db = sqlx::PgConnection::connect(&fresh._database.url)
        .await
        .unwrap();
    // What dead writers left: one started 61 minutes ago with a chunk, one 59 minutes ago.
    for (name, minutes) in [("dead.csv", 61), ("recent.csv", 59)] {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO blobs (account_id, name, bytes, complete, creation_time) \
             VALUES ($1, $2, 0, FALSE, now() - make_interval(mins => $3)) RETURNING id",
        )
        .bind(w.account)
        .bind(name)
        .bind(minutes)
        .fetch_one(&mut db)
        .await
        .unwrap();
        sqlx::query("INSERT INTO blob_chunks (blob_id, seq, data) VALUES ($1, 0, 'x')")
            .bind(id)
            .execute(&mut db)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE blobs SET creation_time = now() - interval '30 days' WHERE complete")
        .execute(&mut db)
        .await
        .unwrap();

    // "As of" two days ahead: still only what is an hour old now.
    w.store.purge_expired(Utc::now() + days(2)).await.unwrap();

    let left: Vec<(String, bool, i64)> = sqlx::query_as(
        "SELECT b.name, b.complete, (SELECT count(*) FROM blob_chunks c WHERE c.blob_id = b.id) \
         FROM blobs b ORDER BY b.name",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let expected = [
        ("finished-long-ago.csv".to_string(), true, 1),
        ("live.csv".to_string(), false, 1),
        ("recent.csv".to_string(), false, 1),
    ];
    assert_eq!(left, expected, "dead.csv and its chunk gone, nothing else");
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM blob_chunks WHERE blob_id NOT IN (SELECT id FROM blobs)",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(orphans, 0, "no chunk outlives its file");
    // The live write finishes as if nothing had happened.
    let bytes = live.finish().await.unwrap();
    assert_eq!(bytes, BLOB_CHUNK as u64 + 1);
    assert_eq!(
        w.chunks("live.csv").await.concat(),
        pattern(BLOB_CHUNK + 1, 7)
    );
    assert_eq!(w.chunks("finished-long-ago.csv").await, [b"kept".to_vec()]);
}

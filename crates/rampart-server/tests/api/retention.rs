//! Retention and raw uploads: `rampart admin purge-expired` run as the real binary against the
//! test app's database, and the accepted uploads kept gzip-compressed in the blob store.

use std::io::{Read, Write};
use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{fixtures, fresh_results, spawn_app, AgentId, Backend, TestApp};
use crate::on_both_backends;

const U2204: &str = "u2204-cis_l1_server.results.xml.gz";
/// The selected rules of `U2204`: 52 pass, 31 fail, 104 notapplicable, 2 notchecked.
const U2204_RULE_RESULTS: u64 = 189;

/// `rampart admin purge-expired [--as-of as_of]` on the app's database and data dir; answers
/// (exit success, stdout, stderr).
async fn purge_expired(app: &TestApp, as_of: Option<&str>) -> (bool, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_rampart"));
    command
        .args(["admin", "purge-expired", "--database-url"])
        .arg(app.settings.database_url())
        .arg("--data-dir")
        .arg(&app.settings.data_dir)
        // Only the flags say where the database is.
        .env_remove("RAMPART_CONFIG")
        .env_remove("RAMPART_DATABASE_URL")
        .env_remove("RAMPART_DATA_DIR")
        .env("RAMPART_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(as_of) = as_of {
        command.args(["--as-of", as_of]);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("purge-expired ends within a minute")
        .expect("rampart starts");
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// A time `offset` from now, in whole seconds, as `--as-of` takes it and the output prints it.
fn from_now(offset: chrono::Duration) -> String {
    (Utc::now() + offset)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The blob a raw upload is kept under: `uploads/<activity>-<first 16 hex of its SHA-256>.xml.gz`.
fn upload_name(activity: i64, bytes: &[u8]) -> String {
    let hash: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("uploads/{activity}-{}.xml.gz", &hash[..16])
}

/// The whole content of a blob, read piece by piece as the server does.
async fn read_blob(app: &TestApp, name: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    for i in 0.. {
        match app.store.blob_chunk(app.account_id, name, i).await.unwrap() {
            Some(chunk) => bytes.extend_from_slice(&chunk),
            None => break,
        }
    }
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("the kept upload is gzip");
    out
}

/// A profile covering the machines tagged `tag`, kept `retention_period` days, run once, its
/// machine answering with `U2204`. Answers (profile id, run parent id, run start, upload blob).
async fn audited_once(
    app: &TestApp,
    agent: &AgentId,
    tag: &str,
    retention_period: i64,
) -> (i64, i64, String, String) {
    let profile = app
        .create_profile(
            &format!("Kept {retention_period} days"),
            json!({"tags": [tag], "retention_period": retention_period}),
        )
        .await;
    assert_eq!(profile["retention_period"], retention_period);
    let id = profile["id"].as_i64().unwrap();
    let run = app
        .post_empty(&format!("/api/v2/security-profiles/{id}:execute"))
        .await;
    assert_eq!(run.status, 200, "{:?}", run.body);
    let work = app.poll(agent).await;
    assert_eq!(work.len(), 1, "{work:?}");
    let work = work[0]["id"].as_i64().unwrap();
    let file = fresh_results(U2204);
    let uploaded = app.upload(agent, work, file.clone()).await;
    assert_eq!(uploaded.status, 200, "{:?}", uploaded.body);
    (
        id,
        run.body["id"].as_i64().unwrap(),
        run.body["creation_time"].as_str().unwrap().to_owned(),
        upload_name(work, &file),
    )
}

async fn last_run(app: &TestApp, profile: i64) -> Value {
    let answer = app
        .get(&format!("/api/v2/security-profiles/{profile}"))
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body["last_run_results"].clone()
}

/// Asserts that the profile's `last_run_results` describe no run (as before its first one).
#[track_caller]
fn describes_no_run(counts: &Value) {
    assert_eq!(counts["timestamp"], Value::Null, "{counts}");
    assert_eq!(counts["report_uri"], Value::Null, "{counts}");
    assert_eq!(counts["pass_rate"], Value::Null, "{counts}");
    assert_eq!(
        (
            &counts["passing"],
            &counts["failing"],
            &counts["in_progress"]
        ),
        (&json!(0), &json!(0), &json!(0)),
        "{counts}"
    );
    assert_eq!(counts["not_started"], 1, "the covered machine, not started");
}

async fn blob_status(app: &TestApp, name: &str) -> u16 {
    app.get(&format!("/api/v2/security-profiles/blob?path={name}"))
        .await
        .status
}

async fn purge_expired_deletes_runs_past_their_retention_with_their_results_reports_and_files(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let a = app.register("a", &["a"], "global").await;
    let b = app.register("b", &["b"], "global").await;
    let (kept_a_day, run, started, upload) = audited_once(&app, &a, "a", 1).await;
    // An archived profile keeps its history until it expires, like any other.
    let (archived, archived_run, archived_started, archived_upload) =
        audited_once(&app, &b, "b", 3).await;
    let answer = app
        .post_empty(&format!("/api/v2/security-profiles/{archived}:archive"))
        .await;
    assert_eq!(answer.body["status"], "archived", "{:?}", answer.body);

    let requested = app
        .get(&format!(
            "/api/v2/security-profiles/{kept_a_day}/report?start_date={}",
            &started[..10]
        ))
        .await;
    assert_eq!(requested.status, 200, "{:?}", requested.body);
    let report_activity = requested.body["id"].as_i64().expect("a new report");
    let done = app.finished(report_activity).await;
    assert_eq!(done["activity_status"], "succeeded", "{done:?}");
    let report = done["result_text"].as_str().unwrap().to_owned();
    assert_eq!(blob_status(&app, &report).await, 200);
    assert_eq!(last_run(&app, kept_a_day).await["report_uri"], report);

    let everything = || async {
        let mut seen = vec![app.get("/api/v2/activities?limit=1000").await.body];
        for profile in [kept_a_day, archived] {
            seen.push(
                app.get(&format!("/api/v2/security-profiles/{profile}"))
                    .await
                    .body,
            );
        }
        for name in [&upload, &archived_upload, &report] {
            let size = app.store.blob_size(app.account_id, name).await.unwrap();
            seen.push(json!({"blob": name, "size": size}));
        }
        seen
    };
    let before = everything().await;
    assert_eq!(before[0]["count"], 5, "two runs of one machine, a report");
    assert!(before[3..].iter().all(|b| b["size"].as_u64() > Some(0)));

    // A bad time is refused before anything is opened.
    let (ok, out, err) = purge_expired(&app, Some("yesterday-ish")).await;
    assert!(!ok, "a bad --as-of fails; printed {out:?}");
    assert!(
        err.contains("--as-of"),
        "the message names --as-of: {err:?}"
    );
    assert!(!out.contains("purged"), "{out:?}");
    assert_eq!(
        everything().await,
        before,
        "a refused purge deletes nothing"
    );

    // Half a day on, nothing has expired.
    let as_of = from_now(chrono::Duration::hours(12));
    let (ok, out, err) = purge_expired(&app, Some(&as_of)).await;
    assert!(ok, "{err}");
    assert_eq!(
        out,
        format!(
            "purged as of {as_of}: 0 runs, 0 activities, 0 audits, 0 rule results, 0 reports, \
             0 files\n"
        )
    );
    assert_eq!(everything().await, before, "nothing was old enough");
    assert_eq!(blob_status(&app, &report).await, 200);

    // Two days on, the run kept a day goes with its report and both files; the archived
    // profile's run (kept three days) stays.
    let as_of = from_now(chrono::Duration::days(2));
    let (ok, out, err) = purge_expired(&app, Some(&as_of)).await;
    assert!(ok, "{err}");
    assert_eq!(
        out,
        format!(
            "purged as of {as_of}: 1 runs, 3 activities, 1 audits, {U2204_RULE_RESULTS} rule \
             results, 1 reports, 2 files\n"
        ),
        "the run's parent and child and the report's activity; the report's CSV and the raw \
         upload"
    );
    assert_eq!(blob_status(&app, &report).await, 404);
    assert_eq!(
        app.store.blob_size(app.account_id, &report).await.unwrap(),
        None
    );
    assert_eq!(
        app.store.blob_size(app.account_id, &upload).await.unwrap(),
        None,
        "the raw upload goes with its run"
    );
    let children = app
        .get(&format!("/api/v2/activities?parent_id={run}"))
        .await;
    assert_eq!(children.status, 200, "{:?}", children.body);
    assert_eq!(children.body["count"], 0, "{:?}", children.body);
    assert_eq!(children.body["results"], json!([]));
    for gone in [run, report_activity] {
        assert_eq!(
            app.get(&format!("/api/v2/activities/{gone}")).await.status,
            404,
            "activity {gone}"
        );
    }
    describes_no_run(&last_run(&app, kept_a_day).await);
    let left = app.get("/api/v2/activities?limit=1000").await.body;
    assert_eq!(left["count"], 2, "the archived profile's run: {left}");
    assert_eq!(
        last_run(&app, archived).await["timestamp"],
        archived_started.as_str()
    );
    assert!(app
        .store
        .blob_size(app.account_id, &archived_upload)
        .await
        .unwrap()
        .is_some());

    // Four days on, the archived profile's run goes the same way.
    let as_of = from_now(chrono::Duration::days(4));
    let (ok, out, err) = purge_expired(&app, Some(&as_of)).await;
    assert!(ok, "{err}");
    assert_eq!(
        out,
        format!(
            "purged as of {as_of}: 1 runs, 2 activities, 1 audits, {U2204_RULE_RESULTS} rule \
             results, 0 reports, 1 files\n"
        )
    );
    let children = app
        .get(&format!("/api/v2/activities?parent_id={archived_run}"))
        .await;
    assert_eq!(children.body["count"], 0, "{:?}", children.body);
    assert_eq!(app.get("/api/v2/activities").await.body["count"], 0);
    assert_eq!(
        app.store
            .blob_size(app.account_id, &archived_upload)
            .await
            .unwrap(),
        None
    );
    let profile = app
        .get(&format!("/api/v2/security-profiles/{archived}"))
        .await;
    assert_eq!(profile.body["status"], "archived", "profiles stay");
    describes_no_run(&profile.body["last_run_results"]);

    let (ok, out, err) = purge_expired(&app, Some(&as_of)).await;
    assert!(ok, "{err}");
    assert!(
        out.contains(": 0 runs, 0 activities, 0 audits, 0 rule results, 0 reports, 0 files"),
        "nothing is left to purge: {out:?}"
    );
}

async fn an_accepted_upload_is_kept_gzipped_and_a_refused_one_leaves_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let agents = [
        app.register("plain", &[], "global").await,
        app.register("gzipped", &[], "global").await,
        app.register("refused", &[], "global").await,
    ];
    let profile = app
        .create_profile("Uploads", json!({"all_computers": true}))
        .await;
    let run = app
        .post_empty(&format!(
            "/api/v2/security-profiles/{}:execute",
            profile["id"]
        ))
        .await;
    assert_eq!(run.status, 200, "{:?}", run.body);
    let mut work = Vec::new();
    for agent in &agents {
        work.push(app.poll(agent).await[0]["id"].as_i64().unwrap());
    }
    let kept_size = |name: String| {
        let app = &app;
        async move { app.store.blob_size(app.account_id, &name).await.unwrap() }
    };

    // Raw XML is kept compressed, and decompresses to exactly what was sent.
    let plain = fresh_results(U2204);
    assert_eq!(&plain[..5], b"<?xml", "the fixture, decompressed");
    let answer = app.upload(&agents[0], work[0], plain.clone()).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let name = upload_name(work[0], &plain);
    let size = kept_size(name.clone()).await.expect("the upload is kept");
    let kept = read_blob(&app, &name).await;
    assert_eq!(kept.len() as u64, size);
    assert_eq!(&kept[..2], [0x1f, 0x8b], "gzip");
    assert!(kept.len() < plain.len() / 4, "compressed: {}", kept.len());
    assert!(gunzip(&kept) == plain, "decompresses to the upload");

    // A gzip upload is kept byte for byte as sent.
    let gzipped = gzip(&fresh_results(U2204));
    let answer = app.upload(&agents[1], work[1], gzipped.clone()).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let name = upload_name(work[1], &gzipped);
    assert_eq!(kept_size(name.clone()).await, Some(gzipped.len() as u64));
    assert!(read_blob(&app, &name).await == gzipped, "kept as sent");

    // Refused uploads keep nothing under their names.
    let text = String::from_utf8(plain.clone()).unwrap();
    let thin =
        std::fs::read_to_string(fixtures().join("xccdf/u2204-cis_l1_server.testresult-only.xml"))
            .unwrap()
            .replace(
                "2026-12-03T",
                &(Utc::now() + chrono::Duration::days(1))
                    .format("%Y-%m-%dT")
                    .to_string(),
            );
    // A selected rule (notselected ones are not stored) renamed to one no version has.
    let passed = thin.find("<result>pass</result>").unwrap();
    let first_rule =
        thin[..passed].rfind("<rule-result idref=\"").unwrap() + "<rule-result idref=\"".len();
    let unknown_rule = format!(
        "{}xccdf_org.ssgproject.content_rule_no_such_rule{}",
        &thin[..first_rule],
        &thin[first_rule + thin[first_rule..].find('"').unwrap()..]
    );
    let other_profile = text.replace(
        "<profile idref=\"xccdf_org.ssgproject.content_profile_cis_level1_server\"",
        "<profile idref=\"xccdf_org.ssgproject.content_profile_cis_level2_server\"",
    );
    // (what, body, what the refusal says)
    let refusals: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "another machine's",
            text.replace("<target>vm</target>", "<target>elsewhere</target>")
                .into_bytes(),
            "for machine `elsewhere`",
        ),
        (
            "another profile's",
            other_profile.clone().into_bytes(),
            "audits profile `xccdf_org.ssgproject.content_profile_cis_level2_server`",
        ),
        (
            "another profile's, gzipped",
            gzip(other_profile.as_bytes()),
            "audits profile `xccdf_org.ssgproject.content_profile_cis_level2_server`",
        ),
        // Refused only after its copy was written: the rule check is in the transaction that
        // stores the audit, so the copy must be removed again.
        (
            "a rule of no known version",
            unknown_rule.into_bytes(),
            "rule `xccdf_org.ssgproject.content_rule_no_such_rule` is not in benchmark",
        ),
    ];
    for (what, body, why) in refusals {
        assert_ne!(body, plain, "{what} differs from the good file");
        let answer = app.upload(&agents[2], work[2], body.clone()).await;
        let message = answer.assert_error(400, "InvalidResults");
        assert!(message.contains(why), "{what}: {message}");
        assert_eq!(
            kept_size(upload_name(work[2], &body)).await,
            None,
            "{what} left a copy"
        );
    }
    // The activity is still open: good results are then kept as usual.
    let answer = app.upload(&agents[2], work[2], plain.clone()).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert!(kept_size(upload_name(work[2], &plain)).await.is_some());

    // Raw uploads are not files users can fetch.
    let name = upload_name(work[0], &plain);
    let bare = name.trim_start_matches("uploads/");
    for path in [
        name.clone(),
        name.replace('/', "%2F"),
        bare.to_owned(),
        "uploads".to_owned(),
    ] {
        let url = format!("/api/v2/security-profiles/blob?path={path}");
        let answer = app.get(&url).await;
        answer.assert_error(404, "NotFound");
        let raw = app
            .client
            .get(app.url(&url))
            .bearer_auth(&app.token)
            .header("accept", "application/octet-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), 404, "{path} as raw bytes");
    }
}

/// Every reference between the rows of runs: (table, key, the keys it may name). The last two: a
/// run's machine without an activity of the run, an audit of a run other than its activity's.
/// (The lists hold no NULL, which would make `NOT IN` never true.)
const REFERENCES: &[(&str, &str, &str)] = &[
    ("activities", "parent_id", "SELECT id FROM activities"),
    ("activities", "run_id", "SELECT id FROM runs"),
    ("activities", "account_id", "SELECT id FROM accounts"),
    ("activities", "creator_id", "SELECT id FROM users"),
    ("activities", "computer_id", "SELECT id FROM computers"),
    ("run_instances", "run_id", "SELECT id FROM runs"),
    ("run_instances", "computer_id", "SELECT id FROM computers"),
    ("runs", "activity_id", "SELECT id FROM activities"),
    ("audits", "run_id", "SELECT id FROM runs"),
    ("audits", "activity_id", "SELECT id FROM activities"),
    ("rule_results", "audit_id", "SELECT id FROM audits"),
    ("reports", "activity_id", "SELECT id FROM activities"),
    ("report_runs", "run_id", "SELECT id FROM runs"),
    ("report_runs", "report_id", "SELECT id FROM reports"),
    ("security_profiles", "last_run_id", "SELECT id FROM runs"),
    (
        "run_instances",
        "run_id || ':' || computer_id",
        "SELECT run_id || ':' || computer_id FROM activities \
         WHERE run_id IS NOT NULL AND computer_id IS NOT NULL",
    ),
    (
        "audits",
        "activity_id || ':' || run_id",
        "SELECT id || ':' || run_id FROM activities WHERE run_id IS NOT NULL",
    ),
];

/// Runs `sql` (one count) on the app's database, whichever the backend.
async fn count(app: &TestApp, sql: &str) -> i64 {
    let url = app.settings.database_url();
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    } else {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    }
}

/// The references of `REFERENCES` that name a row which is not there, with how many rows do.
async fn orphans(app: &TestApp) -> Vec<(String, i64)> {
    let mut found = Vec::new();
    for (table, key, parents) in REFERENCES {
        let n = count(
            app,
            &format!(
                "SELECT count(*) FROM {table} WHERE {key} IS NOT NULL AND {key} NOT IN ({parents})"
            ),
        )
        .await;
        if n > 0 {
            found.push((format!("{table}.{key}"), n));
        }
    }
    found
}

/// Rows that belong to the run of parent activity `run` (its activities, its own row included;
/// its machines; its audits), as (activities, run_instances, audits).
async fn rows_of_run(app: &TestApp, run: i64) -> (i64, i64, i64) {
    let of_run = format!("(SELECT id FROM runs WHERE activity_id = {run})");
    (
        count(
            app,
            &format!("SELECT count(*) FROM activities WHERE id = {run} OR run_id IN {of_run}"),
        )
        .await,
        count(
            app,
            &format!("SELECT count(*) FROM run_instances WHERE run_id IN {of_run}"),
        )
        .await,
        count(
            app,
            &format!("SELECT count(*) FROM audits WHERE run_id IN {of_run}"),
        )
        .await,
    )
}

/// PostgreSQL checks fewer references of activities and run instances than SQLite (migration
/// 0007): what deletes rows must delete what points at them. A run with a machine that
/// answered, one that failed and one removed before it answered, and a report over it, then
/// purged; another profile's run kept: nothing is left pointing at a deleted row, and the kept
/// run keeps all its rows.
async fn removing_a_computer_and_purging_a_run_leave_no_row_pointing_at_a_deleted_one(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let answered = app.register("answered", &["gone"], "global").await;
    let failed = app.register("failed", &["gone"], "global").await;
    let removed = app.register("removed", &["gone"], "global").await;
    let kept = app.register("kept", &["kept"], "global").await;

    let profile = app
        .create_profile(
            "Kept a day",
            json!({"tags": ["gone"], "retention_period": 1}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let started = app
        .post_empty(&format!("/api/v2/security-profiles/{profile}:execute"))
        .await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    let run = started.body["id"].as_i64().unwrap();
    let work = app.poll(&answered).await;
    let uploaded = app
        .upload(
            &answered,
            work[0]["id"].as_i64().unwrap(),
            fresh_results(U2204),
        )
        .await;
    assert_eq!(uploaded.status, 200, "{:?}", uploaded.body);
    let work = app.poll(&failed).await;
    let outcome = app
        .outcome(
            &failed,
            work[0]["id"].as_i64().unwrap(),
            "failed",
            "usg is not installed",
        )
        .await;
    assert!(outcome.status < 300, "{:?}", outcome.body);
    let deleted = app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v2/computers/{}", removed.id),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    let done = app.finished(run).await;
    assert_eq!(
        done["activity_status"], "failed",
        "one machine failed: {done:?}"
    );
    let requested = app
        .get(&format!(
            "/api/v2/security-profiles/{profile}/report?start_date={}",
            &started.body["creation_time"].as_str().unwrap()[..10]
        ))
        .await;
    assert_eq!(requested.status, 200, "{:?}", requested.body);
    let report = requested.body["id"].as_i64().unwrap();
    assert_eq!(app.finished(report).await["activity_status"], "succeeded");
    let (_, kept_run, _, _) = audited_once(&app, &kept, "kept", 3).await;

    let found = orphans(&app).await;
    assert!(found.is_empty(), "before the purge: {found:?}");
    assert_eq!(
        rows_of_run(&app, run).await,
        (4, 2, 1),
        "the parent and three children; the removed machine left the run's instances"
    );
    assert_eq!(rows_of_run(&app, kept_run).await, (2, 1, 1));

    let (ok, out, err) = purge_expired(&app, Some(&from_now(chrono::Duration::days(2)))).await;
    assert!(ok, "{err}");
    assert!(
        out.contains(": 1 runs, 5 activities, 1 audits,") && out.contains(" 1 reports,"),
        "the run's four activities and the report's: {out:?}"
    );
    let found = orphans(&app).await;
    assert!(found.is_empty(), "after the purge: {found:?}");
    assert_eq!(rows_of_run(&app, run).await, (0, 0, 0), "the purged run");
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) FROM activities WHERE id = {report}")
        )
        .await,
        0
    );
    assert_eq!(
        rows_of_run(&app, kept_run).await,
        (2, 1, 1),
        "the other profile's run keeps everything"
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM computers").await,
        4,
        "computers are never deleted: a removed one keeps its row and its history"
    );

    // PostgreSQL no longer refuses a child activity whose parent is not there: this test is
    // what sees one.
    if !app.settings.database_url().starts_with("sqlite:") {
        let url = app.settings.database_url();
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query(
            "UPDATE activities SET parent_id = parent_id + 1000000 WHERE parent_id IS NOT NULL",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
        assert_eq!(
            orphans(&app).await,
            vec![("activities.parent_id".to_owned(), 1)],
            "the kept run's child, pointing at no parent"
        );
    }
}

on_both_backends!(
    purge_expired_deletes_runs_past_their_retention_with_their_results_reports_and_files,
    an_accepted_upload_is_kept_gzipped_and_a_refused_one_leaves_nothing,
    removing_a_computer_and_purging_a_run_leave_no_row_pointing_at_a_deleted_one,
);

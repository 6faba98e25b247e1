//! The first uploads of a benchmark version the server does not hold yet: however many arrive
//! at once, one keeps the Benchmark's rule texts while the others wait for it and are read as a
//! known version; a refused first upload leaves the next one to store the texts.

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{fresh_results, spawn_app, AgentId, Backend, TestApp};
use crate::on_both_backends;

const FIXTURE: &str = "u2204-cis_l1_server.results.xml.gz";
/// The rules of the fixture's Benchmark (`../shared/fixtures/README.md`).
const RULES: i64 = 592;

/// A count from the database itself, whichever the backend.
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

/// `n` machines, one run over them started, each machine's audit activity fetched.
async fn fleet(app: &TestApp, n: usize) -> Vec<(AgentId, i64)> {
    let mut agents = Vec::new();
    for i in 0..n {
        agents.push(app.register(&format!("m{i}"), &[], "global").await);
    }
    let p = app
        .create_profile("First uploads", json!({"all_computers": true}))
        .await;
    let started = app
        .post_empty(&format!("/api/v2/security-profiles/{}:execute", p["id"]))
        .await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    let mut fleet = Vec::new();
    for agent in agents {
        let work = app.poll(&agent).await;
        assert_eq!(work.len(), 1, "{work:?}");
        fleet.push((agent, work[0]["id"].as_i64().unwrap()));
    }
    fleet
}

async fn first_uploads_arriving_together_are_all_stored_and_the_rules_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let fleet = fleet(&app, 8).await;
    let file = fresh_results(FIXTURE);
    let answers = join_all(
        fleet
            .iter()
            .map(|(agent, work)| app.upload(agent, *work, file.clone())),
    )
    .await;
    for answer in &answers {
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        assert_eq!(answer.body["status"], "succeeded", "{:?}", answer.body);
    }
    assert_eq!(
        count(&app, "SELECT count(*) FROM benchmark_versions").await,
        1
    );
    assert_eq!(count(&app, "SELECT count(*) FROM rules").await, RULES);
    assert_eq!(count(&app, "SELECT count(*) FROM audits").await, 8);
    // Every audit has its own rule results, none twice (the key forbids it) and none missing.
    let per_audit = answers[0].body["passing_rules"].as_i64().unwrap()
        + answers[0].body["failing_rules"].as_i64().unwrap()
        + answers[0].body["other_rules"].as_i64().unwrap();
    assert!(per_audit > 100, "{:?}", answers[0].body);
    assert_eq!(
        count(&app, "SELECT count(*) FROM rule_results").await,
        8 * per_audit
    );
}

async fn a_refused_first_upload_of_a_version_leaves_the_next_to_store_its_rules(backend: Backend) {
    let app = spawn_app(backend).await;
    let fleet = fleet(&app, 2).await;
    let file = fresh_results(FIXTURE);
    let text = String::from_utf8(file.clone()).unwrap();
    assert!(
        text.contains("<target>vm</target>"),
        "the fixture names its target"
    );
    // Parsed whole, rule texts kept, then refused: the results are another machine's.
    let foreign = text
        .replace("<target>vm</target>", "<target>elsewhere</target>")
        .into_bytes();
    let refused = app.upload(&fleet[0].0, fleet[0].1, foreign).await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    assert!(
        refused.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("elsewhere")),
        "{:?}",
        refused.body
    );
    assert_eq!(count(&app, "SELECT count(*) FROM rules").await, 0);

    // The refusal must not count as the version stored: the next upload keeps the texts.
    let stored = app.upload(&fleet[1].0, fleet[1].1, file.clone()).await;
    assert_eq!(stored.status, 200, "{:?}", stored.body);
    assert_eq!(count(&app, "SELECT count(*) FROM rules").await, RULES);
    // And the refused machine may still answer, now as a known version.
    let again = app.upload(&fleet[0].0, fleet[0].1, file).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(count(&app, "SELECT count(*) FROM rules").await, RULES);
    assert_eq!(count(&app, "SELECT count(*) FROM audits").await, 2);
}

on_both_backends!(
    first_uploads_arriving_together_are_all_stored_and_the_rules_once,
    a_refused_first_upload_of_a_version_leaves_the_next_to_store_its_rules,
);

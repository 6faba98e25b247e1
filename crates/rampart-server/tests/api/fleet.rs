//! The fleet end to end over HTTP: coverage, runs, the agent protocol, results and counts.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{fresh_results, spawn_app, spawn_app_with, spawn_replica, Backend, TestApp};
use crate::on_both_backends;

/// A real CIS level 1 results file in which no rule fails (every selected rule is notapplicable).
const NOTHING_FAILS: &str = "u2204-cis_l1_server-unfaked-notapplicable.results.xml.gz";

async fn profile(app: &TestApp, id: &Value) -> Value {
    app.get(&format!("/api/v2/security-profiles/{id}"))
        .await
        .body
}

async fn coverage_follows_the_group_tree_tags_and_moves(backend: Backend) {
    let app = spawn_app(backend).await;
    app.post(
        "/api/v2/access-groups",
        json!({"name": "eu", "title": "EU"}),
    )
    .await;
    app.post(
        "/api/v2/access-groups",
        json!({"name": "eu-web", "title": "EU web", "parent": "eu"}),
    )
    .await;
    let a = app.register("a", &["web"], "eu-web").await;
    app.register("b", &["db"], "eu").await;
    let c = app.register("c", &["web"], "global").await;
    app.register("d", &[], "eu-web").await;

    let tagged = app
        .create_profile("Tagged", json!({"access_group": "eu", "tags": ["web"]}))
        .await;
    let everything = app
        .create_profile("All", json!({"access_group": "eu", "all_computers": true}))
        .await;
    let global = app
        .create_profile("Global", json!({"tags": ["web", "db"]}))
        .await;
    assert_eq!(
        tagged["associated_instances"], 1,
        "a only: in eu's subtree with tag web"
    );
    assert_eq!(tagged["last_run_results"]["not_started"], 1);
    assert_eq!(
        everything["associated_instances"], 3,
        "a, b, d: every machine under eu"
    );
    assert_eq!(global["associated_instances"], 3, "a, b, c carry web or db");

    // Moving c under eu and retagging it changes coverage at once.
    let moved = app
        .patch(
            &format!("/api/v2/computers/{}", c.id),
            json!({"access_group": "eu-web"}),
        )
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    assert_eq!(
        profile(&app, &tagged["id"]).await["associated_instances"],
        2
    );
    assert_eq!(
        profile(&app, &everything["id"]).await["associated_instances"],
        4
    );
    app.patch(
        &format!("/api/v2/computers/{}", c.id),
        json!({"tags": ["db"]}),
    )
    .await;
    assert_eq!(
        profile(&app, &tagged["id"]).await["associated_instances"],
        1
    );

    let deleted = app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v2/computers/{}", a.id),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        profile(&app, &tagged["id"]).await["associated_instances"],
        0
    );
    let gone = app
        .as_agent(&a, reqwest::Method::GET, "/agent/v1/me", None)
        .await;
    gone.assert_error(401, "Unauthorized");
    let tags = app.get("/api/v2/tags").await;
    assert_eq!(tags.body, json!({"results": ["db"]}));
    let found = app
        .get("/api/v2/computers?query=tag:db%20OR%20access-group:eu-web")
        .await;
    assert_eq!(found.body["count"], 3, "{:?}", found.body);
}

async fn a_profiles_count_follows_its_own_changes_and_machines_registered_after_it(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| s.max_instances_per_profile = 2).await;
    app.post(
        "/api/v2/access-groups",
        json!({"name": "eu", "title": "EU"}),
    )
    .await;
    let web = app.create_profile("Web", json!({"tags": ["web"]})).await;
    let other = app
        .create_profile("Other", json!({"tags": ["other"]}))
        .await;
    assert_eq!(web["associated_instances"], 0);
    let count = |body: Value| body["associated_instances"].clone();
    let id = web["id"].clone();
    app.register("a", &["web"], "global").await;
    app.register("b", &["db"], "global").await;
    app.register("c", &[], "eu").await;
    assert_eq!(count(profile(&app, &id).await), 1, "a carries web");
    assert_eq!(
        count(profile(&app, &other["id"]).await),
        0,
        "nobody carries other"
    );

    let path = format!("/api/v2/security-profiles/{id}");
    let retagged = app.patch(&path, json!({"tags": ["web", "db"]})).await;
    assert_eq!(count(retagged.body), 2, "a and b");
    let over = app.get("/api/v2/security-profiles?status=over-limit").await;
    assert_eq!(over.body["count"], 0, "2 is the cap, not over it");
    let all = app.patch(&path, json!({"all_computers": true})).await;
    assert_eq!(count(all.body), 3, "every machine, c included");
    let over = app.get("/api/v2/security-profiles?status=over-limit").await;
    assert_eq!(over.body["count"], 1, "{:?}", over.body);
    assert_eq!(over.body["results"][0]["id"], id);
    let moved = app.patch(&path, json!({"access_group": "eu"})).await;
    assert_eq!(count(moved.body), 1, "c alone is under eu");
    app.register("d", &[], "eu").await;
    let listed = app.get("/api/v2/security-profiles").await;
    let counts: Vec<Value> = listed.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| count(p.clone()))
        .collect();
    assert_eq!(
        counts,
        [json!(2), json!(0)],
        "the list shows the same counts"
    );
    // A title change leaves the count alone.
    let renamed = app.patch(&path, json!({"title": "Web (EU)"})).await;
    assert_eq!(count(renamed.body), 2);
}

async fn a_run_counts_machines_as_they_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let agents = [
        app.register("one", &[], "global").await,
        app.register("two", &[], "global").await,
        app.register("three", &[], "global").await,
    ];
    let p = app
        .create_profile("Fleet", json!({"all_computers": true}))
        .await;
    let run = app
        .post_empty(&format!("/api/v2/security-profiles/{}:execute", p["id"]))
        .await;
    assert_eq!(run.status, 200, "{:?}", run.body);
    assert_eq!(run.body["type"], "UsgActivity");
    assert_eq!(run.body["summary"], "usg audit for instance");
    assert_eq!(run.body["activity_status"], "in-progress");
    assert_eq!(run.body["parent_id"], Value::Null);
    assert_eq!(run.body["creator"]["name"], "Mark S");
    assert_eq!(
        profile(&app, &p["id"]).await["next_run_time"],
        p["next_run_time"],
        ":execute leaves the schedule"
    );
    let counts = |p: Value| p["last_run_results"].clone();
    let pending = counts(profile(&app, &p["id"]).await);
    assert_eq!(
        (
            pending["not_started"].clone(),
            pending["in_progress"].clone()
        ),
        (json!(3), json!(0))
    );
    assert_eq!(pending["timestamp"], run.body["creation_time"]);

    let work: Vec<i64> = {
        let mut ids = Vec::new();
        for agent in &agents {
            let found = app.poll(agent).await;
            assert_eq!(found.len(), 1);
            assert_eq!(found[0]["action"], "audit");
            assert_eq!(
                found[0]["xccdf_profile"],
                "xccdf_org.ssgproject.content_profile_cis_level1_server"
            );
            ids.push(found[0]["id"].as_i64().unwrap());
        }
        ids
    };
    let delivered = counts(profile(&app, &p["id"]).await);
    assert_eq!(
        (
            delivered["not_started"].clone(),
            delivered["in_progress"].clone()
        ),
        (json!(0), json!(3))
    );

    let failing = app
        .upload(
            &agents[0],
            work[0],
            fresh_results("u2204-cis_l1_server.results.xml.gz"),
        )
        .await;
    assert_eq!(failing.status, 200, "{:?}", failing.body);
    assert_eq!(failing.body["verdict"], "fail");
    assert_eq!(failing.body["failing_rules"], 31);
    assert_eq!(failing.body["passing_rules"], 52);
    let passing = app
        .upload(&agents[1], work[1], fresh_results(NOTHING_FAILS))
        .await;
    assert_eq!(passing.body["verdict"], "pass", "{:?}", passing.body);
    assert_eq!(passing.body["other_rules"], 189, "all notapplicable");
    let midway = counts(profile(&app, &p["id"]).await);
    assert_eq!(midway["passing"], 1);
    assert_eq!(midway["failing"], 1);
    assert_eq!(midway["in_progress"], 1);
    assert_eq!(midway["pass_rate"], 50);

    let failed = app
        .outcome(&agents[2], work[2], "failed", "usg is not installed")
        .await;
    assert_eq!(failed.status, 200, "{:?}", failed.body);
    let done = counts(profile(&app, &p["id"]).await);
    assert_eq!(
        (
            done["passing"].clone(),
            done["failing"].clone(),
            done["in_progress"].clone(),
            done["not_started"].clone()
        ),
        (json!(1), json!(2), json!(0), json!(0))
    );
    assert_eq!(done["pass_rate"], 33);
    let parent = app
        .get(&format!("/api/v2/activities/{}", run.body["id"]))
        .await;
    assert_eq!(
        parent.body["activity_status"], "failed",
        "a child failed: {:?}",
        parent.body
    );
    let children = app
        .get(&format!("/api/v2/activities?parent_id={}", run.body["id"]))
        .await;
    assert_eq!(children.body["count"], 3);
    let statuses: Vec<&str> = children.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["activity_status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["succeeded", "succeeded", "failed"]);
    assert_eq!(
        children.body["results"][2]["result_text"],
        "usg is not installed"
    );
    let rated = app
        .get("/api/v2/security-profiles?pass_rate_from=33&pass_rate_to=33")
        .await;
    assert_eq!(rated.body["count"], 1);
    let above = app.get("/api/v2/security-profiles?pass_rate_from=34").await;
    assert_eq!(above.body["count"], 0);
}

async fn refused_uploads_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = app.register("one", &[], "global").await;
    let stranger = app.register("two", &["x"], "global").await;
    let p = app.create_profile("Uploads", json!({"tags": []})).await;
    let p = app
        .patch(
            &format!("/api/v2/security-profiles/{}", p["id"]),
            json!({"all_computers": true}),
        )
        .await
        .body;
    app.post_empty(&format!("/api/v2/security-profiles/{}:execute", p["id"]))
        .await;
    let work = app.poll(&agent).await[0]["id"].as_i64().unwrap();
    let state = || async {
        (
            profile(&app, &p["id"]).await["last_run_results"].clone(),
            app.get("/api/v2/activities").await.body,
        )
    };
    let before = state().await;
    let good = fresh_results("u2204-cis_l1_server.results.xml.gz");
    let text = String::from_utf8(good.clone()).unwrap();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("not XML", b"hello".to_vec(), 400, "InvalidResults"),
        (
            "not XCCDF",
            b"<html><body/></html>".to_vec(),
            400,
            "InvalidResults",
        ),
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            400,
            "InvalidResults",
        ),
        (
            "a DTD",
            format!(
                "<!DOCTYPE x [<!ENTITY a \"b\">]>{}",
                &text[text.find("<Benchmark").unwrap()..]
            )
            .into_bytes(),
            400,
            "InvalidResults",
        ),
        (
            "another machine's",
            text.replace("<target>vm</target>", "<target>elsewhere</target>")
                .into_bytes(),
            400,
            "InvalidResults",
        ),
        (
            "an older run's",
            std::fs::read(
                crate::helpers::fixtures().join("xccdf/u2204-cis_l1_server.results.xml.gz"),
            )
            .unwrap(),
            400,
            "InvalidResults",
        ),
    ];
    for (what, body, status, code) in cases {
        let answer = app.upload(&agent, work, body).await;
        answer.assert_error(status, code);
        assert_eq!(state().await, before, "{what} changed something");
    }
    app.upload(&stranger, work, good.clone())
        .await
        .assert_error(404, "NotFound");
    app.upload(&agent, 999_999, good.clone())
        .await
        .assert_error(404, "NotFound");
    let wrong_key = crate::helpers::AgentId {
        id: agent.id,
        secret: "0".repeat(64),
    };
    app.upload(&wrong_key, work, good.clone())
        .await
        .assert_error(401, "Unauthorized");
    assert_eq!(state().await, before);

    let accepted = app.upload(&agent, work, good.clone()).await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    let after = state().await;
    let again = app.upload(&agent, work, good).await;
    assert_eq!(
        again.body, accepted.body,
        "a repeated identical upload is harmless"
    );
    assert_eq!(state().await, after);
    let other = app.upload(&agent, work, fresh_results(NOTHING_FAILS)).await;
    other.assert_error(409, "ActivityAnswered");
    app.outcome(&agent, work, "failed", "late")
        .await
        .assert_error(409, "ActivityAnswered");
    assert_eq!(state().await, after);
}

async fn a_thin_upload_of_a_known_version_counts_like_the_whole_file(backend: Backend) {
    let app = spawn_app(backend).await;
    let agents = [
        app.register("one", &[], "global").await,
        app.register("two", &[], "global").await,
    ];
    let p = app
        .create_profile("Thin", json!({"all_computers": true}))
        .await;
    app.post_empty(&format!("/api/v2/security-profiles/{}:execute", p["id"]))
        .await;
    let whole = app
        .upload(
            &agents[0],
            app.poll(&agents[0]).await[0]["id"].as_i64().unwrap(),
            fresh_results("u2204-cis_l1_server.results.xml.gz"),
        )
        .await;
    let thin_text = std::fs::read_to_string(
        crate::helpers::fixtures().join("xccdf/u2204-cis_l1_server.testresult-only.xml"),
    )
    .unwrap();
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%dT")
        .to_string();
    let thin = app
        .upload(
            &agents[1],
            app.poll(&agents[1]).await[0]["id"].as_i64().unwrap(),
            thin_text.replace("2026-12-03T", &tomorrow).into_bytes(),
        )
        .await;
    assert_eq!(thin.status, 200, "{:?}", thin.body);
    for key in ["passing_rules", "failing_rules", "other_rules", "verdict"] {
        assert_eq!(thin.body[key], whole.body[key], "{key}");
    }
}

async fn removing_a_computer_mid_run_lets_the_run_end_without_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let agents = [
        app.register("stays", &[], "global").await,
        app.register("goes", &[], "global").await,
    ];
    let p = app
        .create_profile("Removal", json!({"all_computers": true}))
        .await;
    let run = app
        .post_empty(&format!("/api/v2/security-profiles/{}:execute", p["id"]))
        .await;
    let work = app.poll(&agents[0]).await[0]["id"].as_i64().unwrap();
    app.upload(&agents[0], work, fresh_results(NOTHING_FAILS))
        .await;
    let deleted = app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v2/computers/{}", agents[1].id),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    let counts = profile(&app, &p["id"]).await["last_run_results"].clone();
    assert_eq!(
        (
            counts["passing"].clone(),
            counts["failing"].clone(),
            counts["not_started"].clone(),
            counts["in_progress"].clone()
        ),
        (json!(1), json!(0), json!(0), json!(0)),
        "{counts}"
    );
    let parent = app
        .get(&format!("/api/v2/activities/{}", run.body["id"]))
        .await;
    assert_eq!(parent.body["activity_status"], "succeeded");
    let canceled = app
        .get(&format!("/api/v2/activities?computer_id={}", agents[1].id))
        .await;
    assert_eq!(canceled.body["results"][0]["activity_status"], "canceled");
}

async fn executing_an_archived_profile_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("one", &[], "global").await;
    let p = app
        .create_profile("Old", json!({"all_computers": true}))
        .await;
    app.post_empty(&format!("/api/v2/security-profiles/{}:archive", p["id"]))
        .await;
    let before = app.get("/api/v2/activities").await.body;
    let answer = app
        .post_empty(&format!("/api/v2/security-profiles/{}:execute", p["id"]))
        .await;
    answer.assert_error(409, "ProfileArchived");
    assert_eq!(
        app.get("/api/v2/activities").await.body,
        before,
        "no run was started"
    );
    app.post_empty("/api/v2/security-profiles/999:execute")
        .await
        .assert_error(404, "NotFound");
}

async fn a_past_start_date_starts_the_first_run_at_creation(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = app.register("one", &[], "global").await;
    let p = app
        .create_profile(
            "Now",
            json!({"start_date": "2025-01-06T09:00:00Z", "all_computers": true}),
        )
        .await;
    assert_eq!(p["last_run_results"]["not_started"], 1, "{p:?}");
    assert_ne!(p["last_run_results"]["timestamp"], Value::Null);
    assert_eq!(app.poll(&agent).await.len(), 1);
    let future = app
        .create_profile("Later", json!({"all_computers": true}))
        .await;
    assert_eq!(future["last_run_results"]["timestamp"], Value::Null);
}

async fn fix_restart_audit_runs_fix_then_restart_then_audit(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.scheduler_interval_seconds = 1).await;
    let agent = app.register("one", &[], "global").await;
    let p = app
        .create_profile(
            "Restart",
            json!({"all_computers": true, "mode": "fix-restart-audit", "restart_deliver_delay": 0}),
        )
        .await;
    app.post_empty(&format!("/api/v2/security-profiles/{}:execute", p["id"]))
        .await;
    let fix = app.poll(&agent).await;
    assert_eq!(fix[0]["action"], "fix");
    let fix_id = fix[0]["id"].as_i64().unwrap();
    app.upload(&agent, fix_id, fresh_results(NOTHING_FAILS))
        .await
        .assert_error(409, "ActivityAnswered");
    assert_eq!(
        app.outcome(&agent, fix_id, "succeeded", "fixed")
            .await
            .status,
        200
    );
    let restart = wait_for_work(&app, &agent).await;
    assert_eq!(
        (restart["type"].as_str(), restart["action"].as_str()),
        (Some("RestartRequest"), Some("restart"))
    );
    let in_progress = profile(&app, &p["id"]).await["last_run_results"].clone();
    assert_eq!(in_progress["in_progress"], 1);
    assert_eq!(
        app.outcome(&agent, restart["id"].as_i64().unwrap(), "succeeded", "back")
            .await
            .status,
        200
    );
    let audit = app.poll(&agent).await;
    assert_eq!(audit[0]["action"], "audit");
    let done = app
        .upload(
            &agent,
            audit[0]["id"].as_i64().unwrap(),
            fresh_results(NOTHING_FAILS),
        )
        .await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    let counts = profile(&app, &p["id"]).await["last_run_results"].clone();
    assert_eq!(
        (counts["passing"].clone(), counts["in_progress"].clone()),
        (json!(1), json!(0))
    );
}

async fn wait_for_work(app: &TestApp, agent: &crate::helpers::AgentId) -> Value {
    for _ in 0..50 {
        if let Some(first) = app.poll(agent).await.into_iter().next() {
            return first;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no work reached the agent within 10 s");
}

async fn a_machine_that_never_answers_fails_after_the_timeout(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("silent", &[], "global").await;
    let p = app
        .create_profile("Silent", json!({"all_computers": true}))
        .await;
    let run = app
        .post_empty(&format!("/api/v2/security-profiles/{}:execute", p["id"]))
        .await;
    let now = chrono::Utc::now();
    let expired = app
        .store
        .expire_activities(now - chrono::Duration::hours(1), now)
        .await
        .unwrap();
    assert_eq!(expired, 0, "nothing is late yet");
    let expired = app
        .store
        .expire_activities(now + chrono::Duration::hours(1), now)
        .await
        .unwrap();
    assert_eq!(expired, 1);
    let counts = profile(&app, &p["id"]).await["last_run_results"].clone();
    assert_eq!(
        (counts["failing"].clone(), counts["not_started"].clone()),
        (json!(1), json!(0))
    );
    let parent = app
        .get(&format!("/api/v2/activities/{}", run.body["id"]))
        .await;
    assert_eq!(parent.body["activity_status"], "failed");
}

async fn a_scheduled_run_fires_exactly_once_with_two_servers(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.scheduler_interval_seconds = 1).await;
    let _replica = spawn_replica(&app).await;
    app.register("one", &[], "global").await;
    let start = (chrono::Utc::now() + chrono::Duration::seconds(2))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let p = app
        .create_profile("Soon", json!({"all_computers": true, "start_date": start}))
        .await;
    assert_eq!(p["next_run_time"], start.as_str());
    let mut fired = Value::Null;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        fired = profile(&app, &p["id"]).await;
        if fired["last_run_results"]["timestamp"] != Value::Null {
            break;
        }
    }
    assert_ne!(
        fired["last_run_results"]["timestamp"],
        Value::Null,
        "the run started"
    );
    // Give both schedulers time to fire again if they were going to.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let parents = app.get("/api/v2/activities?type=UsgActivity").await;
    let runs = parents.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["parent_id"].is_null())
        .count();
    assert_eq!(runs, 1, "{:?}", parents.body);
    let after = profile(&app, &p["id"]).await;
    let next: chrono::DateTime<chrono::Utc> =
        after["next_run_time"].as_str().unwrap().parse().unwrap();
    assert!(
        next > chrono::Utc::now() + chrono::Duration::days(6),
        "moved to next week: {next}"
    );
}

/// A small hand-made results file whose rules have the given result words.
fn hand_made(results: &[&str]) -> Vec<u8> {
    let at = (chrono::Utc::now() + chrono::Duration::minutes(1)).format("%Y-%m-%dT%H:%M:%S+00:00");
    let mut rules = String::new();
    let mut rule_results = String::new();
    for (n, word) in results.iter().enumerate() {
        rules.push_str(&format!(
            r#"<Rule id="xccdf_test.hand_rule_{n}" severity="medium"><title>Rule {n}</title><description>Checks {n}.</description></Rule>"#
        ));
        rule_results.push_str(&format!(
            r#"<rule-result idref="xccdf_test.hand_rule_{n}" severity="medium" time="{at}"><result>{word}</result></rule-result>"#
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.2" id="xccdf_test.hand_benchmark_one" resolved="1">
<status>accepted</status><version>1.0</version>{rules}
<TestResult id="xccdf_test.hand_testresult_one" start-time="{at}" end-time="{at}" version="1.0">
<benchmark href="" id="xccdf_test.hand_benchmark_one"/><target>vm</target>{rule_results}
</TestResult></Benchmark>"#
    )
    .into_bytes()
}

async fn a_file_with_more_rules_than_any_benchmark_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = app.register("one", &[], "global").await;
    let p = app
        .create_profile("Huge", json!({"all_computers": true}))
        .await;
    app.post_empty(&format!("/api/v2/security-profiles/{}:execute", p["id"]))
        .await;
    let work = app.poll(&agent).await[0]["id"].as_i64().unwrap();
    let before = profile(&app, &p["id"]).await["last_run_results"].clone();
    let stray = String::from_utf8(hand_made(&["pass", "fail"]))
        .unwrap()
        .replace(
            r#"rule-result idref="xccdf_test.hand_rule_1""#,
            r#"rule-result idref="xccdf_test.not_in_the_benchmark""#,
        );
    let message = app
        .upload(&agent, work, stray.into_bytes())
        .await
        .assert_error(400, "InvalidResults");
    assert!(message.contains("not in benchmark"), "{message}");
    assert_eq!(profile(&app, &p["id"]).await["last_run_results"], before);
    let nul_time = String::from_utf8(hand_made(&["pass"])).unwrap();
    let at = &nul_time[nul_time.find("start-time=\"").unwrap() + 12..][..25];
    let ancient = nul_time.replace(at, "1900-01-01T00:00:00+00:00");
    app.upload(&agent, work, ancient.into_bytes())
        .await
        .assert_error(400, "InvalidResults");
    let huge = hand_made(&vec!["pass"; 20_001]);
    let message = app
        .upload(&agent, work, huge)
        .await
        .assert_error(400, "InvalidResults");
    assert!(message.contains("20000"), "{message}");
    assert_eq!(profile(&app, &p["id"]).await["last_run_results"], before);
}

async fn every_result_word_counts_as_designed(backend: Backend) {
    let app = spawn_app(backend).await;
    let agents = [
        app.register("one", &[], "global").await,
        app.register("two", &[], "global").await,
    ];
    let p = app
        .create_profile("Words", json!({"all_computers": true}))
        .await;
    app.post_empty(&format!("/api/v2/security-profiles/{}:execute", p["id"]))
        .await;
    let quiet = [
        "pass",
        "fixed",
        "informational",
        "unknown",
        "notapplicable",
        "notchecked",
        "notselected",
    ];
    let work = app.poll(&agents[0]).await[0]["id"].as_i64().unwrap();
    let first = app.upload(&agents[0], work, hand_made(&quiet)).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(
        (
            first.body["passing_rules"].clone(),
            first.body["failing_rules"].clone(),
            first.body["other_rules"].clone()
        ),
        (json!(2), json!(0), json!(4)),
        "notselected is not part of the audit"
    );
    assert_eq!(first.body["verdict"], "pass");
    let work = app.poll(&agents[1]).await[0]["id"].as_i64().unwrap();
    let second = app
        .upload(
            &agents[1],
            work,
            hand_made(&["pass", "pass", "pass", "pass", "pass", "pass", "error"]),
        )
        .await;
    assert_eq!(
        second.body["verdict"], "fail",
        "an error fails the machine: {:?}",
        second.body
    );
    let counts = profile(&app, &p["id"]).await["last_run_results"].clone();
    assert_eq!(
        (counts["passing"].clone(), counts["failing"].clone()),
        (json!(1), json!(1))
    );
}

async fn a_run_that_came_due_while_no_server_ran_starts_once_at_start_up(backend: Backend) {
    // The first server looks for due runs only once an hour: for this run it is as if it were down.
    let app = spawn_app_with(backend, |s| s.scheduler_interval_seconds = 3600).await;
    app.register("one", &[], "global").await;
    // A few seconds ahead, so that the profile is created before its start even on a loaded
    // machine; then wait until the start has passed.
    let start_at = chrono::Utc::now() + chrono::Duration::seconds(5);
    let start = start_at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let p = app
        .create_profile(
            "Missed",
            json!({"all_computers": true, "start_date": start}),
        )
        .await;
    let until_due = start_at - chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    tokio::time::sleep(until_due.to_std().unwrap_or_default()).await;
    assert_eq!(
        profile(&app, &p["id"]).await["last_run_results"]["timestamp"],
        Value::Null,
        "not started yet"
    );
    // A server starting now finds it due and starts it, once.
    let _started = spawn_replica(&app).await;
    let _second = spawn_replica(&app).await;
    let mut fired = Value::Null;
    for _ in 0..40 {
        fired = profile(&app, &p["id"]).await;
        if fired["last_run_results"]["timestamp"] != Value::Null {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_ne!(
        fired["last_run_results"]["timestamp"],
        Value::Null,
        "started at start-up"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let parents = app.get("/api/v2/activities?type=UsgActivity").await;
    let runs = parents.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["parent_id"].is_null())
        .count();
    assert_eq!(runs, 1);
}

async fn concurrent_answers_to_one_activity_count_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = app.register("one", &[], "global").await;
    let p = app
        .create_profile("Race", json!({"all_computers": true}))
        .await;
    app.post_empty(&format!("/api/v2/security-profiles/{}:execute", p["id"]))
        .await;
    let work = app.poll(&agent).await[0]["id"].as_i64().unwrap();
    let same = fresh_results(NOTHING_FAILS);
    let other = fresh_results("u2404-0.1.76-cis_l1_server.results.xml.gz");
    assert!(!other.is_empty());
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let body = if n % 2 == 0 {
                same.clone()
            } else {
                other.clone()
            };
            let request = app
                .client
                .post(app.url(&format!("/agent/v1/activities/{work}/results")))
                .header(
                    "authorization",
                    format!("Agent {}:{}", agent.id, agent.secret),
                )
                .body(body);
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert!(
        statuses.iter().all(|s| [200, 409].contains(s)),
        "{statuses:?}"
    );
    let accepted = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        accepted == 1 || accepted == 4,
        "one file won (and its repeats): {statuses:?}"
    );
    let counts = profile(&app, &p["id"]).await["last_run_results"].clone();
    let total: i64 = ["passing", "failing", "in_progress", "not_started"]
        .iter()
        .map(|k| counts[k].as_i64().unwrap())
        .sum();
    assert_eq!(total, 1, "{counts}");
    assert_eq!(counts["in_progress"], 0);
}

on_both_backends!(
    a_file_with_more_rules_than_any_benchmark_is_refused,
    a_thin_upload_of_a_known_version_counts_like_the_whole_file,
    removing_a_computer_mid_run_lets_the_run_end_without_it,
    concurrent_answers_to_one_activity_count_once,
    a_run_that_came_due_while_no_server_ran_starts_once_at_start_up,
    every_result_word_counts_as_designed,
    coverage_follows_the_group_tree_tags_and_moves,
    a_profiles_count_follows_its_own_changes_and_machines_registered_after_it,
    a_run_counts_machines_as_they_answer,
    refused_uploads_change_nothing,
    executing_an_archived_profile_is_refused,
    a_past_start_date_starts_the_first_run_at_creation,
    fix_restart_audit_runs_fix_then_restart_then_audit,
    a_machine_that_never_answers_fails_after_the_timeout,
    a_scheduled_run_fires_exactly_once_with_two_servers,
);

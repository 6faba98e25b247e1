//! Creating profiles: the reference page's example answered field by field, defaults,
//! `next_run_time`, names, and the active-profile limit.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::helpers::{future_start, spawn_app, spawn_app_with, Backend};
use crate::on_both_backends;

/// The keys of the reference page's profile objects.
const PROFILE_KEYS: [&str; 20] = [
    "access_group",
    "account_id",
    "all_computers",
    "associated_instances",
    "benchmark",
    "creation_time",
    "id",
    "last_run_results",
    "mode",
    "modification_time",
    "name",
    "next_run_time",
    "restart_deliver_delay",
    "restart_deliver_delay_window",
    "retention_period",
    "schedule",
    "status",
    "tags",
    "tailoring_file_uri",
    "title",
];

fn sorted_keys(value: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

fn time(value: &serde_json::Value) -> DateTime<Utc> {
    let text = value.as_str().expect("a time is a string");
    assert!(
        text.ends_with('Z') && text.len() == 20,
        "UTC, whole seconds: {text}"
    );
    text.parse().unwrap()
}

async fn the_reference_create_example_is_answered_field_by_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let group = app
        .post(
            "/api/v2/access-groups",
            json!({"name": "mdr-terminals", "title": "MDR terminals"}),
        )
        .await;
    assert_eq!(group.status, 200, "{:?}", group.body);
    let start = future_start();
    let before = Utc::now() - chrono::Duration::seconds(1);
    let answer = app
        .post(
            "/api/v2/security-profiles",
            json!({
                "benchmark": "disa_stig",
                "mode": "audit",
                "schedule": "RRULE:FREQ=WEEKLY",
                "title": "Macrodata Refinement Terminals",
                "start_date": start,
                "access_group": "mdr-terminals",
                "all_computers": false,
                "restart_deliver_delay": 2,
                "restart_deliver_delay_window": 10,
                "tags": ["mdr"]
            }),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let p = &answer.body;
    let mut expected: Vec<String> = PROFILE_KEYS.iter().map(|k| k.to_string()).collect();
    expected.sort();
    assert_eq!(sorted_keys(p), expected);
    assert_eq!(p["access_group"], "mdr-terminals");
    assert_eq!(p["account_id"], app.account_id);
    assert_eq!(p["all_computers"], false);
    assert_eq!(p["associated_instances"], 0);
    assert_eq!(p["benchmark"], "disa_stig");
    let created = time(&p["creation_time"]);
    assert!(created >= before && created <= Utc::now(), "{created}");
    assert!(p["id"].as_i64().unwrap() > 0);
    assert_eq!(
        p["last_run_results"],
        json!({"failing": 0, "passing": 0, "in_progress": 0, "not_started": 0,
               "pass_rate": null, "report_uri": null, "timestamp": null})
    );
    assert_eq!(time(&p["modification_time"]), created);
    assert_eq!(p["mode"], "audit");
    assert_eq!(p["name"], "macrodata-refinement-terminals");
    assert_eq!(
        p["next_run_time"],
        start.as_str(),
        "a future start_date is the next run"
    );
    assert_eq!(p["restart_deliver_delay"], 2);
    assert_eq!(p["restart_deliver_delay_window"], 10);
    assert_eq!(p["retention_period"], 730);
    assert_eq!(p["schedule"], "RRULE:FREQ=WEEKLY");
    assert_eq!(p["status"], "active");
    assert_eq!(p["tags"], json!(["mdr"]));
    assert_eq!(p["tailoring_file_uri"], serde_json::Value::Null);
    assert_eq!(p["title"], "Macrodata Refinement Terminals");

    // What was answered is what is stored.
    let read = app
        .get(&format!("/api/v2/security-profiles/{}", p["id"]))
        .await;
    assert_eq!(read.status, 200);
    assert_eq!(&read.body, p);
}

async fn optional_fields_take_their_documented_defaults(backend: Backend) {
    let app = spawn_app(backend).await;
    let p = app.create_profile("Defaults", json!({})).await;
    assert_eq!(p["access_group"], "global");
    assert_eq!(p["all_computers"], false);
    assert_eq!(p["tags"], json!([]));
    assert_eq!(p["restart_deliver_delay"], 1);
    assert_eq!(p["restart_deliver_delay_window"], 0);
    assert_eq!(p["retention_period"], 730);
    assert_eq!(p["status"], "active");
}

async fn the_retention_default_is_the_servers_setting(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.retention_period_days = 90).await;
    assert_eq!(
        app.create_profile("Short", json!({})).await["retention_period"].clone(),
        90
    );
    let chosen = app
        .create_profile("Chosen", json!({"retention_period": 3650}))
        .await;
    assert_eq!(chosen["retention_period"], 3650);
}

async fn a_past_start_date_runs_next_at_the_first_occurrence_after_now(backend: Backend) {
    let app = spawn_app(backend).await;
    let p = app
        .create_profile("Past", json!({"start_date": "2025-03-03T09:30:00+01:00"}))
        .await;
    let next = time(&p["next_run_time"]);
    let now = Utc::now();
    assert!(
        next > now && next <= now + chrono::Duration::days(7),
        "{next}"
    );
    assert_eq!(next.format("%a %H:%M:%S").to_string(), "Mon 08:30:00");
}

async fn a_rule_with_no_occurrence_left_has_no_next_run(backend: Backend) {
    let app = spawn_app(backend).await;
    let p = app
        .create_profile(
            "Finished",
            json!({"start_date": "2025-01-06", "schedule": "RRULE:FREQ=WEEKLY;COUNT=3"}),
        )
        .await;
    assert_eq!(p["next_run_time"], serde_json::Value::Null);
}

async fn accepted_spellings_are_answered_in_the_reference_form(backend: Backend) {
    let app = spawn_app(backend).await;
    let p = app
        .create_profile(
            "Spelling",
            json!({"mode": "audit-fix-restart", "schedule": "freq=monthly;byday=1mo",
                   "start_date": "2030-02-28T12:34Z", "benchmark": "stig-v1r3"}),
        )
        .await;
    assert_eq!(p["mode"], "fix-restart-audit");
    assert_eq!(p["schedule"], "freq=monthly;byday=1mo", "stored as given");
    assert_eq!(p["next_run_time"], "2030-02-28T12:34:00Z");
    assert_eq!(p["benchmark"], "stig-v1r3");
}

async fn titles_with_the_same_slug_get_distinct_names(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.create_profile("Web servers", json!({})).await;
    let second = app.create_profile("Web  Servers!", json!({})).await;
    let third = app.create_profile("web-servers", json!({})).await;
    assert_eq!(first["name"], "web-servers");
    assert_eq!(second["name"], "web-servers-2");
    assert_eq!(third["name"], "web-servers-3");
    let renamed = app
        .patch(
            &format!("/api/v2/security-profiles/{}", first["id"]),
            json!({"title": "Databases"}),
        )
        .await;
    assert_eq!(
        renamed.body["name"], "web-servers",
        "the name never changes"
    );
}

async fn the_sixth_active_profile_is_refused_until_one_is_archived(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ids = Vec::new();
    for n in 1..=5 {
        ids.push(app.create_profile(&format!("Profile {n}"), json!({})).await["id"].clone());
    }
    let before = app.snapshot().await;
    let refused = app
        .post(
            "/api/v2/security-profiles",
            crate::helpers::valid_profile("Sixth"),
        )
        .await;
    let message = refused.assert_error(409, "ProfileLimitReached");
    assert!(message.contains('5'), "{message}");
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused profile is not stored"
    );

    let archived = app
        .post_empty(&format!("/api/v2/security-profiles/{}:archive", ids[0]))
        .await;
    assert_eq!(archived.status, 200);
    let accepted = app.create_profile("Sixth", json!({})).await;
    assert_eq!(accepted["status"], "active");
    let all = app.get("/api/v2/security-profiles").await;
    assert_eq!(all.body["count"], 6);
}

async fn concurrent_creations_never_pass_the_active_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    let tasks: Vec<_> = (0..12)
        .map(|n| {
            let request = app
                .client
                .post(app.url("/api/v2/security-profiles"))
                .bearer_auth(&app.token)
                .json(&crate::helpers::valid_profile(&format!("Race {n}")));
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let created = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 409).count();
    assert_eq!((created, refused), (5, 7), "{statuses:?}");
    let active = app.get("/api/v2/security-profiles?status=active").await;
    assert_eq!(active.body["count"], 5);
}

async fn the_alias_path_serves_the_same_profiles(backend: Backend) {
    let app = spawn_app(backend).await;
    let answer = app
        .post(
            "/api/v2/usg-profiles",
            crate::helpers::valid_profile("Via alias"),
        )
        .await;
    assert_eq!(answer.status, 200);
    let id = &answer.body["id"];
    let read = app.get(&format!("/api/v2/security-profiles/{id}")).await;
    assert_eq!(read.body, answer.body);
    let listed = app.get("/api/v2/usg-profiles").await;
    assert_eq!(listed.body["results"][0], answer.body);
    let archived = app
        .post_empty(&format!("/api/v2/usg-profiles/{id}:archive"))
        .await;
    assert_eq!(archived.body["status"], "archived");
}

on_both_backends!(
    the_reference_create_example_is_answered_field_by_field,
    optional_fields_take_their_documented_defaults,
    the_retention_default_is_the_servers_setting,
    a_past_start_date_runs_next_at_the_first_occurrence_after_now,
    a_rule_with_no_occurrence_left_has_no_next_run,
    accepted_spellings_are_answered_in_the_reference_form,
    titles_with_the_same_slug_get_distinct_names,
    the_sixth_active_profile_is_refused_until_one_is_archived,
    concurrent_creations_never_pass_the_active_limit,
    the_alias_path_serves_the_same_profiles,
);

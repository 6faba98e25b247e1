//! Changing profiles: each editable field, `next_run_time` after a new schedule, and archiving.

use chrono::Utc;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend};
use crate::on_both_backends;

async fn each_editable_field_can_be_changed_alone(backend: Backend) {
    let app = spawn_app(backend).await;
    app.post(
        "/api/v2/access-groups",
        json!({"name": "hal-group", "title": "HAL"}),
    )
    .await;
    let created = app.create_profile("Editable", json!({"tags": ["a"]})).await;
    let path = format!("/api/v2/security-profiles/{}", created["id"]);
    let changes = [
        ("title", json!("Renamed")),
        ("schedule", json!("RRULE:FREQ=MONTHLY;BYMONTHDAY=-1")),
        ("tags", json!(["mdr", "hal"])),
        ("tags", json!([])),
        ("all_computers", json!(true)),
        ("access_group", json!("hal-group")),
        ("restart_deliver_delay", json!(12)),
        ("restart_deliver_delay_window", json!(300)),
    ];
    let mut expected = created.clone();
    for (field, value) in changes {
        let answer = app.patch(&path, json!({ field: value })).await;
        assert_eq!(answer.status, 200, "{field}: {:?}", answer.body);
        expected[field] = value;
        for (key, want) in expected.as_object().unwrap() {
            if !["modification_time", "next_run_time"].contains(&key.as_str()) {
                assert_eq!(&answer.body[key], want, "after changing {field}, {key}");
            }
        }
        assert!(answer.body["modification_time"].as_str() >= created["modification_time"].as_str());
    }
    let read = app.get(&path).await;
    assert_eq!(read.body["title"], "Renamed");
    assert_eq!(read.body["access_group"], "hal-group");
    assert_eq!(read.body["name"], "editable");
    assert_eq!(read.body["creation_time"], created["creation_time"]);
}

async fn the_reference_patch_example_changes_only_what_it_names(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .create_profile(
            "Macrodata Refinement Terminals",
            json!({"start_date": "2025-03-28T13:00:00Z"}),
        )
        .await;
    let path = format!("/api/v2/security-profiles/{}", created["id"]);
    let answer = app
        .patch(
            &path,
            json!({
                "schedule": "RRULE:FREQ=WEEKLY;BYDAY=MO",
                "title": "Macrodata Refinement Terminals Updated",
                "restart_deliver_delay_window": 300
            }),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let p = &answer.body;
    assert_eq!(p["schedule"], "RRULE:FREQ=WEEKLY;BYDAY=MO");
    assert_eq!(p["title"], "Macrodata Refinement Terminals Updated");
    assert_eq!(p["restart_deliver_delay_window"], 300);
    assert_eq!(p["restart_deliver_delay"], created["restart_deliver_delay"]);
    assert_eq!(p["name"], "macrodata-refinement-terminals");
    // The next run is the first Monday after now, at the start date's time of day.
    let next: chrono::DateTime<Utc> = p["next_run_time"].as_str().unwrap().parse().unwrap();
    assert!(next > Utc::now() && next <= Utc::now() + chrono::Duration::days(7));
    assert_eq!(next.format("%a %H:%M:%S").to_string(), "Mon 13:00:00");
}

async fn a_new_schedule_keeps_the_original_start_date(backend: Backend) {
    let app = spawn_app(backend).await;
    let start = "2040-01-01T06:00:00Z";
    let created = app
        .create_profile("Future", json!({"start_date": start}))
        .await;
    let path = format!("/api/v2/security-profiles/{}", created["id"]);
    let answer = app
        .patch(&path, json!({"schedule": "RRULE:FREQ=YEARLY"}))
        .await;
    assert_eq!(
        answer.body["next_run_time"], start,
        "a future start stays the next run"
    );
    let until = app
        .patch(
            &path,
            json!({"schedule": "RRULE:FREQ=WEEKLY;UNTIL=20400101T060000Z"}),
        )
        .await;
    assert_eq!(
        until.status, 200,
        "UNTIL equal to the start is allowed: {:?}",
        until.body
    );
}

async fn an_empty_patch_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app.create_profile("Still", json!({})).await;
    let path = format!("/api/v2/security-profiles/{}", created["id"]);
    let before = app.snapshot().await;
    let answer = app.patch(&path, json!({})).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, created);
    assert_eq!(app.snapshot().await, before);
}

async fn archiving_a_profile_clears_next_run_time_and_keeps_it_readable(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app.create_profile("Archive me", json!({})).await;
    assert_ne!(created["next_run_time"], Value::Null);
    let archived = app
        .post_empty(&format!(
            "/api/v2/security-profiles/{}:archive",
            created["id"]
        ))
        .await;
    assert_eq!(archived.status, 200, "{:?}", archived.body);
    assert_eq!(archived.body["status"], "archived");
    assert_eq!(archived.body["next_run_time"], Value::Null);
    assert_eq!(archived.body["title"], created["title"]);
    let read = app
        .get(&format!("/api/v2/security-profiles/{}", created["id"]))
        .await;
    assert_eq!(read.body, archived.body);

    // Archiving again answers the same profile and changes nothing.
    let before = app.snapshot().await;
    let again = app
        .post_empty(&format!(
            "/api/v2/security-profiles/{}:archive",
            created["id"]
        ))
        .await;
    assert_eq!(again.body, archived.body);
    assert_eq!(app.snapshot().await, before);

    // An archived profile no longer changes.
    let patch = app
        .patch(
            &format!("/api/v2/security-profiles/{}", created["id"]),
            json!({"title": "x"}),
        )
        .await;
    patch.assert_error(409, "ProfileArchived");
    assert_eq!(app.snapshot().await, before);
}

async fn unknown_actions_and_methods_get_json_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app.create_profile("Actions", json!({})).await;
    let id = &created["id"];
    app.post_empty(&format!("/api/v2/security-profiles/{id}:explode"))
        .await
        .assert_error(404, "NotFound");
    app.post_empty(&format!("/api/v2/security-profiles/{id}"))
        .await
        .assert_error(405, "MethodNotAllowed");
    let delete = app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v2/security-profiles/{id}"),
            Some(&app.token),
            None,
        )
        .await;
    delete.assert_error(405, "MethodNotAllowed");
    app.get("/api/v2/nothing-here")
        .await
        .assert_error(404, "NotFound");
    assert_eq!(
        app.get(&format!("/api/v2/security-profiles/{id}"))
            .await
            .body["status"],
        "active"
    );
}

on_both_backends!(
    each_editable_field_can_be_changed_alone,
    the_reference_patch_example_changes_only_what_it_names,
    a_new_schedule_keeps_the_original_start_date,
    an_empty_patch_changes_nothing,
    archiving_a_profile_clears_next_run_time_and_keeps_it_readable,
    unknown_actions_and_methods_get_json_errors,
);

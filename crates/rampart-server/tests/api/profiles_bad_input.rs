//! Bad input to the security-profile endpoints: each request is refused with the documented
//! status and error code, the message names the field or parameter at fault, and the database
//! is left exactly as it was (`TestApp::snapshot`). None is ever answered with a 500.

use chrono::{Duration, Utc};
use rampart_server::auth::{Caller, Tokens};
use rampart_server::config::Secret;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    email, future_start, spawn_app, spawn_app_with, valid_profile, Answer, Backend, TestApp,
    PASSWORD,
};

const PROFILES: &str = "/api/v2/security-profiles";

/// Rules that are not RFC 5545 recurrence rules rampart can read.
const MALFORMED_SCHEDULES: [&str; 20] = [
    "",
    "   ",
    "FREQ=",
    "RRULE:",
    "garbage",
    "RRULE:FREQ=WEEKLY;BYDAY=XX",
    "RRULE:FREQ=WEEKLY;INTERVAL=0",
    "RRULE:FREQ=WEEKLY;INTERVAL=-1",
    "RRULE:FREQ=WEEKLY;INTERVAL=99999999999999999999",
    "RRULE:FREQ=WEEKLY;COUNT=0",
    "RRULE:FREQ=WEEKLY;COUNT=2;UNTIL=20300101T000000Z",
    "RRULE:FREQ=WEEKLY;UNTIL=20301340T000000Z",
    "RRULE:FREQ=WEEKLY;",
    "FREQ=WEEKLY;FREQ=MONTHLY",
    "FREQ=WEEKLY; BYDAY=MO",
    "FREQ=FORTNIGHTLY",
    "FREQ=WEEKLY;X-NAME=1",
    "RRULE:FREQ=MONTHLY;BYDAY=9MO",
    "RRULE:FREQ=WEEKLY;BYDAY=MÖ",
    "RRULE:FREQ=WEEKLŸ",
];

/// Rules that would run more often than weekly.
const TOO_FREQUENT_SCHEDULES: [&str; 8] = [
    "RRULE:FREQ=DAILY",
    "RRULE:FREQ=DAILY;INTERVAL=6",
    "FREQ=DAILY;INTERVAL=1",
    "RRULE:FREQ=HOURLY",
    "RRULE:FREQ=HOURLY;INTERVAL=168",
    "RRULE:FREQ=MINUTELY",
    "RRULE:FREQ=SECONDLY",
    "rrule:freq=daily",
];

/// Rules that set the time of day, which comes from `start_date`; each with the part at fault.
const TIME_OF_DAY_SCHEDULES: [(&str, &str); 4] = [
    ("RRULE:FREQ=WEEKLY;BYHOUR=9", "BYHOUR"),
    ("RRULE:FREQ=WEEKLY;BYMINUTE=30", "BYMINUTE"),
    ("RRULE:FREQ=WEEKLY;BYSECOND=0", "BYSECOND"),
    ("FREQ=MONTHLY;BYDAY=MO;BYHOUR=9,17", "BYHOUR"),
];

/// Asserts that `answer` (to `request`, for the failure message) is the documented refusal with
/// `status` and `code`, and that its message contains `naming`; returns the message.
fn assert_refusal(answer: &Answer, request: &str, status: u16, code: &str, naming: &str) -> String {
    assert_eq!(answer.status, status, "{request} → {:?}", answer.body);
    assert_eq!(answer.body["error"], code, "{request} → {:?}", answer.body);
    let message = answer.assert_error(status, code);
    assert!(
        message.contains(naming),
        "{request}: the message {message:?} should name {naming}"
    );
    message
}

/// A valid create body with `field` set to `value`.
fn profile_with(field: &str, value: Value) -> Value {
    let mut body = valid_profile("Macrodata Refinement");
    body[field] = value;
    body
}

/// A server whose account already holds one profile, so that "nothing changed" compares
/// something; with that profile's id.
async fn app_with_profile(backend: Backend) -> (TestApp, i64) {
    let app = spawn_app(backend).await;
    let profile = app
        .create_profile("Optics and Design", json!({"tags": ["mdr"]}))
        .await;
    let id = profile["id"].as_i64().expect("a profile's id is a number");
    (app, id)
}

/// A user of another account, logged in: its token.
async fn other_account_token(app: &TestApp) -> String {
    app.add_user(&email("helly"), "Helly R", "other").await;
    app.login(&email("helly"), PASSWORD).await
}

/// POSTs `body` as a new profile: asserts a 400 with `code` naming `field`, and nothing stored.
async fn assert_create_refused(app: &TestApp, body: Value, code: &str, field: &str) -> String {
    let before = app.snapshot().await;
    let answer = app.post(PROFILES, body.clone()).await;
    let request = format!("POST {PROFILES} {body}");
    let message = assert_refusal(&answer, &request, 400, code, &format!("`{field}"));
    assert_eq!(
        app.snapshot().await,
        before,
        "{request} changed the database"
    );
    message
}

/// PATCHes profile `id` with `body`: asserts a 400 with `code` naming `field`, and nothing
/// changed.
async fn assert_patch_refused(app: &TestApp, id: i64, body: Value, code: &str, field: &str) {
    let path = format!("{PROFILES}/{id}");
    let before = app.snapshot().await;
    let answer = app.patch(&path, body.clone()).await;
    let request = format!("PATCH {path} {body}");
    assert_refusal(&answer, &request, 400, code, &format!("`{field}"));
    assert_eq!(
        app.snapshot().await,
        before,
        "{request} changed the database"
    );
}

/// GETs the profile list with `query`: asserts a 400 `InvalidParameter` naming `parameter`.
async fn assert_parameter_refused(app: &TestApp, query: &str, parameter: &str) {
    let path = format!("{PROFILES}?{query}");
    let before = app.snapshot().await;
    let answer = app.get(&path).await;
    let request = format!("GET {path}");
    assert_refusal(
        &answer,
        &request,
        400,
        "InvalidParameter",
        &format!("`{parameter}`"),
    );
    assert_eq!(
        app.snapshot().await,
        before,
        "{request} changed the database"
    );
}

/// Sends a request with exactly this `Authorization` header (or none).
async fn send_with_authorization(
    app: &TestApp,
    method: Method,
    path: &str,
    authorization: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut request = app.client.request(method, app.url(path));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request reaches the server");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap_or_default();
    Answer {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// Asserts that every profile endpoint answers 401 `Unauthorized` to `authorization` and that
/// nothing changed; `id` is an existing profile of the app's account.
async fn assert_locked_out(app: &TestApp, authorization: Option<&str>, id: i64) {
    let before = app.snapshot().await;
    let one = format!("{PROFILES}/{id}");
    let archive = format!("{PROFILES}/{id}:archive");
    let requests = [
        (Method::GET, PROFILES.to_owned(), None),
        (
            Method::POST,
            PROFILES.to_owned(),
            Some(valid_profile("Wellness")),
        ),
        (Method::GET, one.clone(), None),
        (Method::PATCH, one, Some(json!({"title": "Hijacked"}))),
        (Method::POST, archive, None),
    ];
    for (method, path, body) in requests {
        let request = format!("{method} {path} with Authorization {authorization:?}");
        let answer = send_with_authorization(app, method, &path, authorization, body).await;
        assert_refusal(&answer, &request, 401, "Unauthorized", "token");
    }
    assert_eq!(
        app.snapshot().await,
        before,
        "{authorization:?} changed the database"
    );
}

// --- POST /api/v2/security-profiles ---------------------------------------------------------

async fn a_missing_required_field_is_refused_by_name(backend: Backend) {
    let (app, _) = app_with_profile(backend).await;
    for field in ["benchmark", "mode", "schedule", "title", "start_date"] {
        let mut body = valid_profile("Macrodata Refinement");
        body.as_object_mut().unwrap().remove(field);
        assert_create_refused(&app, body, "MissingField", field).await;
    }
    // Nothing at all: the first missing field is named.
    assert_create_refused(&app, json!({}), "MissingField", "").await;
}

async fn a_field_of_the_wrong_json_type_is_refused_by_name(backend: Backend) {
    let (app, _) = app_with_profile(backend).await;
    let cases = [
        ("all_computers", json!("true")),
        ("all_computers", json!(1)),
        ("restart_deliver_delay", json!("1")),
        ("restart_deliver_delay", json!(1.5)),
        ("restart_deliver_delay", json!(true)),
        (
            "restart_deliver_delay",
            json!(9_223_372_036_854_775_808_u64),
        ),
        ("restart_deliver_delay_window", json!("0")),
        ("restart_deliver_delay_window", json!(2.5)),
        ("restart_deliver_delay_window", json!(false)),
        ("retention_period", json!("730")),
        ("title", json!(42)),
        ("title", json!(["Macrodata Refinement"])),
        ("tags", json!("web")),
        ("tags", json!([1, 2])),
        ("tags", json!({"web": true})),
        ("start_date", json!(20_250_101)),
        ("benchmark", json!(["cis_level1_server"])),
        ("mode", json!({"name": "audit"})),
        ("schedule", json!(7)),
        ("access_group", json!(5)),
        // `null` for a required field is a wrong type, not a missing field.
        ("benchmark", Value::Null),
        ("mode", Value::Null),
        ("schedule", Value::Null),
        ("title", Value::Null),
        ("start_date", Value::Null),
    ];
    for (field, value) in cases {
        assert_create_refused(&app, profile_with(field, value), "InvalidField", field).await;
    }
}

async fn an_unknown_benchmark_is_refused_with_the_valid_names(backend: Backend) {
    let (app, _) = app_with_profile(backend).await;
    for benchmark in [
        "cis_level3_server",
        "",
        "pci_dss",
        "stig-v",
        "cis_level1_server-vX",
    ] {
        let body = profile_with("benchmark", json!(benchmark));
        let message = assert_create_refused(&app, body, "InvalidField", "benchmark").await;
        for valid in [
            "cis_level1_server",
            "cis_level1_workstation",
            "cis_level2_server",
            "cis_level2_workstation",
            "disa_stig",
            "stig",
        ] {
            assert!(message.contains(valid), "{message:?} should list {valid}");
        }
    }
}

async fn an_unknown_mode_is_refused(backend: Backend) {
    let (app, _) = app_with_profile(backend).await;
    for mode in ["scan", "", "fix", "restart"] {
        let body = profile_with("mode", json!(mode));
        let message = assert_create_refused(&app, body, "InvalidField", "mode").await;
        assert!(
            message.contains("fix-restart-audit"),
            "{message:?} should list the modes"
        );
    }
}

async fn an_empty_or_blank_title_is_refused(backend: Backend) {
    let (app, _) = app_with_profile(backend).await;
    for title in ["", " ", "   \t\n "] {
        assert_create_refused(
            &app,
            profile_with("title", json!(title)),
            "InvalidField",
            "title",
        )
        .await;
    }
}

async fn a_malformed_schedule_is_refused_and_never_a_server_error(backend: Backend) {
    let (app, _) = app_with_profile(backend).await;
    for schedule in MALFORMED_SCHEDULES {
        let body = profile_with("schedule", json!(schedule));
        assert_create_refused(&app, body, "InvalidField", "schedule").await;
    }
}

async fn a_schedule_more_frequent_than_weekly_is_refused(backend: Backend) {
    let (app, _) = app_with_profile(backend).await;
    for schedule in TOO_FREQUENT_SCHEDULES {
        let body = profile_with("schedule", json!(schedule));
        assert_create_refused(&app, body, "InvalidField", "schedule").await;
    }
}

async fn a_schedule_that_sets_the_time_of_day_is_refused(backend: Backend) {
    let (app, _) = app_with_profile(backend).await;
    for (schedule, part) in TIME_OF_DAY_SCHEDULES {
        let body = profile_with("schedule", json!(schedule));
        let message = assert_create_refused(&app, body, "InvalidField", "schedule").await;
        assert!(message.contains(part), "{message:?} should name {part}");
    }
}

async fn a_schedule_ending_before_the_start_date_is_refused(backend: Backend) {
    let (app, _) = app_with_profile(backend).await;
    let cases = [
        (future_start(), "RRULE:FREQ=WEEKLY;UNTIL=20200101T000000Z"),
        (future_start(), "RRULE:FREQ=WEEKLY;UNTIL=20200101T000000"),
        (future_start(), "RRULE:FREQ=WEEKLY;UNTIL=20200101"),
        (
            "2030-06-01T12:00:00Z".to_owned(),
            "FREQ=WEEKLY;UNTIL=20300601T115959Z",
        ),
        (
            "2030-06-01T12:00:00Z".to_owned(),
            "FREQ=MONTHLY;UNTIL=20300531",
        ),
        (
            "2030-06-01T14:00:00+02:00".to_owned(),
            "FREQ=WEEKLY;UNTIL=20300601T115959Z",
        ),
    ];
    for (start_date, schedule) in cases {
        let mut body = profile_with("schedule", json!(schedule));
        body["start_date"] = json!(start_date);
        let message = assert_create_refused(&app, body, "InvalidField", "schedule").await;
        assert!(message.contains("UNTIL"), "{message:?} should name UNTIL");
    }
}

async fn an_unreadable_start_date_is_refused(backend: Backend) {
    let (app, _) = app_with_profile(backend).await;
    for start_date in [
        "tomorrow",
        "2025-02-30",
        "2025-13-01T00:00Z",
        "",
        "   ",
        "2025-02-28T25:00Z",
        "2025-02-28T12:34:56+25:00",
        "28/02/2025",
    ] {
        let body = profile_with("start_date", json!(start_date));
        assert_create_refused(&app, body, "InvalidField", "start_date").await;
    }
}

async fn an_access_group_that_does_not_exist_is_refused(backend: Backend) {
    let (app, _) = app_with_profile(backend).await;
    for group in ["no-such-group", "Global", ""] {
        let body = profile_with("access_group", json!(group));
        assert_create_refused(&app, body, "InvalidField", "access_group").await;
    }
}

async fn invalid_tags_are_refused(backend: Backend) {
    let (app, _) = app_with_profile(backend).await;
    let too_long = "t".repeat(65);
    for tags in [
        json!(["has space"]),
        json!([""]),
        json!(["web", "bad/slash"]),
        json!([too_long]),
    ] {
        assert_create_refused(&app, profile_with("tags", tags), "InvalidField", "tags").await;
    }
}

async fn out_of_range_numbers_are_refused(backend: Backend) {
    let (app, _) = app_with_profile(backend).await;
    let cases = [
        ("restart_deliver_delay", -1),
        ("restart_deliver_delay", 721),
        ("restart_deliver_delay_window", -1),
        ("restart_deliver_delay_window", 10_081),
        ("retention_period", 0),
        ("retention_period", -30),
    ];
    for (field, value) in cases {
        assert_create_refused(
            &app,
            profile_with(field, json!(value)),
            "InvalidField",
            field,
        )
        .await;
    }
}

async fn an_unknown_field_is_refused_by_name(backend: Backend) {
    let (app, _) = app_with_profile(backend).await;
    for field in ["colour", "Title", "next_run_time"] {
        let body = profile_with(field, json!("red"));
        assert_create_refused(&app, body, "UnknownField", field).await;
    }
}

async fn a_body_that_is_not_a_json_object_is_refused(backend: Backend) {
    let (app, id) = app_with_profile(backend).await;
    let valid = valid_profile("Macrodata Refinement").to_string();
    let bodies: Vec<Vec<u8>> = vec![
        b"{not json".to_vec(),
        format!("[{valid}]").into_bytes(),
        b"\"Macrodata Refinement\"".to_vec(),
        b"".to_vec(),
        b"  \n ".to_vec(),
        b"null".to_vec(),
        b"42".to_vec(),
        format!("{valid} trailing").into_bytes(),
        // Cut short: the closing brace is missing.
        valid.as_bytes()[..valid.len() - 1].to_vec(),
        vec![0xff, 0xfe, 0x7b, 0x7d],
    ];
    let before = app.snapshot().await;
    for body in bodies {
        let shown = String::from_utf8_lossy(&body).into_owned();
        for (method, path) in [
            (Method::POST, PROFILES.to_owned()),
            (Method::PATCH, format!("{PROFILES}/{id}")),
        ] {
            let request = format!("{method} {path} {shown:?}");
            let answer = app
                .send_raw(method, &path, "application/json", body.clone())
                .await;
            assert_refusal(&answer, &request, 400, "InvalidJson", "JSON");
        }
    }
    assert_eq!(app.snapshot().await, before);
}

async fn a_body_over_the_size_limit_is_refused_with_413(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.max_body_bytes = 4096).await;
    let id = app.create_profile("Optics and Design", json!({})).await["id"]
        .as_i64()
        .unwrap();
    let before = app.snapshot().await;
    let title = "Macrodata Refinement ".repeat(500);
    let answer = app
        .post(PROFILES, profile_with("title", json!(title)))
        .await;
    assert_refusal(
        &answer,
        "POST with a 10 KB title",
        413,
        "PayloadTooLarge",
        "body",
    );
    let path = format!("{PROFILES}/{id}");
    let answer = app.patch(&path, json!({"title": title})).await;
    assert_refusal(
        &answer,
        "PATCH with a 10 KB title",
        413,
        "PayloadTooLarge",
        "body",
    );
    assert_eq!(app.snapshot().await, before);
}

async fn json_sent_with_another_content_type_is_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    let content_types = ["application/x-www-form-urlencoded", "text/plain"];
    for content_type in content_types {
        let title = format!("Wellness Session ({content_type})");
        let body = serde_json::to_vec(&valid_profile(&title)).unwrap();
        let answer = app
            .send_raw(Method::POST, PROFILES, content_type, body)
            .await;
        assert_eq!(answer.status, 200, "{content_type}: {:?}", answer.body);
        assert_eq!(answer.body["title"], title.as_str());
        let path = format!("{PROFILES}/{}", answer.body["id"]);
        let change = br#"{"tags": ["mdr"]}"#.to_vec();
        let answer = app
            .send_raw(Method::PATCH, &path, content_type, change)
            .await;
        assert_eq!(answer.status, 200, "{content_type}: {:?}", answer.body);
        assert_eq!(answer.body["tags"], json!(["mdr"]));
    }
    // One profile per request, no more.
    let list = app.get(PROFILES).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    assert_eq!(list.body["count"], content_types.len());
}

// --- GET /api/v2/security-profiles ----------------------------------------------------------

async fn an_unacceptable_list_parameter_is_refused_by_name(backend: Backend) {
    let (app, _) = app_with_profile(backend).await;
    let cases = [
        ("limit=0", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=1001", "limit"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("limit=99999999999999999999", "limit"),
        ("offset=-1", "offset"),
        ("offset=abc", "offset"),
        ("pass_rate_from=-1", "pass_rate_from"),
        ("pass_rate_from=101", "pass_rate_from"),
        ("pass_rate_from=abc", "pass_rate_from"),
        ("pass_rate_to=101", "pass_rate_to"),
        ("pass_rate_to=-1", "pass_rate_to"),
        ("pass_rate_from=60&pass_rate_to=40", "pass_rate_from"),
        ("status=deleted", "status"),
        ("status=", "status"),
        ("limit=10&limit=20", "limit"),
        ("offset=0&offset=0", "offset"),
    ];
    for (query, parameter) in cases {
        assert_parameter_refused(&app, query, parameter).await;
    }
}

async fn list_parameters_at_their_bounds_are_answered(backend: Backend) {
    let (app, _) = app_with_profile(backend).await;
    let before = app.snapshot().await;
    let cases = [
        ("limit=1000", 1),
        ("limit=1", 1),
        ("offset=0", 1),
        ("status=archived", 0),
        ("status=active", 1),
        // Profiles with no pass rate yet are left out when a pass-rate bound is given.
        ("pass_rate_from=0&pass_rate_to=100", 0),
        ("pass_rate_from=50&pass_rate_to=50", 0),
    ];
    for (query, count) in cases {
        let answer = app.get(&format!("{PROFILES}?{query}")).await;
        assert_eq!(answer.status, 200, "{query}: {:?}", answer.body);
        assert_eq!(answer.body["count"], count, "{query}: {:?}", answer.body);
    }
    assert_eq!(app.snapshot().await, before);
}

// --- PATCH /api/v2/security-profiles/<id> -------------------------------------------------

async fn patching_a_field_that_cannot_change_is_refused_by_name(backend: Backend) {
    let (app, id) = app_with_profile(backend).await;
    let cases = [
        ("benchmark", json!("stig")),
        ("mode", json!("fix-audit")),
        ("start_date", json!(future_start())),
        ("name", json!("renamed")),
        ("status", json!("archived")),
        ("id", json!(id + 1)),
        ("retention_period", json!(30)),
        ("tailoring_file", json!("<Tailoring/>")),
    ];
    for (field, value) in cases {
        assert_patch_refused(&app, id, json!({ field: value }), "NotEditable", field).await;
        // Alongside an editable change, which must not be applied either.
        let body = json!({"title": "Renamed", field: value});
        assert_patch_refused(&app, id, body, "NotEditable", field).await;
    }
    let profile = app.get(&format!("{PROFILES}/{id}")).await;
    assert_eq!(profile.body["title"], "Optics and Design");
    assert_eq!(profile.body["status"], "active");
}

async fn patching_an_unknown_field_is_refused_by_name(backend: Backend) {
    let (app, id) = app_with_profile(backend).await;
    assert_patch_refused(&app, id, json!({"colour": "red"}), "UnknownField", "colour").await;
    let body = json!({"title": "Renamed", "colour": "red"});
    assert_patch_refused(&app, id, body, "UnknownField", "colour").await;
    assert_patch_refused(
        &app,
        id,
        json!({"Title": "Renamed"}),
        "UnknownField",
        "Title",
    )
    .await;
}

async fn patching_an_editable_field_with_null_or_a_wrong_type_is_refused(backend: Backend) {
    let (app, id) = app_with_profile(backend).await;
    let cases = [
        ("title", Value::Null),
        ("schedule", Value::Null),
        ("tags", Value::Null),
        ("all_computers", Value::Null),
        ("access_group", Value::Null),
        ("restart_deliver_delay", Value::Null),
        ("restart_deliver_delay_window", Value::Null),
        ("title", json!(42)),
        ("schedule", json!(7)),
        ("tags", json!("web")),
        ("tags", json!([1])),
        ("all_computers", json!("yes")),
        ("access_group", json!(5)),
        ("access_group", json!(["global"])),
        ("restart_deliver_delay", json!("2")),
        ("restart_deliver_delay", json!(1.5)),
        ("restart_deliver_delay_window", json!(true)),
    ];
    for (field, value) in cases {
        let body = json!({"title": "Renamed", field: value});
        assert_patch_refused(&app, id, body, "InvalidField", field).await;
    }
}

async fn patching_an_unacceptable_value_is_refused(backend: Backend) {
    let (app, id) = app_with_profile(backend).await;
    let cases = [
        ("title", json!("")),
        ("title", json!("   ")),
        ("tags", json!(["has space"])),
        ("tags", json!([""])),
        ("restart_deliver_delay", json!(-1)),
        ("restart_deliver_delay", json!(721)),
        ("restart_deliver_delay_window", json!(-1)),
        ("restart_deliver_delay_window", json!(10_081)),
        ("access_group", json!("")),
    ];
    for (field, value) in cases {
        assert_patch_refused(&app, id, json!({ field: value }), "InvalidField", field).await;
    }
}

async fn patching_a_malformed_or_too_frequent_schedule_is_refused(backend: Backend) {
    let (app, id) = app_with_profile(backend).await;
    let schedules = MALFORMED_SCHEDULES
        .into_iter()
        .chain(TOO_FREQUENT_SCHEDULES)
        .chain(TIME_OF_DAY_SCHEDULES.map(|(schedule, _)| schedule));
    for schedule in schedules {
        let body = json!({"schedule": schedule, "title": "Renamed"});
        assert_patch_refused(&app, id, body, "InvalidField", "schedule").await;
    }
}

async fn patching_a_schedule_ending_before_the_start_date_is_refused(backend: Backend) {
    let (app, id) = app_with_profile(backend).await;
    let fixed = app
        .create_profile("Wellness", json!({"start_date": "2030-06-01T12:00:00Z"}))
        .await["id"]
        .as_i64()
        .unwrap();
    let cases = [
        (id, "RRULE:FREQ=WEEKLY;UNTIL=20200101T000000Z"),
        (id, "RRULE:FREQ=WEEKLY;UNTIL=20200101"),
        (fixed, "FREQ=WEEKLY;UNTIL=20300601T115959Z"),
        (fixed, "FREQ=MONTHLY;UNTIL=20300531"),
    ];
    for (id, schedule) in cases {
        let body = json!({ "schedule": schedule });
        assert_patch_refused(&app, id, body, "InvalidField", "schedule").await;
    }
}

async fn patching_a_profile_into_a_missing_access_group_is_refused(backend: Backend) {
    let (app, id) = app_with_profile(backend).await;
    let body = json!({"access_group": "no-such-group"});
    assert_patch_refused(&app, id, body, "InvalidField", "access_group").await;
    // The other changes of the same request are not applied either.
    let body = json!({"title": "Renamed", "tags": ["web"], "access_group": "no-such-group"});
    assert_patch_refused(&app, id, body, "InvalidField", "access_group").await;
}

async fn patching_a_missing_or_foreign_profile_answers_404(backend: Backend) {
    let (app, id) = app_with_profile(backend).await;
    let other = other_account_token(&app).await;
    let before = app.snapshot().await;
    let cases = [
        ("999999".to_owned(), app.token.clone()),
        ("abc".to_owned(), app.token.clone()),
        ("0".to_owned(), app.token.clone()),
        ("-1".to_owned(), app.token.clone()),
        ("99999999999999999999".to_owned(), app.token.clone()),
        // Another account's profile is as good as missing.
        (id.to_string(), other),
    ];
    for (target, token) in cases {
        let path = format!("{PROFILES}/{target}");
        let body = json!({"title": "Renamed", "tags": ["web"]});
        let answer = app
            .send(Method::PATCH, &path, Some(&token), Some(body))
            .await;
        assert_refusal(&answer, &format!("PATCH {path}"), 404, "NotFound", &target);
    }
    assert_eq!(app.snapshot().await, before);
}

async fn patching_an_archived_profile_answers_409(backend: Backend) {
    let (app, id) = app_with_profile(backend).await;
    let path = format!("{PROFILES}/{id}");
    let archived = app.post_empty(&format!("{path}:archive")).await;
    assert_eq!(archived.status, 200, "{:?}", archived.body);
    let before = app.snapshot().await;
    for body in [
        json!({"title": "Renamed"}),
        json!({"schedule": "RRULE:FREQ=MONTHLY"}),
        json!({"tags": ["web"], "all_computers": true}),
    ] {
        let answer = app.patch(&path, body.clone()).await;
        let request = format!("PATCH {path} {body}");
        assert_refusal(&answer, &request, 409, "ProfileArchived", "archived");
    }
    assert_eq!(app.snapshot().await, before);
    let profile = app.get(&path).await;
    assert_eq!(profile.body["status"], "archived");
    assert_eq!(profile.body["next_run_time"], Value::Null);
}

// --- POST /api/v2/security-profiles/<id>:archive ------------------------------------------

async fn archiving_a_missing_or_foreign_profile_answers_404(backend: Backend) {
    let (app, id) = app_with_profile(backend).await;
    let other = other_account_token(&app).await;
    let before = app.snapshot().await;
    let cases = [
        ("999999".to_owned(), app.token.clone()),
        ("abc".to_owned(), app.token.clone()),
        (id.to_string(), other),
    ];
    for (target, token) in cases {
        let path = format!("{PROFILES}/{target}:archive");
        let answer = app.send(Method::POST, &path, Some(&token), None).await;
        assert_refusal(&answer, &format!("POST {path}"), 404, "NotFound", &target);
    }
    assert_eq!(app.snapshot().await, before);
    let profile = app.get(&format!("{PROFILES}/{id}")).await;
    assert_eq!(profile.body["status"], "active");
    assert_ne!(profile.body["next_run_time"], Value::Null);
}

// --- Authentication ---------------------------------------------------------------------------

async fn a_request_without_a_valid_token_is_refused_with_401(backend: Backend) {
    let (app, id) = app_with_profile(backend).await;
    let headers = [
        None,
        Some("Bearer garbage"),
        Some("Basic xyz"),
        Some("Bearer"),
        Some("Bearer "),
        Some("garbage"),
        Some("Bearer a.b.c"),
    ];
    for authorization in headers {
        assert_locked_out(&app, authorization, id).await;
    }
}

async fn an_expired_or_forged_token_is_refused_with_401(backend: Backend) {
    let (app, id) = app_with_profile(backend).await;
    let user = app
        .store
        .credentials(&email("mark"))
        .await
        .unwrap()
        .unwrap();
    let caller = Caller {
        user_id: user.user.id,
        account_id: app.account_id,
    };
    let own_secret = app
        .settings
        .jwt_secret
        .as_ref()
        .expect("tests set a secret");
    let own = Tokens::new(own_secret, 24);
    let another = Tokens::new(&Secret::new("another-secret-another-secret-0123456"), 24);

    // The same claims, freshly signed with the app's secret, are accepted: what follows is
    // refused for its signature or its age only.
    let fresh = own.issue(caller, Utc::now()).unwrap();
    let answer = app.send(Method::GET, PROFILES, Some(&fresh), None).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);

    let forged = another.issue(caller, Utc::now()).unwrap();
    let expired = own.issue(caller, Utc::now() - Duration::hours(25)).unwrap();
    for token in [forged, expired] {
        assert_locked_out(&app, Some(&format!("Bearer {token}")), id).await;
    }
}

async fn a_failed_login_says_the_same_for_a_wrong_password_and_an_unknown_email(backend: Backend) {
    let (app, _) = app_with_profile(backend).await;
    let before = app.snapshot().await;
    let attempts = [
        json!({"email": email("mark"), "password": "wrong horse battery"}),
        json!({"email": email("nobody"), "password": PASSWORD}),
    ];
    let mut messages = Vec::new();
    for body in attempts {
        let answer = app
            .send(Method::POST, "/api/v2/login", None, Some(body.clone()))
            .await;
        let request = format!("POST /api/v2/login {body}");
        messages.push(assert_refusal(
            &answer,
            &request,
            401,
            "InvalidCredentials",
            "password",
        ));
    }
    assert_eq!(
        messages[0], messages[1],
        "the answer must not tell which one was wrong"
    );
    assert_eq!(app.snapshot().await, before);
}

crate::on_both_backends!(
    a_missing_required_field_is_refused_by_name,
    a_field_of_the_wrong_json_type_is_refused_by_name,
    an_unknown_benchmark_is_refused_with_the_valid_names,
    an_unknown_mode_is_refused,
    an_empty_or_blank_title_is_refused,
    a_malformed_schedule_is_refused_and_never_a_server_error,
    a_schedule_more_frequent_than_weekly_is_refused,
    a_schedule_that_sets_the_time_of_day_is_refused,
    a_schedule_ending_before_the_start_date_is_refused,
    an_unreadable_start_date_is_refused,
    an_access_group_that_does_not_exist_is_refused,
    invalid_tags_are_refused,
    out_of_range_numbers_are_refused,
    an_unknown_field_is_refused_by_name,
    a_body_that_is_not_a_json_object_is_refused,
    a_body_over_the_size_limit_is_refused_with_413,
    json_sent_with_another_content_type_is_accepted,
    an_unacceptable_list_parameter_is_refused_by_name,
    list_parameters_at_their_bounds_are_answered,
    patching_a_field_that_cannot_change_is_refused_by_name,
    patching_an_unknown_field_is_refused_by_name,
    patching_an_editable_field_with_null_or_a_wrong_type_is_refused,
    patching_an_unacceptable_value_is_refused,
    patching_a_malformed_or_too_frequent_schedule_is_refused,
    patching_a_schedule_ending_before_the_start_date_is_refused,
    patching_a_profile_into_a_missing_access_group_is_refused,
    patching_a_missing_or_foreign_profile_answers_404,
    patching_an_archived_profile_answers_409,
    archiving_a_missing_or_foreign_profile_answers_404,
    a_request_without_a_valid_token_is_refused_with_401,
    an_expired_or_forged_token_is_refused_with_401,
    a_failed_login_says_the_same_for_a_wrong_password_and_an_unknown_email,
);

//! Inputs found by attacking the server: each is refused clearly and changes nothing.

use chrono::Utc;
use rampart_server::auth::{Caller, Tokens};
use serde_json::json;

use crate::helpers::{email, spawn_app, valid_profile, Backend, PASSWORD};
use crate::on_both_backends;

async fn a_field_given_twice_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = app.snapshot().await;
    let body = r#"{"benchmark":"cis_level1_server","mode":"audit","schedule":"FREQ=WEEKLY","title":"Web","start_date":"2030-01-01","title":"Other"}"#;
    let answer = app
        .send_raw(
            reqwest::Method::POST,
            "/api/v2/security-profiles",
            "application/json",
            body.as_bytes().to_vec(),
        )
        .await;
    let message = answer.assert_error(400, "InvalidJson");
    assert!(message.contains("duplicate field `title`"), "{message}");
    assert_eq!(app.snapshot().await, before);
}

async fn messages_never_echo_a_huge_input(backend: Backend) {
    let app = spawn_app(backend).await;
    let huge = "k".repeat(100_000);
    let mut body = valid_profile("Web");
    body[huge.as_str()] = json!(1);
    let message = app
        .post("/api/v2/security-profiles", body)
        .await
        .assert_error(400, "UnknownField");
    assert!(
        message.chars().count() < 400,
        "{} characters",
        message.len()
    );
    let mut body = valid_profile("Web");
    body["all_computers"] = json!(huge);
    let message = app
        .post("/api/v2/security-profiles", body)
        .await
        .assert_error(400, "InvalidField");
    assert!(
        message.chars().count() < 400 && message.contains("all_computers"),
        "{message:.80}"
    );
}

async fn type_errors_use_the_apis_words(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut body = valid_profile("Web");
    body["restart_deliver_delay"] = json!("2");
    let message = app
        .post("/api/v2/security-profiles", body)
        .await
        .assert_error(400, "InvalidField");
    assert!(
        message.contains("expected an integer") && !message.contains("i64"),
        "{message}"
    );
    let mut body = valid_profile("Web");
    body["tags"] = json!({"a": 1});
    let message = app
        .post("/api/v2/security-profiles", body)
        .await
        .assert_error(400, "InvalidField");
    assert!(
        message.contains("object") && message.contains("list"),
        "{message}"
    );
}

async fn a_forged_host_header_never_reaches_a_link(backend: Backend) {
    let app = spawn_app(backend).await;
    for n in 0..2 {
        app.create_profile(&format!("P{n}"), json!({})).await;
    }
    for host in ["evil.example/x?", "127.0.0.1@evil", ""] {
        let page: serde_json::Value = app
            .client
            .get(app.url("/api/v2/security-profiles?limit=1"))
            .bearer_auth(&app.token)
            .header("host", host)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            page["next"], "http://localhost/api/v2/security-profiles?limit=1&offset=1",
            "Host {host:?}"
        );
    }
}

async fn only_canonical_ids_name_a_profile(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app.create_profile("Web", json!({})).await;
    assert_eq!(created["id"], 1);
    for path in ["+1", "01", "1.0", " 1", "0", "-1", "99999999999999999999"] {
        let answer = app
            .get(&format!(
                "/api/v2/security-profiles/{}",
                path.replace(' ', "%20")
            ))
            .await;
        answer.assert_error(404, "NotFound");
    }
    app.get("/api/v2/security-profiles/1:archive")
        .await
        .assert_error(405, "MethodNotAllowed");
    assert_eq!(
        app.get("/api/v2/security-profiles/1").await.body["status"],
        "active"
    );
}

async fn a_token_for_an_account_the_user_left_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let other = app.store.ensure_account("other", Utc::now()).await.unwrap();
    let secret = app.settings.jwt_secret.clone().unwrap();
    let tokens = Tokens::new(&secret, 24);
    let mark = app
        .store
        .credentials(&email("mark"))
        .await
        .unwrap()
        .unwrap()
        .user;
    for caller in [
        Caller {
            user_id: mark.id,
            account_id: other.id,
        },
        Caller {
            user_id: mark.id,
            account_id: 999,
        },
        Caller {
            user_id: 999,
            account_id: app.account_id,
        },
    ] {
        let token = tokens.issue(caller, Utc::now()).unwrap();
        let answer = app
            .send(
                reqwest::Method::GET,
                "/api/v2/security-profiles",
                Some(&token),
                None,
            )
            .await;
        answer.assert_error(401, "Unauthorized");
    }
}

async fn titles_and_dates_that_read_wrong_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = app.snapshot().await;
    for title in ["\u{200b}", "\u{feff}", "abc\u{202e}def", "a\u{ffff}b"] {
        app.post("/api/v2/security-profiles", valid_profile(title))
            .await
            .assert_error(400, "InvalidField");
    }
    for start in [
        "2027-06-30T23:59:60Z",
        "0001-01-01",
        "+10000-01-01",
        "-5000-01-01",
        "1969-12-31",
    ] {
        let mut body = valid_profile("Dates");
        body["start_date"] = json!(start);
        let message = app
            .post("/api/v2/security-profiles", body)
            .await
            .assert_error(400, "InvalidField");
        assert!(message.contains("start_date"), "{message}");
    }
    assert_eq!(app.snapshot().await, before);
}

async fn a_burst_of_logins_is_served_in_turn(backend: Backend) {
    let app = spawn_app(backend).await;
    let tasks: Vec<_> = (0..12)
        .map(|n| {
            let password = if n % 2 == 0 {
                PASSWORD
            } else {
                "wrong password"
            };
            let request = app
                .client
                .post(app.url("/api/v2/login"))
                .json(&json!({"email": email("mark"), "password": password}));
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        6,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        6,
        "{statuses:?}"
    );
}

/// An agent's request with its credentials twice is refused like a user's: whichever header a
/// proxy would pick, none is taken. With them once, the same request is served.
async fn an_agent_call_with_two_authorization_headers_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = app.register("web-1", &["web"], "global").await;
    let credentials = format!("Agent {}:{}", agent.id, agent.secret);
    let answer = app
        .client
        .get(app.url("/agent/v1/activities"))
        .header("authorization", &credentials)
        .header("authorization", &credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    assert!(app.poll(&agent).await.is_empty(), "one header is served");
}

on_both_backends!(
    a_field_given_twice_is_refused,
    messages_never_echo_a_huge_input,
    type_errors_use_the_apis_words,
    a_forged_host_header_never_reaches_a_link,
    only_canonical_ids_name_a_profile,
    a_token_for_an_account_the_user_left_is_refused,
    titles_and_dates_that_read_wrong_are_refused,
    a_burst_of_logins_is_served_in_turn,
    an_agent_call_with_two_authorization_headers_is_refused,
);

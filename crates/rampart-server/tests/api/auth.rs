//! Logging in and bearer tokens.

use serde_json::json;

use crate::helpers::{email, spawn_app, Answer, Backend, TestApp, PASSWORD};
use crate::on_both_backends;

async fn login_answers_a_token_and_the_users_accounts(backend: Backend) {
    let app = spawn_app(backend).await;
    let answer = app
        .send(
            reqwest::Method::POST,
            "/api/v2/login",
            None,
            Some(json!({"email": email("MARK"), "password": PASSWORD})),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(
        answer.body["email"],
        email("mark"),
        "email is case-insensitive"
    );
    assert_eq!(answer.body["name"], "Mark S");
    assert_eq!(answer.body["current_account"], "standalone");
    assert_eq!(
        answer.body["accounts"],
        json!([{"name": "standalone", "title": "standalone", "default": true}])
    );
    let token = answer.body["token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT");
    let listed = app
        .send(
            reqwest::Method::GET,
            "/api/v2/security-profiles",
            Some(token),
            None,
        )
        .await;
    assert_eq!(listed.status, 200);
}

async fn login_into_an_account_the_user_is_not_in_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.store
        .ensure_account("other", chrono::Utc::now())
        .await
        .unwrap();
    let answer = app
        .send(
            reqwest::Method::POST,
            "/api/v2/login",
            None,
            Some(json!({"email": email("mark"), "password": PASSWORD, "account": "other"})),
        )
        .await;
    let message = answer.assert_error(401, "InvalidCredentials");
    assert!(message.contains("other"), "{message}");
}

async fn every_endpoint_but_login_and_the_document_needs_a_token(backend: Backend) {
    let app = spawn_app(backend).await;
    for (method, path) in [
        (reqwest::Method::GET, "/api/v2/security-profiles"),
        (reqwest::Method::POST, "/api/v2/security-profiles"),
        (reqwest::Method::GET, "/api/v2/security-profiles/1"),
        (reqwest::Method::PATCH, "/api/v2/security-profiles/1"),
        (reqwest::Method::POST, "/api/v2/security-profiles/1:archive"),
        (reqwest::Method::GET, "/api/v2/usg-profiles"),
        (reqwest::Method::GET, "/api/v2/access-groups"),
        (reqwest::Method::POST, "/api/v2/access-groups"),
    ] {
        let answer = app.send(method.clone(), path, None, Some(json!({}))).await;
        assert_eq!(answer.status, 401, "{method} {path}");
        assert_eq!(answer.body["error"], "Unauthorized", "{method} {path}");
    }
    let document = app
        .send(reqwest::Method::GET, "/api/v2/openapi.json", None, None)
        .await;
    assert_eq!(document.status, 200);
}

/// The profile list, as the holder of `token`.
async fn profiles_as(app: &TestApp, token: &str) -> Answer {
    let list = "/api/v2/security-profiles";
    app.send(reqwest::Method::GET, list, Some(token), None)
        .await
}

/// Mark's user id.
async fn mark(app: &TestApp) -> i64 {
    let credentials = app.store.credentials(&email("mark")).await.unwrap();
    credentials.expect("mark was created").user.id
}

async fn a_token_stops_working_within_a_second_of_its_membership_ending(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(profiles_as(&app, &app.token).await.status, 200);
    // Nothing in the API ends a membership yet: the test ends it by hand.
    let url = app.settings.database_url();
    crate::common::execute(&url, "DELETE FROM account_members").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    profiles_as(&app, &app.token)
        .await
        .assert_error(401, "Unauthorized");
    // A refusal is not remembered: the membership back, the same token works at once.
    let back = format!(
        "INSERT INTO account_members (account_id, user_id, is_default) VALUES ({}, {}, true)",
        app.account_id,
        mark(&app).await
    );
    crate::common::execute(&url, &back).await;
    assert_eq!(profiles_as(&app, &app.token).await.status, 200);
}

async fn a_signed_token_for_an_account_its_user_is_not_in_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = chrono::Utc::now();
    let other = app.store.ensure_account("other", now).await.unwrap();
    let secret = app.settings.jwt_secret.as_ref().unwrap();
    let tokens = rampart_server::auth::Tokens::new(secret, app.settings.token_ttl_hours);
    let caller = rampart_server::auth::Caller {
        user_id: mark(&app).await,
        account_id: other.id,
    };
    let foreign = tokens.issue(caller, now).unwrap();
    for _ in 0..3 {
        profiles_as(&app, &foreign)
            .await
            .assert_error(401, "Unauthorized");
    }
    // The user's own token still works.
    assert_eq!(profiles_as(&app, &app.token).await.status, 200);
}

async fn a_request_with_two_authorization_headers_is_refused_whichever_comes_first(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let good = format!("Bearer {}", app.token);
    for (first, second) in [
        (good.as_str(), "Bearer forged"),
        ("Bearer forged", good.as_str()),
    ] {
        let answer = app
            .client
            .get(app.url("/api/v2/security-profiles"))
            .header("Authorization", first)
            .header("Authorization", second)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401, "{first} then {second}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["error"], "Unauthorized");
        assert!(body["message"]
            .as_str()
            .unwrap()
            .contains("one Authorization header"));
    }
    // One header, the good one: let in.
    assert_eq!(profiles_as(&app, &app.token).await.status, 200);
}

on_both_backends!(
    login_answers_a_token_and_the_users_accounts,
    login_into_an_account_the_user_is_not_in_is_refused,
    every_endpoint_but_login_and_the_document_needs_a_token,
    a_token_stops_working_within_a_second_of_its_membership_ending,
    a_signed_token_for_an_account_its_user_is_not_in_is_refused,
    a_request_with_two_authorization_headers_is_refused_whichever_comes_first,
);

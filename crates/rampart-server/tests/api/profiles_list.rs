//! Listing profiles: order, filters, pagination with `next`/`previous`, and account isolation.

use serde_json::{json, Value};

use crate::helpers::{email, spawn_app, Backend};
use crate::on_both_backends;

fn titles(answer: &Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn profiles_are_listed_oldest_first_with_a_count(backend: Backend) {
    let app = spawn_app(backend).await;
    let empty = app.get("/api/v2/security-profiles").await;
    assert_eq!(empty.status, 200);
    assert_eq!(
        empty.body,
        json!({"count": 0, "results": [], "next": null, "previous": null})
    );
    for title in ["Charlie", "Alpha", "Bravo"] {
        app.create_profile(title, json!({})).await;
    }
    let all = app.get("/api/v2/security-profiles").await;
    assert_eq!(all.body["count"], 3);
    assert_eq!(titles(&all.body), ["Charlie", "Alpha", "Bravo"]);
}

async fn pages_link_to_their_neighbours(backend: Backend) {
    let app = spawn_app(backend).await;
    for n in 1..=5 {
        app.create_profile(&format!("P{n}"), json!({})).await;
    }
    app.post_empty("/api/v2/security-profiles/1:archive").await;
    let base = format!("http://{}/api/v2/security-profiles", app.address);

    let first = app.get("/api/v2/security-profiles?search=p&limit=2").await;
    assert_eq!(first.body["count"], 5);
    assert_eq!(titles(&first.body), ["P1", "P2"]);
    assert_eq!(first.body["previous"], Value::Null);
    assert_eq!(
        first.body["next"],
        format!("{base}?search=p&limit=2&offset=2")
    );

    let second = app
        .get("/api/v2/security-profiles?search=p&limit=2&offset=2")
        .await;
    assert_eq!(titles(&second.body), ["P3", "P4"]);
    assert_eq!(
        second.body["previous"],
        format!("{base}?search=p&limit=2&offset=0")
    );
    assert_eq!(
        second.body["next"],
        format!("{base}?search=p&limit=2&offset=4")
    );

    let last = app
        .get("/api/v2/security-profiles?search=p&limit=2&offset=4")
        .await;
    assert_eq!(titles(&last.body), ["P5"]);
    assert_eq!(last.body["next"], Value::Null);
    assert_eq!(
        last.body["previous"],
        format!("{base}?search=p&limit=2&offset=2")
    );

    // Following `next` links walks every profile exactly once.
    let mut seen = Vec::new();
    let mut next = Some(format!("{base}?limit=2"));
    while let Some(url) = next {
        let page: Value = app
            .client
            .get(&url)
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen.extend(titles(&page));
        next = page["next"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, ["P1", "P2", "P3", "P4", "P5"]);

    let beyond = app.get("/api/v2/security-profiles?offset=10").await;
    assert_eq!(beyond.body["count"], 5);
    assert_eq!(beyond.body["results"], json!([]));
    assert_eq!(beyond.body["next"], Value::Null);
}

async fn links_use_the_public_url_when_one_is_set(backend: Backend) {
    let app = crate::helpers::spawn_app_with(backend, |s| {
        s.public_url = Some("https://rampart.example.com/".into())
    })
    .await;
    for n in 1..=2 {
        app.create_profile(&format!("P{n}"), json!({})).await;
    }
    let page = app.get("/api/v2/security-profiles?limit=1").await;
    assert_eq!(
        page.body["next"],
        "https://rampart.example.com/api/v2/security-profiles?limit=1&offset=1"
    );
}

async fn search_is_a_case_insensitive_substring_of_the_title(backend: Backend) {
    let app = spawn_app(backend).await;
    for title in [
        "Web Servers",
        "Database servers",
        "Laptops",
        "Ünïcode SERVERS",
    ] {
        app.create_profile(title, json!({})).await;
    }
    let servers = app.get("/api/v2/security-profiles?search=SERVER").await;
    assert_eq!(
        titles(&servers.body),
        ["Web Servers", "Database servers", "Ünïcode SERVERS"]
    );
    let unicode = app
        .get("/api/v2/security-profiles?search=%C3%BCn%C3%AF")
        .await;
    assert_eq!(titles(&unicode.body), ["Ünïcode SERVERS"]);
    let literal = app.get("/api/v2/security-profiles?search=%25").await;
    assert_eq!(literal.body["count"], 0, "`%` is not a wildcard");
    let none = app.get("/api/v2/security-profiles?search=desktops").await;
    assert_eq!(none.body["count"], 0);
}

async fn status_filters_active_and_archived_profiles(backend: Backend) {
    let app = spawn_app(backend).await;
    let kept = app.create_profile("Kept", json!({})).await;
    let gone = app.create_profile("Gone", json!({})).await;
    app.post_empty(&format!("/api/v2/security-profiles/{}:archive", gone["id"]))
        .await;
    let active = app.get("/api/v2/security-profiles?status=active").await;
    assert_eq!(titles(&active.body), ["Kept"]);
    let archived = app.get("/api/v2/security-profiles?status=archived").await;
    assert_eq!(titles(&archived.body), ["Gone"]);
    assert_eq!(archived.body["results"][0]["status"], "archived");
    // No computers exist yet, so no profile covers more instances than the cap.
    let over = app.get("/api/v2/security-profiles?status=over-limit").await;
    assert_eq!(over.body["count"], 0);
    assert_eq!(kept["status"], "active");
}

async fn pass_rate_filters_leave_out_profiles_without_a_pass_rate(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_profile("Never run", json!({})).await;
    for query in [
        "pass_rate_from=0",
        "pass_rate_to=100",
        "pass_rate_from=0&pass_rate_to=100",
    ] {
        let page = app.get(&format!("/api/v2/security-profiles?{query}")).await;
        assert_eq!(page.status, 200);
        assert_eq!(page.body["count"], 0, "{query}");
    }
    let unfiltered = app.get("/api/v2/security-profiles").await;
    assert_eq!(unfiltered.body["count"], 1);
}

async fn two_accounts_never_see_each_others_profiles(backend: Backend) {
    let app = spawn_app(backend).await;
    let ours = app.create_profile("Ours", json!({})).await;
    app.add_user(&email("helly"), "Helly R", "other").await;
    let theirs_token = app.login(&email("helly"), crate::helpers::PASSWORD).await;
    let theirs = app
        .send(
            reqwest::Method::POST,
            "/api/v2/security-profiles",
            Some(&theirs_token),
            Some(crate::helpers::valid_profile("Theirs")),
        )
        .await;
    assert_eq!(theirs.status, 200);
    assert_ne!(theirs.body["account_id"], ours["account_id"]);

    let mine = app.get("/api/v2/security-profiles").await;
    assert_eq!(titles(&mine.body), ["Ours"]);
    let their_list = app
        .send(
            reqwest::Method::GET,
            "/api/v2/security-profiles",
            Some(&theirs_token),
            None,
        )
        .await;
    assert_eq!(titles(&their_list.body), ["Theirs"]);

    let peek = app
        .get(&format!("/api/v2/security-profiles/{}", theirs.body["id"]))
        .await;
    peek.assert_error(404, "NotFound");
    let archive = app
        .post_empty(&format!(
            "/api/v2/security-profiles/{}:archive",
            theirs.body["id"]
        ))
        .await;
    archive.assert_error(404, "NotFound");
    let still = app
        .send(
            reqwest::Method::GET,
            &format!("/api/v2/security-profiles/{}", theirs.body["id"]),
            Some(&theirs_token),
            None,
        )
        .await;
    assert_eq!(still.body["status"], "active");

    // Each account has its own limit and its own names.
    let same_name = app
        .send(
            reqwest::Method::POST,
            "/api/v2/security-profiles",
            Some(&theirs_token),
            Some(crate::helpers::valid_profile("Ours")),
        )
        .await;
    assert_eq!(same_name.body["name"], "ours");
}

on_both_backends!(
    profiles_are_listed_oldest_first_with_a_count,
    pages_link_to_their_neighbours,
    links_use_the_public_url_when_one_is_set,
    search_is_a_case_insensitive_substring_of_the_title,
    status_filters_active_and_archived_profiles,
    pass_rate_filters_leave_out_profiles_without_a_pass_rate,
    two_accounts_never_see_each_others_profiles,
);

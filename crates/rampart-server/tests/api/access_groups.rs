//! Access groups: the tree rooted at `global`.

use serde_json::json;

use crate::helpers::{spawn_app, Backend};
use crate::on_both_backends;

async fn groups_form_a_tree_rooted_at_global(backend: Backend) {
    let app = spawn_app(backend).await;
    let initial = app.get("/api/v2/access-groups").await;
    assert_eq!(
        initial.body["results"],
        json!([{"name": "global", "title": "Global access", "parent": null, "children": []}])
    );
    let servers = app
        .post("/api/v2/access-groups", json!({"title": "Servers"}))
        .await;
    assert_eq!(
        servers.body,
        json!({"name": "servers", "title": "Servers", "parent": "global", "children": []})
    );
    let web = app
        .post(
            "/api/v2/access-groups",
            json!({"name": "web", "title": "Web", "parent": "servers"}),
        )
        .await;
    assert_eq!(web.body["parent"], "servers");
    let all = app.get("/api/v2/access-groups").await;
    assert_eq!(all.body["count"], 3);
    assert_eq!(all.body["results"][0]["children"], json!(["servers"]));
    assert_eq!(all.body["results"][1]["children"], json!(["web"]));
}

async fn bad_groups_are_refused_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    app.post(
        "/api/v2/access-groups",
        json!({"name": "web", "title": "Web"}),
    )
    .await;
    let before = app.snapshot().await;
    app.post(
        "/api/v2/access-groups",
        json!({"name": "web", "title": "Again"}),
    )
    .await
    .assert_error(409, "Conflict");
    let orphan = app
        .post(
            "/api/v2/access-groups",
            json!({"title": "Orphan", "parent": "nowhere"}),
        )
        .await;
    assert!(orphan.assert_error(400, "InvalidField").contains("parent"));
    app.post(
        "/api/v2/access-groups",
        json!({"name": "bad name", "title": "x"}),
    )
    .await
    .assert_error(400, "InvalidField");
    app.post("/api/v2/access-groups", json!({"name": "x"}))
        .await
        .assert_error(400, "MissingField");
    assert_eq!(app.snapshot().await, before);
}

on_both_backends!(
    groups_form_a_tree_rooted_at_global,
    bad_groups_are_refused_and_change_nothing
);

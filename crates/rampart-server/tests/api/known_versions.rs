//! The poll's `known_versions`: the benchmark versions whose rule texts the server holds for the
//! account, told along with activities so that agents can send the `TestResult` alone.

use serde_json::{json, Value};

use crate::helpers::{fresh_results, spawn_app, AgentId, Backend, TestApp};
use crate::on_both_backends;

/// The whole answer of a poll.
async fn poll(app: &TestApp, agent: &AgentId) -> Value {
    let answer = app
        .as_agent(agent, reqwest::Method::GET, "/agent/v1/activities", None)
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body
}

async fn the_poll_names_the_versions_the_server_holds_once_a_whole_file_brought_them(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let agents = [
        app.register("one", &[], "global").await,
        app.register("two", &[], "global").await,
    ];
    let p = app
        .create_profile("Known", json!({"all_computers": true}))
        .await;
    app.post_empty(&format!("/api/v2/security-profiles/{}:execute", p["id"]))
        .await;

    let first = poll(&app, &agents[0]).await;
    assert_eq!(first["activities"].as_array().unwrap().len(), 1, "{first}");
    assert_eq!(first["known_versions"], json!([]), "nothing uploaded yet");
    let work = first["activities"][0]["id"].as_i64().unwrap();
    let whole = app
        .upload(
            &agents[0],
            work,
            fresh_results("u2204-cis_l1_server.results.xml.gz"),
        )
        .await;
    assert_eq!(whole.status, 200, "{:?}", whole.body);

    let second = poll(&app, &agents[1]).await;
    assert_eq!(second["activities"].as_array().unwrap().len(), 1);
    assert_eq!(
        second["known_versions"],
        json!([{
            "benchmark_id": "xccdf_org.ssgproject.content_benchmark_UBUNTU_22-04",
            "version": "0.1.65"
        }])
    );
    // An idle poll costs no query: the list is left empty.
    let idle = poll(&app, &agents[0]).await;
    assert_eq!(idle, json!({"activities": [], "known_versions": []}));
}

async fn the_openapi_document_describes_known_versions(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc = app.get("/api/v2/openapi.json").await.body;
    let schemas = &doc["components"]["schemas"];
    let field = &schemas["WorkList"]["properties"]["known_versions"];
    assert!(
        field["description"]
            .as_str()
            .is_some_and(|d| d.contains("TestResult")),
        "{field:#}"
    );
    let known = &schemas["KnownVersion"]["properties"];
    for name in ["benchmark_id", "version"] {
        assert!(known[name]["description"].is_string(), "{known:#}");
    }
}

on_both_backends!(
    the_poll_names_the_versions_the_server_holds_once_a_whole_file_brought_them,
    the_openapi_document_describes_known_versions,
);

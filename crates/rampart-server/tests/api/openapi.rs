//! The OpenAPI document: generated from the code, and every path it lists is served.

use serde_json::Value;

use crate::helpers::{spawn_app, Backend};
use crate::on_both_backends;

async fn the_document_lists_every_endpoint_and_each_is_served(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc = app.get("/api/v2/openapi.json").await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc.body["paths"].as_object().unwrap();
    let mut listed: Vec<String> = Vec::new();
    let mut operation_ids: Vec<String> = Vec::new();
    for (path, methods) in paths {
        for (method, operation) in methods.as_object().unwrap() {
            listed.push(format!("{} {path}", method.to_uppercase()));
            operation_ids.push(operation["operationId"].as_str().unwrap().to_owned());
        }
    }
    let unique: std::collections::BTreeSet<&String> = operation_ids.iter().collect();
    assert_eq!(
        unique.len(),
        operation_ids.len(),
        "operationIds are unique: {operation_ids:?}"
    );
    listed.sort();
    assert_eq!(
        listed,
        [
            "DELETE /api/v2/computers/{id}",
            "GET /agent/v1/activities",
            "GET /agent/v1/me",
            "GET /api/v2/access-groups",
            "GET /api/v2/activities",
            "GET /api/v2/activities/{id}",
            "GET /api/v2/computers",
            "GET /api/v2/computers/{id}",
            "GET /api/v2/security-profiles",
            "GET /api/v2/security-profiles/blob",
            "GET /api/v2/security-profiles/{id}",
            "GET /api/v2/security-profiles/{id}/report",
            "GET /api/v2/tags",
            "PATCH /api/v2/computers/{id}",
            "PATCH /api/v2/security-profiles/{id}",
            "POST /agent/v1/activities/{id}/outcome",
            "POST /agent/v1/activities/{id}/results",
            "POST /agent/v1/register",
            "POST /api/v2/access-groups",
            "POST /api/v2/login",
            "POST /api/v2/security-profiles",
            "POST /api/v2/security-profiles/{id}:archive",
            "POST /api/v2/security-profiles/{id}:execute",
        ]
    );
    // Each documented route exists: with a token it is never "no such endpoint" or 405.
    app.create_profile("Doc", serde_json::json!({})).await;
    for entry in &listed {
        let (method, path) = entry.split_once(' ').unwrap();
        let path = path.replace("{id}", "1");
        let answer = app
            .send(
                method.parse().unwrap(),
                &path,
                Some(&app.token),
                Some(serde_json::json!({})),
            )
            .await;
        assert!(
            ![404, 405].contains(&answer.status) || answer.body["message"] != "no such endpoint",
            "{entry}: {answer:?}"
        );
        assert_ne!(answer.status, 405, "{entry}");
        assert_ne!(answer.status, 500, "{entry}");
    }
}

async fn profile_fields_are_documented_with_their_types(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc = app.get("/api/v2/openapi.json").await.body;
    let profile = &doc["components"]["schemas"]["SecurityProfile"];
    let properties = profile["properties"].as_object().unwrap();
    assert_eq!(properties.len(), 20);
    assert_eq!(profile["properties"]["id"]["type"], "integer");
    assert_eq!(profile["properties"]["tags"]["type"], "array");
    assert!(profile["properties"]["name"]["description"]
        .as_str()
        .unwrap()
        .contains("slug"));
    let create = &doc["components"]["schemas"]["CreateProfile"];
    let mut required: Vec<&str> = create["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort();
    // `benchmark` may come from `tailoring_file` instead.
    assert_eq!(required, ["mode", "schedule", "start_date", "title"]);
    assert!(create["properties"]["benchmark"]["description"]
        .as_str()
        .unwrap()
        .contains("tailoring_file"));
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let error: &Value = &doc["components"]["schemas"]["ErrorBody"];
    assert!(error["properties"]["error"].is_object() && error["properties"]["message"].is_object());
}

on_both_backends!(
    the_document_lists_every_endpoint_and_each_is_served,
    profile_fields_are_documented_with_their_types,
);

//! Uploads built to cost the server: a gzip bomb and a flood of namespace declarations are
//! refused with a clear 400 before they cost much parsing, store nothing, and leave the activity
//! open for the real file.

use std::io::Write;

use serde_json::{json, Value};

use crate::helpers::{fresh_results, spawn_app, Backend, TestApp};
use crate::on_both_backends;

const THIN: &str = "u2204-cis_l1_server.testresult-only.xml";

async fn last_run(app: &TestApp, profile: &Value) -> Value {
    let answer = app
        .get(&format!("/api/v2/security-profiles/{}", profile["id"]))
        .await;
    answer.body["last_run_results"].clone()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

async fn a_bomb_and_a_namespace_flood_are_refused_and_the_real_file_still_taken(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = app.register("one", &[], "global").await;
    let p = app
        .create_profile("Hostile", json!({"all_computers": true}))
        .await;
    app.post_empty(&format!("/api/v2/security-profiles/{}:execute", p["id"]))
        .await;
    let work = app.poll(&agent).await[0]["id"].as_i64().unwrap();
    let before = last_run(&app, &p).await;
    assert_eq!(before["in_progress"], 1, "{before}");
    let thin = String::from_utf8(fresh_results(THIN)).unwrap();

    // 68 MB of empty elements in the skipped target facts: about 100 KB of gzip.
    let filler = "<a/>".repeat(17_000_000);
    let bomb = gzip(
        thin.replacen("<target-facts>", &format!("<target-facts>{filler}"), 1)
            .as_bytes(),
    );
    drop(filler);
    assert!(
        bomb.len() < 1024 * 1024,
        "a small upload: {} bytes",
        bomb.len()
    );
    let message = app
        .upload(&agent, work, bomb)
        .await
        .assert_error(400, "InvalidResults");
    assert!(message.contains("too large once decompressed"), "{message}");
    assert_eq!(last_run(&app, &p).await, before, "nothing stored");

    // 100,000 namespace declarations on the root: refused at the 65th, not parsed to the end.
    let declarations: String = (0..100_000)
        .map(|i| format!(" xmlns:a{i}=\"urn:x\""))
        .collect();
    let flood = thin.replacen("<TestResult ", &format!("<TestResult{declarations} "), 1);
    let message = app
        .upload(&agent, work, gzip(flood.as_bytes()))
        .await
        .assert_error(400, "InvalidResults");
    assert!(
        message.contains("namespace declarations on one tag"),
        "{message}"
    );
    assert_eq!(last_run(&app, &p).await, before, "nothing stored");

    // The activity is still open: the real file is taken.
    let accepted = app
        .upload(
            &agent,
            work,
            fresh_results("u2204-cis_l1_server.results.xml.gz"),
        )
        .await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    let after = last_run(&app, &p).await;
    assert_eq!(
        (after["failing"].as_i64(), after["in_progress"].as_i64()),
        (Some(1), Some(0)),
        "{after}"
    );
}

on_both_backends!(a_bomb_and_a_namespace_flood_are_refused_and_the_real_file_still_taken);

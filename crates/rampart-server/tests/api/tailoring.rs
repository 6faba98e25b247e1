//! Tailoring files over HTTP: the real fixtures accepted and served back byte for byte, the
//! benchmark taken from `extends`, broken files refused without a trace, the file handed to the
//! agents with each audit (and only results of the tailored profile taken back), and `blob`
//! serving it to its own account only.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    email, fixtures, fresh_results, spawn_app, spawn_app_with, valid_profile, AgentId, Backend,
    TestApp, PASSWORD,
};
use crate::on_both_backends;

const PROFILES: &str = "/api/v2/security-profiles";

/// The `autotailor` fixture, pretty-printed, and the hand-written `refine-value` one.
const PRETTY: &str = "tailoring-ubuntu2204-cis_l1_server.pretty.xml";
const REFINE: &str = "tailoring-ubuntu2204-cis_l1_server-refine.xml";

/// The profile both fixtures extend, and the tailored profiles they define.
const CIS_L1: &str = "xccdf_org.ssgproject.content_profile_cis_level1_server";
const PRETTY_PROFILE: &str = "xccdf_org.ssgproject.content_profile_acme_cis_level1_server";
const REFINE_PROFILE: &str = "xccdf_com.example_profile_cis_level1_server_fleet";

/// The Ubuntu 22.04 CIS level 1 results, which audit the untailored profile.
const U2204: &str = "u2204-cis_l1_server.results.xml.gz";

/// A tailoring file from the fixtures, as its text.
fn tailoring(name: &str) -> String {
    std::fs::read_to_string(fixtures().join("tailoring").join(name)).expect("fixture exists")
}

/// A valid create body carrying `text` as its tailoring file and no `benchmark`.
fn tailored_profile(title: &str, text: &str) -> Value {
    let mut body = valid_profile(title);
    body.as_object_mut().unwrap().remove("benchmark");
    body["tailoring_file"] = json!(text);
    body
}

/// Creates a profile from `tailored_profile(title, text)` merged with `overrides`; asserts 200.
async fn create_tailored(app: &TestApp, title: &str, text: &str, overrides: Value) -> Value {
    let mut body = tailored_profile(title, text);
    for (k, v) in overrides.as_object().unwrap() {
        body[k] = v.clone();
    }
    let answer = app.post(PROFILES, body).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body
}

/// How many profiles the account lists.
async fn profile_count(app: &TestApp) -> i64 {
    let list = app.get(PROFILES).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    list.body["count"].as_i64().unwrap()
}

/// `GET <base>/blob?path=<name>` with `token` and `accept`: status, content type, raw bytes.
async fn blob(
    app: &TestApp,
    base: &str,
    name: &str,
    token: &str,
    accept: Option<&str>,
) -> (u16, String, Vec<u8>) {
    let mut request = app
        .client
        .get(app.url(&format!("{base}/blob")))
        .query(&[("path", name)])
        .bearer_auth(token);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.expect("request reaches the server");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        status,
        content_type,
        response.bytes().await.unwrap().to_vec(),
    )
}

/// `results` with the TestResult's `<profile idref="…"/>` naming `profile` instead; the
/// Benchmark part before the TestResult is left as it is.
fn audited_as(results: Vec<u8>, profile: &str) -> Vec<u8> {
    let text = String::from_utf8(results).expect("results are UTF-8");
    let at = text.find("<TestResult").expect("the file has a TestResult");
    let (benchmark, test_result) = text.split_at(at);
    let old = format!(r#"<profile idref="{CIS_L1}""#);
    assert_eq!(
        test_result.matches(&old).count(),
        1,
        "the TestResult names the profile once"
    );
    let new = format!(r#"<profile idref="{profile}""#);
    format!("{benchmark}{}", test_result.replace(&old, &new)).into_bytes()
}

async fn both_real_tailoring_files_are_accepted_and_served_back_byte_for_byte(backend: Backend) {
    let app = spawn_app(backend).await;
    // The pretty fixture as a Windows editor would save it (line ends must survive), and with a
    // byte order mark and a title beyond ASCII (so must every byte of those).
    let crlf = tailoring(PRETTY).replace('\n', "\r\n");
    let unicode = format!(
        "\u{feff}{}",
        tailoring(PRETTY).replace("ACME CIS L1 Server", "Lumon — Ærø CIS L1 ✓ 検査")
    );
    for (what, text) in [
        ("pretty", tailoring(PRETTY)),
        ("refine", tailoring(REFINE)),
        ("CRLF", crlf),
        ("BOM and Unicode", unicode),
    ] {
        let p = create_tailored(&app, what, &text, json!({})).await;
        assert_eq!(
            p["benchmark"], "cis_level1_server",
            "{what}: taken from extends"
        );
        let uri = p["tailoring_file_uri"].as_str().expect("a tailoring uri");
        let created: chrono::DateTime<chrono::Utc> =
            p["creation_time"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            uri,
            format!(
                "Landscape_security_profile_tailoring_file_ID{}_{}",
                p["id"],
                created.format("%Y%m%d%H%M%S")
            ),
            "{what}"
        );
        let read = app.get(&format!("{PROFILES}/{}", p["id"])).await;
        assert_eq!(read.body, p, "{what}: what was answered is what is stored");

        let (status, content_type, bytes) = blob(&app, PROFILES, uri, &app.token, None).await;
        assert_eq!(status, 200, "{what}: {}", String::from_utf8_lossy(&bytes));
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        let served: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(served, json!({"file_content": text}), "{what}");
        for accept in ["application/xml", "application/octet-stream"] {
            let (status, content_type, bytes) =
                blob(&app, PROFILES, uri, &app.token, Some(accept)).await;
            assert_eq!(status, 200, "{what} as {accept}");
            assert_eq!(content_type, accept, "{what}");
            assert!(
                bytes == text.as_bytes(),
                "{what} as {accept}: the bytes differ from those sent (declaration, white \
                 space and line ends included): {:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
    let plain = app.create_profile("Untailored", json!({})).await;
    assert_eq!(plain["tailoring_file_uri"], Value::Null);
    assert_eq!(profile_count(&app).await, 5);
}

async fn a_benchmark_given_with_a_tailoring_file_is_ignored_unless_a_version_of_it(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let text = tailoring(PRETTY);
    // The reference: "If provided, the benchmark parameter is ignored" — except that a versioned
    // name of the very benchmark the file extends is kept, as `usg` understands it.
    for given in ["cis_level1_server", "cis_level1_server-v2.0.0"] {
        let p = create_tailored(&app, given, &text, json!({"benchmark": given})).await;
        assert_eq!(p["benchmark"], given, "kept as given");
        assert!(p["tailoring_file_uri"].is_string());
    }
    for given in ["disa_stig", "cis_level2_server", "cis_level9_server"] {
        let p = create_tailored(&app, given, &text, json!({"benchmark": given})).await;
        assert_eq!(
            p["benchmark"], "cis_level1_server",
            "`{given}` is ignored: the file extends {CIS_L1}"
        );
    }

    let before = app.snapshot().await;
    let count = profile_count(&app).await;
    for absent in [json!({}), json!({"tailoring_file": null})] {
        let mut body = valid_profile("Nothing to audit");
        body.as_object_mut().unwrap().remove("benchmark");
        for (k, v) in absent.as_object().unwrap() {
            body[k] = v.clone();
        }
        let message = app
            .post(PROFILES, body)
            .await
            .assert_error(400, "MissingField");
        assert!(message.contains("benchmark"), "{message}");
    }
    assert_eq!(
        app.snapshot().await,
        before,
        "no refused request created anything"
    );
    assert_eq!(profile_count(&app).await, count);
}

async fn broken_tailoring_files_are_refused_naming_the_field_and_the_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_profile("Already there", json!({})).await;
    let good = tailoring(PRETTY);
    let profile_start = good.find("  <xccdf-1.2:Profile").unwrap();
    let profile_end = good.find("</xccdf-1.2:Profile>\n").unwrap() + "</xccdf-1.2:Profile>\n".len();
    let profile = &good[profile_start..profile_end];
    let extends = format!(r#" extends="{CIS_L1}""#);
    assert!(good.contains(&extends));
    let declaration_end = good.find("?>\n").unwrap() + 3;
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "an XCCDF Benchmark root",
            json!(good.replace("xccdf-1.2:Tailoring", "xccdf-1.2:Benchmark")),
            vec!["root element", "`Benchmark`"],
        ),
        (
            "a Tailoring in another namespace",
            json!(good.replace(
                "http://checklists.nist.gov/xccdf/1.2",
                "http://example.com/not-xccdf"
            )),
            vec!["root element", "http://example.com/not-xccdf"],
        ),
        (
            "no Profile",
            json!(good.replace(profile, "")),
            vec!["exactly one", "`Profile`", "holds 0"],
        ),
        (
            "two Profiles",
            json!(good.replace(profile, &profile.repeat(2))),
            vec!["exactly one", "`Profile`", "holds 2"],
        ),
        (
            "a Profile without extends",
            json!(good.replace(&extends, "")),
            vec!["`extends`"],
        ),
        (
            "a DTD",
            json!(format!(
                "{}<!DOCTYPE xccdf-1.2:Tailoring [<!ENTITY acme \"ACME\">]>\n{}",
                &good[..declaration_end],
                &good[declaration_end..]
            )),
            vec!["DOCTYPE"],
        ),
        (
            "an undefined entity",
            json!(good.replace("ACME CIS L1", "&acme; CIS L1")),
            vec!["not well-formed XML", "&acme;"],
        ),
        (
            "not XML at all",
            json!("usg audit cis_level1_server"),
            vec!["not well-formed XML"],
        ),
        ("an empty text", json!(""), vec!["not well-formed XML"]),
        (
            "the file cut in half",
            json!(&good[..good.len() / 2]),
            vec!["not well-formed XML"],
        ),
        (
            "an unknown benchmark in extends",
            json!(good.replace(CIS_L1, "xccdf_org.ssgproject.content_profile_standard")),
            vec!["unknown benchmark", "`standard`"],
        ),
        ("a number", json!(42), vec!["string"]),
        ("a list", json!([good.clone()]), vec!["string"]),
    ];
    let before = app.snapshot().await;
    let count = profile_count(&app).await;
    for (what, file, reasons) in cases {
        let mut body = tailored_profile("Broken", "");
        body["tailoring_file"] = file;
        let message = app
            .post(PROFILES, body)
            .await
            .assert_error(400, "InvalidField");
        assert!(
            message.contains("tailoring_file"),
            "{what}: the message names the field: {message}"
        );
        for reason in reasons {
            assert!(
                message.contains(reason),
                "{what}: the message should say {reason:?}: {message}"
            );
        }
        assert_eq!(app.snapshot().await, before, "{what} created something");
    }
    assert_eq!(profile_count(&app).await, count);
}

async fn a_tailoring_file_over_five_mebibytes_is_refused_as_too_large(backend: Backend) {
    let app = spawn_app(backend).await;
    const LIMIT: usize = 5 * 1024 * 1024;
    // The real file padded with a comment after its root, which XML allows, to an exact size.
    let padded = |size: usize| {
        let good = tailoring(PRETTY);
        let filler = size - good.len() - "<!---->".len();
        format!("{good}<!--{}-->", "x".repeat(filler))
    };
    let before = app.snapshot().await;
    let too_large = padded(LIMIT + 1);
    assert_eq!(too_large.len(), LIMIT + 1);
    let message = app
        .post(PROFILES, tailored_profile("Too large", &too_large))
        .await
        .assert_error(413, "PayloadTooLarge");
    assert!(
        message.contains("tailoring_file") && message.contains(&LIMIT.to_string()),
        "names the field and the limit, not the body size: {message}"
    );
    assert_eq!(app.snapshot().await, before, "nothing was created");
    assert_eq!(profile_count(&app).await, 0);

    let at_limit = padded(LIMIT);
    let p = create_tailored(&app, "At the limit", &at_limit, json!({})).await;
    let uri = p["tailoring_file_uri"].as_str().unwrap();
    let (status, _, bytes) = blob(&app, PROFILES, uri, &app.token, Some("application/xml")).await;
    assert_eq!(status, 200);
    assert!(bytes == at_limit.as_bytes(), "5 MiB exactly is kept whole");
}

async fn a_tailored_run_hands_the_agent_its_file_and_takes_only_tailored_results(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = app.register("one", &[], "global").await;
    let text = tailoring(PRETTY);
    let p = create_tailored(
        &app,
        "Tailored now",
        &text,
        json!({"start_date": "2025-01-06T09:00:00Z", "all_computers": true}),
    )
    .await;
    assert_eq!(
        p["last_run_results"]["not_started"], 1,
        "the first run started at creation: {p:?}"
    );
    let work = app.poll(&agent).await;
    assert_eq!(work.len(), 1, "{work:?}");
    assert_eq!(work[0]["action"], "audit");
    assert_eq!(work[0]["benchmark"], "cis_level1_server");
    assert_eq!(work[0]["xccdf_profile"], PRETTY_PROFILE);
    assert!(
        work[0]["tailoring_file"].as_str() == Some(text.as_str()),
        "the agent gets the file byte for byte: {:?}",
        work[0]["tailoring_file"]
    );
    let id = work[0]["id"].as_i64().unwrap();

    let state = || async {
        (
            app.get(&format!("{PROFILES}/{}", p["id"])).await.body["last_run_results"].clone(),
            app.get("/api/v2/activities").await.body,
        )
    };
    let before = state().await;
    assert_eq!(before.0["in_progress"], 1, "{:?}", before.0);
    let message = app
        .upload(&agent, id, fresh_results(U2204))
        .await
        .assert_error(400, "InvalidResults");
    assert!(
        message.contains(CIS_L1) && message.contains(PRETTY_PROFILE),
        "says which profile was audited and which was asked for: {message}"
    );
    assert_eq!(
        state().await,
        before,
        "the untailored results changed something"
    );
    let still_open = app.poll(&agent).await;
    assert_eq!(
        still_open
            .iter()
            .map(|w| w["id"].as_i64())
            .collect::<Vec<_>>(),
        [Some(id)],
        "the activity is still open"
    );

    let accepted = app
        .upload(&agent, id, audited_as(fresh_results(U2204), PRETTY_PROFILE))
        .await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    assert_eq!(accepted.body["verdict"], "fail");
    assert_eq!(accepted.body["passing_rules"], 52);
    assert_eq!(accepted.body["failing_rules"], 31);
    let counts = state().await.0;
    assert_eq!(
        (
            counts["failing"].clone(),
            counts["passing"].clone(),
            counts["in_progress"].clone(),
            counts["not_started"].clone()
        ),
        (json!(1), json!(0), json!(0), json!(0)),
        "{counts}"
    );
    assert_eq!(counts["pass_rate"], 0);
    assert!(app.poll(&agent).await.is_empty(), "nothing left to do");
}

async fn each_profile_hands_out_its_own_tailoring_file_and_an_untailored_one_none(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let agent = app.register("one", &[], "global").await;
    let pretty = tailoring(PRETTY);
    let refine = tailoring(REFINE);
    let profiles = [
        create_tailored(&app, "Pretty", &pretty, json!({"all_computers": true})).await,
        create_tailored(&app, "Refine", &refine, json!({"all_computers": true})).await,
        app.create_profile("Plain", json!({"all_computers": true}))
            .await,
    ];
    assert!(
        app.poll(&agent).await.is_empty(),
        "nothing before :execute (the start dates are a year ahead)"
    );
    for p in &profiles {
        let run = app
            .post_empty(&format!("{PROFILES}/{}:execute", p["id"]))
            .await;
        assert_eq!(run.status, 200, "{:?}", run.body);
    }
    let mut handed: Vec<(String, Value)> = app
        .poll(&agent)
        .await
        .into_iter()
        .map(|w| {
            assert_eq!(w["benchmark"], "cis_level1_server");
            (
                w["xccdf_profile"].as_str().unwrap().to_owned(),
                w["tailoring_file"].clone(),
            )
        })
        .collect();
    handed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = vec![
        (PRETTY_PROFILE.to_owned(), json!(pretty)),
        (REFINE_PROFILE.to_owned(), json!(refine)),
        (CIS_L1.to_owned(), Value::Null),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(handed, expected);
}

async fn blob_serves_a_tailoring_file_through_the_alias_and_only_to_its_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let text = tailoring(REFINE);
    let p = create_tailored(&app, "Shared", &text, json!({})).await;
    let uri = p["tailoring_file_uri"].as_str().unwrap().to_owned();
    const ALIAS: &str = "/api/v2/usg-profiles";

    let (status, _, json_bytes) = blob(&app, ALIAS, &uri, &app.token, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&json_bytes).unwrap(),
        json!({"file_content": text})
    );
    let (status, content_type, raw) =
        blob(&app, ALIAS, &uri, &app.token, Some("application/xml")).await;
    assert_eq!((status, content_type.as_str()), (200, "application/xml"));
    assert!(raw == text.as_bytes(), "the alias serves the same bytes");

    app.add_user(&email("helly"), "Helly R", "other-account")
        .await;
    let stranger = app.login(&email("helly"), PASSWORD).await;
    for base in [PROFILES, ALIAS] {
        for accept in [None, Some("application/xml")] {
            let (status, _, body) = blob(&app, base, &uri, &stranger, accept).await;
            assert_eq!(status, 404, "{base} {accept:?}: another account's file");
            let body = String::from_utf8_lossy(&body);
            assert!(
                !body.contains("Tailoring"),
                "nothing of the file leaks: {body}"
            );
            assert_eq!(
                serde_json::from_str::<Value>(&body).unwrap()["error"],
                "NotFound"
            );
        }
    }

    for path in [
        format!("../{uri}"),
        format!("{uri}/.."),
        format!("x/../{uri}"),
        format!("{uri}/"),
        format!("/{uri}"),
        format!("..{uri}"),
        format!(".\\{uri}"),
        format!("{uri}_"),
        "..".to_owned(),
    ] {
        for base in [PROFILES, ALIAS] {
            let (status, _, body) = blob(&app, base, &path, &app.token, None).await;
            assert_eq!(status, 404, "{base} path={path}");
            assert_eq!(
                serde_json::from_slice::<Value>(&body).unwrap()["error"],
                "NotFound",
                "{path}"
            );
        }
    }
    let anonymous = app
        .send(Method::GET, &format!("{ALIAS}/blob?path={uri}"), None, None)
        .await;
    anonymous.assert_error(401, "Unauthorized");
}

async fn a_tailored_fix_and_the_audit_after_it_both_carry_the_file(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.scheduler_interval_seconds = 1).await;
    let text = tailoring(REFINE);
    let carries_the_file = |work: &Value, action: &str| {
        assert_eq!(work["action"], action, "{work:?}");
        assert_eq!(work["xccdf_profile"], REFINE_PROFILE, "{action}");
        assert_eq!(
            work["tailoring_file"],
            json!(text),
            "{action} needs the file"
        );
    };

    // fix-audit: one activity, usg fixes then audits.
    let once = app.register("once", &["once"], "global").await;
    let p = create_tailored(
        &app,
        "Fix and audit",
        &text,
        json!({"tags": ["once"], "mode": "fix-audit"}),
    )
    .await;
    execute(&app, &p).await;
    let work = app.poll(&once).await;
    assert_eq!(work.len(), 1, "{work:?}");
    carries_the_file(&work[0], "fix-audit");
    let done = app
        .upload(
            &once,
            work[0]["id"].as_i64().unwrap(),
            audited_as(fresh_results(U2204), REFINE_PROFILE),
        )
        .await;
    assert_eq!(done.status, 200, "{:?}", done.body);

    // fix-restart-audit: the fix and the audit after the restart are separate activities.
    let twice = app.register("twice", &["twice"], "global").await;
    let p = create_tailored(
        &app,
        "Fix restart audit",
        &text,
        json!({"tags": ["twice"], "mode": "fix-restart-audit", "restart_deliver_delay": 0}),
    )
    .await;
    execute(&app, &p).await;
    let fix = app.poll(&twice).await;
    assert_eq!(fix.len(), 1, "{fix:?}");
    carries_the_file(&fix[0], "fix");
    let id = fix[0]["id"].as_i64().unwrap();
    let answered = app.outcome(&twice, id, "succeeded", "fixed").await;
    assert_eq!(answered.status, 200, "{:?}", answered.body);
    let restart = wait_for_work(&app, &twice).await;
    assert_eq!(restart["action"], "restart");
    let id = restart["id"].as_i64().unwrap();
    let answered = app.outcome(&twice, id, "succeeded", "back").await;
    assert_eq!(answered.status, 200, "{:?}", answered.body);
    let audit = app.poll(&twice).await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    carries_the_file(&audit[0], "audit");
    let id = audit[0]["id"].as_i64().unwrap();
    app.upload(&twice, id, fresh_results(U2204))
        .await
        .assert_error(400, "InvalidResults");
    let done = app
        .upload(&twice, id, audited_as(fresh_results(U2204), REFINE_PROFILE))
        .await;
    assert_eq!(done.status, 200, "{:?}", done.body);
}

async fn execute(app: &TestApp, profile: &Value) {
    let run = app
        .post_empty(&format!("{PROFILES}/{}:execute", profile["id"]))
        .await;
    assert_eq!(run.status, 200, "{:?}", run.body);
}

/// The agent's first piece of work, waiting up to 10 s for the scheduler to release it.
async fn wait_for_work(app: &TestApp, agent: &AgentId) -> Value {
    for _ in 0..50 {
        if let Some(first) = app.poll(agent).await.into_iter().next() {
            return first;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("no work reached the agent within 10 s");
}

async fn a_tailoring_file_cannot_be_replaced_or_added_later(backend: Backend) {
    let app = spawn_app(backend).await;
    let text = tailoring(PRETTY);
    let tailored = create_tailored(&app, "Tailored", &text, json!({})).await;
    let plain = app.create_profile("Plain", json!({})).await;
    let before = app.snapshot().await;
    for p in [&tailored, &plain] {
        for field in ["tailoring_file", "tailoring_file_uri"] {
            let message = app
                .patch(
                    &format!("{PROFILES}/{}", p["id"]),
                    json!({ field: tailoring(REFINE) }),
                )
                .await
                .assert_error(400, "NotEditable");
            assert!(message.contains(field), "{message}");
        }
    }
    assert_eq!(app.snapshot().await, before, "nothing changed");
    let uri = tailored["tailoring_file_uri"].as_str().unwrap();
    let (_, _, bytes) = blob(&app, PROFILES, uri, &app.token, Some("application/xml")).await;
    assert!(bytes == text.as_bytes(), "the first file is still served");
}

on_both_backends!(
    both_real_tailoring_files_are_accepted_and_served_back_byte_for_byte,
    a_benchmark_given_with_a_tailoring_file_is_ignored_unless_a_version_of_it,
    broken_tailoring_files_are_refused_naming_the_field_and_the_reason,
    a_tailoring_file_over_five_mebibytes_is_refused_as_too_large,
    a_tailored_run_hands_the_agent_its_file_and_takes_only_tailored_results,
    each_profile_hands_out_its_own_tailoring_file_and_an_untailored_one_none,
    blob_serves_a_tailoring_file_through_the_alias_and_only_to_its_account,
    a_tailored_fix_and_the_audit_after_it_both_carry_the_file,
    a_tailoring_file_cannot_be_replaced_or_added_later,
);

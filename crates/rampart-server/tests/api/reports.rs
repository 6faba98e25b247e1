//! Compliance reports over HTTP: the report flow from the first request to the second answer,
//! both CSV kinds compared cell by cell with the fixtures' own content, date ranges, and `blob`.

use serde_json::{json, Value};

use crate::helpers::{email, fixtures, fresh_results, spawn_app, AgentId, Backend, TestApp};
use crate::on_both_backends;

const U2204: &str = "u2204-cis_l1_server.results.xml.gz";
const U2404: &str = "u2404-0.1.76-cis_l1_server.results.xml.gz";
const CIS_L1: &str = "xccdf_org.ssgproject.content_profile_cis_level1_server";

/// A profile covering four machines, run once: `a` answers with the Ubuntu 22.04 results, `b`
/// with the Ubuntu 24.04 ones, `c` fails without results, `d` never polls.
struct Fleet {
    profile: i64,
    machines: [AgentId; 4],
}

async fn fleet(app: &TestApp) -> Fleet {
    let mut machines = Vec::new();
    for name in ["a", "b", "c", "d"] {
        machines.push(app.register(name, &["web"], "global").await);
    }
    let machines: [AgentId; 4] = machines.try_into().unwrap();
    let profile = app
        .create_profile("Reports", json!({"tags": ["web"]}))
        .await["id"]
        .as_i64()
        .unwrap();
    execute(app, profile).await;
    for (agent, file) in machines[..2].iter().zip([U2204, U2404]) {
        let work = app.poll(agent).await[0]["id"].as_i64().unwrap();
        let answer = app.upload(agent, work, fresh_results(file)).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }
    let work = app.poll(&machines[2]).await[0]["id"].as_i64().unwrap();
    app.outcome(&machines[2], work, "failed", "usg is not installed")
        .await;
    Fleet { profile, machines }
}

async fn execute(app: &TestApp, profile: i64) {
    let run = app
        .post_empty(&format!("/api/v2/security-profiles/{profile}:execute"))
        .await;
    assert_eq!(run.status, 200, "{:?}", run.body);
}

/// Today (UTC) as a bare date, and tomorrow's date prefix the fixtures were moved to.
fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

fn tomorrow() -> String {
    (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string()
}

/// Asks for a report and waits for it: answers the file's name.
async fn report(app: &TestApp, profile: i64, query: &str) -> String {
    let path = format!("/api/v2/security-profiles/{profile}/report?{query}");
    let first = app.get(&path).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    if first.body["id"].is_null() {
        return first.body["result_text"].as_str().unwrap().to_owned();
    }
    let done = app.finished(first.body["id"].as_i64().unwrap()).await;
    assert_eq!(done["activity_status"], "succeeded", "{done:?}");
    done["result_text"].as_str().unwrap().to_owned()
}

/// The raw CSV of a report.
async fn download(app: &TestApp, name: &str) -> String {
    let response = app
        .client
        .get(app.url(&format!("/api/v2/security-profiles/blob?path={name}")))
        .bearer_auth(&app.token)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv");
    response.text().await.unwrap()
}

/// Parses RFC 4180 CSV with `\r\n` line ends; asserts no bare `\n` ends a row.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "rows end with CRLF");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\n') => panic!("a bare LF ends a row"),
            (false, c) => field.push(c),
        }
    }
    assert!(
        row.is_empty() && field.is_empty(),
        "the last row ends with CRLF"
    );
    rows
}

/// The selected rule results of a fixture, read straight from its text: (rule id, severity,
/// result), in file order.
fn fixture_results(name: &str) -> Vec<(String, String, String)> {
    let text = String::from_utf8(fresh_results(name)).unwrap();
    let test_result = &text[text.find("<TestResult").unwrap()..];
    let attribute = |tag: &str, name: &str| -> String {
        let tag = format!(" {tag}");
        let start = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        tag[start..start + tag[start..].find('"').unwrap()].to_owned()
    };
    test_result
        .split("<rule-result ")
        .skip(1)
        .map(|item| {
            let tag = &item[..item.find('>').unwrap()];
            let result = &item[item.find("<result>").unwrap() + 8..item.find("</result>").unwrap()];
            (
                attribute(tag, "idref"),
                attribute(tag, "severity"),
                result.to_owned(),
            )
        })
        .filter(|(_, _, result)| result != "notselected")
        .collect()
}

async fn a_report_is_started_once_then_answered_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let fleet = fleet(&app).await;
    let path = format!(
        "/api/v2/security-profiles/{}/report?start_date={}",
        fleet.profile,
        today()
    );
    let first = app.get(&path).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let activity = &first.body;
    assert_eq!(activity["type"], "GenerateUsgReportActivity");
    assert_eq!(
        activity["summary"],
        "Generate security profile compliance report."
    );
    assert_eq!(activity["parent_id"], Value::Null);
    assert_eq!(activity["result_text"], Value::Null);
    assert_eq!(activity["creator"]["email"], email("mark"));
    assert!(matches!(
        activity["activity_status"].as_str(),
        Some("in-progress" | "succeeded")
    ));
    let id = activity["id"].as_i64().unwrap();

    let done = app.finished(id).await;
    let name = format!(
        "Landscape_security_profile_audit_report_ID{}-{}.csv",
        fleet.profile,
        today().replace('-', "")
    );
    assert_eq!(done["activity_status"], "succeeded");
    assert_eq!(done["result_text"], name.as_str());
    assert_eq!(done["result_code"], 0);
    assert_eq!(
        app.get(&format!("/api/v2/security-profiles/{}", fleet.profile))
            .await
            .body["last_run_results"]["report_uri"],
        name.as_str()
    );

    // The same question again: the existing report, and no second activity.
    let again = app.get(&path).await;
    assert_eq!(
        again.body,
        json!({"id": null, "result_text": name, "activity_status": "succeeded", "result_code": 0})
    );
    let reports = app
        .get("/api/v2/activities?type=GenerateUsgReportActivity")
        .await;
    assert_eq!(reports.body["count"], 1, "{:?}", reports.body);

    // A detailed report of the same run is another report.
    let detailed = report(
        &app,
        fleet.profile,
        &format!("start_date={}&detailed=true", today()),
    )
    .await;
    assert_ne!(detailed, name);
    assert!(detailed.ends_with("-detailed.csv"), "{detailed}");
}

async fn the_summary_has_one_row_per_machine_with_its_counts(backend: Backend) {
    let app = spawn_app(backend).await;
    let fleet = fleet(&app).await;
    let name = report(&app, fleet.profile, &format!("start_date={}", today())).await;
    let rows = parse_csv(&download(&app, &name).await);
    let id = |n: usize| fleet.machines[n].id.to_string();
    let day = tomorrow();
    let expected: Vec<Vec<String>> = [
        vec![
            "Instance ID",
            "Hostname",
            "Report Time",
            "Passing Rules",
            "Failing Rules",
            "Other Rules",
            "Pass Rate",
            "Result",
        ]
        .into_iter()
        .map(String::from)
        .collect(),
        // 52 pass, 31 fail, 104 notapplicable + 2 notchecked; 100 × 52 / 83 = 62.65.
        vec![
            id(0),
            "a".into(),
            format!("{day}T12:29:28Z"),
            "52".into(),
            "31".into(),
            "106".into(),
            "63".into(),
            "fail".into(),
        ],
        // 93 pass, 39 fail, 222 notapplicable + 2 notchecked; 100 × 93 / 132 = 70.45.
        vec![
            id(1),
            "b".into(),
            format!("{day}T12:39:11Z"),
            "93".into(),
            "39".into(),
            "224".into(),
            "70".into(),
            "fail".into(),
        ],
        // Failed without results: empty counts.
        vec![
            id(2),
            "c".into(),
            "".into(),
            "".into(),
            "".into(),
            "".into(),
            "".into(),
            "fail".into(),
        ],
        // Never polled.
        vec![
            id(3),
            "d".into(),
            "".into(),
            "".into(),
            "".into(),
            "".into(),
            "".into(),
            "not-started".into(),
        ],
    ]
    .into();
    assert_eq!(rows, expected);
}

async fn the_detailed_report_has_one_row_per_machine_and_selected_rule(backend: Backend) {
    let app = spawn_app(backend).await;
    let fleet = fleet(&app).await;
    let name = report(
        &app,
        fleet.profile,
        &format!("start_date={}&detailed=true", today()),
    )
    .await;
    let rows = parse_csv(&download(&app, &name).await);
    assert_eq!(
        rows[0],
        [
            "Instance ID",
            "Report",
            "Rule ID",
            "Severity",
            "Identifiers and References",
            "Description",
            "Rationale",
            "Pass",
            "Report Time"
        ]
    );
    let day = tomorrow();
    for (n, (file, end)) in [(U2204, "12:29:28"), (U2404, "12:39:11")]
        .into_iter()
        .enumerate()
    {
        let id = fleet.machines[n].id.to_string();
        let mine: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == id).collect();
        let mut got: Vec<(String, String, String)> = mine
            .iter()
            .map(|r| (r[2].clone(), r[3].clone(), r[7].clone()))
            .collect();
        let mut want = fixture_results(file);
        assert_eq!(got.len(), want.len(), "one row per selected rule of {file}");
        got.sort();
        want.sort();
        assert_eq!(
            got, want,
            "rule, severity and result of every row of {file}"
        );
        for row in &mine {
            assert_eq!(row.len(), 9);
            assert_eq!(row[1], CIS_L1);
            assert_eq!(row[8], format!("{day}T{end}Z"));
        }
    }
    assert_eq!(fixture_results(U2204).len(), 189);
    assert_eq!(fixture_results(U2404).len(), 356);
    // One known row in full, texts from the Benchmark part of the file, as plain text.
    let a = fleet.machines[0].id.to_string();
    let pty = rows
        .iter()
        .find(|r| r[0] == a && r[2] == "xccdf_org.ssgproject.content_rule_sudo_add_use_pty")
        .expect("the sudo use_pty rule is reported");
    assert_eq!(
        pty[..],
        [
            a.as_str(),
            CIS_L1,
            "xccdf_org.ssgproject.content_rule_sudo_add_use_pty",
            "medium",
            "BP28(R58); Req-10.2.1.5; 1.3.2",
            // XHTML text: line breaks in the source are spaces, as a browser shows them.
            "The sudo use_pty tag, when specified, will only execute sudo commands from users \
             logged in to a real tty. This should be enabled by making sure that the use_pty tag \
             exists in /etc/sudoers configuration file or any sudo configuration snippets in \
             /etc/sudoers.d/.",
            "Requiring that sudo commands be run in a pseudo-terminal can prevent an attacker \
             from retaining access to the user's terminal after the main program has finished \
             executing.",
            "fail",
            &format!("{day}T12:29:28Z"),
        ]
    );
    // Machines without results are listed once, with their verdict.
    let c = fleet.machines[2].id.to_string();
    let d = fleet.machines[3].id.to_string();
    let empty = |id: &str, verdict: &str| {
        vec![
            id.to_owned(),
            "".into(),
            "".into(),
            "".into(),
            "".into(),
            "".into(),
            "".into(),
            verdict.into(),
            "".into(),
        ]
    };
    assert!(rows.contains(&empty(&c, "fail")));
    assert!(rows.contains(&empty(&d, "not-started")));
    assert_eq!(rows.len(), 1 + 189 + 356 + 2);
}

async fn a_date_range_covers_every_run_in_it_and_start_date_alone_the_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.register("a", &["web"], "global").await;
    app.register("b", &["web"], "global").await;
    let profile = app.create_profile("Ranges", json!({"tags": ["web"]})).await["id"]
        .as_i64()
        .unwrap();
    for _ in 0..3 {
        execute(&app, profile).await;
    }
    // `a` answers the first run only.
    let first = app.poll(&a).await;
    app.upload(&a, first[0]["id"].as_i64().unwrap(), fresh_results(U2204))
        .await;

    let all = report(
        &app,
        profile,
        &format!("start_date={}&end_date={}", today(), today()),
    )
    .await;
    let rows = parse_csv(&download(&app, &all).await);
    assert_eq!(rows.len(), 1 + 3 * 2, "three runs of two machines");
    let results: Vec<&str> = rows[1..].iter().map(|r| r[7].as_str()).collect();
    assert_eq!(results[0], "fail", "the oldest run comes first");
    assert_eq!(
        results.iter().filter(|r| **r == "in-progress").count(),
        2,
        "a's later runs were delivered with the first poll: {results:?}"
    );

    // A bare end date covers its whole day, also when the start has a time of day.
    let same_day = report(
        &app,
        profile,
        &format!("start_date={}T00:00Z&end_date={}", today(), today()),
    )
    .await;
    assert_eq!(same_day, all, "the same three runs: the same report");

    let earliest = report(&app, profile, &format!("start_date={}", today())).await;
    assert_ne!(earliest, all);
    let rows = parse_csv(&download(&app, &earliest).await);
    assert_eq!(rows.len(), 1 + 2, "start_date alone: the earliest run only");
}

async fn bad_report_requests_are_refused_and_start_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let fleet = fleet(&app).await;
    let p = fleet.profile;
    let base = format!("/api/v2/security-profiles/{p}/report");
    let before = app.get("/api/v2/activities").await.body["count"].clone();
    let cases = [
        (String::new(), 400, "InvalidParameter", "start_date"),
        (
            "?start_date=yesterday".into(),
            400,
            "InvalidParameter",
            "start_date",
        ),
        (
            "?start_date=2026-02-30".into(),
            400,
            "InvalidParameter",
            "start_date",
        ),
        (
            format!("?start_date={}&end_date=2020-01-01", today()),
            400,
            "InvalidParameter",
            "end_date",
        ),
        (
            format!("?start_date={}&end_date=soon", today()),
            400,
            "InvalidParameter",
            "end_date",
        ),
        (
            format!("?start_date={}&detailed=yes", today()),
            400,
            "InvalidParameter",
            "detailed",
        ),
        (
            format!("?start_date={}&start_date={}", today(), today()),
            400,
            "InvalidParameter",
            "start_date",
        ),
        // No run in range.
        ("?start_date=2020-01-01".into(), 404, "NotFound", "no run"),
        (
            format!("?start_date={}", tomorrow()),
            404,
            "NotFound",
            "no run",
        ),
    ];
    for (query, status, code, word) in cases {
        let answer = app.get(&format!("{base}{query}")).await;
        let message = answer.assert_error(status, code);
        assert!(message.contains(word), "{query}: {message}");
    }
    for path in [
        format!(
            "/api/v2/security-profiles/999999/report?start_date={}",
            today()
        ),
        format!(
            "/api/v2/security-profiles/0{p}/report?start_date={}",
            today()
        ),
        format!("/api/v2/security-profiles/x/report?start_date={}", today()),
    ] {
        app.get(&path).await.assert_error(404, "NotFound");
    }
    // Another account's user sees no such profile.
    app.add_user(&email("helly"), "Helly R", "other").await;
    let token = app.login(&email("helly"), crate::helpers::PASSWORD).await;
    app.send(
        reqwest::Method::GET,
        &format!("{base}?start_date={}", today()),
        Some(&token),
        None,
    )
    .await
    .assert_error(404, "NotFound");
    assert_eq!(app.get("/api/v2/activities").await.body["count"], before);
}

async fn blob_serves_the_accounts_own_reports_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let fleet = fleet(&app).await;
    let name = report(&app, fleet.profile, &format!("start_date={}", today())).await;
    let raw = download(&app, &name).await;
    assert!(raw.starts_with("Instance ID,Hostname,"));

    for base in ["/api/v2/security-profiles", "/api/v2/usg-profiles"] {
        let json = app.get(&format!("{base}/blob?path={name}")).await;
        assert_eq!(json.status, 200);
        assert_eq!(json.body, json!({"file_content": raw}));
    }
    let octets = app
        .client
        .get(app.url(&format!("/api/v2/security-profiles/blob?path={name}")))
        .bearer_auth(&app.token)
        .header("accept", "application/octet-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(octets.headers()["content-type"], "application/octet-stream");
    assert_eq!(octets.text().await.unwrap(), raw);

    // Not another account's, not a path, not an unknown name, not a raw upload.
    app.add_user(&email("helly"), "Helly R", "other").await;
    let token = app.login(&email("helly"), crate::helpers::PASSWORD).await;
    let theirs = app
        .send(
            reqwest::Method::GET,
            &format!("/api/v2/security-profiles/blob?path={name}"),
            Some(&token),
            None,
        )
        .await;
    theirs.assert_error(404, "NotFound");
    let uploads = fixtures(); // any existing path outside the blob store must not be served
    for path in [
        format!("../{name}"),
        format!("..%2F{name}"),
        "..".into(),
        format!("./{name}"),
        format!("%2F{}", uploads.display()),
        "uploads%2F1.xml.gz".into(),
        "rampart.db".into(),
        "signing_secret".into(),
        "Landscape_security_profile_audit_report_ID999-20250101.csv".into(),
    ] {
        app.get(&format!("/api/v2/security-profiles/blob?path={path}"))
            .await
            .assert_error(404, "NotFound");
    }
    app.get("/api/v2/security-profiles/blob")
        .await
        .assert_error(400, "InvalidParameter");
    app.send(
        reqwest::Method::GET,
        &format!("/api/v2/security-profiles/blob?path={name}"),
        None,
        None,
    )
    .await
    .assert_error(401, "Unauthorized");
}

on_both_backends!(
    a_report_is_started_once_then_answered_at_once,
    the_summary_has_one_row_per_machine_with_its_counts,
    the_detailed_report_has_one_row_per_machine_and_selected_rule,
    a_date_range_covers_every_run_in_it_and_start_date_alone_the_first,
    bad_report_requests_are_refused_and_start_nothing,
    blob_serves_the_accounts_own_reports_only,
);

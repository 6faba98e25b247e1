//! The XCCDF parser on the real OpenSCAP outputs in `shared/fixtures/xccdf`; the expected numbers
//! are the table of `shared/fixtures/README.md`.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use rampart_domain::xccdf::{
    open_maybe_gzip, parse, parse_bytes, RuleResult, RuleText, Severity, Summary, TestResultInfo,
    Visitor, XccdfError, DEFAULT_MAX_BYTES,
};

const U2204_RESULTS: &str = "u2204-cis_l1_server.results.xml.gz";
const U2204_ARF: &str = "u2204-cis_l1_server.arf.xml.gz";
const U2204_THIN: &str = "u2204-cis_l1_server.testresult-only.xml";

struct Expected {
    file: &'static str,
    benchmark_id: &'static str,
    version: &'static str,
    profile: &'static str,
    rule_results: usize,
    pass: usize,
    fail: usize,
    notapplicable: usize,
    notchecked: usize,
    notselected: usize,
    score: f64,
}

const UBUNTU_22_04: &str = "xccdf_org.ssgproject.content_benchmark_UBUNTU_22-04";
const CIS_L1_SERVER: &str = "xccdf_org.ssgproject.content_profile_cis_level1_server";

const FIXTURES: [Expected; 6] = [
    Expected {
        file: U2204_RESULTS,
        benchmark_id: UBUNTU_22_04,
        version: "0.1.65",
        profile: CIS_L1_SERVER,
        rule_results: 592,
        pass: 52,
        fail: 31,
        notapplicable: 104,
        notchecked: 2,
        notselected: 403,
        score: 68.49,
    },
    Expected {
        file: U2204_ARF,
        benchmark_id: UBUNTU_22_04,
        version: "0.1.65",
        profile: CIS_L1_SERVER,
        rule_results: 592,
        pass: 52,
        fail: 31,
        notapplicable: 104,
        notchecked: 2,
        notselected: 403,
        score: 68.49,
    },
    Expected {
        file: U2204_THIN,
        benchmark_id: UBUNTU_22_04,
        version: "0.1.65",
        profile: CIS_L1_SERVER,
        rule_results: 592,
        pass: 52,
        fail: 31,
        notapplicable: 104,
        notchecked: 2,
        notselected: 403,
        score: 68.49,
    },
    Expected {
        file: "u2404-0.1.76-cis_l1_server.results.xml.gz",
        benchmark_id: "xccdf_org.ssgproject.content_benchmark_UBUNTU_24-04",
        version: "0.1.76",
        profile: CIS_L1_SERVER,
        rule_results: 464,
        pass: 93,
        fail: 39,
        notapplicable: 222,
        notchecked: 2,
        notselected: 108,
        score: 88.79,
    },
    Expected {
        file: "d12-standard.results.xml.gz",
        benchmark_id: "xccdf_org.ssgproject.content_benchmark_DEBIAN-12",
        version: "0.1.76",
        profile: "xccdf_org.ssgproject.content_profile_standard",
        rule_results: 591,
        pass: 18,
        fail: 0,
        notapplicable: 26,
        notchecked: 0,
        notselected: 547,
        score: 100.00,
    },
    Expected {
        file: "u2204-cis_l1_server-unfaked-notapplicable.results.xml.gz",
        benchmark_id: UBUNTU_22_04,
        version: "0.1.65",
        profile: CIS_L1_SERVER,
        rule_results: 592,
        pass: 0,
        fail: 0,
        notapplicable: 189,
        notchecked: 0,
        notselected: 403,
        score: 0.00,
    },
];

/// `shared/fixtures` beside the repository (`<repo>/../shared`), else where the workspace has it.
fn fixtures_dir() -> PathBuf {
    let beside = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures"
    ));
    if beside.is_dir() {
        return beside;
    }
    PathBuf::from("/work/shared/fixtures")
}

fn fixture_path(file: &str) -> PathBuf {
    fixtures_dir().join("xccdf").join(file)
}

fn fixture_bytes(file: &str) -> Vec<u8> {
    let path = fixture_path(file);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The fixture, decompressed if it is gzip.
fn decompressed(file: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    open_maybe_gzip(fixture_bytes(file).as_slice(), DEFAULT_MAX_BYTES)
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

#[derive(Default)]
struct Recorder {
    wants_rules: bool,
    benchmarks: Vec<(String, String)>,
    rules: Vec<RuleText>,
    info: Option<TestResultInfo>,
    results: Vec<RuleResult>,
}

impl Visitor for Recorder {
    fn benchmark(&mut self, id: &str, version: &str) -> bool {
        self.benchmarks.push((id.to_owned(), version.to_owned()));
        self.wants_rules
    }

    fn rule(&mut self, rule: RuleText) {
        self.rules.push(rule);
    }

    fn test_result(&mut self, info: &TestResultInfo) {
        assert!(
            self.results.is_empty(),
            "test_result comes before the rule results"
        );
        self.info = Some(info.clone());
    }

    fn rule_result(&mut self, result: RuleResult) {
        self.results.push(result);
    }
}

/// Parses a fixture as the server would: streamed from the file through `open_maybe_gzip`.
fn parse_fixture(file: &str, wants_rules: bool) -> (Summary, Recorder) {
    let mut recorder = Recorder {
        wants_rules,
        ..Recorder::default()
    };
    let input = BufReader::new(File::open(fixture_path(file)).unwrap());
    let summary = parse(open_maybe_gzip(input, DEFAULT_MAX_BYTES), &mut recorder)
        .unwrap_or_else(|error| panic!("{file}: {error}"));
    (summary, recorder)
}

#[test]
fn every_fixture_parses_to_the_counts_in_the_readme() {
    for expected in &FIXTURES {
        let file = expected.file;
        let (summary, recorder) = parse_fixture(file, false);
        let counts = summary.counts;
        assert_eq!(counts.total(), expected.rule_results, "{file}");
        assert_eq!(recorder.results.len(), expected.rule_results, "{file}");
        assert_eq!(counts.pass, expected.pass, "{file}");
        assert_eq!(counts.fail, expected.fail, "{file}");
        assert_eq!(counts.notapplicable, expected.notapplicable, "{file}");
        assert_eq!(counts.notchecked, expected.notchecked, "{file}");
        assert_eq!(counts.notselected, expected.notselected, "{file}");
        assert_eq!(
            counts.error + counts.unknown + counts.informational + counts.fixed,
            0,
            "{file}"
        );
        assert_eq!(summary.benchmark_id, expected.benchmark_id, "{file}");
        assert_eq!(
            summary.benchmark_version.as_deref(),
            Some(expected.version),
            "{file}"
        );
        let score = summary.score.expect("a score");
        assert_eq!(
            format!("{score:.2}"),
            format!("{:.2}", expected.score),
            "{file}"
        );

        let info = recorder.info.expect("test_result was called");
        assert_eq!(info.benchmark_id, expected.benchmark_id, "{file}");
        assert_eq!(info.version.as_deref(), Some(expected.version), "{file}");
        assert_eq!(info.profile_id.as_deref(), Some(expected.profile), "{file}");
        assert_eq!(info.target, "vm", "{file}");
        assert_eq!(info.target_addresses.len(), 5, "{file}");
        assert_eq!(info.score, None, "OpenSCAP writes the score last ({file})");
        let day = Utc.with_ymd_and_hms(2026, 12, 3, 0, 0, 0).unwrap();
        assert_eq!(info.end_time.date_naive(), day.date_naive(), "{file}");
        assert!(info.start_time.unwrap() <= info.end_time, "{file}");
    }
}

#[test]
fn the_u2204_test_result_carries_its_times_and_addresses() {
    let (_, recorder) = parse_fixture(U2204_ARF, false);
    let info = recorder.info.unwrap();
    assert_eq!(
        info.id,
        "xccdf_org.open-scap_testresult_xccdf_org.ssgproject.content_profile_cis_level1_server"
    );
    assert_eq!(
        info.start_time,
        Some(Utc.with_ymd_and_hms(2026, 12, 3, 12, 28, 21).unwrap())
    );
    assert_eq!(
        info.end_time,
        Utc.with_ymd_and_hms(2026, 12, 3, 12, 29, 28).unwrap()
    );
    assert_eq!(
        info.target_addresses,
        [
            "127.0.0.1",
            "192.0.2.2",
            "0:0:0:0:0:0:0:1",
            "fd00:0:0:0:0:0:0:2",
            "fe80:0:0:0:fc:ff:fe00:1"
        ]
    );
    let first = &recorder.results[0];
    assert_eq!(first.weight, Some(1.0));
    assert!(first.time.is_some());
}

#[test]
fn the_arf_the_results_file_and_the_thin_file_give_the_same_rule_results() {
    let outcome = |file| {
        let (_, recorder) = parse_fixture(file, false);
        recorder
            .results
            .into_iter()
            .map(|r| (r.rule_id, r.result, r.severity))
            .collect::<Vec<_>>()
    };
    let results = outcome(U2204_RESULTS);
    assert_eq!(results.len(), 592);
    assert_eq!(outcome(U2204_ARF), results);
    assert_eq!(outcome(U2204_THIN), results);
    assert!(results
        .iter()
        .all(|(id, _, _)| id.starts_with("xccdf_org.ssgproject.content_rule_")));
    let severities = |severity| results.iter().filter(|r| r.2 == severity).count();
    assert_eq!(
        [
            severities(Severity::Unknown),
            severities(Severity::Low),
            severities(Severity::Medium),
            severities(Severity::High)
        ],
        [27, 46, 486, 33]
    );
}

#[test]
fn a_thin_upload_has_no_benchmark_and_no_rule_texts() {
    let (summary, recorder) = parse_fixture(U2204_THIN, true);
    assert!(!summary.had_benchmark);
    assert_eq!(summary.rules_seen, 0);
    assert!(recorder.benchmarks.is_empty());
    assert!(recorder.rules.is_empty());
    assert_eq!(summary.benchmark_id, UBUNTU_22_04);
}

#[test]
fn rule_texts_of_the_u2204_benchmark_are_plain_text() {
    let (summary, recorder) = parse_fixture(U2204_RESULTS, true);
    assert!(summary.had_benchmark);
    assert_eq!(
        recorder.benchmarks,
        [(UBUNTU_22_04.to_owned(), "0.1.65".to_owned())]
    );
    assert_eq!(summary.rules_seen, 592);
    assert_eq!(recorder.rules.len(), 592);
    for rule in &recorder.rules {
        assert!(!rule.title.is_empty(), "{}", rule.id);
        assert!(!rule.description.is_empty(), "{}", rule.id);
        for text in [&rule.title, &rule.description, &rule.rationale] {
            assert_eq!(text.trim(), text.as_str(), "{}", rule.id);
            assert!(!text.contains("  "), "{}: {text:?}", rule.id);
            assert!(!text.contains("\n\n\n"), "{}", rule.id);
            assert!(!text.contains("html:"), "{}", rule.id);
        }
    }
    // No markup is left: the one `<` in a description is the escaped `&lt;remote-server&gt;`.
    let with_angle: Vec<&str> = recorder
        .rules
        .iter()
        .filter(|r| {
            [&r.title, &r.description, &r.rationale]
                .iter()
                .any(|t| t.contains('<'))
        })
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(
        with_angle,
        ["xccdf_org.ssgproject.content_rule_chronyd_specify_remote_server"]
    );
    // Every rule result names a rule of the Benchmark, in the same severities.
    let rules: std::collections::HashMap<&str, &RuleText> =
        recorder.rules.iter().map(|r| (r.id.as_str(), r)).collect();
    for result in &recorder.results {
        assert_eq!(rules[result.rule_id.as_str()].severity, result.severity);
    }

    // As many idents and references as the raw text has elements. These Ubuntu and Debian
    // contents carry no `ident` at all (no CCEs), only references.
    let raw = String::from_utf8(decompressed(U2204_RESULTS)).unwrap();
    let idents: usize = recorder.rules.iter().map(|r| r.identifiers.len()).sum();
    let references: usize = recorder.rules.iter().map(|r| r.references.len()).sum();
    assert_eq!(idents, raw.matches("<ident ").count());
    assert_eq!(idents, 0);
    assert_eq!(references, raw.matches("<reference ").count());
    assert_eq!(references, 25_755);
    // Every reference has text; some have an empty href (`<reference href="">0421</reference>`).
    let all_references = || recorder.rules.iter().flat_map(|r| &r.references);
    assert!(all_references().all(|r| !r.text.is_empty()));
    assert!(all_references().all(|r| r.href.is_empty() || r.href.starts_with("http")));
    let without_href = all_references().filter(|r| r.href.is_empty()).count();
    assert_eq!(without_href, raw.matches(r#"<reference href="">"#).count());
    assert_eq!(without_href, 426);

    let rule = |id: &str| rules[format!("xccdf_org.ssgproject.content_rule_{id}").as_str()];
    let pwhistory = rule("accounts_password_pam_pwhistory_remember");
    assert!(
        pwhistory
            .description
            .contains("parameter is pwhistory_remember or greater"),
        "a sub shows its Value's title: {:?}",
        pwhistory.description
    );
    assert!(pwhistory
        .description
        .contains("\npassword requisite pam_pwhistory.so ...existing_options... remember=pwhistory_remember use_authtok\n"));
    assert!(pwhistory.rationale.is_empty() || !pwhistory.rationale.contains('<'));
    let aide = rule("aide_check_audit_tools");
    assert_eq!(aide.title, "Configure AIDE to Verify the Audit Tools");
    assert!(aide.rationale.contains("activity.\n\nAudit tools include"));
}

#[test]
fn declining_rule_texts_yields_no_rule_calls() {
    for file in [U2204_RESULTS, U2204_ARF] {
        let (summary, recorder) = parse_fixture(file, false);
        assert_eq!(recorder.benchmarks.len(), 1, "{file}");
        assert!(recorder.rules.is_empty(), "{file}");
        assert_eq!(summary.rules_seen, 592, "{file}");
        assert_eq!(recorder.results.len(), 592, "{file}");
    }
}

#[test]
fn the_arf_gives_the_same_rule_texts_as_the_results_file() {
    let (_, from_results) = parse_fixture(U2204_RESULTS, true);
    let (_, from_arf) = parse_fixture(U2204_ARF, true);
    assert_eq!(from_arf.rules, from_results.rules);
}

#[test]
fn parse_bytes_reads_compressed_and_plain_fixtures_alike() {
    let compressed = parse_bytes(&fixture_bytes(U2204_RESULTS), &mut Recorder::default()).unwrap();
    let plain = parse_bytes(&decompressed(U2204_RESULTS), &mut Recorder::default()).unwrap();
    assert_eq!(compressed, plain);
}

#[test]
fn a_fixture_too_large_for_the_limit_is_refused() {
    let compressed = fixture_bytes(U2204_RESULTS);
    let input = open_maybe_gzip(compressed.as_slice(), 1024 * 1024);
    assert_eq!(
        parse(input, &mut Recorder::default()).unwrap_err(),
        XccdfError::TooLarge
    );
}

/// A small deterministic generator, for byte flips (xorshift64*).
struct Random(u64);

impl Random {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % bound
    }
}

#[test]
fn truncated_and_corrupted_fixtures_fail_cleanly() {
    let thin = fixture_bytes(U2204_THIN);
    let root_end = thin
        .windows(b"</TestResult>".len())
        .rposition(|window| window == b"</TestResult>")
        .unwrap()
        + b"</TestResult>".len();
    let mut cuts: Vec<usize> = (0..200).map(|n| n * thin.len() / 200).collect();
    cuts.extend(0..300);
    cuts.extend(root_end - 40..root_end);
    for cut in cuts {
        let result = parse_bytes(&thin[..cut], &mut Recorder::default());
        assert!(result.is_err(), "a cut at byte {cut} must be refused");
    }

    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    for _ in 0..300 {
        let mut corrupted = thin.clone();
        for _ in 0..1 + random.below(8) {
            let at = random.below(corrupted.len());
            corrupted[at] = random.below(256) as u8;
        }
        // Ok or Err, never a panic.
        let _ = parse_bytes(&corrupted, &mut Recorder::default());
    }

    let compressed = fixture_bytes(U2204_RESULTS);
    for n in 1..8 {
        let cut = n * compressed.len() / 8;
        let result = parse_bytes(&compressed[..cut], &mut Recorder::default());
        assert!(result.is_err(), "a gzip cut at byte {cut} must be refused");
    }
    for _ in 0..8 {
        let mut corrupted = compressed.clone();
        let at = 20 + random.below(corrupted.len() - 20);
        corrupted[at] ^= 1 << random.below(8);
        let _ = parse_bytes(&corrupted, &mut Recorder::default());
    }
}

#[test]
#[ignore = "a timing print for benchmarks, not a check; run with --release --ignored --nocapture"]
fn parse_speed_on_the_largest_fixture() {
    const ROUNDS: usize = 20;
    let cases = [
        (U2204_RESULTS, true, "results file, with rule texts"),
        (U2204_RESULTS, false, "results file, without rule texts"),
        (U2204_ARF, true, "ARF, with rule texts"),
        (U2204_ARF, false, "ARF, without rule texts"),
        (U2204_THIN, false, "thin TestResult"),
    ];
    for (file, wants_rules, label) in cases {
        let bytes = decompressed(file);
        let started = Instant::now();
        for _ in 0..ROUNDS {
            let mut recorder = Recorder {
                wants_rules,
                ..Recorder::default()
            };
            let summary = parse(bytes.as_slice(), &mut recorder).unwrap();
            assert_eq!(summary.counts.total(), 592);
        }
        let each = started.elapsed() / ROUNDS as u32;
        let megabytes = bytes.len() as f64 / 1e6;
        println!(
            "{label:34} {megabytes:6.2} MB  {:8.2} ms  {:7.1} MB/s",
            each.as_secs_f64() * 1e3,
            megabytes / each.as_secs_f64()
        );
    }
    let compressed = fixture_bytes(U2204_RESULTS);
    let started = Instant::now();
    for _ in 0..ROUNDS {
        parse_bytes(&compressed, &mut Recorder::default()).unwrap();
    }
    let each = started.elapsed() / ROUNDS as u32;
    println!(
        "{:34} {:6.2} MB  {:8.2} ms  (gzip included)",
        "results file .gz, without rule texts",
        compressed.len() as f64 / 1e6,
        each.as_secs_f64() * 1e3
    );
}

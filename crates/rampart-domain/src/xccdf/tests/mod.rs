//! Hand-made documents for what the real files in `shared/fixtures` never show (they are tested
//! in `tests/xccdf_fixtures.rs`): the rarer result words, texts, ARF; namespaces in
//! `namespaces.rs`, hostile and malformed input in `limits.rs`.

use std::io::Write;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;

use super::*;

mod attributes;
mod limits;
mod namespaces;

#[derive(Debug, Default)]
struct Recorder {
    wants_rules: bool,
    benchmarks: Vec<(String, String)>,
    rules: Vec<RuleText>,
    info: Option<TestResultInfo>,
    results: Vec<RuleResult>,
    /// Rule results received before `test_result`.
    early_results: usize,
}

impl Recorder {
    fn wanting_rules() -> Self {
        Recorder {
            wants_rules: true,
            ..Recorder::default()
        }
    }
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
        assert!(self.info.is_none(), "test_result is called once");
        self.info = Some(info.clone());
    }

    fn rule_result(&mut self, result: RuleResult) {
        if self.info.is_none() {
            self.early_results += 1;
        }
        self.results.push(result);
    }
}

/// Parses `xml` both ways the parser reads, streamed and in memory, which must answer alike.
fn run(xml: &str) -> Result<(Summary, Recorder), XccdfError> {
    let mut streamed = Recorder::wanting_rules();
    let answer = parse(xml.as_bytes(), &mut streamed);
    let mut in_memory = Recorder::wanting_rules();
    assert_eq!(
        parse_in_memory(xml.as_bytes(), &mut in_memory),
        answer,
        "the in-memory parse answers as the streamed one"
    );
    if answer.is_ok() {
        assert_eq!(in_memory.benchmarks, streamed.benchmarks);
        assert_eq!(in_memory.rules, streamed.rules);
        assert_eq!(in_memory.info, streamed.info);
        assert_eq!(in_memory.results, streamed.results);
    }
    answer.map(|summary| (summary, streamed))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A bare TestResult holding `rule_results`.
fn thin(rule_results: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<TestResult xmlns="http://checklists.nist.gov/xccdf/1.2" id="tr1" start-time="2026-12-03T12:28:21+02:00" end-time="2026-12-03T12:29:28+02:00" version="0.1.65">
  <benchmark href="ds.xml" id="xccdf_b"/>
  <profile idref="xccdf_p"/>
  <target>vm</target>
  <target-address>127.0.0.1</target-address>
  <target-address>192.0.2.2</target-address>
  <target-facts><fact name="urn:xccdf:fact:scanner:name" type="string">OpenSCAP</fact></target-facts>
  {rule_results}
  <score system="urn:xccdf:scoring:default" maximum="100.000000">68.489578</score>
</TestResult>
"#
    )
}

fn rule_result(idref: &str, word: &str) -> String {
    format!(
        r#"<rule-result idref="{idref}" role="full" time="2026-12-03T12:29:28+00:00" severity="medium" weight="1.000000"><result>{word}</result></rule-result>"#
    )
}

const RULES_DOC: &str = r#"<?xml version="1.0"?>
<!-- rule texts in nested Groups -->
<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.2" xmlns:html="http://www.w3.org/1999/xhtml" id="xccdf_b" resolved="1">
  <status>draft</status>
  <title>Guide</title>
  <description>About <html:code>this</html:code> guide.</description>
  <version>1.2.3</version>
  <Profile id="xccdf_p"><title>Profile</title><select idref="xccdf_r1" selected="true"/></Profile>
  <Value id="xccdf_v_remember" type="number"><title>remember count</title><value>5</value><value selector="x">6</value></Value>
  <Group id="xccdf_g1">
    <title>Outer</title>
    <Group id="xccdf_g2">
      <title>Inner</title>
      <Rule id="xccdf_r1" selected="true" severity="high">
        <title xml:lang="en-US">Set   <html:code>remember</html:code>
          to a value</title>
        <description>Keep <html:code>remember</html:code> at <sub idref="xccdf_v_remember" use="legacy"/> or more;
unknown: <sub idref="xccdf_v_missing"/>.<html:br/><html:br/>
For example:
<html:pre>password requisite pam_pwhistory.so
    remember=5 use_authtok</html:pre>
<html:ul><html:li>one &amp; <html:i>two</html:i></html:li><html:li>&#x33;&lt;4</html:li></html:ul>
done.</description>
        <reference href="https://example.org/cci">CCI-000200</reference>
        <reference href="https://example.org/empty"/>
        <reference href="https://example.org/dc"><dc:title xmlns:dc="http://purl.org/dc/elements/1.1/">NIST</dc:title><dc:identifier xmlns:dc="http://purl.org/dc/elements/1.1/">SP 800-53</dc:identifier></reference>
        <rationale>Old passwords<html:br/>are weak.</rationale>
        <ident system="https://ncp.nist.gov/cce">CCE-80666-1</ident>
        <ident system="https://ncp.nist.gov/cce">  CCE-80667-9 </ident>
        <check system="http://oval.mitre.org/XMLSchema/oval-definitions-5"><check-content-ref name="oval:x:def:1" href="oval.xml"/></check>
        <fix system="urn:xccdf:fix:script:sh">echo <sub idref="xccdf_v_remember"/> &gt; /etc/x</fix>
      </Rule>
    </Group>
    <Rule id="xccdf_r2"><title>Second</title></Rule>
  </Group>
  <Rule id="xccdf_r3" severity="low"/>
  <TestResult id="tr1" end-time="2026-12-03T10:00:00Z">
    <benchmark id="xccdf_b"/>
    <rule-result idref="xccdf_r1"><result>fail</result></rule-result>
  </TestResult>
</Benchmark>
"#;

#[test]
fn every_result_word_is_read_and_counted() {
    let words = [
        "pass",
        "fail",
        "error",
        "unknown",
        "notapplicable",
        "notchecked",
        "notselected",
        "informational",
        "fixed",
    ];
    let rule_results: String = words
        .iter()
        .enumerate()
        .map(|(n, word)| rule_result(&format!("r{n}"), word))
        .collect();
    let (summary, recorder) = run(&thin(&rule_results)).unwrap();
    let kinds: Vec<ResultKind> = recorder.results.iter().map(|r| r.result).collect();
    assert_eq!(kinds, ResultKind::ALL);
    for kind in ResultKind::ALL {
        assert_eq!(summary.counts.get(kind), 1, "{kind:?}");
    }
    assert_eq!(summary.counts.total(), 9);
    assert_eq!(recorder.results[2].rule_id, "r2");
}

#[test]
fn result_and_severity_words_and_codes_round_trip() {
    for (code, kind) in ResultKind::ALL.into_iter().enumerate() {
        assert_eq!(usize::from(kind.code()), code);
        assert_eq!(ResultKind::from_code(kind.code()), Some(kind));
        assert_eq!(ResultKind::from_word(kind.as_str()), Some(kind));
    }
    assert_eq!(ResultKind::from_code(9), None);
    assert_eq!(ResultKind::Error.as_str(), "error");
    assert_eq!(ResultKind::NotApplicable.as_str(), "notapplicable");
    for (code, severity) in Severity::ALL.into_iter().enumerate() {
        assert_eq!(usize::from(severity.code()), code);
        assert_eq!(Severity::from_code(severity.code()), Some(severity));
        assert_eq!(Severity::from_word(severity.as_str()), Some(severity));
    }
    assert_eq!(Severity::from_code(5), None);
    assert_eq!(Severity::default(), Severity::Unknown);
}

#[test]
fn an_unknown_result_word_is_a_bad_value() {
    let error = run(&thin(&rule_result("r1", "passed"))).unwrap_err();
    assert!(
        matches!(&error, XccdfError::BadValue { value, .. } if value == "passed"),
        "{error:?}"
    );
    assert!(error
        .to_string()
        .contains("`passed` is not a valid rule result"));
}

#[test]
fn a_rule_result_needs_an_idref_and_a_result() {
    let error = run(&thin("<rule-result><result>pass</result></rule-result>")).unwrap_err();
    assert_eq!(
        error,
        XccdfError::MissingAttribute {
            element: "rule-result",
            attribute: "idref"
        }
    );
    let error = run(&thin(r#"<rule-result idref="r"><check/></rule-result>"#)).unwrap_err();
    assert_eq!(
        error,
        XccdfError::MissingElement {
            element: "rule-result",
            child: "result"
        }
    );
    let error = run(&thin(
        r#"<rule-result idref="r" severity="severe"><result>pass</result></rule-result>"#,
    ))
    .unwrap_err();
    assert!(matches!(error, XccdfError::BadValue { .. }), "{error:?}");
}

#[test]
fn the_test_result_is_delivered_before_its_first_rule_result_with_times_in_utc() {
    let (summary, recorder) = run(&thin(
        &(rule_result("r1", "pass") + &rule_result("r2", "fail")),
    ))
    .unwrap();
    assert_eq!(recorder.early_results, 0);
    let info = recorder.info.unwrap();
    assert_eq!(info.id, "tr1");
    assert_eq!(info.benchmark_id, "xccdf_b");
    assert_eq!(info.version.as_deref(), Some("0.1.65"));
    assert_eq!(info.profile_id.as_deref(), Some("xccdf_p"));
    assert_eq!(info.target, "vm");
    assert_eq!(info.target_addresses, ["127.0.0.1", "192.0.2.2"]);
    assert_eq!(
        info.start_time,
        Some(Utc.with_ymd_and_hms(2026, 12, 3, 10, 28, 21).unwrap())
    );
    assert_eq!(
        info.end_time,
        Utc.with_ymd_and_hms(2026, 12, 3, 10, 29, 28).unwrap()
    );
    assert_eq!(info.score, None, "the score comes after the rule results");
    assert_eq!(summary.score, Some(68.489578));
    assert!(!summary.had_benchmark);
    assert_eq!(summary.benchmark_id, "xccdf_b");
    assert_eq!(summary.benchmark_version.as_deref(), Some("0.1.65"));
    assert!(recorder.benchmarks.is_empty() && recorder.rules.is_empty());
    let first = &recorder.results[0];
    assert_eq!(first.severity, Severity::Medium);
    assert_eq!(first.weight, Some(1.0));
    assert_eq!(
        first.time,
        Some(Utc.with_ymd_and_hms(2026, 12, 3, 12, 29, 28).unwrap())
    );
}

#[test]
fn a_test_result_without_rule_results_is_delivered_at_its_end() {
    let (summary, recorder) = run(&thin("")).unwrap();
    let info = recorder.info.unwrap();
    assert_eq!(info.score, Some(68.489578));
    assert_eq!(summary.counts.total(), 0);
}

#[test]
fn a_test_result_needs_an_end_time_and_a_valid_one() {
    let doc = thin("").replace(r#" end-time="2026-12-03T12:29:28+02:00""#, "");
    assert_eq!(
        run(&doc).unwrap_err(),
        XccdfError::MissingAttribute {
            element: "TestResult",
            attribute: "end-time"
        }
    );
    let doc = thin("").replace("2026-12-03T12:29:28+02:00", "yesterday");
    assert!(matches!(
        run(&doc).unwrap_err(),
        XccdfError::BadValue { .. }
    ));
}

#[test]
fn a_bare_test_result_must_name_its_benchmark() {
    let doc = thin("").replace(r#"<benchmark href="ds.xml" id="xccdf_b"/>"#, "");
    assert_eq!(
        run(&doc).unwrap_err(),
        XccdfError::MissingElement {
            element: "TestResult",
            child: "benchmark"
        }
    );
}

#[test]
fn rule_texts_come_out_as_plain_text() {
    let (summary, recorder) = run(RULES_DOC).unwrap();
    assert_eq!(
        recorder.benchmarks,
        [("xccdf_b".to_owned(), "1.2.3".to_owned())]
    );
    assert_eq!(summary.benchmark_version.as_deref(), Some("1.2.3"));
    assert_eq!(summary.rules_seen, 3);
    let ids: Vec<&str> = recorder.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["xccdf_r1", "xccdf_r2", "xccdf_r3"]);

    let rule = &recorder.rules[0];
    assert_eq!(rule.severity, Severity::High);
    assert_eq!(rule.title, "Set remember to a value");
    assert_eq!(
        rule.description,
        "Keep remember at remember count or more; unknown: xccdf_v_missing.\n\n\
         For example:\n\
         password requisite pam_pwhistory.so\n\
         remember=5 use_authtok\n\
         one & two\n\
         3<4\n\
         done."
    );
    assert_eq!(rule.rationale, "Old passwords\nare weak.");
    assert_eq!(
        rule.identifiers,
        [
            Ident {
                system: "https://ncp.nist.gov/cce".into(),
                value: "CCE-80666-1".into()
            },
            Ident {
                system: "https://ncp.nist.gov/cce".into(),
                value: "CCE-80667-9".into()
            },
        ]
    );
    let references: Vec<(&str, &str)> = rule
        .references
        .iter()
        .map(|r| (r.href.as_str(), r.text.as_str()))
        .collect();
    assert_eq!(
        references,
        [
            ("https://example.org/cci", "CCI-000200"),
            ("https://example.org/empty", ""),
            ("https://example.org/dc", "NIST SP 800-53"),
        ]
    );
    assert_eq!(recorder.rules[1].severity, Severity::Unknown);
    assert_eq!(recorder.rules[1].title, "Second");
    assert_eq!(recorder.rules[2].severity, Severity::Low);
    assert_eq!(recorder.results.len(), 1);
    assert_eq!(recorder.info.unwrap().benchmark_id, "xccdf_b");
}

#[test]
fn declined_rule_texts_are_skipped_but_counted() {
    let mut recorder = Recorder::default();
    let summary = parse(RULES_DOC.as_bytes(), &mut recorder).unwrap();
    assert_eq!(recorder.benchmarks.len(), 1);
    assert!(recorder.rules.is_empty());
    assert_eq!(summary.rules_seen, 3);
    assert_eq!(summary.counts.fail, 1);
}

#[test]
fn a_root_that_is_not_xccdf_is_named() {
    let error = run("<html><body/></html>").unwrap_err();
    assert_eq!(error, XccdfError::NotXccdf("`html` in no namespace".into()));
    let error =
        run(r#"<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.1" id="b"/>"#).unwrap_err();
    assert_eq!(
        error,
        XccdfError::NotXccdf(
            "`Benchmark` in namespace `http://checklists.nist.gov/xccdf/1.1`".into()
        )
    );
    assert!(error
        .to_string()
        .contains("its root element is `Benchmark`"));
}

#[test]
fn two_test_results_are_refused() {
    let one = thin(&rule_result("r1", "pass"));
    let body = one.split_once('\n').unwrap().1;
    let doc = format!(
        "<Benchmark xmlns=\"{XCCDF_NS}\" id=\"b\"><version>1</version>{body}{body}</Benchmark>"
    );
    assert_eq!(run(&doc).unwrap_err(), XccdfError::SeveralTestResults);
}

#[test]
fn a_benchmark_without_test_result_is_refused() {
    let doc = RULES_DOC.replace(
        &RULES_DOC[RULES_DOC.find("<TestResult").unwrap()..RULES_DOC.find("</Benchmark>").unwrap()],
        "",
    );
    assert_eq!(run(&doc).unwrap_err(), XccdfError::NoTestResult);
    assert!(XccdfError::NoTestResult
        .to_string()
        .contains("no XCCDF TestResult"));
}

#[test]
fn an_arf_is_walked_by_namespace_and_its_other_reports_skipped() {
    let doc = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<arf:asset-report-collection xmlns:arf="http://scap.nist.gov/schema/asset-reporting-format/1.1" xmlns:core="http://scap.nist.gov/schema/reporting-core/1.1">
  <core:relationships><core:relationship type="x" subject="xccdf1"><core:ref>c1</core:ref></core:relationship></core:relationships>
  <arf:report-requests><arf:report-request id="c1"><arf:content>
    <ds:data-stream-collection xmlns:ds="http://scap.nist.gov/schema/scap/source/1.2" xmlns:xccdf-1.2="{XCCDF_NS}">
      <ds:component id="cpe"><cpe-list xmlns="http://cpe.mitre.org/dictionary/2.0"><cpe-item name="x"><title>Rule</title></cpe-item></cpe-list></ds:component>
      <ds:component id="xccdf">
        <xccdf-1.2:Benchmark id="xccdf_b"><xccdf-1.2:version>0.1.65</xccdf-1.2:version>
          <xccdf-1.2:Group id="g"><xccdf-1.2:Rule id="xccdf_r1" severity="medium"><xccdf-1.2:title>One</xccdf-1.2:title></xccdf-1.2:Rule></xccdf-1.2:Group>
        </xccdf-1.2:Benchmark>
      </ds:component>
      <ds:component id="oval"><oval_definitions xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5"><TestResult/><Rule/></oval_definitions></ds:component>
    </ds:data-stream-collection>
  </arf:content></arf:report-request></arf:report-requests>
  <arf:assets><arf:asset id="a"><ai:computing-device xmlns:ai="http://scap.nist.gov/schema/asset-identification/1.1"><ai:fqdn>vm</ai:fqdn></ai:computing-device></arf:asset></arf:assets>
  <arf:reports>
    <arf:report id="xccdf1"><arf:content>{}</arf:content></arf:report>
    <arf:report id="oval1"><arf:content><oval_results xmlns="http://oval.mitre.org/XMLSchema/oval-results-5"><results><TestResult/></results></oval_results></arf:content></arf:report>
  </arf:reports>
</arf:asset-report-collection>
"#,
        thin(&rule_result("xccdf_r1", "fail"))
            .split_once('\n')
            .unwrap()
            .1
    );
    let (summary, recorder) = run(&doc).unwrap();
    assert!(summary.had_benchmark);
    assert_eq!(summary.benchmark_id, "xccdf_b");
    assert_eq!(summary.benchmark_version.as_deref(), Some("0.1.65"));
    assert_eq!(summary.rules_seen, 1);
    assert_eq!(recorder.rules[0].title, "One");
    assert_eq!(summary.counts.fail, 1);
    assert_eq!(summary.score, Some(68.489578));
}

#[test]
fn two_benchmarks_are_refused() {
    let benchmark = format!("<b:Benchmark xmlns:b=\"{XCCDF_NS}\" id=\"x\"/>");
    let doc = format!(
        "<arf:asset-report-collection xmlns:arf=\"http://scap.nist.gov/schema/asset-reporting-format/1.1\">{benchmark}{benchmark}</arf:asset-report-collection>"
    );
    assert_eq!(run(&doc).unwrap_err(), XccdfError::SeveralBenchmarks);
}

#[test]
fn a_gzipped_document_is_read() {
    let doc = thin(&rule_result("r1", "informational"));
    let mut recorder = Recorder::default();
    let summary = parse_bytes(&gzip(doc.as_bytes()), &mut recorder).unwrap();
    assert_eq!(summary.counts.informational, 1);
    // `parse` itself takes XML only, and says so.
    let error = parse(gzip(doc.as_bytes()).as_slice(), &mut Recorder::default()).unwrap_err();
    assert!(error.to_string().contains("gzip"), "{error}");
    // And plain input through the same door.
    let summary = parse_bytes(doc.as_bytes(), &mut Recorder::default()).unwrap();
    assert_eq!(summary.counts.informational, 1);
}

#[test]
fn a_byte_order_mark_and_comments_are_accepted() {
    let doc = format!("\u{feff}<!-- made by hand -->\n{}<!-- end -->\n", thin(""));
    assert!(run(&doc).is_ok());
}

#[test]
fn only_fail_and_error_fail_a_machine_and_notselected_is_not_audited() {
    use super::{Class, ResultKind};
    let class = |k: ResultKind| k.class();
    assert_eq!(class(ResultKind::Pass), Class::Passing);
    assert_eq!(class(ResultKind::Fixed), Class::Passing);
    assert_eq!(class(ResultKind::Fail), Class::Failing);
    assert_eq!(class(ResultKind::Error), Class::Failing);
    for other in [
        ResultKind::NotApplicable,
        ResultKind::NotChecked,
        ResultKind::Informational,
        ResultKind::Unknown,
    ] {
        assert_eq!(class(other), Class::Other, "{other:?}");
    }
    assert_eq!(class(ResultKind::NotSelected), Class::NotSelected);
}

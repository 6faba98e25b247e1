//! Hand-made documents for what the real files in `shared/fixtures` never show (they are tested
//! in `tests/xccdf_fixtures.rs`): the rarer result words, hostile and malformed input, ARF and
//! namespace variants.

use std::io::Write;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;

use super::*;

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

fn run(xml: &str) -> Result<(Summary, Recorder), XccdfError> {
    let mut recorder = Recorder::wanting_rules();
    parse(xml.as_bytes(), &mut recorder).map(|summary| (summary, recorder))
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
fn a_doctype_is_refused() {
    let doc = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE TestResult SYSTEM \"x.dtd\">\n{}",
        thin("")
            .split_once('\n')
            .map(|(_, rest)| rest.to_owned())
            .unwrap()
    );
    assert_eq!(run(&doc).unwrap_err(), XccdfError::Dtd);
}

#[test]
fn a_billion_laughs_document_is_refused_quickly() {
    let mut doc =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for level in 1..=9 {
        let previous = if level == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", level - 1)
        };
        let body = format!("&{previous};").repeat(10);
        doc.push_str(&format!(" <!ENTITY lol{level} \"{body}\">\n"));
    }
    doc.push_str("]>\n<TestResult xmlns=\"http://checklists.nist.gov/xccdf/1.2\" id=\"t\" end-time=\"2026-12-03T10:00:00Z\"><target>&lol9;</target></TestResult>\n");
    let started = Instant::now();
    assert_eq!(run(&doc).unwrap_err(), XccdfError::Dtd);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn an_undefined_entity_is_an_xml_error() {
    let doc = thin("").replace("<target>vm</target>", "<target>&vm;</target>");
    let error = run(&doc).unwrap_err();
    assert!(
        matches!(&error, XccdfError::Xml(message) if message.contains("&vm;")),
        "{error:?}"
    );
}

#[test]
fn malformed_xml_is_an_xml_error_with_its_position() {
    let doc = thin(&rule_result("r1", "pass")).replace("</result>", "</reslut>");
    let error = run(&doc).unwrap_err();
    assert!(
        matches!(&error, XccdfError::Xml(message) if message.contains("at byte")),
        "{error:?}"
    );
    let mismatched = thin("").replace("</TestResult>", "</Testresult>");
    let twice = thin("").replace(r#"id="tr1""#, r#"id="tr1" id="tr2""#);
    for doc in [
        "",
        "   ",
        "not xml at all",
        "<TestResult",
        &mismatched,
        &twice,
    ] {
        assert!(matches!(run(doc), Err(XccdfError::Xml(_))), "{doc:?}");
    }
    // quick-xml does not check names: this one is an element named `<`.
    assert!(run("<<>>").is_err());
}

#[test]
fn a_document_cut_short_or_followed_by_more_is_refused() {
    let doc = thin(&rule_result("r1", "pass"));
    let cut = &doc[..doc.find("<score").unwrap()];
    assert!(matches!(run(cut), Err(XccdfError::Xml(_))));
    let doubled = format!("{doc}<TestResult/>");
    assert!(matches!(run(&doubled), Err(XccdfError::Xml(_))));
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
fn the_right_local_names_in_a_wrong_namespace_are_refused() {
    let doc = thin(&rule_result("r1", "pass")).replace(XCCDF_NS, "urn:not-xccdf");
    assert!(matches!(run(&doc), Err(XccdfError::NotXccdf(_))));
    // Inside an XCCDF Benchmark, a TestResult in another namespace is not the TestResult.
    let doc = RULES_DOC.replace(
        r#"<TestResult id="tr1""#,
        r#"<TestResult xmlns="urn:other" id="tr1""#,
    );
    assert_eq!(run(&doc).unwrap_err(), XccdfError::NoTestResult);
}

#[test]
fn the_xccdf_namespace_is_accepted_under_any_prefix() {
    let doc = thin(&rule_result("r1", "notchecked"))
        .replace("<", "<cdf:")
        .replace("<cdf:/", "</cdf:")
        .replace("<cdf:?xml", "<?xml")
        .replace(
            "xmlns=\"http://checklists.nist.gov/xccdf/1.2\"",
            "xmlns:cdf=\"http://checklists.nist.gov/xccdf/1.2\"",
        );
    assert!(doc.contains("<cdf:rule-result"));
    let (summary, recorder) = run(&doc).unwrap();
    assert_eq!(summary.counts.notchecked, 1);
    assert_eq!(recorder.info.unwrap().target, "vm");
}

#[test]
fn a_namespace_bound_inside_an_element_ends_with_it() {
    // `x` names another vocabulary on the first rule-result and XCCDF on the second; a
    // declaration on an empty-element tag holds for that tag alone.
    let results = format!(
        r#"<x:rule-result xmlns:x="urn:other" idref="r0"><x:result>pass</x:result></x:rule-result>
        <x:rule-result xmlns:x="{XCCDF_NS}" idref="r1"><x:result>fail</x:result></x:rule-result>
        <rule-result xmlns="urn:other" idref="r2"/>
        {}"#,
        rule_result("r3", "pass")
    );
    let (summary, recorder) = run(&thin(&results)).unwrap();
    let ids: Vec<_> = recorder
        .results
        .iter()
        .map(|r| r.rule_id.as_str())
        .collect();
    assert_eq!(ids, ["r1", "r3"], "only the XCCDF rule-results count");
    assert_eq!((summary.counts.pass, summary.counts.fail), (1, 1));
    // After its element ended, `x` is unbound again.
    let doc = thin(&format!(
        r#"<a xmlns:x="{XCCDF_NS}"/><x:rule-result idref="r1"><x:result>pass</x:result></x:rule-result>"#
    ));
    let err = run(&doc).unwrap_err();
    assert!(
        err.to_string().contains("prefix `x` is not declared"),
        "{err}"
    );
    // The same declaration bytes again, where they bind what was unbound: they hold there too.
    let doc = thin(&format!(
        r#"<a xmlns:x="urn:other"><x:b xmlns:x="{XCCDF_NS}"/></a>
        <x:rule-result xmlns:x="{XCCDF_NS}"/>"#
    ));
    let err = run(&doc).unwrap_err();
    assert!(
        err.to_string().contains("`rule-result` lacks its `idref`"),
        "{err}"
    );
}

#[test]
fn undeclared_prefixes_and_bad_declarations_are_refused() {
    let undeclared = thin(r#"<y:extra/>"#);
    let err = run(&undeclared).unwrap_err();
    assert!(
        err.to_string().contains("prefix `y` is not declared"),
        "{err}"
    );
    for declaration in [
        r#"xmlns:p="""#,
        r#"xmlns:xmlns="urn:x""#,
        r#"xmlns:xml="urn:x""#,
    ] {
        let doc = thin(&format!("<extra {declaration}/>"));
        let err = run(&doc).expect_err(declaration);
        assert!(matches!(err, XccdfError::Xml(_)), "{declaration}: {err}");
    }
    // The `xml` prefix is predefined, and may be declared with its own namespace.
    let doc = thin(r#"<extra xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:lang="en"/>"#);
    assert!(run(&doc).is_ok());
}

#[test]
fn a_repeated_attribute_the_parser_reads_is_refused() {
    let doc = thin(
        r#"<rule-result idref="r1" idref="r2" time="2026-12-03T12:29:28Z"><result>pass</result></rule-result>"#,
    );
    let err = run(&doc).unwrap_err();
    assert!(err.to_string().contains("`idref` is repeated"), "{err}");
}

#[test]
fn attribute_values_are_normalized_when_they_hold_references_or_line_ends() {
    let doc = thin(
        r#"<rule-result idref="r&amp;1&#x41;" severity="
high"><result>pass</result></rule-result>"#,
    );
    let (_, recorder) = run(&doc).unwrap();
    assert_eq!(recorder.results[0].rule_id, "r&1A");
    assert_eq!(recorder.results[0].severity, Severity::High);
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
fn a_gzip_bomb_is_stopped_at_the_size_limit() {
    let mut doc = thin("").into_bytes();
    let padding = vec![b' '; 8 * 1024 * 1024];
    doc.splice(doc.len() - 1..doc.len() - 1, padding);
    let compressed = gzip(&doc);
    assert!(compressed.len() < 64 * 1024);
    let input = open_maybe_gzip(compressed.as_slice(), 1024 * 1024);
    let error = parse(input, &mut Recorder::default()).unwrap_err();
    assert_eq!(error, XccdfError::TooLarge);
    // The limit counts decompressed bytes: the same document fits a larger one.
    let input = open_maybe_gzip(compressed.as_slice(), 16 * 1024 * 1024);
    assert!(parse(input, &mut Recorder::default()).is_ok());
}

#[test]
fn the_size_limit_also_holds_for_plain_input_and_admits_exactly_its_size() {
    let doc = thin("");
    let size = doc.len() as u64;
    let exact = open_maybe_gzip(doc.as_bytes(), size);
    assert!(parse(exact, &mut Recorder::default()).is_ok());
    let short = open_maybe_gzip(doc.as_bytes(), size - 1);
    assert_eq!(
        parse(short, &mut Recorder::default()).unwrap_err(),
        XccdfError::TooLarge
    );
}

#[test]
fn a_corrupt_gzip_stream_is_an_error() {
    let mut compressed = gzip(thin("").as_bytes());
    let middle = compressed.len() / 2;
    compressed.truncate(middle);
    let error = parse_bytes(&compressed, &mut Recorder::default()).unwrap_err();
    assert!(
        matches!(error, XccdfError::Io(_) | XccdfError::Xml(_)),
        "{error:?}"
    );
    // Only the magic decides: one byte, or a name-less gzip header alone, are not XML.
    assert!(parse_bytes(&[0x1f], &mut Recorder::default()).is_err());
    assert!(parse_bytes(&[0x1f, 0x8b], &mut Recorder::default()).is_err());
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

#[test]
fn elements_nested_past_the_limit_are_refused_even_in_skipped_content() {
    let deep = format!(
        "{}{}",
        "<x>".repeat(reader::MAX_DEPTH + 1),
        "</x>".repeat(reader::MAX_DEPTH + 1)
    );
    let doc = thin(&format!("<target-facts>{deep}</target-facts>"));
    let err = run(&doc).expect_err("too deep");
    assert!(err.to_string().contains("nest"), "{err}");
    let shallow = format!("{}{}", "<x>".repeat(20), "</x>".repeat(20));
    assert!(run(&thin(&format!("<target-facts>{shallow}</target-facts>"))).is_ok());
}

#[test]
fn a_text_or_tag_longer_than_the_limit_is_refused_before_it_is_buffered() {
    let long_text = "a".repeat(reader::MAX_RUN + 10);
    let err =
        run(&thin(&format!("<target-facts>{long_text}</target-facts>"))).expect_err("long text");
    assert!(err.to_string().contains("without markup"), "{err}");
    let long_attribute = format!("<target-facts x=\"{}\"/>", "b".repeat(reader::MAX_RUN + 10));
    assert!(run(&thin(&long_attribute)).is_err());
}

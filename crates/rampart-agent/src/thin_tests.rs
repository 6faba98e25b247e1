//! Tests of the thin cut, on the real fixtures: the thin document must read, with the server's
//! own parser, exactly as the whole file does.

use std::path::PathBuf;

use rampart_domain::xccdf::{self, RuleResult, RuleText, Summary, TestResultInfo, Visitor};

use super::*;

/// The shared fixtures folder (`shared/fixtures` beside the repository).
fn fixtures() -> PathBuf {
    let beside = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures"
    ));
    if beside.is_dir() {
        beside
    } else {
        PathBuf::from("/work/shared/fixtures")
    }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap()
}

const UBUNTU_2204: &str = "xccdf_org.ssgproject.content_benchmark_UBUNTU_22-04";

/// What the server's parser reads from a document (rule texts skipped).
#[derive(Default)]
struct Read {
    info: Option<TestResultInfo>,
    results: Vec<RuleResult>,
}

impl Visitor for Read {
    fn benchmark(&mut self, _id: &str, _version: &str) -> bool {
        false
    }
    fn rule(&mut self, _rule: RuleText) {}
    fn test_result(&mut self, info: &TestResultInfo) {
        self.info = Some(info.clone());
    }
    fn rule_result(&mut self, result: RuleResult) {
        self.results.push(result);
    }
}

fn read(document: &[u8]) -> (Summary, TestResultInfo, Vec<RuleResult>) {
    let mut read = Read::default();
    let summary = xccdf::parse_bytes(document, &mut read).expect("the server's parser reads it");
    (summary, read.info.expect("a TestResult"), read.results)
}

/// The thin document of `whole` reads as `whole` does: same rule results, target, times,
/// profile, benchmark id and version, counts and score.
fn assert_reads_the_same(whole: &[u8], thin: &Thin) {
    let (whole_summary, whole_info, whole_results) = read(whole);
    let (thin_summary, thin_info, thin_results) = read(&thin.document);
    assert!(whole_summary.had_benchmark);
    assert!(!thin_summary.had_benchmark, "the Benchmark is left out");
    assert_eq!(thin_results.len(), whole_results.len());
    assert_eq!(thin_results, whole_results);
    assert_eq!(thin_info, whole_info);
    assert_eq!(thin_summary.benchmark_id, whole_summary.benchmark_id);
    assert_eq!(
        thin_summary.benchmark_version,
        whole_summary.benchmark_version
    );
    assert_eq!(thin_summary.counts, whole_summary.counts);
    assert_eq!(thin_summary.score, whole_summary.score);
    assert_eq!(thin.benchmark_id, whole_summary.benchmark_id);
    assert_eq!(
        Some(thin.version.as_str()),
        whole_summary.benchmark_version.as_deref()
    );
}

#[test]
fn a_results_file_is_cut_to_its_test_result_and_reads_the_same() {
    let whole = fixture("xccdf/u2204-cis_l1_server.results.xml.gz");
    let thin = cut(&whole).unwrap();
    assert_eq!(thin.benchmark_id, UBUNTU_2204);
    assert_eq!(thin.version, "0.1.65");
    assert!(
        thin.document.len() < 300 * 1024,
        "{} bytes",
        thin.document.len()
    );
    assert_reads_the_same(&whole, &thin);
}

#[test]
fn the_cut_is_the_test_result_byte_for_byte_with_the_declarations_of_its_benchmark() {
    // The fixture's TestResult-only file is the same element with only the default namespace;
    // the results file's Benchmark also declares `xsi`, which the cut carries over.
    let thin = cut(&fixture("xccdf/u2204-cis_l1_server.results.xml.gz")).unwrap();
    let expected = String::from_utf8(fixture("xccdf/u2204-cis_l1_server.testresult-only.xml"))
        .unwrap()
        .replacen(
            "<TestResult xmlns=\"http://checklists.nist.gov/xccdf/1.2\"",
            "<TestResult xmlns=\"http://checklists.nist.gov/xccdf/1.2\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"",
            1,
        );
    let document = String::from_utf8(thin.document).unwrap();
    assert_eq!(document.trim_end(), expected.trim_end());
}

#[test]
fn an_arf_file_is_cut_to_its_test_result_and_reads_the_same() {
    let whole = fixture("xccdf/u2204-cis_l1_server.arf.xml.gz");
    let thin = cut(&whole).unwrap();
    assert_eq!(thin.benchmark_id, UBUNTU_2204);
    assert_eq!(thin.version, "0.1.65");
    let text = String::from_utf8(thin.document.clone()).unwrap();
    let start_tag = &text[..text.find("<benchmark ").unwrap()];
    // The ARF root's prefixes are in scope; the TestResult's own default namespace stays.
    for declaration in [
        "xmlns:arf=\"http://scap.nist.gov/schema/asset-reporting-format/1.1\"",
        "xmlns:core=\"http://scap.nist.gov/schema/reporting-core/1.1\"",
        "xmlns:ai=\"http://scap.nist.gov/schema/asset-identification/1.1\"",
        "xmlns=\"http://checklists.nist.gov/xccdf/1.2\"",
    ] {
        assert_eq!(start_tag.matches(declaration).count(), 1, "{start_tag}");
    }
    assert!(
        !start_tag.contains("xmlns:ds="),
        "closed before: {start_tag}"
    );
    assert_reads_the_same(&whole, &thin);
}

#[test]
fn uncompressed_input_is_cut_the_same() {
    let whole = fixture("xccdf/u2204-cis_l1_server.results.xml.gz");
    let plain = crate::spool::gunzip(&whole).unwrap();
    assert_eq!(cut(&plain).unwrap(), cut(&whole).unwrap());
}

#[test]
fn every_results_fixture_reads_the_same_thin() {
    for name in [
        "xccdf/d12-standard.results.xml.gz",
        "xccdf/u2204-cis_l1_server-unfaked-notapplicable.results.xml.gz",
        "xccdf/u2404-0.1.76-cis_l1_server.results.xml.gz",
    ] {
        let whole = fixture(name);
        let thin = cut(&whole).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_reads_the_same(&whole, &thin);
    }
}

/// An ARF whose TestResult is prefixed, the prefix declared on the root, the way some scanners
/// write it.
const PREFIXED_ARF: &str = r##"<?xml version="1.0" encoding="UTF-8"?>
<arf:asset-report-collection xmlns:arf="http://scap.nist.gov/schema/asset-reporting-format/1.1" xmlns:xccdf-1.2="http://checklists.nist.gov/xccdf/1.2" xmlns="urn:example:default">
  <arf:reports>
    <arf:report id="xccdf1">
      <arf:content>
        <xccdf-1.2:TestResult id="xccdf_r_1" version="1.2.3" start-time="2026-01-02T03:04:05+00:00" end-time="2026-01-02T03:05:00+00:00"><xccdf-1.2:benchmark id="xccdf_b" href="#b"/><xccdf-1.2:profile idref="xccdf_p_one"/><xccdf-1.2:target>web-01</xccdf-1.2:target><xccdf-1.2:rule-result idref="xccdf_r_a" severity="high" time="2026-01-02T03:04:30+00:00"><xccdf-1.2:result>fail</xccdf-1.2:result></xccdf-1.2:rule-result><xccdf-1.2:rule-result idref="xccdf_r_b"><xccdf-1.2:result>pass</xccdf-1.2:result></xccdf-1.2:rule-result></xccdf-1.2:TestResult>
      </arf:content>
    </arf:report>
  </arf:reports>
</arf:asset-report-collection>
"##;

#[test]
fn a_prefixed_test_result_gets_the_declarations_of_its_ancestors() {
    let thin = cut(PREFIXED_ARF.as_bytes()).unwrap();
    assert_eq!(
        (thin.benchmark_id.as_str(), thin.version.as_str()),
        ("xccdf_b", "1.2.3")
    );
    let element_start = PREFIXED_ARF.find("<xccdf-1.2:TestResult").unwrap();
    let element_end =
        PREFIXED_ARF.find("</xccdf-1.2:TestResult>").unwrap() + "</xccdf-1.2:TestResult>".len();
    let element = &PREFIXED_ARF[element_start..element_end];
    let expected = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xccdf-1.2:TestResult \
         xmlns:arf=\"http://scap.nist.gov/schema/asset-reporting-format/1.1\" \
         xmlns:xccdf-1.2=\"http://checklists.nist.gov/xccdf/1.2\" \
         xmlns=\"urn:example:default\"{}",
        &element["<xccdf-1.2:TestResult".len()..]
    );
    assert_eq!(String::from_utf8(thin.document.clone()).unwrap(), expected);
    assert_reads_the_same_rules(PREFIXED_ARF.as_bytes(), &thin);
}

/// For documents without a Benchmark: the same TestResult and rule results.
fn assert_reads_the_same_rules(whole: &[u8], thin: &Thin) {
    let (_, whole_info, whole_results) = read(whole);
    let (_, thin_info, thin_results) = read(&thin.document);
    assert_eq!(thin_info, whole_info);
    assert_eq!(thin_results, whole_results);
    assert_eq!(thin_results.len(), 2);
}

#[test]
fn a_declaration_made_again_closer_to_the_test_result_wins_and_its_own_are_not_repeated() {
    let xml = r#"<r xmlns:x="urn:outer" xmlns:k='urn:"quoted"'><m xmlns:x="http://checklists.nist.gov/xccdf/1.2"><x:TestResult xmlns:k="urn:own" version="1"><x:benchmark id="b"/></x:TestResult></m></r>"#;
    let thin = cut(xml.as_bytes()).unwrap();
    assert_eq!(
        String::from_utf8(thin.document).unwrap(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <x:TestResult xmlns:x=\"http://checklists.nist.gov/xccdf/1.2\" xmlns:k=\"urn:own\" \
         version=\"1\"><x:benchmark id=\"b\"/></x:TestResult>"
    );
    // A value holding `"` keeps its `'` quotes.
    let xml = r#"<r xmlns:k='urn:"q"' xmlns="http://checklists.nist.gov/xccdf/1.2"><TestResult version="1"><benchmark id="b"/></TestResult></r>"#;
    let text = String::from_utf8(cut(xml.as_bytes()).unwrap().document).unwrap();
    assert!(
        text.contains(r#"<TestResult xmlns:k='urn:"q"' xmlns="#),
        "{text}"
    );
}

#[test]
fn without_a_benchmark_child_the_enclosing_benchmark_names_it() {
    let xml = r#"<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.2" id="xccdf_outer"><version>9</version><TestResult version="9"/></Benchmark>"#;
    let thin = cut(xml.as_bytes()).unwrap();
    assert_eq!(
        (thin.benchmark_id.as_str(), thin.version.as_str()),
        ("xccdf_outer", "9")
    );
    assert!(thin
        .document
        .ends_with(b"<TestResult xmlns=\"http://checklists.nist.gov/xccdf/1.2\" version=\"9\"/>"));
}

#[test]
fn a_file_without_a_test_result_is_refused_clearly() {
    // A real XCCDF 1.2 document with no TestResult: a tailoring file.
    let tailoring = fixture("tailoring/tailoring-ubuntu2204-cis_l1_server-refine.xml");
    let error = cut(&tailoring).unwrap_err().to_string();
    assert_eq!(error, "the results file holds no XCCDF 1.2 TestResult");
    // A TestResult of another namespace (XCCDF 1.1) is not one.
    let old = r#"<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.1" id="b"><TestResult version="1"><benchmark id="b"/></TestResult></Benchmark>"#;
    let error = cut(old.as_bytes()).unwrap_err().to_string();
    assert_eq!(error, "the results file holds no XCCDF 1.2 TestResult");
}

#[test]
fn dtds_malformed_xml_and_missing_versions_are_refused() {
    let dtd = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><TestResult xmlns="http://checklists.nist.gov/xccdf/1.2" version="1"><benchmark id="b"/></TestResult>"#;
    let error = format!("{:#}", cut(dtd.as_bytes()).unwrap_err());
    assert!(error.contains("DTD"), "{error}");
    let broken = r#"<TestResult xmlns="http://checklists.nist.gov/xccdf/1.2" version="1"><benchmark id="b"></TestResult>"#;
    let error = format!("{:#}", cut(broken.as_bytes()).unwrap_err());
    assert!(error.contains("not well-formed"), "{error}");
    let unversioned = r#"<TestResult xmlns="http://checklists.nist.gov/xccdf/1.2"><benchmark id="b"/></TestResult>"#;
    let error = format!("{:#}", cut(unversioned.as_bytes()).unwrap_err());
    assert!(error.contains("version"), "{error}");
    let latin1 = r#"<?xml version="1.0" encoding="ISO-8859-1"?><TestResult xmlns="http://checklists.nist.gov/xccdf/1.2" version="1"><benchmark id="b"/></TestResult>"#;
    let error = format!("{:#}", cut(latin1.as_bytes()).unwrap_err());
    assert!(error.contains("ISO-8859-1"), "{error}");
    let error = format!("{:#}", cut(&[0x1f, 0x8b, 1, 2, 3]).unwrap_err());
    assert!(error.contains("gzip"), "{error}");
}

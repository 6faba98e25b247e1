//! Namespaces: elements matched by namespace under any prefix, scopes, declarations.

use super::*;

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
    for (declaration, says) in [
        (
            r#"xmlns:p="""#,
            "prefix `p` cannot be bound to no namespace",
        ),
        (
            r#"xmlns:xmlns="urn:x""#,
            "prefix `xmlns` cannot be declared",
        ),
        (r#"xmlns:xml="urn:x""#, "prefix `xml` cannot be declared"),
        (
            r#"xmlns:p="urn:a" xmlns:p="urn:b""#,
            "prefix `p` is declared twice",
        ),
        (r#"xmlns:="urn:a""#, "`xmlns:` declares no prefix"),
    ] {
        let doc = thin(&format!("<extra {declaration}/>"));
        let err = run(&doc).expect_err(declaration);
        assert!(err.to_string().contains(says), "{declaration}: {err}");
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
fn prefixes_inside_skipped_content_are_not_resolved() {
    // Nothing of `target-facts` is read, so its prefixes are not looked up (the choice is
    // documented on `Xml::skip`); it must still be well-formed.
    let skipped = thin("<target-facts><y:z/><y:w>1</y:w></target-facts>");
    let (summary, _) = run(&skipped).expect("skipped content is not resolved");
    assert_eq!(summary.score, Some(68.489578));
    let broken = thin("<target-facts><y:z></y:w></target-facts>");
    assert!(matches!(run(&broken), Err(XccdfError::Xml(_))));
}

#[test]
fn an_element_name_with_an_empty_prefix_is_refused() {
    let doc = thin("")
        .replace("<TestResult ", "<:TestResult ")
        .replace("</TestResult>", "</:TestResult>");
    let err = run(&doc).unwrap_err();
    assert!(err.to_string().contains("has an empty prefix"), "{err}");
}

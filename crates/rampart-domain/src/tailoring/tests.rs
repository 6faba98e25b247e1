//! Tailoring validation on the real fixtures and on broken files.

use super::*;

const SERVER: &str = "tailoring-ubuntu2204-cis_l1_server.pretty.xml";
const REFINE: &str = "tailoring-ubuntu2204-cis_l1_server-refine.xml";

/// A real tailoring file from `shared/fixtures/tailoring` beside the repository (`<repo>/../shared`),
/// else where the workspace has it.
fn fixture(name: &str) -> String {
    let beside = std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/tailoring"
    ));
    let dir = if beside.is_dir() {
        beside
    } else {
        std::path::PathBuf::from("/work/shared/fixtures/tailoring")
    };
    std::fs::read_to_string(dir.join(name)).expect("the tailoring fixture exists")
}
const CIS_L1: &str = "xccdf_org.ssgproject.content_profile_cis_level1_server";

/// A tailoring file in the default namespace holding `body`.
fn tailoring(body: &str) -> String {
    format!(r#"<?xml version="1.0"?><Tailoring xmlns="{XCCDF_NS}" id="t">{body}</Tailoring>"#)
}

fn profile(attributes: &str) -> String {
    tailoring(&format!("<Profile {attributes}><title>x</title></Profile>"))
}

fn malformed_message(text: &str) -> String {
    match Tailoring::parse(text) {
        Err(TailoringError::Malformed(message)) => message,
        other => panic!("expected Malformed for {text:?}, got {other:?}"),
    }
}

#[test]
fn the_real_tailoring_files_are_accepted() {
    let server = Tailoring::parse(&fixture(SERVER)).unwrap();
    assert_eq!(
        server.profile_id(),
        "xccdf_org.ssgproject.content_profile_acme_cis_level1_server"
    );
    assert_eq!(server.extends(), CIS_L1);
    assert_eq!(server.benchmark().as_str(), "cis_level1_server");

    let refine = Tailoring::parse(&fixture(REFINE)).unwrap();
    assert_eq!(
        refine.profile_id(),
        "xccdf_com.example_profile_cis_level1_server_fleet"
    );
    assert_eq!(refine.extends(), CIS_L1);
    assert_eq!(refine.benchmark().as_str(), "cis_level1_server");
}

#[test]
fn the_benchmark_is_what_follows_profile_in_extends() {
    let text = profile(r#"id="p" extends="xccdf_org.ssgproject.content_profile_stig""#);
    assert_eq!(
        Tailoring::parse(&text).unwrap().benchmark().as_str(),
        "stig"
    );
    let text = profile(r#"id="p" extends="cis_level2_workstation""#);
    let parsed = Tailoring::parse(&text).unwrap();
    assert_eq!(parsed.benchmark().as_str(), "cis_level2_workstation");
}

#[test]
fn a_bom_comments_instructions_and_xccdf_1_1_are_accepted() {
    let text = format!(
        "\u{feff}<?xml version=\"1.0\"?>\n<!-- made by hand -->\n<?pi data?>\n\
         <x:Tailoring xmlns:x=\"{XCCDF_1_1_NS}\"><!-- c --><x:Profile id=\"p&amp;&#x41;\" \
         extends=\"{CIS_L1}\"/></x:Tailoring>\n<!-- after -->\n"
    );
    let parsed = Tailoring::parse(&text).unwrap();
    assert_eq!(parsed.profile_id(), "p&A");
}

#[test]
fn a_root_other_than_an_xccdf_tailoring_is_refused_by_name_and_namespace() {
    let benchmark = format!(r#"<Benchmark xmlns="{XCCDF_NS}" id="b"/>"#);
    let Err(TailoringError::WrongRoot(root)) = Tailoring::parse(&benchmark) else {
        panic!("a Benchmark root was not refused");
    };
    assert_eq!(root, format!("`Benchmark` in namespace `{XCCDF_NS}`"));

    let elsewhere = r#"<t:Tailoring xmlns:t="http://example.com/xccdf"><t:Profile id="p" extends="stig"/></t:Tailoring>"#;
    let Err(TailoringError::WrongRoot(root)) = Tailoring::parse(elsewhere) else {
        panic!("a Tailoring in another namespace was not refused");
    };
    assert_eq!(root, "`Tailoring` in namespace `http://example.com/xccdf`");

    assert_eq!(
        Tailoring::parse("<Tailoring/>"),
        Err(TailoringError::WrongRoot(
            "`Tailoring` in no namespace".into()
        ))
    );
}

#[test]
fn a_tailoring_without_a_profile_is_refused() {
    let text = tailoring(r#"<version time="2026-01-01T00:00:00">1</version>"#);
    assert_eq!(
        Tailoring::parse(&text),
        Err(TailoringError::ProfileCount(0))
    );
    let foreign = tailoring(r#"<Profile xmlns="urn:other" id="p" extends="stig"/>"#);
    assert_eq!(
        Tailoring::parse(&foreign),
        Err(TailoringError::ProfileCount(0))
    );
}

#[test]
fn a_tailoring_with_two_profiles_is_refused() {
    let one = format!(r#"<Profile id="p" extends="{CIS_L1}"/>"#);
    let text = tailoring(&format!("{one}{one}"));
    assert_eq!(
        Tailoring::parse(&text),
        Err(TailoringError::ProfileCount(2))
    );
}

#[test]
fn a_profile_without_extends_is_refused() {
    let text = profile(r#"id="p""#);
    assert_eq!(
        Tailoring::parse(&text),
        Err(TailoringError::MissingAttribute("extends"))
    );
    let text = profile(r#"id="p" extends="  ""#);
    assert_eq!(
        Tailoring::parse(&text),
        Err(TailoringError::MissingAttribute("extends"))
    );
}

#[test]
fn a_profile_id_longer_than_results_may_name_is_refused() {
    let long = "x".repeat(MAX_ID_BYTES + 1);
    let text = format!(
        r#"<Tailoring xmlns="http://checklists.nist.gov/xccdf/1.2" id="t"><Profile id="xccdf_a_profile_{long}" extends="xccdf_org.ssgproject.content_profile_stig"/></Tailoring>"#
    );
    assert_eq!(
        Tailoring::parse(&text),
        Err(TailoringError::LongAttribute("id", MAX_ID_BYTES))
    );
}

#[test]
fn a_profile_without_id_is_refused() {
    let text = profile(&format!(r#"extends="{CIS_L1}""#));
    assert_eq!(
        Tailoring::parse(&text),
        Err(TailoringError::MissingAttribute("id"))
    );
    let text = profile(&format!(r#"id="" extends="{CIS_L1}""#));
    assert_eq!(
        Tailoring::parse(&text),
        Err(TailoringError::MissingAttribute("id"))
    );
}

#[test]
fn a_doctype_is_refused() {
    let text = format!(
        "<!DOCTYPE x [<!ENTITY a \"b\">]>{}",
        profile(&format!(r#"id="&a;" extends="{CIS_L1}""#))
    );
    assert_eq!(Tailoring::parse(&text), Err(TailoringError::Doctype));
    let text = format!(
        "<!DOCTYPE Tailoring>{}",
        profile(r#"id="p" extends="stig""#)
    );
    assert_eq!(Tailoring::parse(&text), Err(TailoringError::Doctype));
}

#[test]
fn an_undefined_entity_is_refused_in_text_and_in_attributes() {
    let in_text = tailoring(&format!(
        r#"<Profile id="p" extends="{CIS_L1}"><title>&foo;</title></Profile>"#
    ));
    assert!(malformed_message(&in_text).contains("&foo;"));
    malformed_message(&profile(&format!(r#"id="&foo;" extends="{CIS_L1}""#)));
    malformed_message(&profile(&format!(r#"id="a & b" extends="{CIS_L1}""#)));
    malformed_message(&tailoring(
        "<Profile id=\"p\" extends=\"stig\">&#0;</Profile>",
    ));
    malformed_message(&tailoring(
        "<Profile id=\"p\" extends=\"stig\">&#1;</Profile>",
    ));
}

#[test]
fn an_unclosed_tag_is_refused() {
    let text = format!(r#"<Tailoring xmlns="{XCCDF_NS}"><Profile id="p" extends="stig">"#);
    malformed_message(&text);
    malformed_message(&format!(r#"<Tailoring xmlns="{XCCDF_NS}"><Profile id="p""#));
}

#[test]
fn a_mismatched_end_tag_is_refused() {
    let text = tailoring(r#"<Profile id="p" extends="stig"><title>x</Profile></title>"#);
    let message = malformed_message(&text);
    assert!(
        message.contains("title") && message.contains("at byte"),
        "{message}"
    );
}

#[test]
fn a_duplicate_attribute_is_refused() {
    let text = profile(&format!(r#"id="p" id="q" extends="{CIS_L1}""#));
    malformed_message(&text);
}

#[test]
fn content_after_the_root_is_refused() {
    let good = profile(r#"id="p" extends="stig""#);
    malformed_message(&format!("{good}garbage"));
    malformed_message(&format!("{good}<Tailoring/>"));
    malformed_message(&format!("{good}</Tailoring>"));
    malformed_message(&format!("{good}&amp;"));
    malformed_message(&format!("{good}<?xml version=\"1.0\"?>"));
    malformed_message(&format!("text{good}"));
}

#[test]
fn other_ill_formed_documents_are_refused() {
    malformed_message("");
    malformed_message("  \n<!-- only a comment -->\n");
    malformed_message(&profile(r#"id="a<b" extends="stig""#));
    malformed_message(&profile(r#"id="p" extends="stig" u:x="1""#));
    malformed_message(&format!(
        r#"<u:Tailoring xmlns="{XCCDF_NS}"><Profile id="p" extends="stig"/></u:Tailoring>"#
    ));
    malformed_message(&profile("id=\"p\u{1}\" extends=\"stig\""));
    malformed_message(&tailoring(
        "<!-- a -- b --><Profile id=\"p\" extends=\"stig\"/>",
    ));
    let deep = format!("{}{}", "<a>".repeat(1000), "</a>".repeat(1000));
    malformed_message(&tailoring(&deep));
    let deeper = format!("{}{}", "<a>".repeat(70_000), "</a>".repeat(70_000));
    malformed_message(&tailoring(&deeper));
}

#[test]
fn a_file_over_five_mebibytes_is_refused_before_it_is_read() {
    let filler = format!("<!--{}-->", "x".repeat(MAX_TAILORING_BYTES));
    let text = format!("{}{filler}", profile(r#"id="p" extends="stig""#));
    assert_eq!(
        Tailoring::parse(&text),
        Err(TailoringError::TooLarge {
            bytes: text.len(),
            limit: MAX_TAILORING_BYTES
        })
    );
    let unclosed = "<".repeat(MAX_TAILORING_BYTES + 1);
    assert!(matches!(
        Tailoring::parse(&unclosed),
        Err(TailoringError::TooLarge { .. })
    ));
}

#[test]
fn an_unknown_benchmark_in_extends_is_refused_with_the_valid_names() {
    let text = profile(r#"id="p" extends="xccdf_org.ssgproject.content_profile_standard""#);
    let Err(TailoringError::UnknownBenchmark(message)) = Tailoring::parse(&text) else {
        panic!("an unknown benchmark was accepted");
    };
    assert!(message.contains("`standard`"), "{message}");
    assert!(
        message.contains("cis_level1_server, cis_level1_workstation"),
        "{message}"
    );
}

#[test]
fn a_declaration_naming_another_encoding_than_utf8_is_refused() {
    let body = r#"<Tailoring xmlns="http://checklists.nist.gov/xccdf/1.2" id="t"><Profile id="xccdf_a_profile_b" extends="xccdf_org.ssgproject.content_profile_stig"/></Tailoring>"#;
    for encoding in ["ISO-8859-1", "UTF-16"] {
        let text = format!(r#"<?xml version="1.0" encoding="{encoding}"?>{body}"#);
        assert!(
            matches!(Tailoring::parse(&text), Err(TailoringError::Malformed(m)) if m.contains("encoding")),
            "{encoding} was accepted"
        );
    }
    for encoding in ["UTF-8", "utf-8"] {
        let text = format!(r#"<?xml version="1.0" encoding="{encoding}"?>{body}"#);
        assert!(Tailoring::parse(&text).is_ok(), "{encoding} was refused");
    }
    assert!(Tailoring::parse(&format!(r#"<?xml version="1.0"?>{body}"#)).is_ok());
}

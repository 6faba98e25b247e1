//! Hostile and malformed input: DTDs, entities, broken XML, sizes, nesting.

use super::*;

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

/// Parses `xml` read through a buffer of `capacity` bytes, so that events span many reads.
fn run_chunked(xml: &str, capacity: usize) -> Result<(Summary, Recorder), XccdfError> {
    let mut recorder = Recorder::wanting_rules();
    let input = std::io::BufReader::with_capacity(capacity, xml.as_bytes());
    parse(input, &mut recorder).map(|summary| (summary, recorder))
}

#[test]
fn a_text_or_tag_longer_than_the_limit_is_refused_before_it_is_buffered() {
    let limit = bounded::MAX_EVENT;
    let says = "bytes in one text, tag or comment";
    // Text that `>` keeps breaking is still one event: it is the event that is bounded.
    let long_texts = [
        "a".repeat(limit + 1),
        "a>".repeat(limit / 2 + 1),
        format!("<!--{}-->", "c".repeat(limit)),
    ];
    for text in &long_texts {
        let doc = thin(&format!("<target-facts>{text}</target-facts>"));
        for capacity in [7, 64 * 1024] {
            let err = run_chunked(&doc, capacity).expect_err("long text");
            assert!(err.to_string().contains(says), "{capacity}: {err}");
        }
        let err = run(&doc).expect_err("long text from a slice");
        assert!(err.to_string().contains(says), "{err}");
    }
    let long_attribute = format!("<target-facts x=\"{}\"/>", "b".repeat(limit + 10));
    let err = run(&thin(&long_attribute)).unwrap_err();
    assert!(err.to_string().contains(says), "{err}");
    // An event of exactly the limit is not refused.
    let text = "a".repeat(limit);
    let doc = thin(&format!("<target-facts>{text}</target-facts>"));
    assert!(run_chunked(&doc, 4096).is_ok());
    assert!(run(&doc).is_ok());
}

#[test]
fn a_document_reads_the_same_however_its_input_is_split() {
    let (summary, recorder) = run(RULES_DOC).unwrap();
    assert_eq!(recorder.rules.len(), 3);
    for capacity in [1, 2, 3, 5, 64] {
        let (chunked, seen) = run_chunked(RULES_DOC, capacity).unwrap();
        assert_eq!(chunked, summary, "capacity {capacity}");
        assert_eq!(seen.rules, recorder.rules, "capacity {capacity}");
        assert_eq!(seen.results, recorder.results, "capacity {capacity}");
    }
}

#[test]
fn namespace_declarations_past_their_limits_are_refused_quickly() {
    use super::super::namespaces::{MAX_BINDINGS, MAX_DECLARATIONS_PER_TAG};
    let declarations = |n: usize, from: usize| -> String {
        (from..from + n)
            .map(|i| format!(" xmlns:a{i}=\"urn:{i}\""))
            .collect()
    };
    // Within the limits: accepted.
    let doc = thin(&format!(
        "<extra{}/>",
        declarations(MAX_DECLARATIONS_PER_TAG, 0)
    ));
    assert!(run(&doc).is_ok());
    // One tag with too many: refused, however many follow (a hostile file declares 100,000).
    let started = Instant::now();
    let doc = thin(&format!("<extra{}/>", declarations(100_000, 0)));
    let err = run(&doc).unwrap_err();
    assert!(
        err.to_string()
            .contains("namespace declarations on one tag"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "refused without quadratic work"
    );
    // Too many in scope across nested tags the parser reads (ARF containers; skipped content
    // is not resolved at all).
    let tags_needed = MAX_BINDINGS / MAX_DECLARATIONS_PER_TAG + 1;
    let open: String = (0..tags_needed)
        .map(|t| {
            format!(
                "<arf:e{t}{}>",
                declarations(MAX_DECLARATIONS_PER_TAG, t * 1000)
            )
        })
        .collect();
    let close: String = (0..tags_needed)
        .rev()
        .map(|t| format!("</arf:e{t}>"))
        .collect();
    let doc = format!(
        r#"<arf:asset-report-collection xmlns:arf="http://scap.nist.gov/schema/asset-reporting-format/1.1">{open}{close}</arf:asset-report-collection>"#
    );
    let err = run(&doc).unwrap_err();
    assert!(
        err.to_string().contains("prefixes are bound at once"),
        "{err}"
    );
}

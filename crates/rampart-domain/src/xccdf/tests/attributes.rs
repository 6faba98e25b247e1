//! Attributes: the fast reading of plain `name="value"` tags answers as quick-xml's reader does.

use quick_xml::events::BytesStart;

use crate::xccdf::attributes::{attributes, read_attributes};

#[test]
fn plain_and_odd_attributes_read_alike_both_ways() {
    let tags = [
        r#"rule-result idref="r1" role="full" time="2026-12-03T12:28:21+00:00" severity="medium""#,
        r#"rule-result severity='low' idref='r2'"#,
        "rule-result\n\tidref=\"r3\"\r\n  time=\"t\"  ",
        r#"rule-result"#,
        r#"rule-result idref="a&amp;b" time="x""#,
        "rule-result idref=\"line\nend\" time=\"tab\there\"",
        r#"rule-result idref="é✓""#,
        r#"rule-result idref = "spaced" time="t""#,
        r#"rule-result idref="a"time="b""#,
        r#"rule-result idref=unquoted"#,
        r#"rule-result idref="open"#,
        r#"rule-result idref="r" idref="again""#,
        r#"rule-result other="x" other="y" idref="r""#,
        r#"rule-result ="noname""#,
        r#"rule-result idref="<""#,
        r#"rule-result x:idref="prefixed" idref="plain""#,
    ];
    for tag in tags {
        let name_len = tag.find([' ', '\n']).unwrap_or(tag.len());
        let start = BytesStart::from_content(tag, name_len);
        let names = ["idref", "time", "severity"];
        let fast = attributes(&start, names);
        let slow = read_attributes(&start, names);
        assert_eq!(fast, slow, "{tag:?}");
    }
    // What the fast reading gives for a plain tag, checked by value.
    let start = BytesStart::from_content(r#"rule-result time="t" idref="r1""#, 11);
    let [idref, time, severity] = attributes(&start, ["idref", "time", "severity"]).unwrap();
    assert_eq!(
        (idref.as_deref(), time.as_deref(), severity),
        (Some("r1"), Some("t"), None)
    );
    let start = BytesStart::from_content(r#"rule-result idref="r" idref="again""#, 11);
    let err = attributes(&start, ["idref"]).unwrap_err();
    assert!(err.to_string().contains("`idref` is repeated"), "{err}");
}

//! The walk through the document: the root, the ARF containers, the Benchmark and its Groups.
//! Rules are read in `rule.rs`, the TestResult in `test_result.rs`.

use std::borrow::Cow;
use std::collections::HashMap;

use quick_xml::events::BytesStart;

use super::attributes::attributes;
use super::reader::{describe_root, is_blank, unexpected_eof, Item, Ns, Source, Xml};
use super::test_result::TestResultStart;
use super::{Severity, Summary, Visitor, XccdfError};

/// Ids, words, addresses, Value titles: longer text is cut.
pub(super) const SHORT_LIMIT: usize = 4 * 1024;
/// At most this many idents, references per rule, and target addresses; the rest is dropped.
pub(super) const LIST_LIMIT: usize = 10_000;
/// At most this many Value titles are kept for `sub`.
const VALUE_TITLES_LIMIT: usize = 100_000;
/// Groups nest a few levels in real content; the limit keeps recursion bounded.
const GROUP_DEPTH_LIMIT: usize = 100;

pub(super) struct Parser<'v, S, V> {
    pub(super) xml: Xml<S>,
    pub(super) visitor: &'v mut V,
    pub(super) summary: Summary,
    /// The visitor's answer to `benchmark`.
    pub(super) wants_rules: bool,
    /// Titles of the Values met so far, shown for `sub`; kept only when rule texts are wanted.
    pub(super) value_titles: HashMap<String, String>,
    pub(super) test_results: usize,
    /// Reused for every rule text, which is then copied out at its own size.
    pub(super) text_buffer: String,
}

/// A child of the Benchmark or of a Group, with what is needed of its attributes.
enum Child {
    Version,
    /// A Value, with its id if its title is wanted.
    Value(Option<String>),
    Group,
    /// A Rule, with its id and severity if its texts are wanted.
    Rule(Option<(String, Severity)>),
    TestResult(TestResultStart),
    Other,
}

impl Child {
    fn read(start: &BytesStart<'_>, wants_rules: bool) -> Result<Child, XccdfError> {
        Ok(match start.local_name().as_ref() {
            b"version" => Child::Version,
            b"Group" => Child::Group,
            b"Value" if wants_rules => {
                let [id] = attributes(start, ["id"])?;
                Child::Value(id.map(Cow::into_owned))
            }
            b"Value" => Child::Value(None),
            b"Rule" if wants_rules => {
                let [id, severity] = attributes(start, ["id", "severity"])?;
                let id = required(id, "Rule", "id")?;
                Child::Rule(Some((id, parse_severity(severity.as_deref())?)))
            }
            b"Rule" => Child::Rule(None),
            b"TestResult" => Child::TestResult(TestResultStart::read(start)?),
            _ => Child::Other,
        })
    }
}

impl<'v, S: Source, V: Visitor> Parser<'v, S, V> {
    pub(super) fn new(source: S, visitor: &'v mut V) -> Self {
        Parser {
            xml: Xml::new(source),
            visitor,
            summary: Summary::default(),
            wants_rules: false,
            value_titles: HashMap::new(),
            test_results: 0,
            text_buffer: String::new(),
        }
    }

    pub(super) fn run(mut self) -> Result<Summary, XccdfError> {
        self.root()?;
        self.after_root()?;
        if self.test_results == 0 {
            return Err(XccdfError::NoTestResult);
        }
        Ok(self.summary)
    }

    fn root(&mut self) -> Result<(), XccdfError> {
        loop {
            match self.xml.next()? {
                Item::Element { ns, start, empty } => {
                    return match (ns, start.local_name().as_ref()) {
                        (Ns::Xccdf, b"Benchmark") => {
                            let [id] = attributes(&start, ["id"])?;
                            let id = required(id, "Benchmark", "id")?;
                            self.benchmark(id, empty)
                        }
                        (Ns::Xccdf, b"TestResult") => {
                            let attributes = TestResultStart::read(&start)?;
                            self.test_result(attributes, empty)
                        }
                        (Ns::Arf, b"asset-report-collection") if empty => Ok(()),
                        (Ns::Arf, b"asset-report-collection") => self.arf(),
                        _ => Err(XccdfError::NotXccdf(describe_root(&start))),
                    };
                }
                Item::Text(text) if is_blank(&text) => {}
                Item::Text(text) if text.starts_with(&[0x1f, 0x8b]) => {
                    return Err(XccdfError::Xml(
                        "the input is gzip-compressed; read it through open_maybe_gzip".into(),
                    ))
                }
                Item::Ignored => {}
                Item::Eof => return Err(XccdfError::Xml("the file holds no XML element".into())),
                Item::Text(_) | Item::CData(_) | Item::Ref(_) | Item::End => {
                    return Err(XccdfError::Xml(
                        "the file has text before its root element".into(),
                    ))
                }
            }
        }
    }

    /// Reads to the end, so that a document cut short or followed by more content is refused.
    fn after_root(&mut self) -> Result<(), XccdfError> {
        loop {
            match self.xml.next()? {
                Item::Eof => return Ok(()),
                Item::Text(text) if is_blank(&text) => {}
                Item::Ignored => {}
                _ => {
                    return Err(XccdfError::Xml(
                        "the file has content after its root element".into(),
                    ))
                }
            }
        }
    }

    /// Walks the ARF and data-stream containers; anything else that is not the Benchmark or the
    /// TestResult (OVAL results, CPE dictionaries, OCIL, asset data) is skipped whole.
    fn arf(&mut self) -> Result<(), XccdfError> {
        let mut depth = 0usize;
        loop {
            match self.xml.next()? {
                Item::Element { ns, start, empty } => match (ns, start.local_name().as_ref()) {
                    (Ns::Xccdf, b"Benchmark") => {
                        let [id] = attributes(&start, ["id"])?;
                        let id = required(id, "Benchmark", "id")?;
                        self.benchmark(id, empty)?;
                    }
                    (Ns::Xccdf, b"TestResult") => {
                        let attributes = TestResultStart::read(&start)?;
                        self.test_result(attributes, empty)?;
                    }
                    (Ns::Arf | Ns::DataStream, _) if !empty => depth += 1,
                    _ => self.xml.skip_unless_empty(empty)?,
                },
                Item::End if depth == 0 => return Ok(()),
                Item::End => depth -= 1,
                Item::Eof => return Err(unexpected_eof()),
                _ => {}
            }
        }
    }

    fn benchmark(&mut self, id: String, empty: bool) -> Result<(), XccdfError> {
        if self.summary.had_benchmark {
            return Err(XccdfError::SeveralBenchmarks);
        }
        self.summary.had_benchmark = true;
        self.summary.benchmark_id = id;
        // The version element precedes Values, Groups, Rules and the TestResult; the visitor
        // hears of the Benchmark once the version is read or the first of those comes.
        let mut version = None;
        let mut announced = false;
        if !empty {
            loop {
                match self.xml.next()? {
                    Item::Element {
                        ns: Ns::Xccdf,
                        start,
                        empty,
                    } => {
                        let local = start.local_name();
                        let is_version = local.as_ref() == b"version";
                        let is_content = matches!(
                            local.as_ref(),
                            b"Value" | b"Group" | b"Rule" | b"TestResult"
                        );
                        if is_version && !announced && !empty {
                            version = Some(self.xml.simple_text(SHORT_LIMIT)?);
                            self.wants_rules =
                                announce(self.visitor, &mut self.summary, &mut version);
                            announced = true;
                            continue;
                        }
                        if is_content && !announced {
                            self.wants_rules =
                                announce(self.visitor, &mut self.summary, &mut version);
                            announced = true;
                        }
                        let child = Child::read(&start, self.wants_rules)?;
                        self.content_child(child, empty, 0)?;
                    }
                    Item::Element { empty: false, .. } => self.xml.skip()?,
                    Item::End => break,
                    Item::Eof => return Err(unexpected_eof()),
                    _ => {}
                }
            }
        }
        if !announced {
            self.wants_rules = announce(self.visitor, &mut self.summary, &mut version);
        }
        Ok(())
    }

    fn group(&mut self, depth: usize) -> Result<(), XccdfError> {
        if depth >= GROUP_DEPTH_LIMIT {
            return Err(XccdfError::Xml(format!(
                "Groups are nested more than {GROUP_DEPTH_LIMIT} levels deep"
            )));
        }
        loop {
            match self.xml.next()? {
                Item::Element {
                    ns: Ns::Xccdf,
                    start,
                    empty,
                } => {
                    let child = Child::read(&start, self.wants_rules)?;
                    self.content_child(child, empty, depth)?;
                }
                Item::Element { empty: false, .. } => self.xml.skip()?,
                Item::End => return Ok(()),
                Item::Eof => return Err(unexpected_eof()),
                _ => {}
            }
        }
    }

    /// A child of the Benchmark or of a Group at `depth` (0: the Benchmark).
    fn content_child(&mut self, child: Child, empty: bool, depth: usize) -> Result<(), XccdfError> {
        match child {
            Child::Group if empty => Ok(()),
            Child::Group => self.group(depth + 1),
            Child::Rule(texts) => {
                self.summary.rules_seen += 1;
                match texts {
                    Some((id, severity)) => self.rule(id, severity, empty),
                    None => self.xml.skip_unless_empty(empty),
                }
            }
            Child::Value(Some(id)) if !empty => self.value(id),
            Child::TestResult(attributes) => self.test_result(attributes, empty),
            Child::Version | Child::Value(_) | Child::Other => self.xml.skip_unless_empty(empty),
        }
    }

    /// Keeps a Value's title for the `sub` elements that name it; the rest is skipped.
    fn value(&mut self, id: String) -> Result<(), XccdfError> {
        let mut title = None;
        loop {
            match self.xml.next()? {
                Item::Element {
                    ns: Ns::Xccdf,
                    start,
                    empty: false,
                } if title.is_none() && start.local_name().as_ref() == b"title" => {
                    title = Some(self.xml.simple_text(SHORT_LIMIT)?);
                }
                Item::Element { empty: false, .. } => self.xml.skip()?,
                Item::End => break,
                Item::Eof => return Err(unexpected_eof()),
                _ => {}
            }
        }
        if let Some(title) = title.filter(|title| !title.is_empty()) {
            if self.value_titles.len() < VALUE_TITLES_LIMIT {
                self.value_titles.insert(id, title);
            }
        }
        Ok(())
    }
}

/// Tells the visitor of the Benchmark; its answer says whether rule texts are wanted.
fn announce<V: Visitor>(
    visitor: &mut V,
    summary: &mut Summary,
    version: &mut Option<String>,
) -> bool {
    summary.benchmark_version = version.take();
    visitor.benchmark(
        &summary.benchmark_id,
        summary.benchmark_version.as_deref().unwrap_or(""),
    )
}

/// A required attribute's value.
pub(super) fn required(
    value: Option<Cow<'_, str>>,
    element: &'static str,
    attribute: &'static str,
) -> Result<String, XccdfError> {
    value
        .map(Cow::into_owned)
        .ok_or(XccdfError::MissingAttribute { element, attribute })
}

/// A `severity` attribute; absent means unknown.
pub(super) fn parse_severity(value: Option<&str>) -> Result<Severity, XccdfError> {
    match value {
        None => Ok(Severity::Unknown),
        Some(word) => Severity::from_word(word.trim()).ok_or_else(|| {
            XccdfError::bad_value("severity (unknown, info, low, medium or high)", word)
        }),
    }
}

//! OpenSCAP results, read as a stream: XCCDF 1.2 results files (a `Benchmark` holding one
//! `TestResult`), ARF files (`asset-report-collection`, whose data stream holds the Benchmark and
//! whose reports hold the TestResult) and a bare `TestResult` ("thin" upload), plain or gzip.
//!
//! Elements are matched by namespace (`http://checklists.nist.gov/xccdf/1.2`), never by prefix:
//! results files use the default namespace, ARF the prefix `xccdf-1.2:`. Nothing is built as a
//! tree: rule texts and rule results go to a [`Visitor`] as each one completes, and everything
//! else (profiles, values, checks, fixes, OVAL and CPE components) is skipped without being kept,
//! so memory stays flat however large the file.
//!
//! The input is untrusted: a DTD is refused outright (so no entity is ever expanded), undefined
//! entity references and malformed XML are errors, and [`open_maybe_gzip`] caps the decompressed
//! size. If [`parse`] fails, whatever the visitor received must be discarded.

use std::io::BufRead;

use chrono::{DateTime, Utc};

mod attributes;
mod bounded;
mod gzip;
mod namespaces;
mod parser;
mod reader;
mod rule;
mod test_result;
#[cfg(test)]
mod tests;
mod text;

pub use gzip::{is_gzip, open_maybe_gzip, MaybeGzip};

/// The XCCDF 1.2 namespace.
pub const XCCDF_NS: &str = "http://checklists.nist.gov/xccdf/1.2";

/// Decompressed size allowed by [`parse_bytes`]; real results files are 6–15 MB.
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Receives the parts of a results document as the parser meets them, in document order.
pub trait Visitor {
    /// The Benchmark's id and version (e.g. "xccdf_org.ssgproject.content_benchmark_UBUNTU_22-04",
    /// "0.1.65"; the version is empty if the Benchmark has none). Called once, before any rule.
    /// Return true to receive its rule texts through `rule`, false to skip them cheaply (known
    /// version). Not called for a bare `TestResult`.
    fn benchmark(&mut self, id: &str, version: &str) -> bool;
    /// One `Rule` of the Benchmark, wherever it sits in its `Group`s.
    fn rule(&mut self, rule: RuleText);
    /// The `TestResult`, with every field that precedes its first `rule-result`; called once,
    /// just before that rule-result (or at the TestResult's end if it has none).
    fn test_result(&mut self, info: &TestResultInfo);
    /// One `rule-result`, in document order.
    fn rule_result(&mut self, result: RuleResult);
}

/// A rule's texts, from the Benchmark. The texts are plain text: XHTML markup removed, line
/// breaks kept where the markup had them (`br`, `p`, `li`, `pre`), spaces collapsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleText {
    pub id: String,
    pub title: String,
    pub description: String,
    pub rationale: String,
    pub severity: Severity,
    pub identifiers: Vec<Ident>,
    pub references: Vec<Reference>,
}

/// An `ident` of a rule, e.g. a CCE.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ident {
    /// The identifier's system, e.g. `https://ncp.nist.gov/cce`.
    pub system: String,
    pub value: String,
}

/// A `reference` of a rule; `text` may be empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reference {
    pub href: String,
    pub text: String,
}

/// What the `TestResult` says about the scan, as far as it is known before its rule results.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResultInfo {
    pub id: String,
    /// From `<benchmark id=…>` (or its `href` when it has no id), else the enclosing Benchmark's.
    pub benchmark_id: String,
    /// `TestResult@version`: the Benchmark version that was evaluated.
    pub version: Option<String>,
    pub profile_id: Option<String>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: DateTime<Utc>,
    /// The scanned host's name; empty if the TestResult names none.
    pub target: String,
    pub target_addresses: Vec<String>,
    /// Only known here if a `score` preceded the rule results (OpenSCAP writes it after them);
    /// [`Summary::score`] has it in every case.
    pub score: Option<f64>,
}

/// One rule's outcome in the scan.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleResult {
    pub rule_id: String,
    pub result: ResultKind,
    pub severity: Severity,
    pub time: Option<DateTime<Utc>>,
    pub weight: Option<f64>,
}

/// What the parser counted, returned once the whole document was read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// The Benchmark's id, or for a bare TestResult the id it names.
    pub benchmark_id: String,
    /// The Benchmark's `version`, or for a bare TestResult its `version` attribute.
    pub benchmark_version: Option<String>,
    /// Whether the document held the Benchmark (false for a bare TestResult).
    pub had_benchmark: bool,
    /// How many rule results of each kind.
    pub counts: Counts,
    /// How many `Rule` elements the Benchmark holds (counted even when their texts are skipped).
    pub rules_seen: usize,
    /// The TestResult's score: the default model's (`urn:xccdf:scoring:default` or no system),
    /// else the first one given.
    pub score: Option<f64>,
}

/// How many rule results of each [`ResultKind`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    pub unknown: usize,
    pub notapplicable: usize,
    pub notchecked: usize,
    pub notselected: usize,
    pub informational: usize,
    pub fixed: usize,
}

impl Counts {
    /// The count of one kind.
    pub fn get(&self, kind: ResultKind) -> usize {
        match kind {
            ResultKind::Pass => self.pass,
            ResultKind::Fail => self.fail,
            ResultKind::Error => self.error,
            ResultKind::Unknown => self.unknown,
            ResultKind::NotApplicable => self.notapplicable,
            ResultKind::NotChecked => self.notchecked,
            ResultKind::NotSelected => self.notselected,
            ResultKind::Informational => self.informational,
            ResultKind::Fixed => self.fixed,
        }
    }

    /// All rule results.
    pub fn total(&self) -> usize {
        ResultKind::ALL.iter().map(|&kind| self.get(kind)).sum()
    }

    fn add(&mut self, kind: ResultKind) {
        let slot = match kind {
            ResultKind::Pass => &mut self.pass,
            ResultKind::Fail => &mut self.fail,
            ResultKind::Error => &mut self.error,
            ResultKind::Unknown => &mut self.unknown,
            ResultKind::NotApplicable => &mut self.notapplicable,
            ResultKind::NotChecked => &mut self.notchecked,
            ResultKind::NotSelected => &mut self.notselected,
            ResultKind::Informational => &mut self.informational,
            ResultKind::Fixed => &mut self.fixed,
        };
        *slot += 1;
    }
}

/// The XCCDF result of a rule. `code()` is stable: it is what storage keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultKind {
    Pass,
    Fail,
    Error,
    Unknown,
    NotApplicable,
    NotChecked,
    NotSelected,
    Informational,
    Fixed,
}

/// How a rule result counts toward a machine's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `pass`, `fixed`.
    Passing,
    /// `fail`, `error`: the machine fails the audit.
    Failing,
    /// `notapplicable`, `notchecked`, `informational`, `unknown`: selected, but neither.
    Other,
    /// `notselected`: not part of the audit.
    NotSelected,
}

impl ResultKind {
    /// How the result counts: a machine fails when any selected rule is `fail` or `error`.
    pub fn class(self) -> Class {
        match self {
            ResultKind::Pass | ResultKind::Fixed => Class::Passing,
            ResultKind::Fail | ResultKind::Error => Class::Failing,
            ResultKind::NotSelected => Class::NotSelected,
            ResultKind::NotApplicable
            | ResultKind::NotChecked
            | ResultKind::Informational
            | ResultKind::Unknown => Class::Other,
        }
    }

    /// Every kind, in code order.
    pub const ALL: [ResultKind; 9] = [
        ResultKind::Pass,
        ResultKind::Fail,
        ResultKind::Error,
        ResultKind::Unknown,
        ResultKind::NotApplicable,
        ResultKind::NotChecked,
        ResultKind::NotSelected,
        ResultKind::Informational,
        ResultKind::Fixed,
    ];

    /// The XCCDF word (`pass`, `notapplicable`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ResultKind::Pass => "pass",
            ResultKind::Fail => "fail",
            ResultKind::Error => "error",
            ResultKind::Unknown => "unknown",
            ResultKind::NotApplicable => "notapplicable",
            ResultKind::NotChecked => "notchecked",
            ResultKind::NotSelected => "notselected",
            ResultKind::Informational => "informational",
            ResultKind::Fixed => "fixed",
        }
    }

    /// The kind named by an XCCDF word.
    pub fn from_word(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == word)
    }

    /// A small stable number, 0..=8.
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }
}

/// A rule's severity (XCCDF `severity`); `Unknown` when not given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Severity {
    #[default]
    Unknown,
    Info,
    Low,
    Medium,
    High,
}

impl Severity {
    /// Every severity, in code order.
    pub const ALL: [Severity; 5] = [
        Severity::Unknown,
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
    ];

    /// The XCCDF word (`unknown`, `info`, `low`, `medium`, `high`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    /// The severity named by an XCCDF word.
    pub fn from_word(word: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|severity| severity.as_str() == word)
    }

    /// A small stable number, 0..=4.
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }
}

/// Why a document was refused; the messages are meant for the uploader (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XccdfError {
    #[error("the file is not well-formed XML: {0}")]
    Xml(String),
    #[error("the file has a DOCTYPE declaration; DTDs and entity declarations are not accepted")]
    Dtd,
    #[error("the file is not an XCCDF 1.2 result: its root element is {0}; expected an XCCDF 1.2 Benchmark or TestResult, or an ARF asset-report-collection")]
    NotXccdf(String),
    #[error("the file holds no XCCDF TestResult; upload the results written by `oscap xccdf eval --results` or `--results-arf`")]
    NoTestResult,
    #[error("the file holds more than one XCCDF TestResult; upload the results of a single scan")]
    SeveralTestResults,
    #[error("the file holds more than one XCCDF Benchmark")]
    SeveralBenchmarks,
    #[error("element `{element}` lacks its `{attribute}` attribute")]
    MissingAttribute {
        element: &'static str,
        attribute: &'static str,
    },
    #[error("element `{element}` lacks its `{child}` element")]
    MissingElement {
        element: &'static str,
        child: &'static str,
    },
    #[error("`{value}` is not a valid {what}")]
    BadValue { what: &'static str, value: String },
    #[error("the file is too large once decompressed")]
    TooLarge,
    #[error("the file could not be read: {0}")]
    Io(String),
}

impl XccdfError {
    fn bad_value(what: &'static str, value: &str) -> Self {
        const SHOWN: usize = 80;
        let mut shown: String = value.chars().take(SHOWN).collect();
        if shown.len() < value.len() {
            shown.push('…');
        }
        XccdfError::BadValue { what, value: shown }
    }
}

/// Reads an XCCDF results, ARF or bare TestResult document (not compressed: wrap the input in
/// [`open_maybe_gzip`] first if it may be), handing its parts to `visitor`.
pub fn parse<R: BufRead>(input: R, visitor: &mut impl Visitor) -> Result<Summary, XccdfError> {
    parser::Parser::new(reader::Streamed::new(input), visitor).run()
}

/// [`parse`] for a document already in memory (not compressed): the same checks and answers,
/// without copying each event out of the input.
pub fn parse_in_memory(xml: &[u8], visitor: &mut impl Visitor) -> Result<Summary, XccdfError> {
    parser::Parser::new(reader::InMemory::new(xml), visitor).run()
}

/// Reads `bytes` (gzip or not, at most [`DEFAULT_MAX_BYTES`] once decompressed).
pub fn parse_bytes(bytes: &[u8], visitor: &mut impl Visitor) -> Result<Summary, XccdfError> {
    parse_bytes_limited(bytes, DEFAULT_MAX_BYTES, visitor)
}

/// Reads `bytes`, gzip or not, at most `max_bytes` once decompressed: plain bytes are parsed
/// where they are, their events borrowed; gzip is decompressed as it is parsed, never whole into
/// memory (a 7.5 MB document held at once per parse kept the server's allocator at twice its
/// size). The answer is [`parse`]'s in every case.
pub fn parse_bytes_limited(
    bytes: &[u8],
    max_bytes: u64,
    visitor: &mut impl Visitor,
) -> Result<Summary, XccdfError> {
    if gzip::is_gzip(bytes) {
        return parse(open_maybe_gzip(bytes, max_bytes), visitor);
    }
    if bytes.len() as u64 > max_bytes {
        return Err(XccdfError::TooLarge);
    }
    parse_in_memory(bytes, visitor)
}

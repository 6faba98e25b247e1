//! The TestResult: what is known of the scan before its rule results goes to the visitor just
//! before the first `rule-result`; then each rule result as it completes; the score at the end.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime, Utc};
use quick_xml::events::BytesStart;

use super::attributes::attributes;
use super::parser::{parse_severity, required, Parser, LIST_LIMIT, SHORT_LIMIT};
use super::reader::{unexpected_eof, Item, Ns, Source};
use super::{ResultKind, RuleResult, Severity, TestResultInfo, Visitor, XccdfError};

const DEFAULT_SCORING: &str = "urn:xccdf:scoring:default";

/// The attributes of a TestResult start tag.
pub(super) struct TestResultStart {
    id: Option<String>,
    start_time: Option<String>,
    end_time: Option<String>,
    version: Option<String>,
}

impl TestResultStart {
    pub(super) fn read(start: &BytesStart<'_>) -> Result<Self, XccdfError> {
        let [id, start_time, end_time, version] =
            attributes(start, ["id", "start-time", "end-time", "version"])?;
        Ok(TestResultStart {
            id: id.map(Cow::into_owned),
            start_time: start_time.map(Cow::into_owned),
            end_time: end_time.map(Cow::into_owned),
            version: version.map(Cow::into_owned),
        })
    }
}

/// A `rule-result` start tag, its attributes checked.
struct RuleResultStart {
    rule_id: String,
    severity: Severity,
    time: Option<DateTime<Utc>>,
    weight: Option<f64>,
}

impl RuleResultStart {
    fn read(start: &BytesStart<'_>) -> Result<Self, XccdfError> {
        let [idref, severity, time, weight] =
            attributes(start, ["idref", "severity", "time", "weight"])?;
        Ok(RuleResultStart {
            rule_id: required(idref, "rule-result", "idref")?,
            severity: parse_severity(severity.as_deref())?,
            time: time
                .map(|time| parse_time("rule-result time", &time))
                .transpose()?,
            weight: weight
                .map(|weight| parse_number("rule-result weight", &weight))
                .transpose()?,
        })
    }
}

/// The children of a TestResult this module reads.
enum Child {
    Benchmark(Option<String>),
    Profile(Option<String>),
    Target,
    TargetAddress,
    RuleResult(RuleResultStart),
    /// A score, and whether it is the default model's.
    Score(bool),
    Other,
}

impl Child {
    fn read(start: &BytesStart<'_>) -> Result<Child, XccdfError> {
        Ok(match start.local_name().as_ref() {
            b"benchmark" => {
                let [id, href] = attributes(start, ["id", "href"])?;
                Child::Benchmark(id.or(href).map(Cow::into_owned))
            }
            b"profile" => {
                let [idref] = attributes(start, ["idref"])?;
                Child::Profile(idref.map(Cow::into_owned))
            }
            b"target" => Child::Target,
            b"target-address" => Child::TargetAddress,
            b"rule-result" => Child::RuleResult(RuleResultStart::read(start)?),
            b"score" => {
                let [system] = attributes(start, ["system"])?;
                Child::Score(system.is_none_or(|system| system == DEFAULT_SCORING))
            }
            _ => Child::Other,
        })
    }
}

impl<S: Source, V: Visitor> Parser<'_, S, V> {
    pub(super) fn test_result(
        &mut self,
        start: TestResultStart,
        empty: bool,
    ) -> Result<(), XccdfError> {
        self.test_results += 1;
        if self.test_results > 1 {
            return Err(XccdfError::SeveralTestResults);
        }
        let end_time = required(start.end_time.map(Cow::Owned), "TestResult", "end-time")?;
        let mut info = TestResultInfo {
            id: required(start.id.map(Cow::Owned), "TestResult", "id")?,
            benchmark_id: String::new(),
            version: start.version,
            profile_id: None,
            start_time: start
                .start_time
                .map(|time| parse_time("TestResult start-time", &time))
                .transpose()?,
            end_time: parse_time("TestResult end-time", &end_time)?,
            target: String::new(),
            target_addresses: Vec::new(),
            score: None,
        };
        let mut delivered = false;
        // The score, and whether it is the default model's (preferred over any other).
        let mut score: Option<(f64, bool)> = None;
        if !empty {
            loop {
                let (child, empty) = match self.xml.next()? {
                    Item::Element {
                        ns: Ns::Xccdf,
                        start,
                        empty,
                    } => (Child::read(&start)?, empty),
                    Item::Element { empty: false, .. } => {
                        self.xml.skip()?;
                        continue;
                    }
                    Item::End => break,
                    Item::Eof => return Err(unexpected_eof()),
                    _ => continue,
                };
                match child {
                    Child::Benchmark(id) => {
                        info.benchmark_id = id.unwrap_or_default();
                        self.xml.skip_unless_empty(empty)?;
                    }
                    Child::Profile(idref) => {
                        info.profile_id = idref;
                        self.xml.skip_unless_empty(empty)?;
                    }
                    Child::Target if !empty => {
                        let target = self.xml.simple_text(SHORT_LIMIT)?;
                        if info.target.is_empty() {
                            info.target = target;
                        }
                    }
                    Child::TargetAddress if !empty => {
                        let address = self.xml.simple_text(SHORT_LIMIT)?;
                        if !address.is_empty() && info.target_addresses.len() < LIST_LIMIT {
                            info.target_addresses.push(address);
                        }
                    }
                    Child::RuleResult(start) => {
                        if !delivered {
                            self.deliver(&mut info)?;
                            delivered = true;
                        }
                        let result = self.rule_result(start, empty)?;
                        self.summary.counts.add(result.result);
                        self.visitor.rule_result(result);
                    }
                    Child::Score(is_default) => {
                        let text = match empty {
                            true => String::new(),
                            false => self.xml.simple_text(SHORT_LIMIT)?,
                        };
                        let value = parse_number("TestResult score", &text)?;
                        if score.is_none_or(|(_, kept_default)| is_default && !kept_default) {
                            score = Some((value, is_default));
                            if !delivered {
                                info.score = Some(value);
                            }
                        }
                    }
                    Child::Target | Child::TargetAddress | Child::Other => {
                        self.xml.skip_unless_empty(empty)?
                    }
                }
            }
        }
        if !delivered {
            self.deliver(&mut info)?;
        }
        self.summary.score = score.map(|(value, _)| value);
        Ok(())
    }

    /// Hands the TestResult's information to the visitor, completing it from the Benchmark.
    fn deliver(&mut self, info: &mut TestResultInfo) -> Result<(), XccdfError> {
        if info.benchmark_id.is_empty() {
            if !self.summary.had_benchmark {
                return Err(XccdfError::MissingElement {
                    element: "TestResult",
                    child: "benchmark",
                });
            }
            info.benchmark_id.clone_from(&self.summary.benchmark_id);
        }
        if !self.summary.had_benchmark {
            self.summary.benchmark_id.clone_from(&info.benchmark_id);
            self.summary.benchmark_version.clone_from(&info.version);
        }
        self.visitor.test_result(info);
        Ok(())
    }

    fn rule_result(
        &mut self,
        start: RuleResultStart,
        empty: bool,
    ) -> Result<RuleResult, XccdfError> {
        let mut result = None;
        if !empty {
            loop {
                match self.xml.next()? {
                    Item::Element {
                        ns: Ns::Xccdf,
                        start,
                        empty,
                    } if result.is_none() && start.local_name().as_ref() == b"result" => {
                        let word = match empty {
                            true => String::new(),
                            false => self.xml.simple_text(SHORT_LIMIT)?,
                        };
                        result = Some(ResultKind::from_word(&word).ok_or_else(|| {
                            XccdfError::bad_value(
                                "rule result (pass, fail, error, unknown, notapplicable, \
                                 notchecked, notselected, informational or fixed)",
                                &word,
                            )
                        })?);
                    }
                    Item::Element { empty: false, .. } => self.xml.skip()?,
                    Item::End => break,
                    Item::Eof => return Err(unexpected_eof()),
                    _ => {}
                }
            }
        }
        Ok(RuleResult {
            rule_id: start.rule_id,
            result: result.ok_or(XccdfError::MissingElement {
                element: "rule-result",
                child: "result",
            })?,
            severity: start.severity,
            time: start.time,
            weight: start.weight,
        })
    }
}

/// An `xsd:dateTime`, converted to UTC; one without an offset is taken as UTC.
fn parse_time(what: &'static str, text: &str) -> Result<DateTime<Utc>, XccdfError> {
    let trimmed = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|at| at.and_utc())
        .map_err(|_| XccdfError::bad_value(what, text))
}

/// A finite decimal number.
fn parse_number(what: &'static str, text: &str) -> Result<f64, XccdfError> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|number| number.is_finite())
        .ok_or_else(|| XccdfError::bad_value(what, text))
}

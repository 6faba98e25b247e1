//! Validation of an uploaded XCCDF tailoring file: a `Tailoring` root in the XCCDF 1.2 (or 1.1)
//! namespace holding exactly one `Profile` that names its own `id` and the profile it `extends`,
//! from which the benchmark is derived (`…content_profile_cis_level1_server` →
//! `cis_level1_server`).
//!
//! The file is only checked, never rewritten: the caller stores the text byte for byte. The
//! whole document must be well-formed XML before anything about its content is reported, so a
//! broken file is always called broken. The input is untrusted: a DTD is refused outright (so no
//! entity is ever declared or expanded), only the five predefined entities and character
//! references are accepted, and nesting is bounded. Elements are matched by namespace, never by
//! prefix.

use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::{NamespaceResolver, ResolveResult};
use quick_xml::{NsReader, XmlVersion};

use crate::profile::{shorten, Benchmark};
use crate::xccdf::XCCDF_NS;

/// The largest tailoring file accepted, in bytes (5 MiB).
pub const MAX_TAILORING_BYTES: usize = 5 * 1024 * 1024;

/// The longest Profile `id` and `extends` accepted: results files naming a longer profile are
/// refused, so a tailored profile could never be audited.
pub const MAX_ID_BYTES: usize = 1000;

/// The XCCDF 1.1 namespace, which older tailoring files use.
const XCCDF_1_1_NS: &str = "http://checklists.nist.gov/xccdf/1.1";

/// How deeply elements may nest. Real tailoring files nest three levels; quick-xml's namespace
/// resolver counts levels in a `u16`, so an unbounded depth would overflow it.
const MAX_DEPTH: usize = 256;

/// A valid tailoring file's profile: its id, the profile it extends, and that profile's
/// benchmark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tailoring {
    profile_id: String,
    extends: String,
    benchmark: Benchmark,
}

/// Why a tailoring file was refused; the messages are meant for the uploader (HTTP 400, or 413
/// for [`TailoringError::TooLarge`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TailoringError {
    #[error("the tailoring file is {bytes} bytes long; at most {limit} bytes are accepted")]
    TooLarge { bytes: usize, limit: usize },
    #[error("the tailoring file is not well-formed XML: {0}")]
    Malformed(String),
    #[error("the tailoring file has a DOCTYPE declaration; DTDs and entity declarations are not accepted")]
    Doctype,
    #[error("the tailoring file's root element is {0}; expected `Tailoring` in namespace `{XCCDF_NS}` (or `{XCCDF_1_1_NS}`)")]
    WrongRoot(String),
    #[error(
        "the tailoring file must hold exactly one XCCDF `Profile` in its `Tailoring`; it holds {0}"
    )]
    ProfileCount(usize),
    #[error("the tailoring file's `Profile` lacks its `{0}` attribute, or it is empty")]
    MissingAttribute(&'static str),
    #[error("the tailoring file's `Profile` has a `{0}` longer than {1} bytes")]
    LongAttribute(&'static str, usize),
    #[error("the tailoring file's `Profile` extends a profile of an unknown benchmark: {0}")]
    UnknownBenchmark(String),
}

impl Tailoring {
    /// Checks a tailoring file's text (see the module documentation) and reads its profile.
    pub fn parse(text: &str) -> Result<Tailoring, TailoringError> {
        if text.len() > MAX_TAILORING_BYTES {
            return Err(TailoringError::TooLarge {
                bytes: text.len(),
                limit: MAX_TAILORING_BYTES,
            });
        }
        check_characters(text)?;
        let content = scan(text)?;
        if let Some(root) = content.wrong_root {
            return Err(TailoringError::WrongRoot(root));
        }
        if content.profiles != 1 {
            return Err(TailoringError::ProfileCount(content.profiles));
        }
        let profile_id = content.id.ok_or(TailoringError::MissingAttribute("id"))?;
        let extends = content
            .extends
            .ok_or(TailoringError::MissingAttribute("extends"))?;
        // Results name the tailored profile; rampart stores ids up to this length.
        for (name, value) in [("id", &profile_id), ("extends", &extends)] {
            if value.len() > MAX_ID_BYTES {
                return Err(TailoringError::LongAttribute(name, MAX_ID_BYTES));
            }
        }
        let benchmark = benchmark_of(&extends)?;
        Ok(Tailoring {
            profile_id,
            extends,
            benchmark,
        })
    }

    /// The tailored profile's id (`xccdf_com.example_profile_cis_level1_server_fleet`).
    pub fn profile_id(&self) -> &str {
        &self.profile_id
    }

    /// The id of the profile it extends (`xccdf_org.ssgproject.content_profile_cis_level1_server`).
    pub fn extends(&self) -> &str {
        &self.extends
    }

    /// The benchmark of the extended profile (`cis_level1_server`).
    pub fn benchmark(&self) -> &Benchmark {
        &self.benchmark
    }
}

/// The benchmark named by an extended profile's id: what follows the first `_profile_` (an
/// XCCDF 1.2 id is `xccdf_<namespace without underscores>_profile_<name>`), or the whole id when
/// it has no `_profile_`, as XCCDF 1.1 ids need not.
fn benchmark_of(extends: &str) -> Result<Benchmark, TailoringError> {
    let name = extends
        .split_once("_profile_")
        .map_or(extends, |(_, name)| name);
    Benchmark::parse(name).map_err(TailoringError::UnknownBenchmark)
}

/// What the walk through the document found.
#[derive(Default)]
struct Content {
    /// The root element, described, when it is not an XCCDF `Tailoring`.
    wrong_root: Option<String>,
    /// `Profile` children of the `Tailoring`.
    profiles: usize,
    /// The first profile's `id` and `extends`, trimmed, when not empty.
    id: Option<String>,
    extends: Option<String>,
}

/// Reads the whole document, checking that it is well-formed, and gathers the root and its
/// profiles.
fn scan(text: &str) -> Result<Content, TailoringError> {
    let mut reader = NsReader::from_str(text);
    // quick-xml's defaults already check that end tags match; `--` inside comments is off.
    reader.config_mut().check_comments = true;
    let mut content = Content::default();
    // The root's namespace, once it is known to be an XCCDF `Tailoring`.
    let mut tailoring_ns = None;
    let (mut seen_root, mut depth, mut first) = (false, 0usize, true);
    loop {
        let (resolved, event) = match reader.read_resolved_event() {
            Ok(read) => read,
            Err(error) => {
                let at = reader.error_position();
                return Err(malformed(format!("{error} (at byte {at})")));
            }
        };
        let namespace = xccdf_namespace(resolved);
        let at = reader.buffer_position();
        let namespace = namespace.map_err(|prefix| undeclared(&prefix, at))?;
        let stray = match &event {
            // Other ASCII white space (form feed) is already refused by `check_characters`.
            Event::Text(text) => !text.trim_ascii().is_empty(),
            Event::Start(_) | Event::Empty(_) => seen_root,
            Event::CData(_) | Event::GeneralRef(_) => true,
            _ => false,
        };
        if depth == 0 && stray {
            let place = if seen_root { "after" } else { "before" };
            return Err(malformed(format!(
                "the file has content {place} its root element (before byte {at})"
            )));
        }
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                if depth == 0 {
                    seen_root = true;
                    match namespace {
                        Some(ns) if start.local_name().as_ref() == b"Tailoring" => {
                            tailoring_ns = Some(ns);
                        }
                        _ => content.wrong_root = Some(describe(start, reader.resolver())),
                    }
                }
                let profile = depth == 1
                    && namespace.is_some()
                    && namespace == tailoring_ns
                    && start.local_name().as_ref() == b"Profile";
                content.profiles += usize::from(profile);
                let wanted = (profile && content.profiles == 1).then_some(&mut content);
                check_attributes(start, reader.resolver(), at, wanted)?;
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(malformed(format!(
                            "elements nest more than {MAX_DEPTH} levels deep (at byte {at})"
                        )));
                    }
                }
            }
            // quick-xml refuses an end tag that closes nothing.
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::GeneralRef(reference) => check_reference(&reference, at)?,
            Event::DocType(_) => return Err(TailoringError::Doctype),
            Event::Decl(_) if !first => {
                return Err(malformed(format!(
                    "the XML declaration must open the file, but is found before byte {at}"
                )))
            }
            Event::Eof if depth > 0 => {
                return Err(malformed(format!(
                    "the file ends (at byte {at}) before all its elements are closed"
                )))
            }
            Event::Eof if !seen_root => {
                return Err(malformed("the file holds no XML element".into()))
            }
            Event::Eof => return Ok(content),
            // The file is stored and handed to agents as the UTF-8 text it arrived as: a
            // declaration naming another encoding would make OpenSCAP misread it.
            Event::Decl(decl) => {
                if let Some(Ok(encoding)) = decl.encoding() {
                    let encoding = String::from_utf8_lossy(&encoding).to_ascii_lowercase();
                    if encoding != "utf-8" && encoding != "utf8" {
                        return Err(malformed(format!(
                            "the XML declaration names encoding `{encoding}`; a tailoring file \
                             is UTF-8 text, so declare UTF-8 or no encoding"
                        )));
                    }
                }
            }
            Event::Text(_) | Event::CData(_) | Event::PI(_) | Event::Comment(_) => {}
        }
        first = false;
    }
}

/// Which XCCDF namespace an element is in, if any; an undeclared prefix is the error.
fn xccdf_namespace(resolved: ResolveResult<'_>) -> Result<Option<&'static str>, Vec<u8>> {
    Ok(match resolved {
        ResolveResult::Bound(ns) if ns.as_ref() == XCCDF_NS.as_bytes() => Some(XCCDF_NS),
        ResolveResult::Bound(ns) if ns.as_ref() == XCCDF_1_1_NS.as_bytes() => Some(XCCDF_1_1_NS),
        ResolveResult::Bound(_) | ResolveResult::Unbound => None,
        ResolveResult::Unknown(prefix) => return Err(prefix),
    })
}

/// Checks every attribute of a tag (unique names, declared prefixes, no `<`, only known
/// entities) and, for the first `Profile`, keeps its `id` and `extends`.
fn check_attributes(
    start: &BytesStart<'_>,
    resolver: &NamespaceResolver,
    at: u64,
    mut profile: Option<&mut Content>,
) -> Result<(), TailoringError> {
    let bad = |error: &dyn std::fmt::Display| {
        malformed(format!(
            "in the `<{}>` tag ending at byte {at}: {error}",
            shorten(&String::from_utf8_lossy(start.name().as_ref()))
        ))
    };
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|error| bad(&error))?;
        if let (ResolveResult::Unknown(prefix), _) = resolver.resolve_attribute(attribute.key) {
            return Err(undeclared(&prefix, at));
        }
        if attribute.value.contains(&b'<') {
            return Err(bad(&"`<` is not allowed in an attribute value"));
        }
        let value = attribute
            .normalized_value_with(XmlVersion::Implicit1_0, 1, resolve_xml_entity)
            .map_err(|error| bad(&error))?;
        if let Some(c) = value.chars().find(|&c| !is_xml_char(c)) {
            return Err(bad(&format!(
                "the character U+{:04X} is not allowed",
                c as u32
            )));
        }
        if let Some(profile) = profile.as_deref_mut() {
            let kept = (!value.trim().is_empty()).then(|| value.trim().to_owned());
            match attribute.key.as_ref() {
                b"id" => profile.id = kept,
                b"extends" => profile.extends = kept,
                _ => {}
            }
        }
    }
    Ok(())
}

/// Checks an entity or character reference in text: only the predefined entities exist without
/// a DTD, and a character reference must name a character XML allows.
fn check_reference(reference: &BytesRef<'_>, at: u64) -> Result<(), TailoringError> {
    let name = String::from_utf8_lossy(reference);
    match reference.resolve_char_ref() {
        Ok(Some(c)) if is_xml_char(c) => Ok(()),
        Ok(None) if resolve_xml_entity(&name).is_some() => Ok(()),
        _ => Err(malformed(format!(
            "`&{};` before byte {at} is neither a predefined entity (&lt; &gt; &amp; &apos; &quot;) nor a valid character reference; other entities are not defined",
            shorten(&name)
        ))),
    }
}

/// Refuses characters XML 1.0 does not allow anywhere (control characters other than tab and
/// line ends, U+FFFE, U+FFFF); quick-xml does not look for them.
fn check_characters(text: &str) -> Result<(), TailoringError> {
    match text.char_indices().find(|&(_, c)| !is_xml_char(c)) {
        Some((at, c)) => Err(malformed(format!(
            "the character U+{:04X} at byte {at} is not allowed in XML",
            c as u32
        ))),
        None => Ok(()),
    }
}

/// XML 1.0's `Char` production (a `char` is never a surrogate).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{fffd}' | '\u{10000}'..)
}

/// Names an element and its namespace, for messages.
fn describe(start: &BytesStart<'_>, resolver: &NamespaceResolver) -> String {
    let (namespace, local) = resolver.resolve_element(start.name());
    let local = shorten(&String::from_utf8_lossy(local.as_ref()));
    match namespace {
        ResolveResult::Bound(ns) => {
            let ns = shorten(&String::from_utf8_lossy(ns.as_ref()));
            format!("`{local}` in namespace `{ns}`")
        }
        _ => format!("`{local}` in no namespace"),
    }
}

fn undeclared(prefix: &[u8], at: u64) -> TailoringError {
    malformed(format!(
        "the namespace prefix `{}` used before byte {at} is not declared",
        shorten(&String::from_utf8_lossy(prefix))
    ))
}

fn malformed(message: String) -> TailoringError {
    TailoringError::Malformed(message)
}

#[cfg(test)]
mod tests;

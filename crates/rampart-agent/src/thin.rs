//! Thin uploads: a results file cut down to its XCCDF 1.2 `TestResult`. When the server already
//! holds the rule texts of the benchmark version a file audited (the poll's `known_versions`),
//! the `TestResult` is all it needs — about 200 KB of a 7.5 MB results file.
//!
//! The element is cut out byte for byte (offsets from `quick-xml`, nothing re-serialised), so the
//! server reads exactly the rule results, times, target and profile the whole file holds. What
//! the cut would lose is the namespace declarations its ancestors made (ARF declares prefixes on
//! the root): every one in scope that the `TestResult` does not make itself is added to its start
//! tag. Namespaces are matched by URI, never by prefix. A DTD is refused, as the server refuses
//! it; nothing beyond the (decompressed) file and the cut is held in memory.

use std::borrow::Cow;
use std::io::Read;

use anyhow::{bail, Context};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// The XCCDF 1.2 namespace.
const XCCDF_NS: &[u8] = b"http://checklists.nist.gov/xccdf/1.2";

/// The most a gzip-compressed results file may expand to (real ones are 6–15 MB).
const MAX_XML_BYTES: u64 = 256 * 1024 * 1024;

/// What starts the thin document.
const DECLARATION: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// A results file cut down to its `TestResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thin {
    /// `TestResult/benchmark/@id`, else the id of the `Benchmark` that holds the `TestResult`.
    pub benchmark_id: String,
    /// `TestResult/@version`: the benchmark version audited.
    pub version: String,
    /// A standalone XML document (not compressed): an XML declaration, then the `TestResult`
    /// element as the file has it, with the namespace declarations it inherited added to its
    /// start tag.
    pub document: Vec<u8>,
}

/// Cuts the first XCCDF 1.2 `TestResult` out of `file` (XCCDF 1.2 results or ARF, plain or
/// gzip-compressed). An error says why the file has none that can stand alone: not XML, a DTD,
/// no `TestResult`, no benchmark id or version.
pub fn cut(file: &[u8]) -> anyhow::Result<Thin> {
    let xml = decompressed(file)?;
    cut_xml(&xml)
}

/// `file` itself, or its text when it is gzip.
fn decompressed(file: &[u8]) -> anyhow::Result<Cow<'_, [u8]>> {
    if !crate::spool::is_gzip(file) {
        return Ok(Cow::Borrowed(file));
    }
    let mut xml = Vec::new();
    flate2::read::MultiGzDecoder::new(file)
        .take(MAX_XML_BYTES + 1)
        .read_to_end(&mut xml)
        .context("the results file is not valid gzip")?;
    if xml.len() as u64 > MAX_XML_BYTES {
        bail!("the results file expands to more than {MAX_XML_BYTES} bytes");
    }
    Ok(Cow::Owned(xml))
}

/// A namespace declaration (`xmlns` or `xmlns:p`) as written in a start tag.
#[derive(Debug, Clone)]
struct Declaration {
    /// The attribute name: `xmlns` or `xmlns:p`.
    name: Vec<u8>,
    /// The value as written (escaped), between its quotes.
    raw: Vec<u8>,
}

impl Declaration {
    /// The prefix declared; empty for the default namespace.
    fn prefix(&self) -> &[u8] {
        self.name.strip_prefix(b"xmlns:").unwrap_or_default()
    }

    /// The namespace URI.
    fn uri(&self) -> Cow<'_, [u8]> {
        if self.raw.contains(&b'&') {
            let text = String::from_utf8_lossy(&self.raw);
            match quick_xml::escape::unescape(&text) {
                Ok(uri) => Cow::Owned(uri.into_owned().into_bytes()),
                Err(_) => Cow::Borrowed(&self.raw),
            }
        } else {
            Cow::Borrowed(&self.raw)
        }
    }

    /// ` name="raw"` (or with `'` when the value holds `"`: it was quoted so).
    fn write(&self, out: &mut Vec<u8>) {
        let quote = if self.raw.contains(&b'"') {
            b'\''
        } else {
            b'"'
        };
        out.push(b' ');
        out.extend_from_slice(&self.name);
        out.push(b'=');
        out.push(quote);
        out.extend_from_slice(&self.raw);
        out.push(quote);
    }
}

/// An element open around the reader's position.
#[derive(Debug, Default)]
struct Open {
    declarations: Vec<Declaration>,
    /// Its id when it is an XCCDF 1.2 `Benchmark`.
    benchmark_id: Option<String>,
}

/// The namespace declarations of a start tag (most tags have none: only those naming `xmlns`
/// are read attribute by attribute).
fn declarations(tag: &BytesStart) -> anyhow::Result<Vec<Declaration>> {
    let raw = tag.attributes_raw();
    if !raw.windows(5).any(|w| w == b"xmlns") {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for attribute in tag.attributes() {
        let attribute = attribute.context("the results file is not well-formed XML")?;
        if attribute.key.as_namespace_binding().is_some() {
            found.push(Declaration {
                name: attribute.key.as_ref().to_vec(),
                raw: attribute.value.into_owned(),
            });
        }
    }
    Ok(found)
}

/// Whether the element of `tag` (declaring `own`) is in the XCCDF 1.2 namespace, given the
/// elements open around it.
fn is_xccdf(tag: &BytesStart, own: &[Declaration], open: &[Open]) -> bool {
    let prefix = tag.name().prefix().map(|p| p.as_ref().to_vec());
    let prefix = prefix.as_deref().unwrap_or_default();
    own.iter()
        .chain(open.iter().rev().flat_map(|o| o.declarations.iter()))
        .find(|d| d.prefix() == prefix)
        .is_some_and(|d| d.uri() == XCCDF_NS)
}

/// The value of the unprefixed attribute `name`, unescaped.
fn attribute(tag: &BytesStart, name: &str) -> anyhow::Result<Option<String>> {
    let found = tag
        .try_get_attribute(name)
        .context("the results file is not well-formed XML")?;
    let Some(found) = found else {
        return Ok(None);
    };
    let value = found
        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
        .context("the results file is not well-formed XML")?;
    Ok(Some(value.into_owned()))
}

/// The `TestResult` being read.
struct Found {
    /// Where its start tag begins in the document.
    start: usize,
    /// The end of its name in the document (where inherited declarations go).
    name_end: usize,
    /// How many elements are open outside it.
    level: usize,
    version: Option<String>,
    benchmark_id: Option<String>,
    /// Declarations in scope from its ancestors that it does not make itself.
    inherited: Vec<Declaration>,
}

fn malformed(error: quick_xml::Error, at: u64) -> anyhow::Error {
    anyhow::anyhow!("the results file is not well-formed XML (at byte {at}): {error}")
}

fn cut_xml(xml: &[u8]) -> anyhow::Result<Thin> {
    let mut reader = Reader::from_reader(xml);
    let config = reader.config_mut();
    config.trim_text(false);
    config.expand_empty_elements = false;
    config.check_end_names = true;
    let mut open: Vec<Open> = Vec::new();
    let mut found: Option<Found> = None;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| malformed(e, reader.error_position()))?;
        let after = reader.buffer_position() as usize;
        let (tag, empty) = match event {
            Event::Start(tag) => (tag, false),
            Event::Empty(tag) => (tag, true),
            Event::End(_) => {
                open.pop();
                if let Some(state) = found.take_if(|state| open.len() == state.level) {
                    return finish(xml, state, &open, after);
                }
                continue;
            }
            Event::DocType(_) => {
                bail!("the results file has a DTD (<!DOCTYPE …>), which is never accepted")
            }
            Event::Decl(declaration) => {
                check_encoding(&declaration)?;
                continue;
            }
            Event::Eof if found.is_some() => bail!("the results file ends inside its TestResult"),
            Event::Eof => bail!("the results file holds no XCCDF 1.2 TestResult"),
            _ => continue,
        };
        let own = declarations(&tag)?;
        let local = tag.local_name();
        let local = local.as_ref();
        let mut benchmark_id = None;
        match &mut found {
            None if local == b"TestResult" && is_xccdf(&tag, &own, &open) => {
                if xml.get(before) != Some(&b'<') {
                    bail!("cannot locate the TestResult in the results file");
                }
                let state = Found {
                    start: before,
                    name_end: before + 1 + tag.name().as_ref().len(),
                    level: open.len(),
                    version: attribute(&tag, "version")?,
                    benchmark_id: None,
                    inherited: inherited(&open, &own),
                };
                if empty {
                    return finish(xml, state, &open, after);
                }
                found = Some(state);
            }
            // A `benchmark` child of the TestResult names the benchmark audited.
            Some(state)
                if open.len() == state.level + 1
                    && local == b"benchmark"
                    && state.benchmark_id.is_none()
                    && is_xccdf(&tag, &own, &open) =>
            {
                state.benchmark_id = attribute(&tag, "id")?;
            }
            None if local == b"Benchmark" && is_xccdf(&tag, &own, &open) => {
                benchmark_id = attribute(&tag, "id")?;
            }
            _ => {}
        }
        if !empty {
            open.push(Open {
                declarations: own,
                benchmark_id,
            });
        }
    }
}

/// Refuses a document declared in another encoding than UTF-8 (or its subset ASCII): the thin
/// document is declared UTF-8.
fn check_encoding(declaration: &quick_xml::events::BytesDecl) -> anyhow::Result<()> {
    if let Some(Ok(encoding)) = declaration.encoding() {
        let utf8 = [&b"UTF-8"[..], b"UTF8", b"US-ASCII", b"ASCII"]
            .iter()
            .any(|e| encoding.eq_ignore_ascii_case(e));
        if !utf8 {
            bail!(
                "the results file is encoded in {}, not UTF-8",
                String::from_utf8_lossy(&encoding)
            );
        }
    }
    Ok(())
}

/// The declarations in scope on the elements of `open` (the innermost one for each prefix), in
/// the order they were first made, less those `own` makes again.
fn inherited(open: &[Open], own: &[Declaration]) -> Vec<Declaration> {
    let mut scope: Vec<Declaration> = Vec::new();
    for declaration in open.iter().flat_map(|o| o.declarations.iter()) {
        match scope.iter_mut().find(|d| d.name == declaration.name) {
            Some(outer) => outer.raw.clone_from(&declaration.raw),
            None => scope.push(declaration.clone()),
        }
    }
    scope.retain(|d| !own.iter().any(|o| o.name == d.name));
    scope
}

/// The id of the innermost XCCDF `Benchmark` among the open elements.
fn enclosing_benchmark(open: &[Open]) -> Option<String> {
    open.iter().rev().find_map(|o| o.benchmark_id.clone())
}

/// The thin document of the TestResult `state`, which ends at `end`; `open` are its ancestors.
fn finish(xml: &[u8], state: Found, open: &[Open], end: usize) -> anyhow::Result<Thin> {
    let benchmark_id = state
        .benchmark_id
        .or_else(|| enclosing_benchmark(open))
        .context("the TestResult names no benchmark (no benchmark id, no enclosing Benchmark)")?;
    let version = state
        .version
        .context("the TestResult does not say the benchmark version it audited (no version)")?;
    let extra: usize = state
        .inherited
        .iter()
        .map(|d| d.name.len() + d.raw.len() + 4)
        .sum();
    let mut document = Vec::with_capacity(DECLARATION.len() + extra + (end - state.start));
    document.extend_from_slice(DECLARATION);
    document.extend_from_slice(&xml[state.start..state.name_end]);
    for declaration in &state.inherited {
        declaration.write(&mut document);
    }
    document.extend_from_slice(&xml[state.name_end..end]);
    Ok(Thin {
        benchmark_id,
        version,
        document,
    })
}

#[cfg(test)]
#[path = "thin_tests.rs"]
mod tests;

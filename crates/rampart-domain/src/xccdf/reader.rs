//! A thin layer over quick-xml's streaming reader: one reused buffer, element namespaces resolved
//! by this module to the few it knows, entity references checked (only the five predefined ones
//! and character references exist without a DTD), DTDs refused, and subtrees skipped without
//! namespace bookkeeping.
//!
//! Namespaces are resolved here rather than by quick-xml's `NsReader`, which looks through every
//! start tag's attributes for declarations and resolves every event: here a tag's attributes are
//! read for declarations only when its bytes hold `xmlns`, and skipped subtrees are not resolved
//! at all (BENCHMARKS.md, "Parser", has the measurements).

use std::borrow::Cow;
use std::io::BufRead;
use std::sync::LazyLock;

use memchr::{memchr, memchr2, memchr2_iter, memchr3, memmem, memrchr2};
use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesRef, BytesStart, BytesText, Event};
use quick_xml::name::PrefixDeclaration;
use quick_xml::{Reader, XmlVersion};

use super::gzip::is_too_large;
use super::XccdfError;

const XCCDF: &[u8] = super::XCCDF_NS.as_bytes();
const XHTML: &[u8] = b"http://www.w3.org/1999/xhtml";
const ARF: &[u8] = b"http://scap.nist.gov/schema/asset-reporting-format/1.1";
const DATA_STREAM: &[u8] = b"http://scap.nist.gov/schema/scap/source/1.2";
const XML_PREFIX_NS: &[u8] = b"http://www.w3.org/XML/1998/namespace";

/// The namespace of an element, as far as this module cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ns {
    Xccdf,
    Xhtml,
    Arf,
    DataStream,
    Other,
    /// No namespace at all.
    None,
}

impl Ns {
    fn of_uri(uri: &[u8]) -> Ns {
        match uri {
            XCCDF => Ns::Xccdf,
            XHTML => Ns::Xhtml,
            ARF => Ns::Arf,
            DATA_STREAM => Ns::DataStream,
            b"" => Ns::None,
            _ => Ns::Other,
        }
    }
}

/// One step through the document.
pub(super) enum Item<'b> {
    /// A start tag, or an empty-element tag (`empty`, with no matching `End`).
    Element {
        ns: Ns,
        start: BytesStart<'b>,
        empty: bool,
    },
    End,
    Text(BytesText<'b>),
    /// CDATA content, taken as it is.
    CData(Cow<'b, str>),
    /// A predefined entity or a character reference, resolved.
    Ref(char),
    /// A comment, processing instruction or XML declaration.
    Ignored,
    Eof,
}

/// The longest run of bytes without `<` or `>` the reader accepts: a text node, a tag with its
/// attributes, a comment. Real results files stay far below; the limit keeps a hostile file from
/// making the reader buffer gigabytes for one event.
pub const MAX_RUN: usize = 16 * 1024 * 1024;

/// How deeply elements may nest. Real files nest a few dozen levels; the reader keeps one entry
/// per open element.
pub const MAX_DEPTH: usize = 256;

/// Fails a read once `MAX_RUN` bytes have passed without markup.
pub(super) struct Bounded<R> {
    inner: R,
    /// Bytes since the last `<` or `>`.
    run: usize,
    /// The longest run seen so far.
    longest: usize,
}

impl<R: BufRead> std::io::Read for Bounded<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Bounded<R> {
    #[inline]
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.longest > MAX_RUN {
            return Err(run_too_long());
        }
        self.inner.fill_buf()
    }

    #[inline]
    fn consume(&mut self, amount: usize) {
        if let Ok(buffer) = self.inner.fill_buf() {
            let taken = &buffer[..amount.min(buffer.len())];
            // Most chunks are a tag ending in `>`, or text the next byte `<` ends: no run in
            // one can pass the limit when the chunk and the run before it together do not, and
            // the run after it is over at once.
            let is_marker = |byte: Option<&u8>| matches!(byte, Some(b'<' | b'>'));
            let ends_run = is_marker(taken.last()) || is_marker(buffer.get(taken.len()));
            if ends_run && self.run + taken.len() <= MAX_RUN {
                self.run = 0;
            } else {
                measure_runs(taken, &mut self.run, &mut self.longest);
            }
        }
        self.inner.consume(amount);
    }
}

#[cold]
fn run_too_long() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("more than {MAX_RUN} bytes of text or of one tag without markup"),
    )
}

/// Follows the runs without markup through `taken`: the run before its first marker continues
/// `run`, the one after its last becomes the new `run`; `longest` keeps the longest.
fn measure_runs(taken: &[u8], run: &mut usize, longest: &mut usize) {
    match memchr2(b'<', b'>', taken) {
        None => *run += taken.len(),
        Some(first) => {
            *longest = (*longest).max(*run + first);
            let last = memrchr2(b'<', b'>', taken).unwrap_or(first);
            // Runs between the first and last marker can only pass the limit in a chunk longer
            // than it (a slice source hands out everything at once).
            if taken.len() > MAX_RUN {
                let mut previous = first;
                for at in memchr2_iter(b'<', b'>', &taken[first + 1..=last]) {
                    let at = first + 1 + at;
                    *longest = (*longest).max(at - previous - 1);
                    previous = at;
                }
            }
            *run = taken.len() - last - 1;
        }
    }
    *longest = (*longest).max(*run);
}

/// A namespace prefix bound in the open elements (an empty prefix: the default namespace).
struct Binding {
    prefix: Vec<u8>,
    ns: Ns,
}

pub(super) struct Xml<R> {
    reader: Reader<Bounded<R>>,
    buf: Vec<u8>,
    /// The bindings in scope, innermost last.
    bindings: Vec<Binding>,
    /// For each open element, how many bindings were in scope before its start tag.
    scopes: Vec<usize>,
    last_declarations: LastDeclarations,
}

impl<R: BufRead> Xml<R> {
    pub(super) fn new(input: R) -> Self {
        let mut reader = Reader::from_reader(Bounded {
            inner: input,
            run: 0,
            longest: 0,
        });
        let config = reader.config_mut();
        config.trim_text(false);
        config.expand_empty_elements = false;
        config.check_end_names = true;
        Xml {
            reader,
            buf: Vec::with_capacity(64 * 1024),
            bindings: Vec::new(),
            scopes: Vec::with_capacity(MAX_DEPTH),
            last_declarations: LastDeclarations::default(),
        }
    }

    pub(super) fn next(&mut self) -> Result<Item<'_>, XccdfError> {
        self.buf.clear();
        let event = match self.reader.read_event_into(&mut self.buf) {
            Ok(event) => event,
            Err(error) => return Err(xml_error(error, self.reader.error_position())),
        };
        Ok(match event {
            Event::Start(start) => {
                if self.scopes.len() >= MAX_DEPTH {
                    return Err(too_deep());
                }
                let before = self.bindings.len();
                self.scopes.push(before);
                declare(&mut self.bindings, &mut self.last_declarations, &start)?;
                let ns = resolve(&self.bindings, &start)?;
                Item::Element {
                    ns,
                    start,
                    empty: false,
                }
            }
            Event::Empty(start) => {
                // Declarations on an empty-element tag hold for that tag alone.
                let before = self.bindings.len();
                declare(&mut self.bindings, &mut self.last_declarations, &start)?;
                let ns = resolve(&self.bindings, &start);
                self.bindings.truncate(before);
                Item::Element {
                    ns: ns?,
                    start,
                    empty: true,
                }
            }
            Event::End(_) => {
                close(&mut self.scopes, &mut self.bindings);
                Item::End
            }
            Event::Text(text) => Item::Text(text),
            Event::CData(data) => Item::CData(
                data.decode()
                    .map_err(|error| XccdfError::Xml(error.to_string()))?,
            ),
            Event::GeneralRef(reference) => Item::Ref(resolve_reference(&reference)?),
            Event::DocType(_) => return Err(XccdfError::Dtd),
            Event::Comment(_) | Event::PI(_) | Event::Decl(_) => Item::Ignored,
            Event::Eof => Item::Eof,
        })
    }

    /// Skips the rest of the element whose start tag `next` just returned, nested content
    /// included, without keeping any of it and without resolving its namespaces. The nesting
    /// limit, entity references and well-formedness are checked as everywhere else.
    pub(super) fn skip(&mut self) -> Result<(), XccdfError> {
        let mut open = 1usize;
        loop {
            self.buf.clear();
            let event = match self.reader.read_event_into(&mut self.buf) {
                Ok(event) => event,
                Err(error) => return Err(xml_error(error, self.reader.error_position())),
            };
            match event {
                Event::Start(_) => {
                    open += 1;
                    if self.scopes.len() + open > MAX_DEPTH + 1 {
                        return Err(too_deep());
                    }
                }
                Event::End(_) => {
                    open -= 1;
                    if open == 0 {
                        close(&mut self.scopes, &mut self.bindings);
                        return Ok(());
                    }
                }
                Event::GeneralRef(reference) => {
                    resolve_reference(&reference)?;
                }
                Event::DocType(_) => return Err(XccdfError::Dtd),
                Event::Eof => return Err(unexpected_eof()),
                Event::Empty(_)
                | Event::Text(_)
                | Event::CData(_)
                | Event::Comment(_)
                | Event::PI(_)
                | Event::Decl(_) => {}
            }
        }
    }

    /// `skip` for an element that has content; nothing for an empty-element tag.
    pub(super) fn skip_unless_empty(&mut self, empty: bool) -> Result<(), XccdfError> {
        if empty {
            Ok(())
        } else {
            self.skip()
        }
    }

    /// Reads the text of the element whose start tag `next` just returned, trimmed; child
    /// elements are skipped, text past `limit` bytes dropped.
    pub(super) fn simple_text(&mut self, limit: usize) -> Result<String, XccdfError> {
        let mut out = String::new();
        loop {
            match self.next()? {
                Item::Text(text) => push_limited(&mut out, &decode(&text)?, limit),
                Item::CData(text) => push_limited(&mut out, &text, limit),
                Item::Ref(ch) => push_limited(&mut out, ch.encode_utf8(&mut [0; 4]), limit),
                Item::Element { empty: false, .. } => self.skip()?,
                Item::End => break,
                Item::Eof => return Err(unexpected_eof()),
                Item::Element { empty: true, .. } | Item::Ignored => {}
            }
        }
        let trimmed = out.trim();
        if trimmed.len() != out.len() {
            out = trimmed.to_owned();
        }
        Ok(out)
    }
}

/// Ends the innermost open element's scope.
fn close(scopes: &mut Vec<usize>, bindings: &mut Vec<Binding>) {
    if let Some(before) = scopes.pop() {
        bindings.truncate(before);
    }
}

fn too_deep() -> XccdfError {
    XccdfError::Xml(format!("elements nest more than {MAX_DEPTH} levels deep"))
}

/// Adds the namespace declarations of `start` to `bindings`. Only a tag whose bytes hold `xmlns`
/// can declare one, so the others' attributes are not read here.
/// The declarations of the last tag that had any, by that tag's attribute bytes: SSG content
/// repeats the same few (`xmlns:xhtml="…" xml:lang="en-US"`) on thousands of elements, which are
/// then not read again.
#[derive(Default)]
struct LastDeclarations {
    attributes: Vec<u8>,
    declared: Vec<Binding>,
}

/// Tags with longer attributes are not remembered in `LastDeclarations`.
const REMEMBERED_ATTRIBUTES: usize = 1024;

/// Adds the namespace declarations of `start` to `bindings`. Only a tag whose bytes hold `xmlns`
/// can declare one, so the others' attributes are not read here.
fn declare(
    bindings: &mut Vec<Binding>,
    last: &mut LastDeclarations,
    start: &BytesStart<'_>,
) -> Result<(), XccdfError> {
    static XMLNS: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new("xmlns"));
    let attributes = &start[start.name().as_ref().len()..];
    if attributes.len() < b" xmlns=''".len() || XMLNS.find(attributes).is_none() {
        return Ok(());
    }
    if attributes != last.attributes.as_slice() {
        last.declared = declarations(start)?;
        last.attributes.clear();
        if attributes.len() <= REMEMBERED_ATTRIBUTES {
            last.attributes.extend_from_slice(attributes);
        }
    }
    for binding in &last.declared {
        // A binding that changes nothing this module resolves is not kept.
        if lookup(bindings, &binding.prefix) != Some(binding.ns) {
            bindings.push(Binding {
                prefix: binding.prefix.clone(),
                ns: binding.ns,
            });
        }
    }
    Ok(())
}

/// The namespace declarations among the attributes of `start`, checked.
fn declarations(start: &BytesStart<'_>) -> Result<Vec<Binding>, XccdfError> {
    let bad = |message: &dyn std::fmt::Display| {
        XccdfError::Xml(format!(
            "in a `<{}>` tag: {message}",
            String::from_utf8_lossy(start.name().as_ref())
        ))
    };
    let mut declared = Vec::new();
    for attribute in start.attributes().with_checks(false) {
        let attribute = attribute.map_err(|error| bad(&error))?;
        let Some(declaration) = attribute.key.as_namespace_binding() else {
            continue;
        };
        let uri = value(&attribute).map_err(|error| bad(&error))?;
        let uri = uri.as_bytes();
        let prefix = match declaration {
            PrefixDeclaration::Default => &[][..],
            PrefixDeclaration::Named(b"xml") if uri == XML_PREFIX_NS => continue,
            PrefixDeclaration::Named(prefix @ (b"xml" | b"xmlns")) => {
                return Err(bad(&format!(
                    "the prefix `{}` cannot be declared",
                    String::from_utf8_lossy(prefix)
                )))
            }
            PrefixDeclaration::Named(prefix) if uri.is_empty() => {
                return Err(bad(&format!(
                    "the prefix `{}` cannot be bound to no namespace",
                    String::from_utf8_lossy(prefix)
                )))
            }
            PrefixDeclaration::Named(prefix) => prefix,
        };
        declared.push(Binding {
            prefix: prefix.to_vec(),
            ns: Ns::of_uri(uri),
        });
    }
    Ok(declared)
}

/// The namespace the innermost binding of `prefix` names, if it is bound.
fn lookup(bindings: &[Binding], prefix: &[u8]) -> Option<Ns> {
    bindings
        .iter()
        .rev()
        .find(|binding| binding.prefix == prefix)
        .map(|binding| binding.ns)
}

/// The namespace of the element `start`, from the innermost binding of its prefix.
fn resolve(bindings: &[Binding], start: &BytesStart<'_>) -> Result<Ns, XccdfError> {
    let name = start.name();
    let prefix = name.prefix().map_or(&[][..], |prefix| prefix.into_inner());
    if let Some(ns) = lookup(bindings, prefix) {
        return Ok(ns);
    }
    match prefix {
        b"" => Ok(Ns::None),
        b"xml" => Ok(Ns::Other),
        _ => Err(XccdfError::Xml(format!(
            "the namespace prefix `{}` is not declared",
            String::from_utf8_lossy(prefix)
        ))),
    }
}

/// The text of a text node.
pub(super) fn decode<'b>(text: &BytesText<'b>) -> Result<Cow<'b, str>, XccdfError> {
    text.decode()
        .map_err(|error| XccdfError::Xml(error.to_string()))
}

/// Whether a text node is only white space (allowed around the root element).
pub(super) fn is_blank(text: &BytesText<'_>) -> bool {
    text.iter()
        .all(|byte| matches!(byte, b' ' | b'\t' | b'\r' | b'\n'))
}

/// The unprefixed attributes `names` of `start`, unescaped, in the same order.
pub(super) fn attributes<'a, const N: usize>(
    start: &'a BytesStart<'_>,
    names: [&str; N],
) -> Result<[Option<Cow<'a, str>>; N], XccdfError> {
    let bad = |error: &dyn std::fmt::Display| {
        XccdfError::Xml(format!(
            "in a `<{}>` tag: {error}",
            String::from_utf8_lossy(start.name().as_ref())
        ))
    };
    let mut values: [Option<Cow<'a, str>>; N] = std::array::from_fn(|_| None);
    // quick-xml's duplicate check compares every attribute with every other; only the names
    // read here are checked, which is all a repeated attribute could change.
    for attribute in start.attributes().with_checks(false) {
        let attribute = attribute.map_err(|error| bad(&error))?;
        let key = attribute.key.as_ref();
        if let Some(slot) = names.iter().position(|name| name.as_bytes() == key) {
            if values[slot].is_some() {
                return Err(bad(&format!("the attribute `{}` is repeated", names[slot])));
            }
            values[slot] = Some(value(&attribute).map_err(|error| bad(&error))?);
        }
    }
    Ok(values)
}

/// An attribute's value, normalized as XML 1.0 says; borrowed, without the normalizer's pass,
/// when it holds no reference and no white space but spaces (ids, times, words, addresses).
fn value<'a>(attribute: &Attribute<'a>) -> Result<Cow<'a, str>, quick_xml::Error> {
    if let Cow::Borrowed(raw) = attribute.value {
        if memchr3(b'&', b'\t', b'\n', raw).is_none() && memchr(b'\r', raw).is_none() {
            return std::str::from_utf8(raw)
                .map(Cow::Borrowed)
                .map_err(|error| quick_xml::Error::Encoding(error.into()));
        }
    }
    attribute.normalized_value(XmlVersion::Implicit1_0)
}

/// Names the root element and its namespace, for messages. A root's namespace can only be
/// declared on the root itself.
pub(super) fn describe_root(start: &BytesStart<'_>) -> String {
    let name = start.name();
    let local = String::from_utf8_lossy(name.local_name().as_ref()).into_owned();
    let declaration = match name.prefix() {
        Some(prefix) => [b"xmlns:".as_slice(), prefix.as_ref()].concat(),
        None => b"xmlns".to_vec(),
    };
    let namespace = start
        .attributes()
        .flatten()
        .find(|attribute| attribute.key.as_ref() == declaration.as_slice())
        .map(|attribute| String::from_utf8_lossy(&attribute.value).into_owned())
        .filter(|namespace| !namespace.is_empty());
    match namespace {
        Some(namespace) => format!("`{local}` in namespace `{namespace}`"),
        None => format!("`{local}` in no namespace"),
    }
}

pub(super) fn unexpected_eof() -> XccdfError {
    XccdfError::Xml("the file ends in the middle of an element".to_owned())
}

pub(super) fn push_limited(out: &mut String, text: &str, limit: usize) {
    if out.len() >= limit {
        return;
    }
    let room = limit - out.len();
    if text.len() <= room {
        out.push_str(text);
    } else {
        let mut end = room;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        out.push_str(&text[..end]);
    }
}

fn resolve_reference(reference: &BytesRef<'_>) -> Result<char, XccdfError> {
    let bad = |name: &str| {
        XccdfError::Xml(format!(
            "the entity `&{};` is not defined (only &lt; &gt; &amp; &apos; &quot; and character references are)",
            name.chars().take(40).collect::<String>()
        ))
    };
    if let Some(ch) = reference
        .resolve_char_ref()
        .map_err(|error| XccdfError::Xml(error.to_string()))?
    {
        return Ok(ch);
    }
    let name = reference
        .decode()
        .map_err(|error| XccdfError::Xml(error.to_string()))?;
    let replacement = resolve_xml_entity(&name).ok_or_else(|| bad(&name))?;
    replacement.chars().next().ok_or_else(|| bad(&name))
}

fn xml_error(error: quick_xml::Error, position: u64) -> XccdfError {
    match error {
        quick_xml::Error::Io(io) if is_too_large(&io) => XccdfError::TooLarge,
        quick_xml::Error::Io(io) => XccdfError::Io(io.to_string()),
        other => XccdfError::Xml(format!("{other} (at byte {position})")),
    }
}

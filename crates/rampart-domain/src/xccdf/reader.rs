//! A thin layer over quick-xml's namespace-aware streaming reader: one reused buffer, element
//! namespaces reduced to the few this module knows, entity references checked (only the five
//! predefined ones and character references exist without a DTD), DTDs refused, and subtrees
//! skipped without namespace bookkeeping.

use std::borrow::Cow;
use std::io::BufRead;

use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesRef, BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, XmlVersion};

use super::gzip::is_too_large;
use super::XccdfError;

const XCCDF: &[u8] = super::XCCDF_NS.as_bytes();
const XHTML: &[u8] = b"http://www.w3.org/1999/xhtml";
const ARF: &[u8] = b"http://scap.nist.gov/schema/asset-reporting-format/1.1";
const DATA_STREAM: &[u8] = b"http://scap.nist.gov/schema/scap/source/1.2";

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
    fn of(resolved: ResolveResult<'_>) -> Result<Ns, XccdfError> {
        Ok(match resolved {
            ResolveResult::Bound(namespace) => match namespace.as_ref() {
                XCCDF => Ns::Xccdf,
                XHTML => Ns::Xhtml,
                ARF => Ns::Arf,
                DATA_STREAM => Ns::DataStream,
                _ => Ns::Other,
            },
            ResolveResult::Unbound => Ns::None,
            ResolveResult::Unknown(prefix) => {
                return Err(XccdfError::Xml(format!(
                    "the namespace prefix `{}` is not declared",
                    String::from_utf8_lossy(&prefix)
                )))
            }
        })
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
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.longest > MAX_RUN {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("more than {MAX_RUN} bytes of text or of one tag without markup"),
            ));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        if let Ok(buffer) = self.inner.fill_buf() {
            let taken = &buffer[..amount.min(buffer.len())];
            for &byte in taken {
                if byte == b'<' || byte == b'>' {
                    self.run = 0;
                } else {
                    self.run += 1;
                    self.longest = self.longest.max(self.run);
                }
            }
        }
        self.inner.consume(amount);
    }
}

pub(super) struct Xml<R> {
    reader: NsReader<Bounded<R>>,
    buf: Vec<u8>,
    /// The name of the last start tag, for `skip`.
    last_start: Vec<u8>,
    /// Elements open now.
    depth: usize,
}

impl<R: BufRead> Xml<R> {
    pub(super) fn new(input: R) -> Self {
        let mut reader = NsReader::from_reader(Bounded {
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
            last_start: Vec::new(),
            depth: 0,
        }
    }

    pub(super) fn next(&mut self) -> Result<Item<'_>, XccdfError> {
        self.buf.clear();
        let (resolved, event) = match self.reader.read_resolved_event_into(&mut self.buf) {
            Ok(read) => read,
            Err(error) => return Err(xml_error(error, self.reader.error_position())),
        };
        Ok(match event {
            Event::Start(start) => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(XccdfError::Xml(format!(
                        "elements nest more than {MAX_DEPTH} levels deep"
                    )));
                }
                let ns = Ns::of(resolved)?;
                self.last_start.clear();
                self.last_start.extend_from_slice(start.name().as_ref());
                Item::Element {
                    ns,
                    start,
                    empty: false,
                }
            }
            Event::Empty(start) => Item::Element {
                ns: Ns::of(resolved)?,
                start,
                empty: true,
            },
            Event::End(_) => {
                self.depth = self.depth.saturating_sub(1);
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
    /// included, without keeping any of it.
    pub(super) fn skip(&mut self) -> Result<(), XccdfError> {
        // Event by event rather than `read_to_end_into`, so that the depth limit holds here too.
        let mut open = 1usize;
        loop {
            match self.next()? {
                Item::Element { empty: false, .. } => open += 1,
                Item::End => {
                    open -= 1;
                    if open == 0 {
                        return Ok(());
                    }
                }
                Item::Eof => return Err(unexpected_eof()),
                _ => {}
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
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|error| bad(&error))?;
        let key = attribute.key.as_ref();
        if let Some(slot) = names.iter().position(|name| name.as_bytes() == key) {
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|error| bad(&error))?;
            values[slot] = Some(value);
        }
    }
    Ok(values)
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

//! The reader the parser walks the document with: quick-xml's `Reader`, over bytes in memory
//! (events borrowed from them) or a stream (events copied into one reused buffer), element
//! namespaces resolved (`namespaces.rs`), every event bounded in size (`bounded.rs`) and elements
//! in nesting depth, entity references checked (only the five predefined ones and character
//! references exist without a DTD), DTDs refused, and subtrees skipped without being kept.
//! Attributes are read by `attributes.rs`.
//!
//! quick-xml's own `NsReader` is not used: it looks through every start tag's attributes for
//! declarations and resolves every event, skipped ones included, which cost most of a parse
//! (BENCHMARKS.md, "Parser").

use std::borrow::Cow;
use std::io::BufRead;

use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesRef, BytesStart, BytesText, Event};
use quick_xml::Reader;

use super::bounded::{event_too_long, Bounded, MAX_EVENT};
use super::gzip::is_too_large;
use super::namespaces::Namespaces;
pub(super) use super::namespaces::Ns;
use super::XccdfError;

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

/// How deeply elements may nest. Real files nest a few dozen levels; the reader keeps one entry
/// per open element.
pub const MAX_DEPTH: usize = 256;

/// Where events come from. Both sources' `read_event`, and `Xml::next`, are inlined into their
/// callers: an event is returned through memory, and each call between quick-xml and the parser
/// copied it once more, stalling on the copy (a fifth of case a's time; BENCHMARKS.md, "Parser").
pub(super) trait Source {
    /// The next event; a streamed one is copied into `buf`.
    fn read_event<'b>(&'b mut self, buf: &'b mut Vec<u8>) -> Result<Event<'b>, XccdfError>;
}

/// A document read from a stream: each event is copied into the buffer, at most
/// [`MAX_EVENT`](super::bounded::MAX_EVENT) bytes of it.
pub(super) struct Streamed<R>(Reader<Bounded<R>>);

impl<R: BufRead> Streamed<R> {
    pub(super) fn new(input: R) -> Self {
        Streamed(configured(Reader::from_reader(Bounded::new(input))))
    }
}

impl<R: BufRead> Source for Streamed<R> {
    #[inline(always)]
    fn read_event<'b>(&'b mut self, buf: &'b mut Vec<u8>) -> Result<Event<'b>, XccdfError> {
        buf.clear();
        self.0.get_mut().start_event();
        match self.0.read_event_into(buf) {
            Ok(event) => Ok(event),
            Err(error) => Err(xml_error(error, self.0.error_position())),
        }
    }
}

/// A document already in memory: events are borrowed from it, never copied. The same limit on
/// an event's size holds as for a stream, so that both read the same documents.
pub(super) struct InMemory<'i>(Reader<&'i [u8]>);

impl<'i> InMemory<'i> {
    pub(super) fn new(input: &'i [u8]) -> Self {
        InMemory(configured(Reader::from_reader(input)))
    }
}

impl Source for InMemory<'_> {
    #[inline(always)]
    fn read_event<'b>(&'b mut self, _buf: &'b mut Vec<u8>) -> Result<Event<'b>, XccdfError> {
        let start = self.0.buffer_position();
        match self.0.read_event() {
            Ok(_) if self.0.buffer_position() - start > MAX_EVENT as u64 => {
                Err(XccdfError::Io(event_too_long().to_string()))
            }
            Ok(event) => Ok(event),
            Err(error) => Err(xml_error(error, self.0.error_position())),
        }
    }
}

/// The reader settings both sources share: text as it is, empty-element tags as such, end
/// tags checked against their start tags.
fn configured<R>(mut reader: Reader<R>) -> Reader<R> {
    let config = reader.config_mut();
    config.trim_text(false);
    config.expand_empty_elements = false;
    config.check_end_names = true;
    reader
}

pub(super) struct Xml<S> {
    source: S,
    /// The streamed source's event buffer (unused in memory).
    buf: Vec<u8>,
    namespaces: Namespaces,
}

impl<S: Source> Xml<S> {
    pub(super) fn new(source: S) -> Self {
        Xml {
            source,
            buf: Vec::with_capacity(64 * 1024),
            namespaces: Namespaces::new(MAX_DEPTH),
        }
    }

    fn read(&mut self) -> Result<Event<'_>, XccdfError> {
        self.source.read_event(&mut self.buf)
    }

    #[inline(always)]
    pub(super) fn next(&mut self) -> Result<Item<'_>, XccdfError> {
        let event = self.source.read_event(&mut self.buf)?;
        Ok(match event {
            Event::Start(start) => {
                if self.namespaces.depth() >= MAX_DEPTH {
                    return Err(too_deep());
                }
                let ns = self.namespaces.enter(&start)?;
                Item::Element {
                    ns,
                    start,
                    empty: false,
                }
            }
            Event::Empty(start) => Item::Element {
                ns: self.namespaces.resolve_empty(&start)?,
                start,
                empty: true,
            },
            Event::End(_) => {
                self.namespaces.leave();
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
    /// included, without keeping any of it. The content must still be well-formed XML within
    /// the limits (event size, nesting depth; entity references defined, no DTD), but its
    /// namespace prefixes are not resolved: nothing of it is read, and resolving it cost more
    /// than the rest of a known version's parse.
    pub(super) fn skip(&mut self) -> Result<(), XccdfError> {
        let depth = self.namespaces.depth();
        let mut open = 1usize;
        loop {
            match self.read()? {
                Event::Start(_) => {
                    open += 1;
                    if depth + open > MAX_DEPTH + 1 {
                        return Err(too_deep());
                    }
                }
                Event::End(_) => {
                    open -= 1;
                    if open == 0 {
                        self.namespaces.leave();
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

fn too_deep() -> XccdfError {
    XccdfError::Xml(format!("elements nest more than {MAX_DEPTH} levels deep"))
}

/// The text of a text node.
pub(super) fn decode<'b>(text: &BytesText<'b>) -> Result<Cow<'b, str>, XccdfError> {
    text.decode()
        .map_err(|error| XccdfError::Xml(error.to_string()))
}

/// Whether a text node is only white space (allowed around the root element).
pub(super) fn is_blank(text: &BytesText<'_>) -> bool {
    text.iter().all(|&byte| is_space(byte))
}

/// Whether `byte` is XML white space.
pub(super) fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

/// An error in the tag `start`: "in a `<name>` tag: …".
pub(super) fn tag_error(start: &BytesStart<'_>, message: &dyn std::fmt::Display) -> XccdfError {
    XccdfError::Xml(format!(
        "in a `<{}>` tag: {message}",
        String::from_utf8_lossy(start.name().as_ref())
    ))
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
    // The predefined entities, which real files hold by the thousand, without decoding.
    match reference.as_ref() {
        b"lt" => return Ok('<'),
        b"gt" => return Ok('>'),
        b"amp" => return Ok('&'),
        b"apos" => return Ok('\''),
        b"quot" => return Ok('"'),
        _ => {}
    }
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

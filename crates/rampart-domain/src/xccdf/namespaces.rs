//! Namespace resolution for the reader: the prefixes bound by the open elements, innermost
//! last, and the namespace of each element the parser reads. Only what this module's callers
//! tell apart is kept of a namespace ([`Ns`]), so a binding that changes nothing of that is not
//! kept either — SSG content redeclares the XHTML prefix on thousands of elements.

use std::rc::Rc;

use memchr::memchr;
use quick_xml::events::BytesStart;
use quick_xml::name::PrefixDeclaration;

use super::attributes::value;
use super::reader::tag_error;
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

/// A namespace prefix bound in the open elements (an empty prefix: the default namespace).
/// The prefix is shared with the remembered declarations it came from, not copied.
#[derive(Clone)]
struct Binding {
    prefix: Rc<[u8]>,
    ns: Ns,
}

/// The bindings in scope while the reader walks the document.
pub(super) struct Namespaces {
    /// Innermost last.
    bindings: Vec<Binding>,
    /// For each open element, how many bindings were in scope before its start tag.
    scopes: Vec<usize>,
    remembered: Remembered,
}

impl Namespaces {
    /// Room for `depth` open elements.
    pub(super) fn new(depth: usize) -> Self {
        Namespaces {
            bindings: Vec::new(),
            scopes: Vec::with_capacity(depth),
            remembered: Remembered::default(),
        }
    }

    /// How many elements are open.
    pub(super) fn depth(&self) -> usize {
        self.scopes.len()
    }

    /// Opens the scope of a start tag, with its declarations, and gives its namespace.
    pub(super) fn enter(&mut self, start: &BytesStart<'_>) -> Result<Ns, XccdfError> {
        self.scopes.push(self.bindings.len());
        declare(&mut self.bindings, &mut self.remembered, start)?;
        resolve(&self.bindings, start)
    }

    /// The namespace of an empty-element tag, whose declarations hold for that tag alone.
    pub(super) fn resolve_empty(&mut self, start: &BytesStart<'_>) -> Result<Ns, XccdfError> {
        let before = self.bindings.len();
        declare(&mut self.bindings, &mut self.remembered, start)?;
        let ns = resolve(&self.bindings, start);
        self.bindings.truncate(before);
        ns
    }

    /// Closes the innermost open element's scope.
    pub(super) fn leave(&mut self) {
        if let Some(before) = self.scopes.pop() {
            self.bindings.truncate(before);
        }
    }
}

/// The declarations of the last few tags that had any, by those tags' attribute bytes: SSG
/// content repeats the same few (`xmlns:xhtml="…"`, `xmlns:html="…"`, each with `xml:lang`) on
/// thousands of elements, in turn, and they are then not read again.
#[derive(Default)]
struct Remembered {
    tags: Vec<Declarations>,
    /// The entry the next new tag replaces once all are taken.
    next: usize,
    /// The declarations of the last tag too long to remember.
    scratch: Vec<Binding>,
}

/// One tag's declarations, by its attribute bytes.
struct Declarations {
    attributes: Vec<u8>,
    declared: Vec<Binding>,
}

/// How many tags' declarations `Remembered` holds.
const REMEMBERED_TAGS: usize = 4;

impl Remembered {
    /// The declarations of a tag with these attribute bytes, read once and then remembered.
    fn of(&mut self, attributes: &[u8], start: &BytesStart<'_>) -> Result<&[Binding], XccdfError> {
        let found = self
            .tags
            .iter()
            .position(|tag| tag.attributes.as_slice() == attributes);
        let at = match found {
            Some(at) => at,
            None => {
                let declared = declarations(start)?;
                if attributes.len() > REMEMBERED_ATTRIBUTES {
                    // Not worth keeping: read every time.
                    self.scratch = declared;
                    return Ok(&self.scratch);
                }
                let tag = Declarations {
                    attributes: attributes.to_vec(),
                    declared,
                };
                if self.tags.len() < REMEMBERED_TAGS {
                    self.tags.push(tag);
                    self.tags.len() - 1
                } else {
                    let at = self.next;
                    self.next = (self.next + 1) % REMEMBERED_TAGS;
                    self.tags[at] = tag;
                    at
                }
            }
        };
        Ok(&self.tags[at].declared)
    }
}

/// Most namespace declarations one tag may hold (real files: 16 at most, on an ARF's root).
pub const MAX_DECLARATIONS_PER_TAG: usize = 64;

/// Most bindings in scope at once; each element's prefix is looked up among them.
pub const MAX_BINDINGS: usize = 128;

/// Tags with longer attributes are not remembered in `Remembered`.
const REMEMBERED_ATTRIBUTES: usize = 1024;

/// Adds the namespace declarations of `start` to `bindings`. Only a tag whose bytes hold `xmlns`
/// can declare one, so the others' attributes are not read here.
fn declare(
    bindings: &mut Vec<Binding>,
    remembered: &mut Remembered,
    start: &BytesStart<'_>,
) -> Result<(), XccdfError> {
    let attributes = &start[start.name().as_ref().len()..];
    if attributes.len() < b" xmlns=''".len() || !holds_xmlns(attributes) {
        return Ok(());
    }
    for binding in remembered.of(attributes, start)? {
        // A binding that changes nothing this module resolves is not kept.
        if lookup(bindings, &binding.prefix) != Some(binding.ns) {
            if bindings.len() >= MAX_BINDINGS {
                return Err(XccdfError::Xml(format!(
                    "more than {MAX_BINDINGS} namespace prefixes are bound at once"
                )));
            }
            bindings.push(binding.clone());
        }
    }
    Ok(())
}

/// Whether `xmlns` occurs in `bytes`: a search for its `x`, which most tags' attributes hold
/// once or not at all, is quicker on such short inputs than a substring search.
fn holds_xmlns(bytes: &[u8]) -> bool {
    let mut from = 0;
    while let Some(at) = memchr(b'x', &bytes[from..]) {
        if bytes[from + at..].starts_with(b"xmlns") {
            return true;
        }
        from += at + 1;
    }
    false
}

/// The namespace declarations among the attributes of `start`, checked.
fn declarations(start: &BytesStart<'_>) -> Result<Vec<Binding>, XccdfError> {
    let bad = |message: &dyn std::fmt::Display| tag_error(start, message);
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
            PrefixDeclaration::Named(b"") => {
                return Err(bad(&"`xmlns:` declares no prefix"));
            }
            PrefixDeclaration::Named(prefix) if uri.is_empty() => {
                return Err(bad(&format!(
                    "the prefix `{}` cannot be bound to no namespace",
                    String::from_utf8_lossy(prefix)
                )))
            }
            PrefixDeclaration::Named(prefix) => prefix,
        };
        if declared.len() >= MAX_DECLARATIONS_PER_TAG {
            return Err(bad(&format!(
                "more than {MAX_DECLARATIONS_PER_TAG} namespace declarations on one tag"
            )));
        }
        if declared
            .iter()
            .any(|binding: &Binding| *binding.prefix == *prefix)
        {
            return Err(bad(&format!(
                "the prefix `{}` is declared twice",
                String::from_utf8_lossy(prefix)
            )));
        }
        declared.push(Binding {
            prefix: Rc::from(prefix),
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
        .find(|binding| *binding.prefix == *prefix)
        .map(|binding| binding.ns)
}

/// The namespace of the element `start`, from the innermost binding of its prefix.
fn resolve(bindings: &[Binding], start: &BytesStart<'_>) -> Result<Ns, XccdfError> {
    let name = start.name();
    let prefix = name.prefix().map_or(&[][..], |prefix| prefix.into_inner());
    if prefix.is_empty() && name.as_ref().first() == Some(&b':') {
        return Err(XccdfError::Xml(format!(
            "the element name `{}` has an empty prefix",
            String::from_utf8_lossy(name.as_ref())
        )));
    }
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

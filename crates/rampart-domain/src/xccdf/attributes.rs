//! The attributes the parser reads of a start tag: a short scan for the plain `name="value"`
//! pairs real files are made of, quick-xml's attribute reader for anything else (both answer
//! alike: `tests/attributes.rs`), values unescaped and normalized only when they need it.

use std::borrow::Cow;

use memchr::{memchr, memchr2, memchr3};
use quick_xml::events::attributes::Attribute;
use quick_xml::events::BytesStart;
use quick_xml::XmlVersion;

use super::reader::{is_space, tag_error};
use super::XccdfError;

/// The unprefixed attributes `names` of `start`, unescaped, in the same order.
pub(super) fn attributes<'a, const N: usize>(
    start: &'a BytesStart<'_>,
    names: [&str; N],
) -> Result<[Option<Cow<'a, str>>; N], XccdfError> {
    match simple_attributes(&start[start.name().as_ref().len()..], names) {
        Some(simple) => Ok(simple.map(|value| value.map(Cow::Borrowed))),
        None => read_attributes(start, names),
    }
}

/// `attributes` through quick-xml's attribute reader, for any tag.
pub(super) fn read_attributes<'a, const N: usize>(
    start: &'a BytesStart<'_>,
    names: [&str; N],
) -> Result<[Option<Cow<'a, str>>; N], XccdfError> {
    let bad = |error: &dyn std::fmt::Display| tag_error(start, error);
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

/// `attributes` for the tags real files are made of: every attribute `name="value"` (or with
/// `'`), after white space, its value holding no reference, `<`, tab or line end (so that it
/// needs no normalizing), and no attribute read here repeated. `None` for anything else, which
/// `attributes` then reads through quick-xml, refusing what is malformed.
fn simple_attributes<'a, const N: usize>(
    tag: &'a [u8],
    names: [&str; N],
) -> Option<[Option<&'a str>; N]> {
    let mut values = [None; N];
    let mut at = 0;
    loop {
        let before = at;
        while tag.get(at).copied().is_some_and(is_space) {
            at += 1;
        }
        if at == tag.len() {
            return Some(values);
        }
        if at == before {
            return None;
        }
        let equals = at + memchr(b'=', &tag[at..])?;
        let name = &tag[at..equals];
        let odd_name = |byte: &u8| {
            matches!(
                byte,
                b' ' | b'\t' | b'\r' | b'\n' | b'"' | b'\'' | b'<' | b'>' | b'&' | b'/'
            )
        };
        if name.is_empty() || name.iter().any(odd_name) {
            return None;
        }
        let quote = *tag
            .get(equals + 1)
            .filter(|&&quote| quote == b'"' || quote == b'\'')?;
        let start = equals + 2;
        let end = start + memchr(quote, &tag[start..])?;
        let value = &tag[start..end];
        if memchr3(b'&', b'<', b'\t', value).is_some() || memchr2(b'\r', b'\n', value).is_some() {
            return None;
        }
        if let Some(slot) = names.iter().position(|wanted| wanted.as_bytes() == name) {
            if values[slot].is_some() {
                return None;
            }
            values[slot] = Some(std::str::from_utf8(value).ok()?);
        }
        at = end + 1;
    }
}

/// An attribute's value, normalized as XML 1.0 says; borrowed, without the normalizer's pass,
/// when it holds no reference and no white space but spaces (ids, times, words, addresses).
pub(super) fn value<'a>(attribute: &Attribute<'a>) -> Result<Cow<'a, str>, quick_xml::Error> {
    if let Cow::Borrowed(raw) = attribute.value {
        if memchr3(b'&', b'\t', b'\n', raw).is_none() && memchr(b'\r', raw).is_none() {
            return std::str::from_utf8(raw)
                .map(Cow::Borrowed)
                .map_err(|error| quick_xml::Error::Encoding(error.into()));
        }
    }
    attribute.normalized_value(XmlVersion::Implicit1_0)
}

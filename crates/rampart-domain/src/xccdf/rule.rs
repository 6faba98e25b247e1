//! A Rule's texts, read only when the visitor wants them: title, description and rationale as
//! plain text, idents and references; checks, fixes, warnings and the rest are skipped.

use std::borrow::Cow;

use super::attributes::attributes;
use super::parser::{Parser, LIST_LIMIT, SHORT_LIMIT};
use super::reader::{decode, unexpected_eof, Item, Ns, Source};
use super::text::PlainText;
use super::{Ident, Reference, RuleText, Severity, Visitor, XccdfError};

/// Longer descriptions are cut (real ones stay under 2 KB).
const TEXT_LIMIT: usize = 256 * 1024;

/// The children of a Rule this module reads.
enum Field {
    Title,
    Description,
    Rationale,
    Ident { system: String },
    Reference { href: String },
    Other,
}

/// How an element inside rich text shapes the text around it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Markup {
    /// `br`: a line end.
    Break,
    /// `p`, `li`, `div`, …: line ends around it.
    Block,
    /// `pre`: line ends around it, and inside it every line end kept.
    Pre,
    /// `code`, `em`, `a`, …: nothing.
    Inline,
    /// An element of another vocabulary (Dublin Core in a `reference`): a space around it.
    Foreign,
}

impl Markup {
    fn of_xhtml(local: &[u8]) -> Markup {
        match local {
            b"br" => Markup::Break,
            b"pre" => Markup::Pre,
            b"p" | b"div" | b"li" | b"ul" | b"ol" | b"dl" | b"dt" | b"dd" | b"table" | b"tr"
            | b"blockquote" | b"h1" | b"h2" | b"h3" | b"h4" | b"h5" | b"h6" | b"hr" => {
                Markup::Block
            }
            _ => Markup::Inline,
        }
    }
}

impl<S: Source, V: Visitor> Parser<'_, S, V> {
    pub(super) fn rule(
        &mut self,
        id: String,
        severity: Severity,
        empty: bool,
    ) -> Result<(), XccdfError> {
        let mut rule = RuleText {
            id,
            severity,
            ..RuleText::default()
        };
        if !empty {
            loop {
                match self.xml.next()? {
                    Item::Element {
                        ns: Ns::Xccdf,
                        start,
                        empty,
                    } => {
                        let field = match start.local_name().as_ref() {
                            b"title" => Field::Title,
                            b"description" => Field::Description,
                            b"rationale" => Field::Rationale,
                            b"ident" => {
                                let [system] = attributes(&start, ["system"])?;
                                Field::Ident {
                                    system: system.map(Cow::into_owned).unwrap_or_default(),
                                }
                            }
                            b"reference" => {
                                let [href] = attributes(&start, ["href"])?;
                                Field::Reference {
                                    href: href.map(Cow::into_owned).unwrap_or_default(),
                                }
                            }
                            _ => Field::Other,
                        };
                        self.rule_field(&mut rule, field, empty)?;
                    }
                    Item::Element { empty: false, .. } => self.xml.skip()?,
                    Item::End => break,
                    Item::Eof => return Err(unexpected_eof()),
                    _ => {}
                }
            }
        }
        self.visitor.rule(rule);
        Ok(())
    }

    fn rule_field(
        &mut self,
        rule: &mut RuleText,
        field: Field,
        empty: bool,
    ) -> Result<(), XccdfError> {
        if empty {
            // Only a reference means something without content.
            if let Field::Reference { href } = field {
                if rule.references.len() < LIST_LIMIT {
                    rule.references.push(Reference {
                        href,
                        text: String::new(),
                    });
                }
            }
            return Ok(());
        }
        // Texts may come in several languages: the first non-empty one is kept.
        match field {
            Field::Title if rule.title.is_empty() => rule.title = self.rich_text()?,
            Field::Description if rule.description.is_empty() => {
                rule.description = self.rich_text()?
            }
            Field::Rationale if rule.rationale.is_empty() => rule.rationale = self.rich_text()?,
            Field::Ident { system } => {
                let value = self.xml.simple_text(SHORT_LIMIT)?;
                if !value.is_empty() && rule.identifiers.len() < LIST_LIMIT {
                    rule.identifiers.push(Ident { system, value });
                }
            }
            Field::Reference { href } => {
                let text = self.rich_text()?;
                if rule.references.len() < LIST_LIMIT {
                    rule.references.push(Reference { href, text });
                }
            }
            _ => self.xml.skip()?,
        }
        Ok(())
    }

    /// Reads XHTML mixed content to the end of the current element, as plain text. A `sub`
    /// shows the title of the Value it names when known, else the Value's id.
    fn rich_text(&mut self) -> Result<String, XccdfError> {
        let mut text = PlainText::new(std::mem::take(&mut self.text_buffer), TEXT_LIMIT);
        let mut open: Vec<Markup> = Vec::new();
        let mut in_pre = 0usize;
        loop {
            match self.xml.next()? {
                Item::Text(node) => text.push_text(&decode(&node)?, in_pre > 0),
                Item::CData(node) => text.push_text(&node, in_pre > 0),
                Item::Ref(ch) => text.push_text(ch.encode_utf8(&mut [0; 4]), in_pre > 0),
                Item::Element {
                    ns: Ns::Xccdf,
                    start,
                    empty,
                } if start.local_name().as_ref() == b"sub" => {
                    let [idref] = attributes(&start, ["idref"])?;
                    let idref = idref.unwrap_or_default();
                    let shown = self
                        .value_titles
                        .get(idref.as_ref())
                        .map_or(idref.as_ref(), String::as_str);
                    text.push_word(shown);
                    self.xml.skip_unless_empty(empty)?;
                }
                Item::Element { ns, start, empty } => {
                    let markup = match ns {
                        Ns::Xhtml => Markup::of_xhtml(start.local_name().as_ref()),
                        Ns::Xccdf => Markup::Inline,
                        _ => Markup::Foreign,
                    };
                    match markup {
                        Markup::Break => text.line_break(),
                        Markup::Block | Markup::Pre => text.block(),
                        Markup::Foreign => text.space(),
                        Markup::Inline => {}
                    }
                    if !empty {
                        in_pre += usize::from(markup == Markup::Pre);
                        open.push(markup);
                    }
                }
                Item::End => match open.pop() {
                    None => break,
                    Some(Markup::Pre) => {
                        in_pre -= 1;
                        text.block();
                    }
                    Some(Markup::Block) => text.block(),
                    Some(Markup::Foreign) => text.space(),
                    Some(Markup::Break | Markup::Inline) => {}
                },
                Item::Eof => return Err(unexpected_eof()),
                Item::Ignored => {}
            }
        }
        Ok(text.finish_into(&mut self.text_buffer))
    }
}

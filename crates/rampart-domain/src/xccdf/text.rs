//! XHTML mixed content turned into plain text: text nodes concatenated, runs of white space
//! collapsed to one space, line breaks where the markup had them (`br`, block boundaries such as
//! `p`, `li`, `pre`, and blank lines in the source), trimmed at both ends.

use super::reader::is_space;

/// Where the stretch of `bytes` that starts at `at` (not white space) ends: at the end, or at
/// the first white space that is not one space between two other characters.
fn plain_stretch_end(bytes: &[u8], at: usize) -> usize {
    let mut end = at;
    while let Some(&byte) = bytes.get(end) {
        if !is_space(byte) {
            end += 1;
        } else if byte == b' ' && bytes.get(end + 1).is_some_and(|&next| !is_space(next)) {
            end += 2;
        } else {
            break;
        }
    }
    end
}

/// What separates the last character written from the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Gap {
    None,
    Space,
    /// One or two line ends (two: a blank line; never more).
    Lines(u8),
}

/// Builds one plain-text field, at most `limit` bytes long (the rest is dropped).
pub(super) struct PlainText {
    out: String,
    gap: Gap,
    /// Line ends in the current run of white space.
    run_newlines: u8,
    limit: usize,
    /// A character did not fit: the text ends there, nothing after it is appended.
    full: bool,
}

impl PlainText {
    /// Writes into `buffer` (emptied first), so that one buffer serves many fields.
    pub(super) fn new(mut buffer: String, limit: usize) -> Self {
        buffer.clear();
        PlainText {
            out: buffer,
            gap: Gap::None,
            run_newlines: 0,
            limit,
            full: false,
        }
    }

    /// Appends a text node; in `pre`, every line end is kept (at most one blank line).
    pub(super) fn push_text(&mut self, text: &str, pre: bool) {
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            let byte = bytes[at];
            if is_space(byte) {
                if byte == b'\n' {
                    self.run_newlines = self.run_newlines.saturating_add(1);
                }
                let gap = match self.run_newlines {
                    0 => Gap::Space,
                    1 if pre => Gap::Lines(1),
                    1 => Gap::Space,
                    _ => Gap::Lines(2),
                };
                self.widen(gap);
                at += 1;
            } else {
                // Words with one space between them, as they are kept: copied in one piece.
                let end = plain_stretch_end(bytes, at);
                self.push_run(&text[at..end]);
                at = end;
            }
        }
    }

    /// Appends a run that starts with a character other than white space and holds no white
    /// space but single spaces between words, as `push_text` would word by word.
    fn push_run(&mut self, run: &str) {
        if self.full {
            return;
        }
        let separator = match (self.out.is_empty(), self.gap) {
            (true, _) | (_, Gap::None) => 0,
            (false, Gap::Space) => 1,
            (false, Gap::Lines(n)) => usize::from(n),
        };
        if self.out.len() + separator + run.len() + 2 > self.limit {
            // Near the limit: char by char, so that the cut falls where it always did.
            for ch in run.chars() {
                if ch == ' ' {
                    self.widen(Gap::Space);
                } else {
                    self.push_char(ch);
                }
            }
            return;
        }
        let mut chars = run.chars();
        if let Some(first) = chars.next() {
            self.push_char(first);
            self.out.push_str(chars.as_str());
        }
    }

    /// Appends a word that stands for an element (a `sub`'s value).
    pub(super) fn push_word(&mut self, word: &str) {
        for ch in word.chars() {
            if ch.is_whitespace() {
                self.widen(Gap::Space);
            } else {
                self.push_char(ch);
            }
        }
    }

    /// A `br`: one more line end, at most a blank line.
    pub(super) fn line_break(&mut self) {
        let gap = match self.gap {
            Gap::Lines(n) => Gap::Lines(n.saturating_add(1).min(2)),
            _ => Gap::Lines(1),
        };
        self.widen(gap);
    }

    /// The edge of an element that separates words.
    pub(super) fn space(&mut self) {
        self.widen(Gap::Space);
    }

    /// The start or end of a block (`p`, `li`, `pre`, …): at least a line end.
    pub(super) fn block(&mut self) {
        self.widen(Gap::Lines(1));
    }

    /// The text, in a string of its own size; the buffer goes back to `buffer` for the next one.
    pub(super) fn finish_into(self, buffer: &mut String) -> String {
        let text = self.out.as_str().to_owned();
        *buffer = self.out;
        text
    }

    fn widen(&mut self, gap: Gap) {
        self.gap = self.gap.max(gap);
    }

    fn push_char(&mut self, ch: char) {
        self.run_newlines = 0;
        let gap = std::mem::replace(&mut self.gap, Gap::None);
        if self.full || self.out.len() + ch.len_utf8() + 2 > self.limit {
            self.full = true;
            return;
        }
        // Nothing before the first character: the text comes out trimmed.
        if !self.out.is_empty() {
            match gap {
                Gap::None => {}
                Gap::Space => self.out.push(' '),
                Gap::Lines(n) => (0..n).for_each(|_| self.out.push('\n')),
            }
        }
        self.out.push(ch);
    }
}

#[cfg(test)]
mod tests {
    use super::PlainText;

    fn plain(parts: &[&str]) -> String {
        let mut text = PlainText::new(String::new(), 1000);
        for part in parts {
            match *part {
                "<br>" => text.line_break(),
                "<p>" => text.block(),
                _ => text.push_text(part, false),
            }
        }
        text.finish_into(&mut String::new())
    }

    #[test]
    fn white_space_collapses_and_ends_are_trimmed() {
        assert_eq!(plain(&["  a  b\n\tc ", " d  "]), "a b c d");
    }

    #[test]
    fn blank_lines_and_breaks_become_line_ends() {
        assert_eq!(plain(&["a\n\n\n  b"]), "a\n\nb");
        assert_eq!(plain(&["a", "<br>", "\n", "<br>", "b"]), "a\n\nb");
        assert_eq!(plain(&["a", "<p>", " b ", "<p>", "c"]), "a\nb\nc");
        assert_eq!(plain(&["<br>", "<p>", "a", "<br>"]), "a");
    }

    #[test]
    fn preformatted_text_keeps_its_lines() {
        let mut text = PlainText::new(String::new(), 1000);
        text.push_text("intro", false);
        text.block();
        text.push_text("\nline 1\n   line 2\n", true);
        text.block();
        text.push_text("after", false);
        assert_eq!(
            text.finish_into(&mut String::new()),
            "intro\nline 1\nline 2\nafter"
        );
    }

    #[test]
    fn text_is_cut_at_the_first_character_past_the_limit() {
        // "ab" + "\n\n" + "cd" is 6 bytes: the 2-byte é would leave less than 2 bytes of room
        // under 9, so the text ends before it; the 1-byte f that would fit is not spliced on.
        let mut text = PlainText::new(String::new(), 9);
        text.push_text("ab\n\ncdéf", false);
        text.push_text(" g", false);
        assert_eq!(text.finish_into(&mut String::new()), "ab\n\ncd");
        let mut text = PlainText::new(String::new(), 1000);
        text.push_text(" één  twee\tdrie ", false);
        assert_eq!(text.finish_into(&mut String::new()), "één twee drie");
    }

    #[test]
    fn words_with_single_spaces_are_cut_as_word_by_word() {
        // "abc de" fits whole; of " fg", " f" leaves the 2 bytes of room under 9, "g" would not.
        let mut text = PlainText::new(String::new(), 9);
        text.push_text("abc de fg", false);
        assert_eq!(text.finish_into(&mut String::new()), "abc de f");
        let mut text = PlainText::new(String::new(), 1000);
        text.push_text("a b  c\td \n e f ", false);
        assert_eq!(text.finish_into(&mut String::new()), "a b c d e f");
    }

    #[test]
    fn text_stops_at_its_limit() {
        let mut text = PlainText::new(String::new(), 10);
        text.push_text("abcdefghijklmnop", false);
        assert!(text.finish_into(&mut String::new()).len() <= 10);
    }
}

//! An RFC 4180 CSV writer for reports that are streamed: each field goes straight to the
//! underlying [`Write`] as it is given, so memory does not grow with the report.
//!
//! Rows end with `\r\n`. A field is quoted only when it holds `,`, `"`, `\r` or `\n`, with each
//! `"` doubled; anything else, leading and trailing spaces included, is written as it is.

use std::fmt::{self, Display};
use std::io::{self, Write};

/// Writes CSV rows to `W`, field by field ([`field`](Self::field), then
/// [`end_row`](Self::end_row)) or a row at a time ([`write_row`](Self::write_row)).
///
/// Nothing is buffered here: wrap a file or socket in a [`io::BufWriter`]. After an I/O error
/// the current row is incomplete and the output should be discarded.
#[derive(Debug)]
pub struct CsvWriter<W: Write> {
    inner: W,
    /// Whether the current row has a field, so the next one needs a `,` before it.
    in_row: bool,
    /// Reused by [`field_display`](Self::field_display); keeps its capacity between fields.
    scratch: String,
}

impl<W: Write> CsvWriter<W> {
    pub fn new(inner: W) -> Self {
        CsvWriter {
            inner,
            in_row: false,
            scratch: String::new(),
        }
    }

    /// Writes one row of `fields` and its line end.
    pub fn write_row<I, S>(&mut self, fields: I) -> io::Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for value in fields {
            self.field(value.as_ref())?;
        }
        self.end_row()
    }

    /// Writes one field of the current row, quoted if it needs to be.
    pub fn field(&mut self, value: &str) -> io::Result<()> {
        if self.in_row {
            self.inner.write_all(b",")?;
        }
        self.in_row = true;
        write_field(&mut self.inner, value)
    }

    /// Writes `value`'s `Display` form as one field (numbers, times), without allocating once
    /// the writer's scratch space has grown to the longest such field.
    pub fn field_display(&mut self, value: impl Display) -> io::Result<()> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        fmt::Write::write_fmt(&mut scratch, format_args!("{value}"))
            .map_err(|_| io::Error::other("a Display implementation returned an error"))?;
        let written = self.field(&scratch);
        self.scratch = scratch;
        written
    }

    /// Ends the current row (an empty line if it has no field).
    pub fn end_row(&mut self) -> io::Result<()> {
        self.in_row = false;
        self.inner.write_all(b"\r\n")
    }

    /// The underlying writer, for flushing it.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Gives back the underlying writer; a row left unended stays so.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// Writes `value` as one field, quoted if it needs to be, with no separator before it: what
/// [`CsvWriter::field`] writes after its `,`. For writers that render a field once and copy its
/// bytes into many rows.
pub fn write_field<W: Write + ?Sized>(out: &mut W, value: &str) -> io::Result<()> {
    if !value.contains([',', '"', '\r', '\n']) {
        return out.write_all(value.as_bytes());
    }
    out.write_all(b"\"")?;
    let mut pieces = value.split('"');
    if let Some(first) = pieces.next() {
        out.write_all(first.as_bytes())?;
    }
    for piece in pieces {
        out.write_all(b"\"\"")?;
        out.write_all(piece.as_bytes())?;
    }
    out.write_all(b"\"")
}

/// [`write_field`] into a byte buffer, which cannot fail.
pub fn push_field(out: &mut Vec<u8>, value: &str) {
    write_field(out, value).expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(rows: &[&[&str]]) -> String {
        let mut writer = CsvWriter::new(Vec::new());
        for row in rows {
            writer.write_row(row.iter()).unwrap();
        }
        String::from_utf8(writer.into_inner()).unwrap()
    }

    /// Reads RFC 4180 text back into rows, for the round trip.
    fn parse(text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') => quoted = true,
                (false, ',') => row.push(std::mem::take(&mut field)),
                (false, '\r') => {
                    assert_eq!(chars.next(), Some('\n'), "a bare CR ends a row");
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                (false, c) => field.push(c),
            }
        }
        assert!(
            field.is_empty() && row.is_empty(),
            "the last row is unended"
        );
        rows
    }

    #[test]
    fn plain_fields_are_written_as_they_are_and_rows_end_with_crlf() {
        assert_eq!(
            csv(&[
                &["Instance ID", "Hostname", "Pass Rate"],
                &["m-1", " web 01 ", "97"]
            ]),
            "Instance ID,Hostname,Pass Rate\r\nm-1, web 01 ,97\r\n"
        );
    }

    #[test]
    fn commas_quotes_and_line_ends_are_quoted_with_quotes_doubled() {
        assert_eq!(csv(&[&["a,b"]]), "\"a,b\"\r\n");
        assert_eq!(csv(&[&["say \"hi\""]]), "\"say \"\"hi\"\"\"\r\n");
        assert_eq!(csv(&[&["\""]]), "\"\"\"\"\r\n");
        assert_eq!(csv(&[&["one\rtwo", "x"]]), "\"one\rtwo\",x\r\n");
        assert_eq!(csv(&[&["one\ntwo"]]), "\"one\ntwo\"\r\n");
    }

    #[test]
    fn empty_fields_stay_empty() {
        assert_eq!(csv(&[&["", "a", "", ""]]), ",a,,\r\n");
        assert_eq!(csv(&[&[""]]), "\r\n");
        assert_eq!(csv(&[&[]]), "\r\n");
    }

    #[test]
    fn unicode_is_written_unchanged() {
        assert_eq!(
            csv(&[&["Ünïcödé", "東京 ☕", "a,é"]]),
            "Ünïcödé,東京 ☕,\"a,é\"\r\n"
        );
    }

    #[test]
    fn fields_written_one_by_one_match_whole_rows() {
        let mut writer = CsvWriter::new(Vec::new());
        writer.field("m-1").unwrap();
        writer.field_display(42).unwrap();
        writer.field_display(97.5).unwrap();
        writer.field_display("x,y").unwrap();
        writer.end_row().unwrap();
        writer.field_display("").unwrap();
        writer.end_row().unwrap();
        let text = String::from_utf8(writer.into_inner()).unwrap();
        assert_eq!(text, "m-1,42,97.5,\"x,y\"\r\n\r\n");
    }

    #[test]
    fn a_field_pushed_alone_is_what_the_writer_writes() {
        for value in [
            "",
            "plain",
            "a,b",
            "say \"hi\"",
            "\"",
            "one\rtwo",
            "x\ny",
            " é, \"\" ",
        ] {
            let mut alone = Vec::new();
            push_field(&mut alone, value);
            assert_eq!(alone, csv(&[&[value]]).trim_end_matches("\r\n").as_bytes());
            let mut row = b"x,".to_vec();
            push_field(&mut row, value);
            row.extend_from_slice(b"\r\n");
            assert_eq!(String::from_utf8(row).unwrap(), csv(&[&["x", value]]));
        }
    }

    #[test]
    fn a_tricky_field_round_trips() {
        let tricky = "Ensure \"sudo\" logs, to /var/log/sudo.log\r\n\n  ; ,\"\" é\r";
        let rows: &[&[&str]] = &[&["a", tricky, ""], &[tricky], &["", "\"", ","]];
        let parsed = parse(&csv(rows));
        let expected: Vec<Vec<String>> = rows
            .iter()
            .map(|row| row.iter().map(|field| field.to_string()).collect())
            .collect();
        assert_eq!(parsed, expected);
    }
}

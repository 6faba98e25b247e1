//! Gzip detected by its magic bytes (not by a file name), and a cap on the decompressed size so
//! that a small upload cannot expand into gigabytes (a "gzip bomb").

use std::io::{self, BufRead, BufReader, Chain, Cursor, Read};

use flate2::bufread::MultiGzDecoder;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// What [`open_maybe_gzip`] returns: the input, decompressed if it was gzip, failing with
/// [`XccdfError::TooLarge`](super::XccdfError::TooLarge) (through [`super::parse`]) past its cap.
pub struct MaybeGzip<R> {
    inner: Inner<R>,
    delivered: u64,
    max_bytes: u64,
}

/// The bytes read to look for the magic, put back in front of the rest.
type Head<R> = Chain<Cursor<Vec<u8>>, R>;

enum Inner<R> {
    Plain(Head<R>),
    Gzip(BufReader<MultiGzDecoder<Head<R>>>),
    /// Reading the first bytes failed; the error is reported by the first read.
    Failed(Option<io::Error>),
}

/// Wraps `input`, decompressing it when it starts with the gzip magic (1f 8b); reading more than
/// `max_bytes` (after decompression) fails with an I/O error that [`super::parse`] turns into
/// [`XccdfError::TooLarge`](super::XccdfError::TooLarge).
pub fn open_maybe_gzip<R: BufRead>(mut input: R, max_bytes: u64) -> MaybeGzip<R> {
    let inner = match read_head(&mut input) {
        Ok(head) => {
            let is_gzip = head == GZIP_MAGIC;
            let rest = Cursor::new(head).chain(input);
            if is_gzip {
                Inner::Gzip(BufReader::with_capacity(
                    64 * 1024,
                    MultiGzDecoder::new(rest),
                ))
            } else {
                Inner::Plain(rest)
            }
        }
        Err(error) => Inner::Failed(Some(error)),
    };
    MaybeGzip {
        inner,
        delivered: 0,
        max_bytes,
    }
}

/// Whether `bytes` start with the gzip magic.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Takes up to two bytes off `input`, however its buffer is split.
fn read_head<R: BufRead>(input: &mut R) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(GZIP_MAGIC.len());
    while head.len() < GZIP_MAGIC.len() {
        let available = match input.fill_buf() {
            Ok(available) => available,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if available.is_empty() {
            break;
        }
        let take = available.len().min(GZIP_MAGIC.len() - head.len());
        head.extend_from_slice(&available[..take]);
        input.consume(take);
    }
    Ok(head)
}

/// The marker inside the I/O error raised past the cap.
#[derive(Debug)]
pub(super) struct TooLarge;

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the decompressed input exceeds its size limit")
    }
}

impl std::error::Error for TooLarge {}

pub(super) fn is_too_large(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|inner| inner.is::<TooLarge>())
}

impl<R: BufRead> BufRead for MaybeGzip<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.delivered > self.max_bytes {
            return Err(io::Error::other(TooLarge));
        }
        // One byte past the cap is handed out, so that a stream of exactly `max_bytes` passes
        // and a longer one fails once that byte is consumed.
        let allowed = (self.max_bytes - self.delivered).saturating_add(1);
        let available = match &mut self.inner {
            Inner::Plain(reader) => reader.fill_buf()?,
            Inner::Gzip(reader) => reader.fill_buf()?,
            Inner::Failed(error) => {
                return Err(error
                    .take()
                    .unwrap_or_else(|| io::Error::other("an earlier read failed")))
            }
        };
        let len = usize::try_from(allowed).map_or(available.len(), |n| n.min(available.len()));
        Ok(&available[..len])
    }

    fn consume(&mut self, amount: usize) {
        match &mut self.inner {
            Inner::Plain(reader) => reader.consume(amount),
            Inner::Gzip(reader) => reader.consume(amount),
            Inner::Failed(_) => return,
        }
        self.delivered = self.delivered.saturating_add(amount as u64);
    }
}

impl<R: BufRead> Read for MaybeGzip<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

//! A cap on the size of one XML event. quick-xml copies each event (a text node, a tag with its
//! attributes, a comment) whole into its buffer before handing it out; without a cap a hostile
//! file could make it buffer gigabytes for one event. [`Bounded`] counts the bytes handed out
//! since the reader started an event and hands out no more than [`MAX_EVENT`] plus one.

use std::io::BufRead;

/// The longest event the reader accepts, in bytes. Real results files stay far below (their
/// longest events are descriptions of a few KB).
pub const MAX_EVENT: usize = 16 * 1024 * 1024;

/// Fails a read once one event has taken more than `MAX_EVENT` bytes.
pub(super) struct Bounded<R> {
    inner: R,
    /// Bytes consumed since `start_event`.
    event: usize,
}

impl<R: BufRead> Bounded<R> {
    pub(super) fn new(inner: R) -> Self {
        Bounded { inner, event: 0 }
    }

    /// Called before each event is read.
    pub(super) fn start_event(&mut self) {
        self.event = 0;
    }
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
        // One byte past the limit is handed out, so that an event of exactly MAX_EVENT bytes
        // can be seen to end and a longer one fails at its next read.
        let Some(allowed) = (MAX_EVENT + 1).checked_sub(self.event).filter(|&n| n > 0) else {
            return Err(event_too_long());
        };
        let available = self.inner.fill_buf()?;
        Ok(&available[..available.len().min(allowed)])
    }

    #[inline]
    fn consume(&mut self, amount: usize) {
        self.event += amount;
        self.inner.consume(amount);
    }
}

/// The error of an event past [`MAX_EVENT`].
#[cold]
pub(super) fn event_too_long() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("more than {MAX_EVENT} bytes in one text, tag or comment"),
    )
}

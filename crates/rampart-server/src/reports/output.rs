//! The report's CSV on its way to the blob store, in pieces of `PIECE` bytes written by a task
//! of their own while the next rows are rendered.

use super::PIECE;

/// What the writer task is sent.
pub(super) enum Piece {
    Bytes(Vec<u8>),
    /// Everything was sent: make the file readable.
    End,
}

/// The CSV on its way to the blob store: rows are rendered into `buffer` here while a task of
/// its own writes the previous pieces, so rendering and writing overlap. Dropped without
/// [`finish`](Self::finish) (an error, a lost lease), the file is left unreadable.
pub(super) struct Output {
    /// Where rows are rendered; sent as a piece once it holds `PIECE` bytes.
    pub(super) buffer: Vec<u8>,
    pieces: tokio::sync::mpsc::Sender<Piece>,
    /// Written buffers come back for reuse, so memory stays at a few pieces.
    spare: tokio::sync::mpsc::Receiver<Vec<u8>>,
    writer: tokio::task::JoinHandle<anyhow::Result<u64>>,
}

/// Pieces sent to the writer task at once, besides the one being written and the one filled.
const PIECES_QUEUED: usize = 2;

impl Output {
    /// Starts the writer task on `blob`.
    pub(super) fn new(mut blob: Box<dyn crate::storage::BlobWriter>) -> Self {
        let (pieces, mut incoming) = tokio::sync::mpsc::channel::<Piece>(PIECES_QUEUED);
        let (give_back, spare) = tokio::sync::mpsc::channel(PIECES_QUEUED + 2);
        let writer = tokio::spawn(async move {
            while let Some(piece) = incoming.recv().await {
                match piece {
                    Piece::Bytes(mut bytes) => {
                        blob.write(&bytes).await?;
                        bytes.clear();
                        let _ = give_back.try_send(bytes);
                    }
                    Piece::End => return Ok(blob.finish().await?),
                }
            }
            anyhow::bail!("the report was abandoned while written")
        });
        Self {
            buffer: Vec::with_capacity(PIECE + PIECE / 4),
            pieces,
            spare,
            writer,
        }
    }

    /// Sends what has piled up once it is a piece's worth.
    pub(super) async fn flush_if_full(&mut self) -> anyhow::Result<()> {
        if self.buffer.len() >= PIECE {
            self.send().await?;
        }
        Ok(())
    }

    async fn send(&mut self) -> anyhow::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(PIECE + PIECE / 4));
        let full = std::mem::replace(&mut self.buffer, next);
        if self.pieces.send(Piece::Bytes(full)).await.is_err() {
            // The writer stopped: its error says why.
            return Err(self.stopped().await);
        }
        Ok(())
    }

    async fn stopped(&mut self) -> anyhow::Error {
        match (&mut self.writer).await {
            Ok(Err(e)) => e,
            Ok(Ok(_)) => anyhow::anyhow!("the report's file was finished early"),
            Err(e) => anyhow::anyhow!("the report's writer failed: {e}"),
        }
    }

    /// Sends the rest, makes the file readable and answers its size.
    pub(super) async fn finish(mut self) -> anyhow::Result<u64> {
        self.send().await?;
        if self.pieces.send(Piece::End).await.is_err() {
            return Err(self.stopped().await);
        }
        match self.writer.await {
            Ok(written) => written,
            Err(e) => Err(anyhow::anyhow!("the report's writer failed: {e}")),
        }
    }
}

//! Uploads on their way in: received while hashed (in memory, or a temporary file when large),
//! and the accepted ones kept gzip-compressed in the blob store (under `uploads/`, never
//! reachable through `blob`), to be deleted with their run.

use std::io::{Read, Seek};

use sha2::{Digest, Sha256};

use crate::http::error::ApiError;
use crate::http::AppState;

use super::work::refused;

/// Reads and drops an upload that will be refused, up to `limit`: the sender hears the answer
/// without anything being kept.
pub(super) async fn drain(body: axum::body::Body, limit: usize) {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut size = 0usize;
    while let Some(Ok(chunk)) = stream.next().await {
        size += chunk.len();
        if size > limit {
            return;
        }
    }
}

/// Bodies up to this size are held in memory; larger ones go to a temporary file as they arrive.
/// Compressed results files are well under it (a whole SSG results file is ~600 KB gzip, its
/// `TestResult` alone ~20 KB), so uploads cost no file of their own, while memory stays bounded by
/// this size per upload in flight.
pub(super) const IN_MEMORY: usize = 1024 * 1024;

/// Bytes received in memory, shared by the parse and the kept copy without being copied.
#[derive(Clone)]
pub(super) struct Shared(std::sync::Arc<Vec<u8>>);

impl std::ops::Deref for Shared {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// An upload's bytes, as received.
pub(super) enum Received {
    Memory(Shared),
    File(std::fs::File),
}

/// A reader of an upload kept in a file, from its first byte (blocking I/O: run it off the async
/// threads).
pub(super) fn file_reader(
    file: &std::fs::File,
) -> std::io::Result<std::io::BufReader<std::fs::File>> {
    let mut file = file.try_clone()?;
    file.rewind()?;
    Ok(std::io::BufReader::with_capacity(256 * 1024, file))
}

/// Every upload may take this long to arrive, however small.
const GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Past its grace period an upload must have come at this rate at least (bytes per second): a
/// body trickling in holds one of the few upload slots, which every machine's uploads share.
const MIN_RATE: u64 = 16 * 1024;

/// When an upload of `size` bytes, started at `start`, must have arrived.
fn deadline(start: tokio::time::Instant, size: usize) -> tokio::time::Instant {
    start + GRACE + std::time::Duration::from_secs(size as u64 / MIN_RATE)
}

/// Receives an upload, hashing it on the way: in memory up to [`IN_MEMORY`] bytes, then streamed
/// into an anonymous temporary file; more than `limit` bytes is 413 (reading stops there), a body
/// slower than [`GRACE`] plus [`MIN_RATE`] is 408 (which agents send again).
pub(super) async fn receive(
    body: axum::body::Body,
    limit: usize,
) -> Result<(Received, String), ApiError> {
    use futures_util::StreamExt;
    use std::io::Write;
    // Sized from Content-Length when it fits in memory: no doubling on the way, no spare room.
    let expected = axum::body::HttpBody::size_hint(&body).lower() as usize;
    let start = tokio::time::Instant::now();
    let mut memory: Vec<u8> = Vec::with_capacity(if expected <= IN_MEMORY { expected } else { 0 });
    let mut file: Option<std::fs::File> = None;
    let mut hash = Sha256::new();
    let mut size = 0usize;
    let mut stream = body.into_data_stream();
    loop {
        // The deadline moves with what has come so far (a Content-Length could lie): the next
        // 64 KiB at the least rate.
        let due = deadline(start, size + 64 * 1024);
        let Ok(next) = tokio::time::timeout_at(due, stream.next()).await else {
            return Err(ApiError::RequestTimeout(format!(
                "the upload arrived too slowly ({size} bytes in {} s); send it again",
                start.elapsed().as_secs()
            )));
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| refused(format!("the upload could not be read: {e}")))?;
        size += chunk.len();
        if size > limit {
            return Err(ApiError::PayloadTooLarge(
                "the results file is larger than the server accepts (setting max_upload_bytes)"
                    .into(),
            ));
        }
        hash.update(&chunk);
        if file.is_none() && size > IN_MEMORY {
            let mut spill = tempfile::tempfile()
                .map_err(|e| anyhow::anyhow!("cannot create a temporary file: {e}"))?;
            spill
                .write_all(&memory)
                .map_err(|e| anyhow::anyhow!("cannot write the upload aside: {e}"))?;
            memory = Vec::new();
            file = Some(spill);
        }
        match &mut file {
            Some(file) => file
                .write_all(&chunk)
                .map_err(|e| anyhow::anyhow!("cannot write the upload aside: {e}"))?,
            None => memory.extend_from_slice(&chunk),
        }
    }
    let sha256 = crate::auth::hex(&hash.finalize());
    let received = match file {
        Some(file) => Received::File(file),
        None => Received::Memory(Shared(std::sync::Arc::new(memory))),
    };
    Ok((received, sha256))
}

/// Keeps a copy of an upload in the blob store, gzip-compressed (a gzip upload is kept as it
/// came), and answers its name. The name carries the upload's hash, so a competing different
/// upload for the same activity never replaces it.
pub(super) async fn keep_upload(
    state: &AppState,
    account_id: i64,
    activity_id: i64,
    sha256: &str,
    upload: &Received,
) -> Result<String, ApiError> {
    let name = crate::storage::upload_blob_name(activity_id, &sha256[..16]);
    let file = match upload {
        Received::Memory(bytes) if rampart_domain::xccdf::is_gzip(bytes) => {
            state.store.put_blob(account_id, &name, bytes).await?;
            return Ok(name);
        }
        Received::Memory(bytes) => {
            let bytes = bytes.clone();
            let compressed = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                std::io::Write::write_all(&mut encoder, &bytes)?;
                encoder.finish()
            })
            .await
            .map_err(|e| anyhow::anyhow!("compressing the upload panicked: {e}"))?
            .map_err(|e| anyhow::anyhow!("cannot compress the upload: {e}"))?;
            state.store.put_blob(account_id, &name, &compressed).await?;
            return Ok(name);
        }
        Received::File(file) => file
            .try_clone()
            .map_err(|e| anyhow::anyhow!("cannot reopen the upload: {e}"))?,
    };
    let mut writer = state.store.create_blob(account_id, &name).await?;
    write_file(writer.as_mut(), file).await?;
    writer.finish().await?;
    Ok(name)
}

/// Copies an upload kept in a file into a blob, gzip-compressed (a gzip upload as it came).
async fn write_file(
    writer: &mut dyn crate::storage::BlobWriter,
    mut file: std::fs::File,
) -> Result<(), ApiError> {
    let compressed = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        file.rewind()?;
        let mut magic = [0u8; 2];
        let gzipped = file.read(&mut magic)? == 2 && rampart_domain::xccdf::is_gzip(&magic);
        file.rewind()?;
        if gzipped {
            return Ok(file);
        }
        let mut out = tempfile::tempfile()?;
        let mut encoder = flate2::write::GzEncoder::new(&mut out, flate2::Compression::fast());
        std::io::copy(&mut file, &mut encoder)?;
        encoder.finish()?;
        out.rewind()?;
        Ok(out)
    })
    .await
    .map_err(|e| anyhow::anyhow!("compressing the upload panicked: {e}"))?
    .map_err(|e| anyhow::anyhow!("cannot compress the upload: {e}"))?;
    let mut file = compressed;
    loop {
        let (chunk, back) = tokio::task::spawn_blocking(move || {
            let mut chunk = Vec::with_capacity(crate::storage::BLOB_CHUNK);
            (&mut file)
                .take(crate::storage::BLOB_CHUNK as u64)
                .read_to_end(&mut chunk)
                .map(|_| (chunk, file))
        })
        .await
        .map_err(|e| anyhow::anyhow!("reading the upload panicked: {e}"))?
        .map_err(|e| anyhow::anyhow!("cannot read the upload back: {e}"))?;
        if chunk.is_empty() {
            return Ok(());
        }
        writer.write(&chunk).await?;
        file = back;
    }
}

#[cfg(test)]
mod tests {
    //! The upload deadline, on tokio's paused clock: a body that stalls or trickles is answered
    //! 408 once its time is up, one that keeps the least rate is received whole.
    use std::time::Duration;

    use futures_util::{stream, StreamExt};
    use sha2::Digest;

    use super::{receive, Received, GRACE, IN_MEMORY};
    use crate::http::error::ApiError;

    type Chunk = Result<Vec<u8>, std::io::Error>;

    /// `count` chunks of `size` bytes, one every `every`.
    fn paced(
        count: usize,
        size: usize,
        every: Duration,
    ) -> impl futures_util::Stream<Item = Chunk> {
        stream::iter(0..count).then(move |_| async move {
            tokio::time::sleep(every).await;
            Ok(vec![b'x'; size])
        })
    }

    fn body(chunks: impl futures_util::Stream<Item = Chunk> + Send + 'static) -> axum::body::Body {
        axum::body::Body::from_stream(chunks)
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_arriving_is_answered_408_after_its_grace() {
        let stalled = stream::iter([Ok(vec![b'x'; 1024])]).chain(stream::pending());
        let start = tokio::time::Instant::now();
        let error = receive(body(stalled), 10 * IN_MEMORY)
            .await
            .err()
            .expect("a stalled body must not be received");
        let ApiError::RequestTimeout(message) = error else {
            panic!("expected 408 RequestTimeout, got {error:?}");
        };
        assert!(message.contains("1024 bytes"), "{message}");
        // Not before the grace period: a slow start is no reason to refuse.
        assert!(start.elapsed() >= GRACE, "{:?}", start.elapsed());
        assert!(start.elapsed() < GRACE + Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_trickling_below_the_least_rate_is_answered_408() {
        // 1 KiB a second: past the grace period this falls behind 16 KiB/s.
        let trickle = paced(600, 1024, Duration::from_secs(1));
        let error = receive(body(trickle), 10 * IN_MEMORY)
            .await
            .err()
            .expect("a trickling body must not be received");
        assert!(matches!(error, ApiError::RequestTimeout(_)), "{error:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_body_above_the_least_rate_is_received_whole() {
        // 32 KiB a second for 64 s, 2 MiB in all: slow, but twice the least rate; it spills to a
        // file past IN_MEMORY.
        let slow = paced(64, 32 * 1024, Duration::from_secs(1));
        let (received, sha256) = receive(body(slow), 10 * IN_MEMORY)
            .await
            .expect("a body at twice the least rate must be received");
        let Received::File(file) = received else {
            panic!("2 MiB must be kept in a file, not in memory");
        };
        assert_eq!(file.metadata().unwrap().len(), 2 * 1024 * 1024);
        let expected = crate::auth::hex(&sha2::Sha256::digest(vec![b'x'; 2 * 1024 * 1024]));
        assert_eq!(sha256, expected);
    }
}

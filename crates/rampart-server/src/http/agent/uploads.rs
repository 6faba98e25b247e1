//! Uploads on their way in: streamed to a temporary file while hashed, and the accepted ones
//! kept gzip-compressed in the blob store (under `uploads/`, never reachable through `blob`),
//! to be deleted with their run.

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

/// Streams an upload into an anonymous temporary file, hashing it on the way; more than `limit`
/// bytes is 413 (reading stops there).
pub(super) async fn receive(
    body: axum::body::Body,
    limit: usize,
) -> Result<(std::fs::File, String), ApiError> {
    use futures_util::StreamExt;
    use std::io::{Seek, Write};
    let mut file =
        tempfile::tempfile().map_err(|e| anyhow::anyhow!("cannot create a temporary file: {e}"))?;
    let mut hash = Sha256::new();
    let mut size = 0usize;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| refused(format!("the upload could not be read: {e}")))?;
        size += chunk.len();
        if size > limit {
            return Err(ApiError::PayloadTooLarge(
                "the results file is larger than the server accepts (setting max_upload_bytes)"
                    .into(),
            ));
        }
        hash.update(&chunk);
        file.write_all(&chunk)
            .map_err(|e| anyhow::anyhow!("cannot write the upload aside: {e}"))?;
    }
    file.rewind()
        .map_err(|e| anyhow::anyhow!("cannot read the upload back: {e}"))?;
    let sha256 = crate::auth::hex(&hash.finalize());
    Ok((file, sha256))
}

/// Keeps a copy of an upload in the blob store, gzip-compressed (a gzip upload is kept as it
/// came), and answers its name. The name carries the upload's hash, so a competing different
/// upload for the same activity never replaces it.
pub(super) async fn keep_upload(
    state: &AppState,
    account_id: i64,
    activity_id: i64,
    sha256: &str,
    mut file: std::fs::File,
) -> Result<String, ApiError> {
    let name = crate::storage::upload_blob_name(activity_id, &sha256[..16]);
    let compressed = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        file.rewind()?;
        let mut magic = [0u8; 2];
        let gzipped = file.read(&mut magic)? == 2 && magic == [0x1f, 0x8b];
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
    let mut writer = state.store.create_blob(account_id, &name).await?;
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
            break;
        }
        writer.write(&chunk).await?;
        file = back;
    }
    writer.finish().await?;
    Ok(name)
}

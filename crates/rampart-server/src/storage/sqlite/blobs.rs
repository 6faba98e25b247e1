//! The blob store beside a SQLite database: `<dir of the database>/blobs/<account id>/<name>`.
//! A file is written to a temporary file in its final directory and renamed into place at
//! `finish`, so a reader sees the whole file or none.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::blob_writer::FileWriter;
use super::*;

/// The file of a blob. Names are rampart's own (`…report….csv`, `uploads/<id>.xml.gz`); one that
/// could leave the account's directory is refused all the same.
fn blob_path(root: &Path, account_id: i64, name: &str) -> Result<PathBuf> {
    let safe = !name.is_empty()
        && name
            .split('/')
            .all(|part| !part.is_empty() && !part.starts_with('.') && !part.contains('\\'));
    if !safe {
        return Err(StorageError::Invalid(format!(
            "`{name}` is not a blob name"
        )));
    }
    Ok(root.join(account_id.to_string()).join(name))
}

pub(super) fn io_error(e: std::io::Error) -> StorageError {
    StorageError::Files(e)
}

pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StorageError::Unavailable(format!("the blob task failed: {e}")))?
        .map_err(io_error)
}

/// How long a temporary file may go unwritten before the retention pass takes it for the
/// leftover of a writer that died.
const PARTIAL_FILES_KEPT: std::time::Duration = std::time::Duration::from_secs(3600);

impl SqliteStore {
    /// Removes temporary files untouched for `PARTIAL_FILES_KEPT` (a server that died
    /// mid-write: a report of a gigabyte each time it died); a writer that stops normally removes
    /// its own, and a live one writes more often than that.
    pub(super) async fn sweep_partial_files(&self) -> Result<u64> {
        let root = self.blob_dir.clone();
        blocking(move || {
            let mut removed = 0;
            let cutoff = std::time::SystemTime::now() - PARTIAL_FILES_KEPT;
            let mut dirs = vec![root];
            while let Some(dir) = dirs.pop() {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                for entry in entries {
                    let entry = entry?;
                    let meta = entry.metadata()?;
                    if meta.is_dir() {
                        dirs.push(entry.path());
                    } else if entry.file_name().to_string_lossy().starts_with(".partial-")
                        && meta.modified()? < cutoff
                    {
                        std::fs::remove_file(entry.path())?;
                        removed += 1;
                    }
                }
            }
            Ok(removed)
        })
        .await
    }
}

#[async_trait]
impl Blobs for SqliteStore {
    async fn create_blob(&self, account_id: i64, name: &str) -> Result<Box<dyn BlobWriter>> {
        let path = blob_path(&self.blob_dir, account_id, name)?;
        let dir = path.parent().expect("a blob path has a parent").to_owned();
        let file = blocking(move || {
            std::fs::create_dir_all(&dir)?;
            tempfile::Builder::new()
                .prefix(".partial-")
                .tempfile_in(&dir)
        })
        .await?;
        Ok(Box::new(FileWriter::new(file, path)))
    }

    async fn blob_size(&self, account_id: i64, name: &str) -> Result<Option<u64>> {
        let path = blob_path(&self.blob_dir, account_id, name)?;
        blocking(move || match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await
    }

    async fn blob_chunk(&self, account_id: i64, name: &str, index: u64) -> Result<Option<Vec<u8>>> {
        let path = blob_path(&self.blob_dir, account_id, name)?;
        blocking(move || {
            let mut file = match std::fs::File::open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            file.seek(SeekFrom::Start(index * BLOB_CHUNK as u64))?;
            let mut chunk = Vec::with_capacity(BLOB_CHUNK);
            file.take(BLOB_CHUNK as u64).read_to_end(&mut chunk)?;
            Ok((!chunk.is_empty()).then_some(chunk))
        })
        .await
    }

    async fn delete_blob(&self, account_id: i64, name: &str) -> Result<bool> {
        let path = blob_path(&self.blob_dir, account_id, name)?;
        blocking(move || match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn partial_files_untouched_for_an_hour_are_swept_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("rampart.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        let account = store.blob_dir.join("1");
        std::fs::create_dir_all(account.join("uploads")).unwrap();
        let now = std::time::SystemTime::now();
        let minutes = |m: u64| std::time::Duration::from_secs(60 * m);
        for (name, age) in [
            (".partial-dead", minutes(61)),
            ("uploads/.partial-dead-too", minutes(120)),
            (".partial-live", minutes(10)),
            ("report.csv", minutes(600)),
        ] {
            let file = std::fs::File::create(account.join(name)).unwrap();
            file.set_modified(now - age).unwrap();
        }
        assert_eq!(store.sweep_partial_files().await.unwrap(), 2);
        assert!(
            account.join(".partial-live").exists(),
            "a live write was taken"
        );
        assert!(
            account.join("report.csv").exists(),
            "a finished file was taken"
        );
        assert!(!account.join(".partial-dead").exists());
        assert!(!account.join("uploads/.partial-dead-too").exists());
    }

    #[test]
    fn names_cannot_leave_the_account_directory() {
        let root = Path::new("/data/blobs");
        assert_eq!(
            blob_path(root, 7, "uploads/12.xml.gz").unwrap(),
            Path::new("/data/blobs/7/uploads/12.xml.gz")
        );
        for bad in [
            "",
            "../8/x",
            "a/../../b",
            "/etc/passwd",
            ".hidden",
            "a//b",
            "a\\b",
        ] {
            assert!(blob_path(root, 7, bad).is_err(), "{bad:?} was accepted");
        }
    }
}

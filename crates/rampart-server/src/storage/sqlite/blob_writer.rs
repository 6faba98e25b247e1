//! The writer of a blob file: whole pieces straight to the disk, the rest through the page cache,
//! then `fsync` and a rename into place ([`super::blobs`]).

use std::path::{Path, PathBuf};

use super::blobs::blocking;
use super::*;

/// What a writer hands the file system at a time, and how file offsets and memory are aligned
/// for writes that bypass the page cache.
const DIRECT_PIECE: usize = 1 << 20;
const DIRECT_ALIGN: usize = 4096;

/// A file being written. Whole pieces of 1 MiB go to the disk directly (`O_DIRECT` on Linux),
/// bypassing the page cache: a detailed report is written once and read rarely, and pushing a
/// gigabyte of it through the page cache costs the memory it evicts, and on a virtual machine
/// whose freed memory goes back to its host (virtio-balloon free page reporting) the host's
/// faults for that gigabyte too — three to four times the report's own time (BENCHMARKS.md,
/// "Detailed report"). What is left at `finish` (under 1 MiB: all of a small file) is written
/// through the page cache. A file system that refuses direct writes (EINVAL) gets them all
/// through the page cache instead, from where the refusal came.
pub(super) struct FileWriter {
    file: Option<Staged>,
    path: PathBuf,
    bytes: u64,
}

impl FileWriter {
    /// A writer of `temp`, renamed to `path` at `finish`.
    pub(super) fn new(temp: tempfile::NamedTempFile, path: PathBuf) -> Self {
        Self {
            file: Some(Staged::new(temp, true)),
            path,
            bytes: 0,
        }
    }
}

/// The file and the bytes not yet written to it, moved together into the blocking task.
struct Staged {
    temp: tempfile::NamedTempFile,
    /// The same file opened for direct writes; `None` until the first whole piece, and once
    /// direct writes are refused or off.
    direct: Option<std::fs::File>,
    direct_allowed: bool,
    staging: Aligned,
    /// Bytes already in the file.
    written: u64,
}

/// A buffer of up to `DIRECT_PIECE` bytes starting at an address aligned to `DIRECT_ALIGN`, as
/// direct writes need.
struct Aligned {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl Aligned {
    fn new() -> Self {
        let storage = vec![0; DIRECT_PIECE + DIRECT_ALIGN];
        let start = storage.as_ptr().align_offset(DIRECT_ALIGN);
        Self {
            storage,
            start,
            len: 0,
        }
    }

    /// Takes as much of `bytes` as fits; answers how much it took.
    fn fill(&mut self, bytes: &[u8]) -> usize {
        let taken = bytes.len().min(DIRECT_PIECE - self.len);
        let at = self.start + self.len;
        self.storage[at..at + taken].copy_from_slice(&bytes[..taken]);
        self.len += taken;
        taken
    }

    fn is_full(&self) -> bool {
        self.len == DIRECT_PIECE
    }

    fn bytes(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }
}

impl Staged {
    fn new(temp: tempfile::NamedTempFile, direct_allowed: bool) -> Self {
        Self {
            temp,
            direct: None,
            direct_allowed,
            staging: Aligned::new(),
            written: 0,
        }
    }

    fn write(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let taken = self.staging.fill(bytes);
            bytes = &bytes[taken..];
            if self.staging.is_full() {
                self.flush_staging()?;
            }
        }
        Ok(())
    }

    /// Writes what is staged at the end of the file: directly while that is allowed and works,
    /// else through the page cache.
    fn flush_staging(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let mut done = 0;
        if self.staging.is_full() && self.direct_allowed {
            if self.direct.is_none() {
                self.direct = open_direct(self.temp.path())?;
                self.direct_allowed = self.direct.is_some();
            }
            if let Some(direct) = &self.direct {
                let piece = self.staging.bytes();
                while done < piece.len() {
                    match direct.write_at(&piece[done..], self.written + done as u64) {
                        Ok(0) => break,
                        Ok(n) => done += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) if refused(&e) => break,
                        Err(e) => return Err(e),
                    }
                }
                if done < piece.len() {
                    self.direct = None;
                    self.direct_allowed = false;
                }
            }
        }
        let rest = &self.staging.bytes()[done..];
        self.temp
            .as_file()
            .write_all_at(rest, self.written + done as u64)?;
        self.written += self.staging.len as u64;
        self.staging.len = 0;
        Ok(())
    }

    fn finish(mut self, path: &Path) -> std::io::Result<()> {
        self.flush_staging()?;
        // Direct writes are on the disk once they return, but the file's size and blocks are
        // metadata: sync_all covers both them and the page-cached tail.
        self.temp.as_file().sync_all()?;
        self.temp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// Whether an error means the file system does not take direct writes (rather than a failure).
fn refused(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::InvalidInput
}

/// The file at `path` opened for direct writes, or `None` where they are refused.
#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> std::io::Result<Option<std::fs::File>> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
    {
        Ok(file) => Ok(Some(file)),
        Err(e) if refused(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path) -> std::io::Result<Option<std::fs::File>> {
    Ok(None)
}

#[async_trait]
impl BlobWriter for FileWriter {
    async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let mut file = self.file.take().expect("a writer is used until finished");
        let owned = bytes.to_vec();
        let file = blocking(move || file.write(&owned).map(|()| file)).await?;
        self.file = Some(file);
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<u64> {
        let file = self.file.take().expect("a writer is finished once");
        let path = self.path.clone();
        blocking(move || file.finish(&path)).await?;
        Ok(self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes that differ from one offset to the next, so a piece written at a wrong place shows.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn a_file_written_in_pieces_of_any_size_reads_back_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        for direct in [true, false] {
            for size in [
                0,
                1,
                DIRECT_ALIGN - 1,
                DIRECT_PIECE,
                DIRECT_PIECE + 1,
                3 * DIRECT_PIECE + 123,
            ] {
                for piece in [7, 333_333, DIRECT_PIECE, 2 * DIRECT_PIECE + 5] {
                    let bytes = pattern(size);
                    let temp = tempfile::Builder::new()
                        .prefix(".partial-")
                        .tempfile_in(dir.path())
                        .unwrap();
                    let mut staged = Staged::new(temp, direct);
                    for chunk in bytes.chunks(piece) {
                        staged.write(chunk).unwrap();
                    }
                    let path = dir.path().join("blob");
                    staged.finish(&path).unwrap();
                    let read = std::fs::read(&path).unwrap();
                    assert_eq!(read.len(), size, "direct {direct}, pieces of {piece}");
                    assert!(
                        read == bytes,
                        "direct {direct}, {size} bytes in pieces of {piece}"
                    );
                }
            }
        }
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["blob"], "no partial file may be left behind");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn whole_pieces_go_to_the_disk_directly_where_the_file_system_takes_them() {
        let dir = tempfile::tempdir().unwrap();
        let temp = tempfile::Builder::new().tempfile_in(dir.path()).unwrap();
        let mut staged = Staged::new(temp, true);
        staged.write(&pattern(DIRECT_PIECE + 10)).unwrap();
        // A piece went out; the 10 bytes after it wait for finish.
        assert_eq!(staged.written, DIRECT_PIECE as u64);
        assert_eq!(staged.staging.len, 10);
        if open_direct(staged.temp.path()).unwrap().is_some() {
            assert!(
                staged.direct.is_some(),
                "direct writes were possible, not used"
            );
        } else {
            assert!(
                !staged.direct_allowed,
                "a refusal must turn direct writes off"
            );
        }
    }
}

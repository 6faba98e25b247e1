//! The writer of a blob file: whole pieces straight to the disk, the rest through the page cache,
//! then `fsync` and a rename into place ([`super::blobs`]).

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::blobs::blocking;
use super::*;

/// What a large file is handed to the disk in: a whole piece goes directly.
const DIRECT_PIECE: usize = 1 << 20;
/// The alignment of memory, file offsets and lengths that direct writes need.
const DIRECT_ALIGN: usize = 4096;

/// A file being written. Once a file reaches 1 MiB, each whole piece of 1 MiB goes to the disk
/// directly (`O_DIRECT` on Linux), bypassing the page cache: a detailed report is written once
/// and read rarely, and pushing a gigabyte of it through the page cache evicts as much of the
/// cache — and on a virtual machine that hands freed memory back to its host (virtio-balloon
/// free page reporting), the host's faults for that gigabyte cost more than writing the report
/// (BENCHMARKS.md, "Detailed report"). A smaller file (a raw upload) and the last, partial piece
/// go through the page cache; so does everything from the point where a file system refuses
/// direct writes (EINVAL).
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
    direct: Direct,
    /// The bytes of a file still under one piece: a small file never needs the aligned buffer.
    small: Vec<u8>,
    /// Once the file reaches a whole piece: the piece being filled.
    piece: Option<Aligned>,
    /// Bytes already in the file.
    written: u64,
}

/// Whether whole pieces go to the disk directly.
enum Direct {
    /// Not tried yet: the file is opened for direct writes at its first whole piece.
    Untried,
    Open(std::fs::File),
    /// Refused by the file system, or not wanted.
    Off,
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
    fn new(temp: tempfile::NamedTempFile, direct: bool) -> Self {
        Self {
            temp,
            direct: if direct { Direct::Untried } else { Direct::Off },
            small: Vec::new(),
            piece: None,
            written: 0,
        }
    }

    fn write(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        let mut piece = match self.piece.take() {
            Some(piece) => piece,
            None if self.small.len() + bytes.len() < DIRECT_PIECE => {
                self.small.extend_from_slice(bytes);
                return Ok(());
            }
            None => {
                let mut piece = Aligned::new();
                piece.fill(&std::mem::take(&mut self.small));
                piece
            }
        };
        while !bytes.is_empty() {
            let taken = piece.fill(bytes);
            bytes = &bytes[taken..];
            if piece.is_full() {
                self.append(piece.bytes(), true)?;
                piece.len = 0;
            }
        }
        self.piece = Some(piece);
        Ok(())
    }

    /// Writes `bytes` at the end of the file: a whole piece directly while that works, the rest
    /// through the page cache.
    fn append(&mut self, bytes: &[u8], whole_piece: bool) -> std::io::Result<()> {
        let done = if whole_piece {
            self.append_directly(bytes)?
        } else {
            0
        };
        let mut file = self.temp.as_file();
        file.seek(SeekFrom::Start(self.written + done as u64))?;
        file.write_all(&bytes[done..])?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Writes as much of a whole piece directly as the file system takes; a refusal turns direct
    /// writes off for the rest of the file. Answers the bytes written.
    fn append_directly(&mut self, piece: &[u8]) -> std::io::Result<usize> {
        if let Direct::Untried = self.direct {
            self.direct = match open_direct(self.temp.path())? {
                Some(file) => Direct::Open(file),
                None => Direct::Off,
            };
        }
        let Direct::Open(file) = &self.direct else {
            return Ok(0);
        };
        let done = write_direct(file, piece, self.written)?;
        if done < piece.len() {
            self.direct = Direct::Off;
        }
        Ok(done)
    }

    fn finish(mut self, path: &Path) -> std::io::Result<()> {
        match self.piece.take() {
            Some(piece) => self.append(piece.bytes(), false)?,
            None => {
                let small = std::mem::take(&mut self.small);
                self.append(&small, false)?;
            }
        }
        // Direct writes skip the page cache but are durable only once synced, like the rest,
        // and so are the file's size and blocks.
        self.temp.as_file().sync_all()?;
        self.temp.persist(path).map_err(|e| e.error)?;
        // The rename itself is durable once its directory is synced.
        #[cfg(unix)]
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
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

/// Writes `bytes` at `offset` through a file opened for direct writes, until done or refused
/// (a short write leaves the next one unaligned, which is refused too). Answers the bytes
/// written.
#[cfg(target_os = "linux")]
fn write_direct(file: &std::fs::File, bytes: &[u8], offset: u64) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut done = 0;
    while done < bytes.len() {
        match file.write_at(&bytes[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if refused(&e) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(not(target_os = "linux"))]
fn write_direct(_file: &std::fs::File, _bytes: &[u8], _offset: u64) -> std::io::Result<usize> {
    Ok(0)
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

    fn staged_in(dir: &Path, direct: bool) -> Staged {
        let temp = tempfile::Builder::new()
            .prefix(".partial-")
            .tempfile_in(dir)
            .unwrap();
        Staged::new(temp, direct)
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Whether this test machine's temporary directory takes direct writes; says so when not,
    /// since the tests then cover the page-cache path only.
    fn direct_writes_here(dir: &Path) -> bool {
        let probe = dir.join("probe");
        std::fs::write(&probe, b"").unwrap();
        let taken = open_direct(&probe).unwrap().is_some();
        std::fs::remove_file(&probe).unwrap();
        if !taken {
            eprintln!("NOTE: {} refuses direct writes here", dir.display());
        }
        taken
    }

    #[test]
    fn a_file_written_in_pieces_of_any_size_reads_back_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        for direct in [true, false] {
            for size in [
                0,
                1,
                DIRECT_ALIGN - 1,
                DIRECT_PIECE - 1,
                DIRECT_PIECE,
                DIRECT_PIECE + 1,
                3 * DIRECT_PIECE + 123,
            ] {
                for piece in [7, 333_333, DIRECT_PIECE, 2 * DIRECT_PIECE + 5] {
                    let bytes = pattern(size);
                    let mut staged = staged_in(dir.path(), direct);
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
        assert_eq!(
            names_in(dir.path()),
            ["blob"],
            "no partial file may be left behind"
        );
    }

    #[test]
    fn whole_pieces_go_to_the_disk_directly_where_the_file_system_takes_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut staged = staged_in(dir.path(), true);
        staged.write(&pattern(DIRECT_PIECE + 10)).unwrap();
        // A piece went out; the 10 bytes after it wait for finish.
        assert_eq!(staged.written, DIRECT_PIECE as u64);
        assert_eq!(staged.piece.as_ref().map(|p| p.len), Some(10));
        if direct_writes_here(dir.path()) {
            assert!(
                matches!(staged.direct, Direct::Open(_)),
                "direct writes were possible, not used"
            );
        } else {
            assert!(
                matches!(staged.direct, Direct::Off),
                "a refusal must turn direct writes off"
            );
        }
    }

    #[test]
    fn a_file_under_one_piece_never_takes_the_aligned_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let mut staged = staged_in(dir.path(), true);
        staged.write(&pattern(DIRECT_PIECE - 1)).unwrap();
        assert!(staged.piece.is_none(), "a small file must stay small");
        assert!(
            matches!(staged.direct, Direct::Untried),
            "nothing is written before finish"
        );
        staged.write(&pattern(1)).unwrap();
        assert!(staged.piece.is_some(), "a whole piece takes the buffer");
    }

    #[test]
    fn a_refused_direct_write_goes_on_through_the_page_cache_at_the_same_place() {
        let dir = tempfile::tempdir().unwrap();
        let mut staged = staged_in(dir.path(), true);
        // 100 bytes already in the file: the next piece's offset is unaligned, which a file
        // system that takes direct writes refuses (and one that takes none refuses anyway).
        let head = pattern(100);
        staged.temp.as_file().write_all(&head).unwrap();
        staged.written = 100;
        let body: Vec<u8> = pattern(DIRECT_PIECE + 100).split_off(100);
        staged.write(&body).unwrap();
        if !matches!(staged.direct, Direct::Off) {
            // Some file systems (btrfs) take an unaligned direct write as a buffered one.
            eprintln!("NOTE: this file system took an unaligned direct write; no refusal seen");
        }
        assert_eq!(staged.written, 100 + DIRECT_PIECE as u64);
        staged.write(&pattern(5)).unwrap();
        let path = dir.path().join("blob");
        staged.finish(&path).unwrap();
        let mut expected = pattern(DIRECT_PIECE + 100);
        expected.extend(pattern(5));
        assert!(
            std::fs::read(&path).unwrap() == expected,
            "bytes lost or misplaced"
        );
    }

    #[test]
    fn a_writer_dropped_or_failing_at_finish_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut staged = staged_in(dir.path(), true);
        staged.write(&pattern(2 * DIRECT_PIECE + 7)).unwrap();
        drop(staged);
        assert!(
            names_in(dir.path()).is_empty(),
            "a dropped writer left a file"
        );

        let mut staged = staged_in(dir.path(), true);
        staged.write(&pattern(2 * DIRECT_PIECE + 7)).unwrap();
        let nowhere = dir.path().join("missing").join("blob");
        assert!(staged.finish(&nowhere).is_err());
        assert!(
            names_in(dir.path()).is_empty(),
            "a failed finish left a file"
        );
    }
}

//! Files that are either whole or absent: written to a temporary name in the same folder,
//! flushed, then renamed over the target, so a crash or a full disk never leaves half a file.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use anyhow::Context;

/// The prefix of temporary files; whoever lists a folder skips (and may delete) them.
pub const TEMP_PREFIX: &str = ".tmp-";

/// Writes `bytes` to `path` atomically, the file created with permissions `mode`.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let dir =
        folder_of(path).with_context(|| format!("{} has no parent folder", path.display()))?;
    let name = path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?;
    let temp = dir.join(format!(
        "{TEMP_PREFIX}{}-{:016x}",
        name.to_string_lossy(),
        rand::random::<u64>()
    ));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        // The rename itself is durable once the folder is synced.
        fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}

/// The folder `path` is in: `.` for a bare file name (whose parent is the empty path, which
/// cannot be opened to sync the rename).
fn folder_of(path: &Path) -> Option<&Path> {
    match path.parent()? {
        dir if dir.as_os_str().is_empty() => Some(Path::new(".")),
        dir => Some(dir),
    }
}

/// Creates `dir` (and its parents) when missing; a new folder is private to its owner.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the folder {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_replaces_the_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        write_atomically(&path, b"one", 0o600).unwrap();
        write_atomically(&path, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["file"]);
    }

    #[test]
    fn a_bare_file_name_is_in_the_current_folder() {
        assert_eq!(folder_of(Path::new("fs.state")), Some(Path::new(".")));
        assert_eq!(folder_of(Path::new("a/fs.state")), Some(Path::new("a")));
        assert_eq!(folder_of(Path::new("/fs.state")), Some(Path::new("/")));
        assert_eq!(folder_of(Path::new("/")), None, "the root has no folder");
    }

    #[test]
    fn a_failed_write_leaves_neither_file_nor_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a folder, so the rename fails.
        let path = dir.path().join("taken");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("inside"), b"x").unwrap();
        assert!(write_atomically(&path, b"data", 0o600).is_err());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["taken"]);
    }
}

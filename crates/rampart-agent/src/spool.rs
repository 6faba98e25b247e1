//! Answers waiting for the server's acknowledgement, in `<state dir>/spool/`:
//! `<activity id>.xml.gz` for a results file (gzip-compressed) and `<activity id>.outcome.json`
//! for an outcome. Each is written atomically (temporary name, then rename), listed oldest
//! first, and removed only once the server has answered 200 or a final 4xx, so a server outage
//! or an agent restart loses nothing.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use crate::fsutil::{self, TEMP_PREFIX};
use crate::protocol::Outcome;

const RESULTS_SUFFIX: &str = ".xml.gz";
const OUTCOME_SUFFIX: &str = ".outcome.json";

/// What a spooled file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Results,
    Outcome,
}

/// One answer waiting in the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub activity_id: i64,
    pub kind: Kind,
    pub path: PathBuf,
    modified: SystemTime,
}

/// The spool folder.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// Opens `<state_dir>/spool`, creating it when missing and removing temporary files that an
    /// interrupted write left behind.
    pub fn open(state_dir: &Path) -> anyhow::Result<Self> {
        let dir = state_dir.join("spool");
        fsutil::create_private_dir(&dir)?;
        for entry in read_dir(&dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Keeps the results of `activity_id` (gzip-compressed here unless they already are).
    pub fn put_results(&self, activity_id: i64, raw: &[u8]) -> anyhow::Result<()> {
        let compressed = gzip(raw)?;
        let path = self.dir.join(format!("{activity_id}{RESULTS_SUFFIX}"));
        fsutil::write_atomically(&path, &compressed, 0o600)
    }

    /// Keeps the outcome of `activity_id`.
    pub fn put_outcome(&self, activity_id: i64, outcome: &Outcome) -> anyhow::Result<()> {
        let path = self.dir.join(format!("{activity_id}{OUTCOME_SUFFIX}"));
        fsutil::write_atomically(&path, &serde_json::to_vec(outcome)?, 0o600)
    }

    /// Every waiting answer, oldest first.
    pub fn entries(&self) -> anyhow::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for entry in read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some((activity_id, kind)) = parse_name(&name) else {
                continue;
            };
            let modified = match entry.metadata().and_then(|m| m.modified()) {
                Ok(modified) => modified,
                // Removed meanwhile.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).context(format!("cannot read {name}")),
            };
            entries.push(Entry {
                activity_id,
                kind,
                path: entry.path(),
                modified,
            });
        }
        entries.sort_by_key(|e| (e.modified, e.activity_id, e.kind));
        Ok(entries)
    }

    pub fn is_empty(&self) -> anyhow::Result<bool> {
        Ok(self.entries()?.is_empty())
    }

    /// Whether an answer to `activity_id` is waiting here (so the activity must not run again).
    pub fn holds(&self, activity_id: i64) -> bool {
        [RESULTS_SUFFIX, OUTCOME_SUFFIX]
            .iter()
            .any(|suffix| self.dir.join(format!("{activity_id}{suffix}")).exists())
    }

    /// The spooled bytes of `entry`.
    pub fn read(&self, entry: &Entry) -> anyhow::Result<Vec<u8>> {
        std::fs::read(&entry.path).with_context(|| format!("cannot read {}", entry.path.display()))
    }

    /// The spooled outcome of `entry`.
    pub fn read_outcome(&self, entry: &Entry) -> anyhow::Result<Outcome> {
        serde_json::from_slice(&self.read(entry)?)
            .with_context(|| format!("{} is damaged", entry.path.display()))
    }

    /// Forgets `entry`: the server has acknowledged it (or refused it for good).
    pub fn remove(&self, entry: &Entry) -> anyhow::Result<()> {
        match std::fs::remove_file(&entry.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("cannot remove {}", entry.path.display()))
            }
            _ => Ok(()),
        }
    }
}

fn read_dir(dir: &Path) -> anyhow::Result<std::fs::ReadDir> {
    std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))
}

/// `12.xml.gz` → (12, Results); `12.outcome.json` → (12, Outcome); anything else → None.
fn parse_name(name: &str) -> Option<(i64, Kind)> {
    let (id, kind) = if let Some(id) = name.strip_suffix(RESULTS_SUFFIX) {
        (id, Kind::Results)
    } else {
        (name.strip_suffix(OUTCOME_SUFFIX)?, Kind::Outcome)
    };
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((id.parse().ok()?, kind))
}

/// Whether `bytes` start like a gzip stream.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// `raw` gzip-compressed; input that is already gzip is returned as it is.
pub fn gzip(raw: &[u8]) -> anyhow::Result<Vec<u8>> {
    if is_gzip(raw) {
        return Ok(raw.to_vec());
    }
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(raw)?;
    Ok(encoder.finish()?)
}

/// The text of a gzip stream (for tests and messages).
pub fn gunzip(compressed: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    GzDecoder::new(compressed).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spool() -> (tempfile::TempDir, Spool) {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        (dir, spool)
    }

    fn set_age(path: &Path, seconds_ago: u64) {
        let when = SystemTime::now() - std::time::Duration::from_secs(seconds_ago);
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    #[test]
    fn results_are_kept_compressed_and_read_back_whole() {
        let (_dir, spool) = spool();
        spool.put_results(12, b"<TestResult/>").unwrap();
        let entries = spool.entries().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            (entries[0].activity_id, entries[0].kind),
            (12, Kind::Results)
        );
        assert!(entries[0].path.ends_with("spool/12.xml.gz"));
        let stored = spool.read(&entries[0]).unwrap();
        assert!(is_gzip(&stored));
        assert_eq!(gunzip(&stored).unwrap(), b"<TestResult/>");
        assert!(spool.holds(12));
        assert!(!spool.holds(13));
    }

    #[test]
    fn results_that_are_already_gzip_are_stored_as_they_are() {
        let (_dir, spool) = spool();
        let compressed = gzip(b"<x/>").unwrap();
        spool.put_results(3, &compressed).unwrap();
        let entry = &spool.entries().unwrap()[0];
        assert_eq!(spool.read(entry).unwrap(), compressed);
    }

    #[test]
    fn entries_are_listed_oldest_first() {
        let (_dir, spool) = spool();
        spool.put_results(1, b"a").unwrap();
        spool.put_outcome(2, &Outcome::failed("no")).unwrap();
        spool.put_results(3, b"c").unwrap();
        set_age(&spool.dir().join("3.xml.gz"), 300);
        set_age(&spool.dir().join("1.xml.gz"), 200);
        set_age(&spool.dir().join("2.outcome.json"), 100);
        let order: Vec<_> = spool
            .entries()
            .unwrap()
            .iter()
            .map(|e| (e.activity_id, e.kind))
            .collect();
        assert_eq!(
            order,
            [(3, Kind::Results), (1, Kind::Results), (2, Kind::Outcome)]
        );
        let outcome = spool.read_outcome(&spool.entries().unwrap()[2]).unwrap();
        assert_eq!(outcome, Outcome::failed("no"));
    }

    #[test]
    fn temporary_and_foreign_files_are_not_entries_and_leftovers_are_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let spool_dir = dir.path().join("spool");
        std::fs::create_dir_all(&spool_dir).unwrap();
        // What a write interrupted before its rename leaves.
        std::fs::write(spool_dir.join(".tmp-5.xml.gz-0123456789abcdef"), b"half").unwrap();
        std::fs::write(spool_dir.join("notes.txt"), b"x").unwrap();
        std::fs::write(spool_dir.join("x1.xml.gz"), b"x").unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        assert!(spool.is_empty().unwrap());
        assert!(!spool_dir.join(".tmp-5.xml.gz-0123456789abcdef").exists());
        assert!(!spool.holds(5));
    }

    #[test]
    fn rewriting_an_entry_replaces_it_atomically() {
        let (_dir, spool) = spool();
        spool.put_results(4, b"first").unwrap();
        spool.put_results(4, b"second").unwrap();
        let entries = spool.entries().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            gunzip(&spool.read(&entries[0]).unwrap()).unwrap(),
            b"second"
        );
        let names: Vec<_> = std::fs::read_dir(spool.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["4.xml.gz"], "no temporary file is left");
    }

    #[test]
    fn removing_an_entry_forgets_it_and_removing_twice_is_harmless() {
        let (_dir, spool) = spool();
        spool.put_results(9, b"x").unwrap();
        let entry = spool.entries().unwrap().remove(0);
        spool.remove(&entry).unwrap();
        spool.remove(&entry).unwrap();
        assert!(spool.is_empty().unwrap());
        assert!(!spool.holds(9));
    }
}

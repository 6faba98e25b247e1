//! One first upload of a benchmark version at a time. The first uploads of a version the server
//! does not hold yet each carry the Benchmark's rule texts (~600 rules, megabytes of text once
//! parsed); when a fleet starts its first run, dozens arrive before any is stored. The gate lets
//! one of them keep the texts; the others wait, inside their parse, until it is stored and then
//! read the file as a known version (the rules skipped). Should the first one be refused or
//! fail, the gate opens for the next, which keeps the texts in its turn.
//!
//! The gate is per process: another server on the same database has its own, and the database's
//! unique key on the version settles a race between the two (`benchmark_version` in storage).

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Which account, benchmark id and version.
type Key = (i64, String, String);

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// An upload keeping the rule texts is being stored.
    Storing,
    /// Stored: the version and its rules are committed.
    Stored,
}

/// The versions being stored (or stored) by uploads of this process.
#[derive(Default)]
pub struct VersionGates {
    states: Mutex<HashMap<Key, State>>,
    changed: Condvar,
}

/// What an upload of a version not known when it started should do with the rule texts.
pub enum Entry {
    /// Keep them: this upload stores the version; the others wait until its guard says how
    /// it ended.
    Keep(GateGuard),
    /// Skip them: another upload has stored the version meanwhile.
    Skip,
    /// Keep them, without the gate: the upload storing the version took longer than the wait.
    KeepUnguarded,
}

impl VersionGates {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, State>> {
        // Every change is one whole insert or remove: a poisoned map is still sound.
        self.states.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Enters the gate of a version, waiting up to `wait` while another upload stores it.
    /// Blocks the thread: call it from a blocking task (the parse runs on one).
    pub fn enter(
        self: &Arc<Self>,
        account_id: i64,
        benchmark: &str,
        version: &str,
        wait: Duration,
    ) -> Entry {
        let key = (account_id, benchmark.to_owned(), version.to_owned());
        let deadline = Instant::now() + wait;
        let mut states = self.lock();
        loop {
            match states.get(&key) {
                None => {
                    states.insert(key.clone(), State::Storing);
                    return Entry::Keep(GateGuard {
                        gates: self.clone(),
                        key,
                        stored: false,
                    });
                }
                Some(State::Stored) => return Entry::Skip,
                Some(State::Storing) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Entry::KeepUnguarded;
                    }
                    states = self
                        .changed
                        .wait_timeout(states, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
    }
}

/// Held by the one upload storing a version; dropped without [`GateGuard::stored`] (refused,
/// failed, or its request dropped), it opens the gate for the next upload of the version.
pub struct GateGuard {
    gates: Arc<VersionGates>,
    key: Key,
    stored: bool,
}

impl GateGuard {
    /// The upload's transaction has committed: the version and its rules are in the database.
    pub fn stored(mut self) {
        self.stored = true;
    }
}

impl Drop for GateGuard {
    fn drop(&mut self) {
        let mut states = self.gates.lock();
        if self.stored {
            states.insert(self.key.clone(), State::Stored);
        } else {
            states.remove(&self.key);
        }
        drop(states);
        self.gates.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(10);

    fn keeps(entry: &Entry) -> bool {
        matches!(entry, Entry::Keep(_))
    }

    #[test]
    fn the_first_upload_keeps_the_texts_and_a_stored_version_is_skipped() {
        let gates = Arc::new(VersionGates::default());
        let Entry::Keep(guard) = gates.enter(1, "b", "1.0", WAIT) else {
            panic!("the first upload must keep the texts")
        };
        guard.stored();
        assert!(matches!(gates.enter(1, "b", "1.0", WAIT), Entry::Skip));
        // Another account or version is a gate of its own.
        assert!(keeps(&gates.enter(2, "b", "1.0", WAIT)));
        assert!(keeps(&gates.enter(1, "b", "1.1", WAIT)));
    }

    #[test]
    fn a_waiting_upload_skips_the_texts_once_the_first_is_stored() {
        let gates = Arc::new(VersionGates::default());
        let Entry::Keep(guard) = gates.enter(1, "b", "1.0", WAIT) else {
            panic!("the first upload must keep the texts")
        };
        let waiting = std::thread::spawn({
            let gates = gates.clone();
            move || matches!(gates.enter(1, "b", "1.0", WAIT), Entry::Skip)
        });
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !waiting.is_finished(),
            "the second upload must wait for the first"
        );
        guard.stored();
        assert!(
            waiting.join().unwrap(),
            "once stored, the waiting upload skips the texts"
        );
    }

    #[test]
    fn a_waiting_upload_keeps_the_texts_when_the_first_is_refused() {
        let gates = Arc::new(VersionGates::default());
        let Entry::Keep(guard) = gates.enter(1, "b", "1.0", WAIT) else {
            panic!("the first upload must keep the texts")
        };
        let waiting = std::thread::spawn({
            let gates = gates.clone();
            move || match gates.enter(1, "b", "1.0", WAIT) {
                Entry::Keep(guard) => {
                    guard.stored();
                    true
                }
                _ => false,
            }
        });
        std::thread::sleep(Duration::from_millis(50));
        drop(guard);
        assert!(
            waiting.join().unwrap(),
            "the waiting upload must keep the texts in its turn"
        );
        assert!(matches!(gates.enter(1, "b", "1.0", WAIT), Entry::Skip));
    }

    #[test]
    fn a_wait_longer_than_allowed_keeps_the_texts_without_the_gate() {
        let gates = Arc::new(VersionGates::default());
        let _first = gates.enter(1, "b", "1.0", WAIT);
        let started = Instant::now();
        let entry = gates.enter(1, "b", "1.0", Duration::from_millis(30));
        assert!(matches!(entry, Entry::KeepUnguarded));
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}

//! What the simulator counts while it runs, the progress line it shows on stderr, and the
//! [`Summary`] it ends with.

use std::collections::VecDeque;
use std::fmt;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many errors are printed as they happen (all are counted).
const ERRORS_SHOWN: usize = 5;
/// How often the progress line is redrawn on a terminal (at most 4 times a second).
const REDRAW: Duration = Duration::from_millis(250);
/// How often a progress line is written when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Counters shared by every task.
#[derive(Debug)]
pub(super) struct Stats {
    started: Instant,
    /// Machines registered (or read from the state file).
    pub registered: AtomicU64,
    /// Audits answered: results accepted or refused.
    pub answered: AtomicU64,
    pub thin: AtomicU64,
    pub whole: AtomicU64,
    pub outcomes: AtomicU64,
    pub bytes: AtomicU64,
    pub refused: AtomicU64,
    pub errors: AtomicU64,
    /// Whether errors are printed over a progress line on a terminal.
    overdraw: bool,
    times: Mutex<Times>,
}

#[derive(Debug, Default)]
struct Times {
    first_activity: Option<Instant>,
    last_answer: Option<Instant>,
    /// Each accepted upload's time on the wire, in microseconds.
    latencies: Vec<u32>,
    first_errors: Vec<String>,
}

impl Stats {
    pub fn new(progress: bool) -> Self {
        Self {
            started: Instant::now(),
            registered: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            thin: AtomicU64::new(0),
            whole: AtomicU64::new(0),
            outcomes: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            overdraw: progress && std::io::stderr().is_terminal(),
            times: Mutex::new(Times::default()),
        }
    }

    fn times(&self) -> std::sync::MutexGuard<'_, Times> {
        // Counters cannot be left half-changed: a poisoned lock still holds valid ones.
        self.times.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A poll handed out work: the busy time starts with the first one.
    pub fn activity_seen(&self) {
        self.times().first_activity.get_or_insert_with(Instant::now);
    }

    /// An audit was answered; `latency` when the server accepted its results.
    pub fn answered(&self, latency: Option<Duration>) {
        self.answered.fetch_add(1, Relaxed);
        let mut times = self.times();
        times.last_answer = Some(Instant::now());
        if let Some(latency) = latency {
            let micros = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
            times.latencies.push(micros);
        }
    }

    /// Counts an error; the first few are printed.
    pub fn error(&self, message: String) {
        self.errors.fetch_add(1, Relaxed);
        let mut times = self.times();
        if times.first_errors.len() < ERRORS_SHOWN {
            let clear = if self.overdraw { "\r\x1b[2K" } else { "" };
            eprintln!("{clear}fleet-sim: {message}");
            times.first_errors.push(message);
        }
    }

    /// `registered 5000/5000 · uploaded 3120/5000 · 812/s · errors 0` (the rate is left out of
    /// the last line).
    fn line(&self, machines: u64, audits: u64, rate: Option<f64>) -> String {
        let audits = if audits == 0 {
            String::new()
        } else {
            format!("/{audits}")
        };
        let rate = rate.map(|r| format!(" · {r:.0}/s")).unwrap_or_default();
        format!(
            "registered {}/{machines} · uploaded {}{audits}{rate} · errors {}",
            self.registered.load(Relaxed),
            self.answered.load(Relaxed),
            self.errors.load(Relaxed)
        )
    }

    /// Redraws the progress line until dropped: `machines` to register, `audits` to answer
    /// (0 for no limit).
    pub fn show_progress(self: &Arc<Self>, machines: u64, audits: u64) -> Progress {
        let stats = self.clone();
        let terminal = self.overdraw;
        let task = tokio::spawn(async move {
            let mut samples: VecDeque<(Instant, u64)> = VecDeque::new();
            let mut last_log = Instant::now();
            // Off a terminal a line goes out every LOG_EVERY, and one as soon as every machine
            // is registered: that is when a run may be started.
            let mut all_registered = false;
            loop {
                tokio::time::sleep(REDRAW).await;
                let now = Instant::now();
                samples.push_back((now, stats.answered.load(Relaxed)));
                while samples.len() > 2 && now - samples[0].0 > Duration::from_secs(1) {
                    samples.pop_front();
                }
                let (then, before) = samples[0];
                let seconds = (now - then).as_secs_f64();
                let rate = if seconds > 0.0 {
                    (samples[samples.len() - 1].1 - before) as f64 / seconds
                } else {
                    0.0
                };
                let line = stats.line(machines, audits, Some(rate));
                if terminal {
                    eprint!("\r{line}\x1b[K");
                    let _ = std::io::stderr().flush();
                } else {
                    let registered_now =
                        !all_registered && stats.registered.load(Relaxed) >= machines;
                    all_registered |= registered_now;
                    if registered_now || now - last_log >= LOG_EVERY {
                        eprintln!("{line}");
                        last_log = now;
                    }
                }
            }
        });
        Progress {
            task,
            stats: self.clone(),
            machines,
            audits,
        }
    }

    /// What was done, `machines` taking part.
    pub fn summary(&self, machines: u64) -> Summary {
        let wall_time = self.started.elapsed();
        let times = self.times();
        let busy_time = match (times.first_activity, times.last_answer) {
            (Some(first), Some(last)) if last > first => last - first,
            _ => Duration::ZERO,
        };
        let mut latencies = times.latencies.clone();
        latencies.sort_unstable();
        let percentile = |p: usize| {
            if latencies.is_empty() {
                return Duration::ZERO;
            }
            // Nearest rank.
            let rank = (p * latencies.len()).div_ceil(100).max(1);
            Duration::from_micros(u64::from(latencies[rank - 1]))
        };
        Summary {
            machines,
            thin_uploads: self.thin.load(Relaxed),
            whole_uploads: self.whole.load(Relaxed),
            outcomes: self.outcomes.load(Relaxed),
            refused: self.refused.load(Relaxed),
            errors: self.errors.load(Relaxed),
            bytes_sent: self.bytes.load(Relaxed),
            wall_time,
            busy_time,
            latency_p50: percentile(50),
            latency_p99: percentile(99),
            first_errors: times.first_errors.clone(),
        }
    }
}

/// The progress line being redrawn; [`Progress::finish`] draws it a last time.
pub(super) struct Progress {
    task: tokio::task::JoinHandle<()>,
    stats: Arc<Stats>,
    machines: u64,
    audits: u64,
}

impl Progress {
    pub fn finish(self) {
        self.task.abort();
        let line = self.stats.line(self.machines, self.audits, None);
        if self.stats.overdraw {
            eprintln!("\r{line}\x1b[K");
        } else {
            eprintln!("{line}");
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a simulation did.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Machines that took part (registered, or read from the state file).
    pub machines: u64,
    /// Uploads the server accepted that held the `TestResult` alone.
    pub thin_uploads: u64,
    /// Uploads the server accepted that held the whole results file.
    pub whole_uploads: u64,
    /// Outcomes of `fix` and `restart` activities the server accepted.
    pub outcomes: u64,
    /// Uploads the server refused (4xx).
    pub refused: u64,
    /// Every failed call: refusals, server errors, unreachable server.
    pub errors: u64,
    /// Upload bodies sent (gzip-compressed), refused ones included.
    pub bytes_sent: u64,
    /// From the start (reading the results files) to the end.
    pub wall_time: Duration,
    /// From the first poll that handed out work to the last answered audit.
    pub busy_time: Duration,
    /// The time on the wire of accepted uploads (the request sent to the answer read).
    pub latency_p50: Duration,
    pub latency_p99: Duration,
    /// The first few errors, as printed.
    pub first_errors: Vec<String>,
}

impl Summary {
    /// Accepted uploads.
    pub fn uploads(&self) -> u64 {
        self.thin_uploads + self.whole_uploads
    }

    /// Accepted uploads per second of busy time.
    pub fn uploads_per_second(&self) -> f64 {
        let seconds = self.busy_time.as_secs_f64();
        if seconds > 0.0 {
            self.uploads() as f64 / seconds
        } else {
            0.0
        }
    }
}

impl fmt::Display for Summary {
    /// The closing line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(
            f,
            "fleet-sim: {} machines · {} uploads ({} thin, {} whole) · {} outcomes · {:.1} MB sent · \
             {:.1} s wall, {:.2} s from first activity to last upload · {:.1} uploads/s · \
             upload latency p50 {:.1} ms, p99 {:.1} ms · {} errors ({} refused)",
            self.machines,
            self.uploads(),
            self.thin_uploads,
            self.whole_uploads,
            self.outcomes,
            self.bytes_sent as f64 / 1e6,
            self.wall_time.as_secs_f64(),
            self.busy_time.as_secs_f64(),
            self.uploads_per_second(),
            ms(self.latency_p50),
            ms(self.latency_p99),
            self.errors,
            self.refused,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_and_the_line_names_every_figure() {
        let stats = Stats::new(false);
        stats.activity_seen();
        for ms in 1..=100u64 {
            stats.answered(Some(Duration::from_millis(ms)));
        }
        stats.thin.store(99, Relaxed);
        stats.whole.store(1, Relaxed);
        let summary = stats.summary(100);
        assert_eq!(summary.latency_p50, Duration::from_millis(50));
        assert_eq!(summary.latency_p99, Duration::from_millis(99));
        assert_eq!(summary.uploads(), 100);
        let line = summary.to_string();
        for part in [
            "100 machines",
            "100 uploads (99 thin, 1 whole)",
            "p50 50.0 ms",
            "0 errors",
        ] {
            assert!(line.contains(part), "{line}");
        }
    }
}

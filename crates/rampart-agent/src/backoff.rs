//! Waiting after transient failures: 1 s doubling to 5 minutes, each wait drawn at random from
//! its upper half (so a fleet that lost its server does not come back in step).

use std::time::Duration;

/// The first wait.
pub const FIRST: Duration = Duration::from_secs(1);
/// The longest wait.
pub const CEILING: Duration = Duration::from_secs(300);

/// How often `--once` tries (registration, delivery) before giving up for this run.
pub const SHORT_ATTEMPTS: usize = 3;

/// Exponential backoff with jitter; [`Backoff::reset`] after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    failures: u32,
    first: Duration,
    ceiling: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(FIRST, CEILING)
    }
}

impl Backoff {
    pub fn new(first: Duration, ceiling: Duration) -> Self {
        Self {
            failures: 0,
            first,
            ceiling,
        }
    }

    /// The short schedule of `--once`: 0.5 s, then 1 s, at most 2 s.
    pub fn short() -> Self {
        Self::new(Duration::from_millis(500), Duration::from_secs(2))
    }

    /// The upper bound of the next wait: `first × 2^failures`, at most the ceiling.
    pub fn bound(&self) -> Duration {
        let factor = 1u32 << self.failures.min(20);
        self.first.saturating_mul(factor).min(self.ceiling)
    }

    /// The wait after one more failure, in [bound / 2, bound].
    pub fn next_delay(&mut self) -> Duration {
        let bound = self.bound();
        self.failures = self.failures.saturating_add(1);
        let half = bound / 2;
        half + half.mul_f64(rand::random::<f64>())
    }

    /// A success: the next failure waits `first` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_one_second_up_to_five_minutes() {
        let mut backoff = Backoff::default();
        let bounds: Vec<u64> = (0..12)
            .map(|_| {
                let bound = backoff.bound();
                let delay = backoff.next_delay();
                assert!(
                    delay <= bound && delay >= bound / 2,
                    "{delay:?} within {bound:?}"
                );
                bound.as_secs()
            })
            .collect();
        assert_eq!(bounds, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
    }

    #[test]
    fn waits_never_pass_the_ceiling_however_many_failures() {
        let mut backoff = Backoff::default();
        for _ in 0..10_000 {
            assert!(backoff.next_delay() <= CEILING);
        }
        assert!(backoff.next_delay() >= CEILING / 2);
    }

    #[test]
    fn waits_are_jittered() {
        let mut backoff = Backoff::default();
        for _ in 0..9 {
            backoff.next_delay();
        }
        let delays: std::collections::HashSet<Duration> =
            (0..20).map(|_| backoff.clone().next_delay()).collect();
        assert!(delays.len() > 1, "twenty draws were all equal");
    }

    #[test]
    fn a_success_starts_over_at_one_second() {
        let mut backoff = Backoff::default();
        for _ in 0..5 {
            backoff.next_delay();
        }
        backoff.reset();
        assert_eq!(backoff.bound(), FIRST);
        assert!(backoff.next_delay() <= FIRST);
    }
}

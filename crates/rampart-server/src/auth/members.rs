//! The callers a server has recently found to belong to their token's account, so that a burst
//! of requests asks the database once a second per caller, not once a request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Caller;

/// How long a membership confirmed by the database is taken as true without asking again.
const SEEN_FOR: Duration = Duration::from_secs(1);
/// Callers remembered at most.
const REMEMBERED: usize = 10_000;

/// Every request checks that its caller still belongs to the account its token names; under load
/// that query was half of a profile read's database round trips (on PostgreSQL, each a trip to
/// another process on the same cores). A yes is remembered for one second, so a membership that
/// ends (nothing ends one yet) stops working within a second on every server; a no is never
/// remembered, and forged or expired tokens never get here.
#[derive(Default)]
pub struct RecentMembers {
    seen: Mutex<HashMap<Caller, Instant>>,
}

impl RecentMembers {
    /// Whether `caller` was found a member less than a second before `now`.
    pub fn knows(&self, caller: Caller, now: Instant) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(&caller)
            .is_some_and(|&at| now.saturating_duration_since(at) < SEEN_FOR)
    }

    /// Remembers that the database found `caller` a member at `now`. When `REMEMBERED` callers
    /// are held, those confirmed over a second ago go first; if every one is recent, all go.
    pub fn confirm(&self, caller: Caller, now: Instant) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= REMEMBERED && !seen.contains_key(&caller) {
            seen.retain(|_, at| now.saturating_duration_since(*at) < SEEN_FOR);
            if seen.len() >= REMEMBERED {
                seen.clear();
            }
        }
        seen.insert(caller, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(user_id: i64, account_id: i64) -> Caller {
        Caller {
            user_id,
            account_id,
        }
    }

    #[test]
    fn a_membership_is_taken_as_true_for_one_second_after_the_database_confirmed_it() {
        let members = RecentMembers::default();
        let start = Instant::now();
        assert!(
            !members.knows(caller(1, 2), start),
            "nothing is known before a confirmation"
        );
        members.confirm(caller(1, 2), start);
        assert!(members.knows(caller(1, 2), start + Duration::from_millis(999)));
        assert!(
            !members.knows(caller(1, 2), start + SEEN_FOR),
            "a second later the database must be asked again"
        );
        assert!(
            !members.knows(caller(1, 3), start),
            "another account of the same user is not known"
        );
    }

    #[test]
    fn the_memory_of_members_stays_bounded_and_drops_the_stale_first() {
        let members = RecentMembers::default();
        let start = Instant::now();
        for user_id in 0..REMEMBERED as i64 - 1 {
            members.confirm(caller(user_id, 1), start);
        }
        let later = start + Duration::from_millis(1500);
        members.confirm(caller(-1, 1), later);
        members.confirm(caller(-2, 1), later);
        let held = members.seen.lock().unwrap().len();
        assert_eq!(held, 2, "the stale callers go first, the recent ones stay");
        assert!(members.knows(caller(-1, 1), later));

        // All recent: the memory empties rather than grow.
        let members = RecentMembers::default();
        for user_id in 0..REMEMBERED as i64 + 5 {
            members.confirm(caller(user_id, 1), start);
        }
        let held = members.seen.lock().unwrap().len();
        assert!(held <= REMEMBERED, "{held} callers held");
        assert!(
            members.knows(caller(REMEMBERED as i64 + 4, 1), start),
            "the newest confirmation is kept"
        );
    }
}

//! The scheduler inside `rampart serve`: every `scheduler_interval_seconds` it starts the runs
//! that are due (each exactly once, also with several servers on one PostgreSQL, and once after
//! a restart for runs that came due while the server was down), releases restarts whose delay
//! has passed, and fails activities whose machine did not answer within the timeout.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rampart_domain::schedule::Schedule;

use crate::config::Settings;
use crate::storage::{ProfileRecord, Store};

/// One pass of the scheduler's work, at `now`.
pub async fn tick(store: &dyn Store, settings: &Settings) -> anyhow::Result<()> {
    let now = rampart_domain::time::whole_seconds(Utc::now());
    let cap = i64::from(settings.max_instances_per_profile);
    let next = move |profile: &ProfileRecord| {
        // A stored schedule was valid when stored; if it no longer parses, stop scheduling it.
        Schedule::parse(&profile.schedule)
            .ok()
            .and_then(|s| s.next_run_time(profile.start_date, now))
    };
    let started = store.start_due_runs(now, cap, &next).await?;
    if !started.is_empty() {
        tracing::info!(runs = started.len(), "scheduled runs started");
    }
    store.release_scheduled(now).await?;
    let cutoff = now - chrono::Duration::hours(i64::from(settings.activity_timeout_hours));
    let expired = store.expire_activities(cutoff, now).await?;
    if expired > 0 {
        tracing::warn!(
            activities = expired,
            "activities failed: no answer within the timeout"
        );
    }
    Ok(())
}

/// Runs `tick` every interval until `shutdown` resolves. Errors are logged, never fatal.
pub async fn run(
    store: Arc<dyn Store>,
    settings: Arc<Settings>,
    shutdown: impl Future<Output = ()>,
) {
    let mut interval = tokio::time::interval(Duration::from_secs(u64::from(
        settings.scheduler_interval_seconds,
    )));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = interval.tick() => {
                if let Err(e) = tick(store.as_ref(), &settings).await {
                    tracing::error!(error = format!("{e:#}"), "scheduler pass failed");
                }
            }
        }
    }
}

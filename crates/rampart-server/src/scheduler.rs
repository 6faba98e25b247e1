//! The scheduler inside `rampart serve`: every `scheduler_interval_seconds` it starts the runs
//! that are due (each exactly once, also with several servers on one PostgreSQL, and once after
//! a restart for runs that came due while the server was down), releases restarts whose delay
//! has passed, fails activities whose machine did not answer within the timeout, and takes over
//! reports whose writer stopped. Every hour it deletes runs past their retention period.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rampart_domain::schedule::Schedule;

use crate::config::Settings;
use crate::storage::{ProfileRecord, Store};

/// One pass of the scheduler's work, at `now`. True when it gave machines new work (a run
/// started, a restart released).
pub async fn tick(store: &Arc<dyn Store>, settings: &Settings) -> anyhow::Result<bool> {
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
    let released = store.release_scheduled(now).await?;
    let cutoff = now - chrono::Duration::hours(i64::from(settings.activity_timeout_hours));
    let expired = store.expire_activities(cutoff, now).await?;
    if expired > 0 {
        tracing::warn!(
            activities = expired,
            "activities failed: no answer within the timeout"
        );
    }
    let orphans = store
        .claim_stale_reports(now, now + crate::reports::LEASE)
        .await?;
    for job in orphans {
        tracing::info!(
            report = job.name,
            "taking over a report whose writer stopped"
        );
        crate::reports::spawn(store.clone(), job);
    }
    Ok(!started.is_empty() || released > 0)
}

/// How often `run` deletes expired runs.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Deletes runs past their profile's retention period, logging what went; then recounts the
/// computers each profile covers, warning of any count that had drifted (none should).
pub async fn purge(store: &dyn Store) -> anyhow::Result<()> {
    let purged = store
        .purge_expired(rampart_domain::time::whole_seconds(Utc::now()))
        .await?;
    if purged.runs > 0 {
        tracing::info!(
            runs = purged.runs,
            audits = purged.audits,
            rule_results = purged.rule_results,
            reports = purged.reports,
            files = purged.files,
            "expired runs deleted"
        );
    }
    let corrected = store.recount_all_coverage().await?;
    if corrected > 0 {
        tracing::warn!(
            profiles = corrected,
            "covered computer counts had drifted and were corrected"
        );
    }
    Ok(())
}

/// Runs `tick` every interval until `shutdown` resolves. Errors are logged, never fatal.
pub async fn run(
    store: Arc<dyn Store>,
    settings: Arc<Settings>,
    new_work: Arc<tokio::sync::Notify>,
    shutdown: impl Future<Output = ()>,
) {
    let mut interval = tokio::time::interval(Duration::from_secs(u64::from(
        settings.scheduler_interval_seconds,
    )));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_purge: Option<std::time::Instant> = None;
    // Purges run beside the scheduler, never delaying due runs; one at a time.
    let mut purging: Option<tokio::task::JoinHandle<()>> = None;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => {
                if let Some(purge) = purging {
                    purge.abort();
                }
                return;
            }
            _ = interval.tick() => {
                match tick(&store, &settings).await {
                    Ok(true) => new_work.notify_waiters(),
                    Ok(false) => {}
                    Err(e) => tracing::error!(error = format!("{e:#}"), "scheduler pass failed"),
                }
                let idle = purging.as_ref().is_none_or(|p| p.is_finished());
                if idle && last_purge.is_none_or(|at| at.elapsed() >= RETENTION_EVERY) {
                    last_purge = Some(std::time::Instant::now());
                    let store = store.clone();
                    purging = Some(tokio::spawn(async move {
                        if let Err(e) = purge(store.as_ref()).await {
                            tracing::error!(error = format!("{e:#}"), "retention pass failed");
                        }
                    }));
                }
            }
        }
    }
}

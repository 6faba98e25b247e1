//! The storage suite: one set of tests against the `Store` trait, run on SQLite and on
//! PostgreSQL (`RAMPART_TEST_POSTGRES_URL`; skipped, saying so, when unset).

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use rampart_domain::computer_query::ComputerQuery;
use rampart_server::storage::{
    self, ActivityFilter, ComputerChanges, NewComputer, NewProfile, ProfileChanges, ProfileFilter,
    StatusFilter, StorageError, Store,
};

#[path = "../common/mod.rs"]
mod common;

use common::{Backend, FreshDatabase};

struct Fresh {
    store: Arc<dyn Store>,
    database: FreshDatabase,
}

async fn open(backend: Backend) -> Fresh {
    let database = FreshDatabase::new(&backend).await;
    let store = storage::open(&database.url).await.unwrap();
    Fresh { store, database }
}

async fn sqlite() -> Fresh {
    open(Backend::Sqlite).await
}

async fn postgres(test: &str) -> Option<Fresh> {
    Some(open(Backend::postgres(test)?).await)
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $( #[tokio::test] async fn $name() { super::$name(super::sqlite().await.store).await } )*
        }
        mod on_postgres {
            $( #[tokio::test] async fn $name() {
                if let Some(fresh) = super::postgres(stringify!($name)).await { super::$name(fresh.store).await }
            } )*
        }
    };
}

// After the macro, which they use.
mod accounts_and_profiles;
mod coverage;
mod paging;

fn at(y: i32, mo: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, 12, 0, 0).unwrap()
}

fn new_profile(account_id: i64, name: &str) -> NewProfile {
    NewProfile {
        account_id,
        name: name.into(),
        title: name.to_uppercase(),
        benchmark: "cis_level1_server".into(),
        mode: "audit".into(),
        schedule: "RRULE:FREQ=WEEKLY".into(),
        start_date: at(2030, 1, 7),
        access_group: "global".into(),
        all_computers: false,
        tags: vec!["web".into(), "db".into()],
        restart_deliver_delay: 1,
        restart_deliver_delay_window: 0,
        retention_period: 730,
        next_run_time: Some(at(2030, 1, 7)),
        tailoring: None,
        now: at(2026, 12, 3),
        start_now: false,
        creator_id: None,
        run_cap: 5000,
    }
}

/// A computer of the concurrent coverage test: in `global` or `sub`, tagged `a`, `b` or `c`.
fn machine(account_id: i64, n: usize) -> NewComputer {
    NewComputer {
        account_id,
        hostname: format!("m{n}"),
        system_hostname: format!("m{n}"),
        title: format!("M{n}"),
        access_group: ["global", "sub"][n % 2].into(),
        tags: vec![["a", "b", "c"][n % 3].into()],
        secret_hash: format!("{n:064x}"),
        now: at(2026, 12, 3),
    }
}

//! The storage suite: one set of tests against the `Store` trait, run on SQLite and on
//! PostgreSQL (`RAMPART_TEST_POSTGRES_URL`; skipped, saying so, when unset).

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use rampart_domain::computer_query::ComputerQuery;
use rampart_server::storage::{
    self, ActivityFilter, ComputerChanges, NewComputer, NewProfile, ProfileChanges, ProfileFilter,
    StatusFilter, StorageError, Store,
};

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

async fn accounts_are_created_once_with_a_global_group(store: Arc<dyn Store>) {
    let first = store.ensure_account("lumon", at(2026, 1, 1)).await.unwrap();
    let again = store.ensure_account("lumon", at(2026, 1, 2)).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(first.registration_key.len(), 32);
    assert_eq!(
        store.account_by_name("lumon").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.account_by_name("nobody").await.unwrap(), None);
    let groups = store.access_groups(first.id).await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(
        (groups[0].name.as_str(), groups[0].parent.as_deref()),
        ("global", None)
    );
}

async fn a_users_email_is_unique(store: Arc<dyn Store>) {
    let account = store.ensure_account("lumon", at(2026, 1, 1)).await.unwrap();
    let user = store
        .create_user(account.id, "m@x.example", "Mark", "hash", at(2026, 1, 1))
        .await
        .unwrap();
    let again = store
        .create_user(account.id, "m@x.example", "Other", "hash2", at(2026, 1, 1))
        .await;
    assert!(matches!(again, Err(StorageError::Conflict(_))), "{again:?}");
    let credentials = store.credentials("m@x.example").await.unwrap().unwrap();
    assert_eq!(
        (credentials.user, credentials.password_hash.as_str()),
        (user.clone(), "hash")
    );
    let memberships = store.memberships(user.id).await.unwrap();
    assert_eq!(memberships.len(), 1);
    assert!(memberships[0].is_default);
}

async fn profiles_round_trip_every_field(store: Arc<dyn Store>) {
    let account = store.ensure_account("lumon", at(2026, 1, 1)).await.unwrap();
    let new = new_profile(account.id, "web");
    let created = store.create_profile(&new, 5).await.unwrap();
    assert_eq!(created.name, "web");
    assert_eq!(created.title, "WEB");
    assert_eq!(created.tags, ["web", "db"]);
    assert_eq!(created.start_date, new.start_date);
    assert_eq!(created.next_run_time, new.next_run_time);
    assert_eq!(created.creation_time, new.now);
    assert_eq!(created.modification_time, new.now);
    assert_eq!(created.access_group, "global");
    assert_eq!(created.status, "active");
    assert_eq!(
        store.profile(account.id, created.id).await.unwrap(),
        Some(created.clone())
    );
    let other = store.ensure_account("other", at(2026, 1, 1)).await.unwrap();
    assert_eq!(
        store.profile(other.id, created.id).await.unwrap(),
        None,
        "accounts are isolated"
    );
}

async fn the_active_limit_counts_only_active_profiles(store: Arc<dyn Store>) {
    let account = store.ensure_account("lumon", at(2026, 1, 1)).await.unwrap();
    let a = store
        .create_profile(&new_profile(account.id, "a"), 2)
        .await
        .unwrap();
    store
        .create_profile(&new_profile(account.id, "b"), 2)
        .await
        .unwrap();
    let third = store.create_profile(&new_profile(account.id, "c"), 2).await;
    assert!(
        matches!(third, Err(StorageError::ActiveProfileLimit { limit: 2 })),
        "{third:?}"
    );
    store
        .archive_profile(account.id, a.id, at(2026, 12, 4))
        .await
        .unwrap();
    store
        .create_profile(&new_profile(account.id, "c"), 2)
        .await
        .unwrap();
    let page = store
        .list_profiles(account.id, &ProfileFilter::default(), 10, 0)
        .await
        .unwrap();
    assert_eq!(page.count, 3);
}

async fn taken_names_get_a_suffix(store: Arc<dyn Store>) {
    let account = store.ensure_account("lumon", at(2026, 1, 1)).await.unwrap();
    let names = create_three_named_web(&store, account.id).await;
    assert_eq!(names, ["web", "web-2", "web-3"]);
}

async fn create_three_named_web(store: &Arc<dyn Store>, account_id: i64) -> Vec<String> {
    let mut names = Vec::new();
    for _ in 0..3 {
        names.push(
            store
                .create_profile(&new_profile(account_id, "web"), 10)
                .await
                .unwrap()
                .name,
        );
    }
    names
}

async fn a_missing_access_group_is_refused(store: Arc<dyn Store>) {
    let account = store.ensure_account("lumon", at(2026, 1, 1)).await.unwrap();
    let mut new = new_profile(account.id, "x");
    new.access_group = "nowhere".into();
    let refused = store.create_profile(&new, 5).await;
    assert!(
        matches!(refused, Err(StorageError::UnknownAccessGroup(ref g)) if g == "nowhere"),
        "{refused:?}"
    );
    let page = store
        .list_profiles(account.id, &ProfileFilter::default(), 10, 0)
        .await
        .unwrap();
    assert_eq!(page.count, 0, "nothing was stored");
}

async fn listing_filters_and_pages(store: Arc<dyn Store>) {
    let account = store.ensure_account("lumon", at(2026, 1, 1)).await.unwrap();
    let mut ids = Vec::new();
    for name in ["alpha", "beta", "gamma", "delta"] {
        ids.push(
            store
                .create_profile(&new_profile(account.id, name), 10)
                .await
                .unwrap()
                .id,
        );
    }
    store
        .archive_profile(account.id, ids[1], at(2026, 12, 4))
        .await
        .unwrap();
    let all = ProfileFilter::default();
    let page = store.list_profiles(account.id, &all, 2, 1).await.unwrap();
    assert_eq!(page.count, 4);
    assert_eq!(
        page.results
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["beta", "gamma"]
    );
    let search = ProfileFilter {
        search: Some("mm".into()),
        ..all.clone()
    };
    let found = store
        .list_profiles(account.id, &search, 10, 0)
        .await
        .unwrap();
    assert_eq!((found.count, found.results[0].name.as_str()), (1, "gamma"));
    let archived = ProfileFilter {
        status: Some(StatusFilter::Archived),
        ..all.clone()
    };
    let page = store
        .list_profiles(account.id, &archived, 10, 0)
        .await
        .unwrap();
    assert_eq!((page.count, page.results[0].name.as_str()), (1, "beta"));
    let active = ProfileFilter {
        status: Some(StatusFilter::Active),
        ..all.clone()
    };
    assert_eq!(
        store
            .list_profiles(account.id, &active, 10, 0)
            .await
            .unwrap()
            .count,
        3
    );
    let rated = ProfileFilter {
        pass_rate_from: Some(0),
        ..all
    };
    assert_eq!(
        store
            .list_profiles(account.id, &rated, 10, 0)
            .await
            .unwrap()
            .count,
        0
    );
}

async fn updates_change_only_what_is_given(store: Arc<dyn Store>) {
    let account = store.ensure_account("lumon", at(2026, 1, 1)).await.unwrap();
    store
        .create_access_group(account.id, "web", "Web", "global")
        .await
        .unwrap();
    let created = store
        .create_profile(&new_profile(account.id, "p"), 5)
        .await
        .unwrap();
    let changes = ProfileChanges {
        title: Some("Renamed".into()),
        schedule: Some(("RRULE:FREQ=MONTHLY".into(), Some(at(2030, 2, 7)))),
        access_group: Some("web".into()),
        tags: Some(vec![]),
        ..ProfileChanges::default()
    };
    let updated = store
        .update_profile(account.id, created.id, &changes, at(2026, 12, 5))
        .await
        .unwrap();
    assert_eq!(updated.title, "Renamed");
    assert_eq!(updated.schedule, "RRULE:FREQ=MONTHLY");
    assert_eq!(updated.next_run_time, Some(at(2030, 2, 7)));
    assert_eq!(updated.access_group, "web");
    assert!(updated.tags.is_empty());
    assert_eq!(updated.modification_time, at(2026, 12, 5));
    assert_eq!(
        (updated.name.as_str(), updated.creation_time),
        ("p", created.creation_time)
    );
    assert_eq!(updated.restart_deliver_delay, created.restart_deliver_delay);

    let bad_group = ProfileChanges {
        title: Some("x".into()),
        access_group: Some("nowhere".into()),
        ..ProfileChanges::default()
    };
    let refused = store
        .update_profile(account.id, created.id, &bad_group, at(2026, 12, 6))
        .await;
    assert!(
        matches!(refused, Err(StorageError::UnknownAccessGroup(_))),
        "{refused:?}"
    );
    assert_eq!(
        store
            .profile(account.id, created.id)
            .await
            .unwrap()
            .unwrap(),
        updated,
        "a refused update changes nothing"
    );

    let missing = store
        .update_profile(account.id, 999_999, &changes, at(2026, 12, 6))
        .await;
    assert!(matches!(missing, Err(StorageError::NotFound)));
}

async fn archived_profiles_no_longer_change(store: Arc<dyn Store>) {
    let account = store.ensure_account("lumon", at(2026, 1, 1)).await.unwrap();
    let created = store
        .create_profile(&new_profile(account.id, "p"), 5)
        .await
        .unwrap();
    let archived = store
        .archive_profile(account.id, created.id, at(2026, 12, 4))
        .await
        .unwrap();
    assert_eq!(
        (archived.status.as_str(), archived.next_run_time),
        ("archived", None)
    );
    assert_eq!(archived.modification_time, at(2026, 12, 4));
    let again = store
        .archive_profile(account.id, created.id, at(2026, 12, 9))
        .await
        .unwrap();
    assert_eq!(again, archived, "archiving twice changes nothing");
    let changes = ProfileChanges {
        title: Some("x".into()),
        ..ProfileChanges::default()
    };
    let refused = store
        .update_profile(account.id, created.id, &changes, at(2026, 12, 9))
        .await;
    assert!(
        matches!(refused, Err(StorageError::Archived)),
        "{refused:?}"
    );
    let other = store.ensure_account("other", at(2026, 1, 1)).await.unwrap();
    let foreign = store
        .archive_profile(other.id, created.id, at(2026, 12, 9))
        .await;
    assert!(matches!(foreign, Err(StorageError::NotFound)));
}

async fn access_groups_have_unique_names_and_existing_parents(store: Arc<dyn Store>) {
    let account = store.ensure_account("lumon", at(2026, 1, 1)).await.unwrap();
    store
        .create_access_group(account.id, "servers", "Servers", "global")
        .await
        .unwrap();
    let web = store
        .create_access_group(account.id, "web", "Web", "servers")
        .await
        .unwrap();
    assert_eq!(web.parent.as_deref(), Some("servers"));
    let dup = store
        .create_access_group(account.id, "web", "Web", "global")
        .await;
    assert!(matches!(dup, Err(StorageError::Conflict(_))), "{dup:?}");
    let orphan = store
        .create_access_group(account.id, "x", "X", "nowhere")
        .await;
    assert!(
        matches!(orphan, Err(StorageError::UnknownAccessGroup(_))),
        "{orphan:?}"
    );
    let names: Vec<String> = store
        .access_groups(account.id)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, ["global", "servers", "web"]);
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

/// Registrations, computer moves, retags and deletions, profile creations and coverage changes,
/// all at once and many on the same rows: afterwards every profile's count is exactly the
/// computers it covers, counted live from the computers, and the recount corrects nothing.
async fn coverage_counts_stay_exact_under_concurrent_changes(store: Arc<dyn Store>) {
    let account = store.ensure_account("lumon", at(2026, 1, 1)).await.unwrap();
    store
        .create_access_group(account.id, "sub", "Sub", "global")
        .await
        .unwrap();
    let mut computers = Vec::new();
    for n in 0..12 {
        computers.push(
            store
                .register_computer(&machine(account.id, n))
                .await
                .unwrap()
                .id,
        );
    }
    let mut profiles = Vec::new();
    let profile = |n: usize| NewProfile {
        access_group: ["global", "sub"][n % 2].into(),
        all_computers: n.is_multiple_of(3),
        tags: vec![["a", "b", "c"][n % 3].into()],
        ..new_profile(account.id, &format!("p{n}"))
    };
    for n in 0..3 {
        profiles.push(store.create_profile(&profile(n), 100).await.unwrap().id);
    }
    let mut next = 12;
    for round in 0..6 {
        let mut tasks = tokio::task::JoinSet::new();
        // New machines and new profiles, each racing the other kind.
        for _ in 0..6 {
            let (store, new) = (store.clone(), machine(account.id, next));
            tasks.spawn(async move { store.register_computer(&new).await.map(|_| ()) });
            next += 1;
        }
        for n in 0..2 {
            let (store, new) = (store.clone(), profile(10 * round + n));
            tasks.spawn(async move { store.create_profile(&new, 100).await.map(|_| ()) });
        }
        // Two PATCHes of each of a few computers at once, moving and retagging it.
        for (i, &id) in computers.iter().enumerate().skip(round).step_by(3) {
            for k in 0..2 {
                let store = store.clone();
                let changes = ComputerChanges {
                    title: None,
                    tags: Some(vec![["a", "b", "c"][(i + k + round) % 3].into()]),
                    access_group: Some(["global", "sub"][(i + k) % 2].into()),
                };
                tasks.spawn(async move {
                    store
                        .update_computer(account.id, id, &changes)
                        .await
                        .map(|_| ())
                });
            }
        }
        // Profiles retagged, widened, narrowed and moved.
        for (i, &id) in profiles.iter().enumerate() {
            let store = store.clone();
            let changes = ProfileChanges {
                tags: Some(vec![["a", "b", "c"][(i + round) % 3].into()]),
                all_computers: Some((i + round).is_multiple_of(4)),
                access_group: Some(["global", "sub"][(i + round) % 2].into()),
                ..ProfileChanges::default()
            };
            tasks.spawn(async move {
                store
                    .update_profile(account.id, id, &changes, at(2026, 12, 4))
                    .await
                    .map(|_| ())
            });
        }
        // One deletion a round, of a machine another task is patching.
        let gone = computers.remove(round);
        let deleter = store.clone();
        tasks.spawn(async move {
            deleter
                .delete_computer(account.id, gone, at(2026, 12, 4))
                .await
        });
        while let Some(done) = tasks.join_next().await {
            match done.unwrap() {
                // A PATCH that lost the race with the deletion.
                Ok(()) | Err(StorageError::NotFound) => {}
                Err(e) => panic!("a concurrent change failed: {e}"),
            }
        }
        let listed = store
            .list_profiles(account.id, &ProfileFilter::default(), 1000, 0)
            .await
            .unwrap();
        profiles = listed.results.iter().map(|p| p.id).collect();
        let all = store
            .list_computers(account.id, &ComputerQuery::default(), 1000, 0)
            .await
            .unwrap();
        computers = all.results.iter().map(|c| c.id).collect();
    }
    assert_eq!(computers.len(), 12 + 6 * 6 - 6);
    let all = store
        .list_computers(account.id, &ComputerQuery::default(), 1000, 0)
        .await
        .unwrap()
        .results;
    let listed = store
        .list_profiles(account.id, &ProfileFilter::default(), 1000, 0)
        .await
        .unwrap()
        .results;
    assert_eq!(listed.len(), 3 + 6 * 2);
    for profile in &listed {
        // `sub` is below `global`: a `global` profile covers both groups.
        let live = all
            .iter()
            .filter(|c| profile.access_group == "global" || c.access_group == profile.access_group)
            .filter(|c| profile.all_computers || c.tags.iter().any(|t| profile.tags.contains(t)))
            .count() as i64;
        assert_eq!(
            profile.associated_instances, live,
            "profile {} ({} {:?} all={}) counts what it covers",
            profile.name, profile.access_group, profile.tags, profile.all_computers
        );
    }
    assert!(
        listed.iter().any(|p| p.associated_instances > 0),
        "some profile covers something"
    );
    assert_eq!(
        store.recount_all_coverage().await.unwrap(),
        0,
        "nothing drifted"
    );
}

/// A run gives a machine to every computer its profile counts (`associated_instances`) and to no
/// other, for a profile by tags, one narrowed to an access group and one of all computers. On
/// PostgreSQL the run's machines are picked by `covered_by_profile!`, the counts kept by
/// `covers!`: the two spell out coverage twice. What must not happen: a run that reaches a
/// machine its profile does not count, or misses one it counts. So around the machines each
/// profile covers are those it must not: deleted, in a group beside its own or above it, with no
/// tag of its own, in another account.
async fn a_run_gets_every_machine_its_profile_counts_and_no_other(store: Arc<dyn Store>) {
    let now = at(2026, 12, 3);
    let account = store.ensure_account("lumon", now).await.unwrap();
    let other = store.ensure_account("other", now).await.unwrap();
    for (name, parent) in [("servers", "global"), ("web", "servers"), ("lab", "global")] {
        store
            .create_access_group(account.id, name, name, parent)
            .await
            .unwrap();
    }
    let register = |account_id: i64, n: usize, group: &str, tags: &[&str]| NewComputer {
        access_group: group.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..machine(account_id, n)
    };
    let machines = [
        register(account.id, 0, "global", &["web"]),
        register(account.id, 1, "servers", &["db"]),
        register(account.id, 2, "web", &["web", "db"]),
        register(account.id, 3, "lab", &["web"]),
        register(account.id, 4, "web", &["mail"]),
        register(account.id, 5, "servers", &["web"]),
        register(account.id, 6, "servers", &[]),
        register(other.id, 7, "global", &["web"]),
    ];
    let mut ids = Vec::new();
    for new in &machines {
        ids.push(store.register_computer(new).await.unwrap().id);
    }
    store
        .delete_computer(account.id, ids[5], now)
        .await
        .unwrap();
    let profiles = [
        // Tags: every `web` machine of the account, whatever its group.
        (
            NewProfile {
                tags: vec!["web".into()],
                ..new_profile(account.id, "tagged")
            },
            vec!["m0", "m2", "m3"],
        ),
        // An access group: `servers` and `web` below it, not `lab` nor `global` itself.
        (
            NewProfile {
                access_group: "servers".into(),
                ..new_profile(account.id, "servers")
            },
            vec!["m1", "m2"],
        ),
        // All computers of `servers` and below, tagged or not.
        (
            NewProfile {
                access_group: "servers".into(),
                all_computers: true,
                tags: vec!["nothing-has-this".into()],
                ..new_profile(account.id, "everything")
            },
            vec!["m1", "m2", "m4", "m6"],
        ),
    ];
    for (new, expected) in &profiles {
        let profile = store.create_profile(new, 10).await.unwrap();
        let parent = store
            .start_run(account.id, profile.id, None, now, 5000)
            .await
            .unwrap();
        let children = store
            .list_activities(
                account.id,
                &ActivityFilter {
                    parent_id: Some(parent.id),
                    ..ActivityFilter::default()
                },
                1000,
                0,
            )
            .await
            .unwrap();
        // By the names registered: a deleted machine is no longer found.
        let mut hostnames: Vec<&str> = children
            .results
            .iter()
            .map(|child| {
                let id = child.computer_id.expect("a child names its machine");
                let n = ids
                    .iter()
                    .position(|&i| i == id)
                    .expect("a registered machine");
                machines[n].hostname.as_str()
            })
            .collect();
        hostnames.sort();
        let profile = store
            .profile(account.id, profile.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            children.count, profile.associated_instances,
            "profile {}: the run covers {hostnames:?}, the profile counts {}",
            profile.name, profile.associated_instances
        );
        assert_eq!(hostnames, *expected, "profile {}", profile.name);
        let counts = profile.last_run.expect("the run started");
        assert_eq!(
            counts.not_started, profile.associated_instances,
            "profile {}: the run's own count",
            profile.name
        );
    }
}

/// The recount corrects a count that is wrong, and only that one.
async fn the_coverage_recount_corrects_a_drifted_count(fresh: Fresh) {
    let store = fresh.store;
    let account = store.ensure_account("lumon", at(2026, 1, 1)).await.unwrap();
    store
        .create_access_group(account.id, "sub", "Sub", "global")
        .await
        .unwrap();
    let web = NewComputer {
        tags: vec!["web".into()],
        ..machine(account.id, 2)
    };
    store.register_computer(&web).await.unwrap();
    let right = store
        .create_profile(&new_profile(account.id, "web"), 100)
        .await
        .unwrap();
    let wrong = store
        .create_profile(&new_profile(account.id, "db"), 100)
        .await
        .unwrap();
    assert_eq!(right.associated_instances, 1);
    assert_eq!(store.recount_all_coverage().await.unwrap(), 0);
    // Drift made by hand, in the database itself.
    common::execute(
        &fresh.database.url,
        &format!(
            "UPDATE security_profiles SET covered_instances = 7 WHERE id = {}",
            wrong.id
        ),
    )
    .await;
    let drifted = store.profile(account.id, wrong.id).await.unwrap().unwrap();
    assert_eq!(drifted.associated_instances, 7);
    assert_eq!(store.recount_all_coverage().await.unwrap(), 1);
    for id in [right.id, wrong.id] {
        let profile = store.profile(account.id, id).await.unwrap().unwrap();
        assert_eq!(profile.associated_instances, 1, "{}", profile.name);
    }
    assert_eq!(store.recount_all_coverage().await.unwrap(), 0);
}

/// Migration 0006's lz4 step on a server that cannot take it: the statement a PostgreSQL 13
/// server does not know (a syntax error there) or a server without lz4 would refuse is caught,
/// and the migration goes on with a notice; where lz4 exists, the column takes it.
#[tokio::test]
async fn migration_0006_goes_on_without_lz4_on_postgres() {
    use sqlx::Connection;
    let Some(fresh) = postgres("migration_0006_goes_on_without_lz4").await else {
        return;
    };
    let migration =
        include_str!("../migrations/postgres/0006_covered_counts_and_blob_compression.sql");
    let block = &migration[migration.find("DO $$").expect("the lz4 block")..];
    let mut conn = sqlx::PgConnection::connect(&fresh.database.url)
        .await
        .unwrap();
    let compression = "SELECT attcompression::text FROM pg_attribute \
         WHERE attrelid = 'blob_chunks'::regclass AND attname = 'data'";
    sqlx::query("ALTER TABLE blob_chunks ALTER COLUMN data SET COMPRESSION pglz")
        .execute(&mut conn)
        .await
        .unwrap();
    // As PostgreSQL 13 reads it: an unknown clause, a syntax error when the statement is parsed.
    let old_server = block.replace("SET COMPRESSION lz4", "SET COMPRESSED lz4");
    assert_ne!(old_server, block);
    sqlx::raw_sql(&old_server).execute(&mut conn).await.unwrap();
    // A method the server lacks, as lz4 is on a server built without it.
    let no_lz4 = block.replace("SET COMPRESSION lz4", "SET COMPRESSION zstd");
    sqlx::raw_sql(&no_lz4).execute(&mut conn).await.unwrap();
    let kept: String = sqlx::query_scalar(compression)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(kept, "p", "pglz is kept");
    // This server has lz4: the block as written sets it.
    sqlx::raw_sql(block).execute(&mut conn).await.unwrap();
    let set: String = sqlx::query_scalar(compression)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(set, "l");
}

#[tokio::test]
async fn the_coverage_recount_corrects_a_drifted_count_on_sqlite() {
    the_coverage_recount_corrects_a_drifted_count(sqlite().await).await
}

#[tokio::test]
async fn the_coverage_recount_corrects_a_drifted_count_on_postgres() {
    if let Some(fresh) = postgres("the_coverage_recount_corrects_a_drifted_count").await {
        the_coverage_recount_corrects_a_drifted_count(fresh).await
    }
}

/// Computers and activities page by `limit` and `offset` (PostgreSQL writes `OFFSET` only past
/// the first page): every page holds the next ids in order, the count is the whole list's
/// whatever the page, and a page past the end is empty without changing the count.
async fn computers_and_activities_page_by_limit_and_offset(store: Arc<dyn Store>) {
    let now = at(2026, 12, 4);
    let account = store.ensure_account("lumon", now).await.unwrap();
    let other = store.ensure_account("other", now).await.unwrap();
    store
        .create_access_group(account.id, "sub", "Sub", "global")
        .await
        .unwrap();
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            store
                .register_computer(&machine(account.id, n))
                .await
                .unwrap()
                .id,
        );
    }
    store
        .register_computer(&machine(other.id, 8))
        .await
        .unwrap();
    let profile = store
        .create_profile(
            &NewProfile {
                all_computers: true,
                ..new_profile(account.id, "all")
            },
            10,
        )
        .await
        .unwrap();
    let parent = store
        .start_run(account.id, profile.id, None, now, 5000)
        .await
        .unwrap();
    let children = ActivityFilter {
        parent_id: Some(parent.id),
        ..ActivityFilter::default()
    };
    let all_children: Vec<i64> = store
        .list_activities(account.id, &children, 1000, 0)
        .await
        .unwrap()
        .results
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(
        all_children.len(),
        5,
        "one child per machine of the account"
    );
    for (limit, offset) in [(2, 0), (2, 2), (2, 4), (3, 1), (1000, 0), (2, 5), (2, 100)] {
        let from = (offset as usize).min(5);
        let to = (from + limit as usize).min(5);
        let page = store
            .list_computers(account.id, &ComputerQuery::default(), limit, offset)
            .await
            .unwrap();
        assert_eq!(page.count, 5, "computers, limit {limit} offset {offset}");
        let got: Vec<i64> = page.results.iter().map(|c| c.id).collect();
        assert_eq!(
            got,
            ids[from..to],
            "computers, limit {limit} offset {offset}"
        );
        let page = store
            .list_activities(account.id, &children, limit, offset)
            .await
            .unwrap();
        assert_eq!(page.count, 5, "activities, limit {limit} offset {offset}");
        let got: Vec<i64> = page.results.iter().map(|a| a.id).collect();
        assert_eq!(
            got,
            all_children[from..to],
            "activities, limit {limit} offset {offset}"
        );
    }
}

on_both_backends!(
    accounts_are_created_once_with_a_global_group,
    a_users_email_is_unique,
    profiles_round_trip_every_field,
    the_active_limit_counts_only_active_profiles,
    taken_names_get_a_suffix,
    a_missing_access_group_is_refused,
    listing_filters_and_pages,
    updates_change_only_what_is_given,
    archived_profiles_no_longer_change,
    access_groups_have_unique_names_and_existing_parents,
    coverage_counts_stay_exact_under_concurrent_changes,
    a_run_gets_every_machine_its_profile_counts_and_no_other,
    computers_and_activities_page_by_limit_and_offset,
);

//! Coverage: the count of computers each profile covers, kept by every change, and the machines
//! a run starts with.

use super::*;

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
        include_str!("../../migrations/postgres/0006_covered_counts_and_blob_compression.sql");
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

on_both_backends!(
    coverage_counts_stay_exact_under_concurrent_changes,
    a_run_gets_every_machine_its_profile_counts_and_no_other,
);

//! Accounts, users, access groups and profiles: what is stored is what is read back, and the
//! limits and conflicts the storage itself enforces.

use super::*;

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
);

//! Paging of the lists that take `limit` and `offset`.

use super::*;

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

on_both_backends!(computers_and_activities_page_by_limit_and_offset,);

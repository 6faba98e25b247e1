//! `/api/v2/access-groups`: the account's tree of access groups, rooted at `global`.

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::routing::get;
use axum::{Json, Router};
use rampart_domain::profile::{ProfileName, Title};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{from_object, JsonObject, QueryParams};
use super::pagination::Paging;
use super::AppState;
use crate::auth::Caller;
use crate::storage::AccessGroup as Stored;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v2/access-groups", get(list).post(create))
}

/// An access group.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessGroup {
    #[schema(example = "mdr-terminals")]
    pub name: String,
    #[schema(example = "MDR terminals")]
    pub title: String,
    /// The parent group's name; null for `global`.
    #[schema(example = "global")]
    pub parent: Option<String>,
    /// The names of the groups directly below this one.
    pub children: Vec<String>,
}

/// The account's access groups, `global` first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessGroupList {
    pub count: i64,
    pub results: Vec<AccessGroup>,
    pub next: Option<String>,
    pub previous: Option<String>,
}

/// A new access group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccessGroup {
    /// The display name.
    pub title: String,
    /// The group's name: letters, digits and `-`; a slug of the title when absent.
    pub name: Option<String>,
    /// The parent group's name (default `global`).
    pub parent: Option<String>,
}

fn tree(groups: Vec<Stored>) -> Vec<AccessGroup> {
    let children = |name: &str| {
        groups
            .iter()
            .filter(|g| g.parent.as_deref() == Some(name))
            .map(|g| g.name.clone())
            .collect()
    };
    groups
        .iter()
        .map(|g| AccessGroup {
            name: g.name.clone(),
            title: g.title.clone(),
            parent: g.parent.clone(),
            children: children(&g.name),
        })
        .collect()
}

/// List the account's access groups.
#[utoipa::path(
    get, path = "/api/v2/access-groups", operation_id = "listAccessGroups", tag = "access-groups",
    params(
        ("limit" = Option<i64>, Query, description = "Page size, 1–1000 (default 1000)"),
        ("offset" = Option<i64>, Query, description = "Groups to skip, ≥ 0"),
    ),
    responses(
        (status = 200, description = "The account's access groups, `global` first", body = AccessGroupList),
        (status = 400, description = "A parameter is not acceptable", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<AccessGroupList>, ApiError> {
    let paging = Paging::from_query(&query)?;
    let all = tree(state.store.access_groups(caller.account_id).await?);
    let count = all.len() as i64;
    let results: Vec<AccessGroup> = all
        .into_iter()
        .skip(paging.offset as usize)
        .take(paging.limit as usize)
        .collect();
    let (next, previous) = paging.links(
        count,
        results.len(),
        &query,
        &uri,
        &headers,
        &state.settings,
    );
    Ok(Json(AccessGroupList {
        count,
        results,
        next,
        previous,
    }))
}

/// Create an access group under `parent`.
#[utoipa::path(
    post, path = "/api/v2/access-groups", operation_id = "createAccessGroup", tag = "access-groups",
    request_body(content = CreateAccessGroup, description = "JSON; sent with any Content-Type"),
    responses(
        (status = 200, description = "The new group", body = AccessGroup),
        (status = 400, description = "A field is missing or not acceptable, or the parent does not exist", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<Json<AccessGroup>, ApiError> {
    let request: CreateAccessGroup = from_object(body)?;
    let title = Title::parse(&request.title).map_err(ApiError::invalid)?;
    let name = match request.name {
        Some(name) => {
            let valid = (1..=100).contains(&name.len())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !valid {
                return Err(ApiError::invalid(
                    "`name` must be 1 to 100 letters, digits or `-`",
                ));
            }
            name
        }
        None => {
            // A slug, like a profile's name: made unique with a numeric suffix.
            let base = ProfileName::from_title(&title);
            let taken: Vec<String> = state
                .store
                .access_groups(caller.account_id)
                .await?
                .into_iter()
                .map(|g| g.name)
                .collect();
            crate::storage::free_name(base.as_str(), &taken)
        }
    };
    let parent = request.parent.unwrap_or_else(|| "global".into());
    let group = state
        .store
        .create_access_group(caller.account_id, &name, title.as_str(), &parent)
        .await
        .map_err(|e| match e {
            crate::storage::StorageError::UnknownAccessGroup(parent) => ApiError::invalid(format!(
                "`parent`: access group `{}` does not exist",
                rampart_domain::profile::shorten(&parent)
            )),
            other => other.into(),
        })?;
    Ok(Json(AccessGroup {
        name: group.name,
        title: group.title,
        parent: group.parent,
        children: Vec::new(),
    }))
}

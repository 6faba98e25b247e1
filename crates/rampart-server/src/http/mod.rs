//! The HTTP API: shared state, the authentication extractor, and the one router that merges
//! every resource's routes (one module per resource).

mod access_groups;
mod activities;
mod agent;
mod blobs;
mod computers;
pub mod error;
mod extract;
mod login;
mod openapi;
mod pagination;
mod profiles;
mod reports;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::Router;

pub use openapi::ApiDoc;

use crate::auth::{Caller, RecentMembers, Tokens};
use crate::config::Settings;
use crate::storage::Store;
use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub settings: Arc<Settings>,
    pub tokens: Arc<Tokens>,
    /// Callers recently confirmed to belong to their token's account.
    pub members: Arc<RecentMembers>,
    /// Password checks running at once: each takes ~19 MiB and a core for tens of milliseconds,
    /// so a burst of logins queues here instead of exhausting memory.
    pub password_checks: Arc<tokio::sync::Semaphore>,
    /// Woken whenever this process hands machines new work (a run started, a restart released,
    /// the next step of a fix queued): agents long-polling here look at once instead of at
    /// their next check of the database.
    pub new_work: Arc<tokio::sync::Notify>,
    /// Uploads received, parsed and kept at once (their bytes in memory, with the connection's
    /// read buffer); the others wait with their bytes still in the socket. An upload leaves its
    /// slot before it waits for the writer, so group commit still sees every parsed upload.
    pub upload_slots: Arc<tokio::sync::Semaphore>,
    /// Uploads parsed at once: a parse is a core's work, so more at a time would only hold
    /// more parse state (and threads) in memory while the cores are shared anyway.
    pub parse_slots: Arc<tokio::sync::Semaphore>,
    /// The benchmark versions this process's uploads are storing: one upload at a time keeps a
    /// new version's rule texts (`agent::version_gate`).
    pub(crate) version_gates: Arc<agent::version_gate::VersionGates>,
}

/// The whole API, ready to serve.
pub fn router(state: AppState) -> Router {
    let body_limit = state.settings.max_body_bytes;
    Router::new()
        .merge(login::router())
        .merge(access_groups::router())
        .merge(computers::router())
        .merge(activities::router())
        .merge(agent::router())
        .merge(profiles::router("/api/v2/security-profiles"))
        .merge(profiles::router("/api/v2/usg-profiles"))
        .merge(reports::router("/api/v2/security-profiles"))
        .merge(reports::router("/api/v2/usg-profiles"))
        .merge(blobs::router("/api/v2/security-profiles"))
        .merge(blobs::router("/api/v2/usg-profiles"))
        .merge(openapi::router())
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        // A panic in a handler is a bug: answer the documented 500, keep serving.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |panic: Box<dyn std::any::Any + Send>| {
                let detail = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                ApiError::Internal(anyhow::anyhow!("handler panicked: {detail}")).into_response()
            },
        ))
        .with_state(state)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = extract::authorization(&parts.headers)
            .map_err(|_| ApiError::unauthorized("send one Authorization header, not several"))?
            .ok_or_else(|| ApiError::unauthorized("this endpoint needs `Authorization: Bearer <token>`; get a token from POST /api/v2/login"))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
            })?;
        let invalid =
            || ApiError::unauthorized("the token is invalid or has expired; log in again");
        let caller = state.tokens.check(token).ok_or_else(invalid)?;
        // A signed token is not enough: its user must still belong to its account.
        let now = std::time::Instant::now();
        if !state.members.knows(caller, now) {
            if !state
                .store
                .is_member(caller.user_id, caller.account_id)
                .await?
            {
                return Err(invalid());
            }
            state.members.confirm(caller, now);
        }
        Ok(caller)
    }
}

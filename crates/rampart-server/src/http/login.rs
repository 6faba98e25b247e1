//! `POST /api/v2/login`: trades an email and password for a bearer token.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{from_object, JsonObject};
use super::AppState;
use crate::auth::{self, Caller};
use crate::config::Secret;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v2/login", post(login))
}

/// Credentials to log in with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The user's email (case does not matter).
    #[schema(example = "mark\u{40}lumon.example")]
    pub email: String,
    /// The user's password.
    #[schema(value_type = String)]
    pub password: Secret,
    /// The account to act in; the user's default account when absent.
    pub account: Option<String>,
}

/// An account the user belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountInfo {
    /// The account's name, for `account` at login.
    pub name: String,
    /// The account's display name.
    pub title: String,
    /// Whether it is the account a login without `account` acts in.
    pub default: bool,
}

/// A bearer token and who it speaks for.
#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send it as `Authorization: Bearer <token>`.
    pub token: String,
    /// The user's email, lower-cased.
    pub email: String,
    /// The user's display name.
    pub name: String,
    pub accounts: Vec<AccountInfo>,
    /// The name of the account the token acts in.
    pub current_account: String,
}

/// Log in.
#[utoipa::path(
    post, path = "/api/v2/login", operation_id = "login", tag = "login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Wrong email or password, or not a member of `account`", body = ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Json<LoginResponse>, ApiError> {
    let request: LoginRequest = from_object(body)?;
    let email = request.email.trim().to_lowercase();
    let credentials = state.store.credentials(&email).await?;
    let hash = credentials
        .as_ref()
        .map_or(auth::decoy_hash(), |c| c.password_hash.as_str())
        .to_owned();
    let password = request.password;
    let permit = state
        .password_checks
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| anyhow::anyhow!("password check queue closed: {e}"))?;
    // The permit goes with the check: a client that hangs up drops this handler, not the check
    // already running, which must still count against the limit until it ends.
    let matches = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        auth::verify_password(password.expose(), &hash)
    })
    .await
    .map_err(|e| anyhow::anyhow!("password check panicked: {e}"))?;
    let refused = || ApiError::Unauthorized {
        code: "InvalidCredentials",
        message: "wrong email or password".into(),
    };
    let user = match credentials {
        Some(c) if matches => c.user,
        _ => return Err(refused()),
    };
    let memberships = state.store.memberships(user.id).await?;
    let current = match &request.account {
        Some(name) => memberships.iter().find(|m| &m.account.name == name),
        None => memberships
            .iter()
            .find(|m| m.is_default)
            .or(memberships.first()),
    }
    .ok_or_else(|| ApiError::Unauthorized {
        code: "InvalidCredentials",
        message: match &request.account {
            Some(name) => format!(
                "the user is not a member of account `{}`",
                rampart_domain::profile::shorten(name)
            ),
            None => "the user belongs to no account".into(),
        },
    })?;
    let caller = Caller {
        user_id: user.id,
        account_id: current.account.id,
    };
    Ok(Json(LoginResponse {
        token: state.tokens.issue(caller, Utc::now())?,
        email: user.email,
        name: user.name,
        current_account: current.account.name.clone(),
        accounts: memberships
            .iter()
            .map(|m| AccountInfo {
                name: m.account.name.clone(),
                title: m.account.title.clone(),
                default: m.is_default,
            })
            .collect(),
    }))
}

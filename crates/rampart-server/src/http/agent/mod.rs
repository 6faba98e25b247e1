//! `/agent/v1`: rampart's own protocol with `rampart-agent`. A machine registers once with its
//! account's registration key and receives a secret; later calls authenticate with
//! `Authorization: Agent <computer id>:<secret>`.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use rampart_domain::profile::{shorten, Tags, Title};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{from_object, JsonObject};
use crate::http::AppState;
use crate::storage::{ComputerRecord, NewComputer};

mod uploads;
pub mod version_gate;
pub mod work;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/agent/v1/register", post(register))
        .route("/agent/v1/me", get(me))
        .route("/agent/v1/activities", get(work::activities))
        // The upload handler enforces max_upload_bytes itself, while streaming.
        .route(
            "/agent/v1/activities/{id}/results",
            post(work::results).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/agent/v1/activities/{id}/outcome", post(work::outcome))
}

/// A machine asking to join an account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The account's key (`rampart admin registration-key`).
    pub registration_key: String,
    /// When given, must name the account the key belongs to.
    pub account: Option<String>,
    /// The name the machine is listed under.
    pub hostname: String,
    /// The OS's own host name (what audit results name as their target); `hostname` when absent.
    pub system_hostname: Option<String>,
    /// Display title; `hostname` when absent.
    pub title: Option<String>,
    pub tags: Option<Vec<String>>,
    /// Default `global`.
    pub access_group: Option<String>,
}

/// The identity the agent keeps in its state dir.
#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    pub computer_id: i64,
    /// Shown once; the server keeps only its hash.
    pub secret: String,
}

/// Who the calling agent is.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentIdentity {
    pub computer_id: i64,
    pub hostname: String,
    pub account_id: i64,
}

/// SHA-256 (hex) of an agent secret: secrets are 256 random bits, so a fast hash is enough.
pub fn secret_hash(secret: &str) -> String {
    crate::auth::hex(&Sha256::digest(secret.as_bytes()))
}

fn host_name(field: &str, text: &str) -> Result<String, ApiError> {
    let valid = (1..=253).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
    if valid {
        Ok(text.to_owned())
    } else {
        Err(ApiError::invalid(format!(
            "`{field}` must be 1 to 253 letters, digits, `-`, `.` or `_`; got `{}`",
            shorten(text)
        )))
    }
}

/// Register a machine.
#[utoipa::path(
    post, path = "/agent/v1/register", operation_id = "agentRegister", tag = "agent",
    request_body = Registration,
    responses(
        (status = 200, description = "Registered", body = Registered),
        (status = 400, description = "A field is not acceptable", body = ErrorBody),
        (status = 401, description = "Unknown registration key, or it belongs to another account", body = ErrorBody),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Json<Registered>, ApiError> {
    let request: Registration = from_object(body)?;
    let hostname = host_name("hostname", &request.hostname)?;
    let system_hostname = match &request.system_hostname {
        Some(name) => host_name("system_hostname", name)?,
        None => hostname.clone(),
    };
    let title = match &request.title {
        Some(title) => Title::parse(title).map_err(ApiError::invalid)?,
        None => Title::parse(&hostname).map_err(ApiError::invalid)?,
    };
    let tags = Tags::parse(request.tags.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::invalid(format!("`tags`: {e}")))?;
    let refused = || ApiError::Unauthorized {
        code: "InvalidRegistrationKey",
        message: "the registration key is not valid for this server (or for the account named)"
            .into(),
    };
    let key = request.registration_key.trim();
    let account = match state.store.account_by_registration_key(key).await? {
        Some(account) if key.len() >= 16 => account,
        _ => return Err(refused()),
    };
    if request
        .account
        .as_ref()
        .is_some_and(|name| *name != account.name)
    {
        return Err(refused());
    }
    let secret = crate::auth::generate_secret();
    let new = NewComputer {
        account_id: account.id,
        hostname,
        system_hostname,
        title: title.as_str().to_owned(),
        access_group: request.access_group.unwrap_or_else(|| "global".into()),
        tags: tags.into_vec(),
        secret_hash: secret_hash(&secret),
        now: rampart_domain::time::whole_seconds(Utc::now()),
    };
    let computer = state.store.register_computer(&new).await?;
    tracing::info!(computer = computer.id, hostname = %computer.hostname, "computer registered");
    Ok(Json(Registered {
        computer_id: computer.id,
        secret,
    }))
}

/// The agent making a request, authenticated by its secret.
pub struct Agent(pub ComputerRecord);

impl FromRequestParts<AppState> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let refused = || {
            ApiError::unauthorized("agent calls need `Authorization: Agent <computer id>:<secret>` from registration; the computer may have been deleted")
        };
        let (id, secret) = crate::http::extract::authorization(&parts.headers)
            .ok()
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Agent "))
            .and_then(|v| v.trim().split_once(':'))
            .ok_or_else(refused)?;
        let id = crate::http::extract::path_id(id, "computer").map_err(|_| refused())?;
        let (computer, hash) = state.store.agent_identity(id).await?.ok_or_else(refused)?;
        if secret_hash(secret) != hash {
            return Err(refused());
        }
        // Recorded at most once a minute, and never at the cost of the request: a busy database
        // must not fail an agent's poll or upload over a timestamp.
        let now = Utc::now();
        if computer
            .last_ping_time
            .is_none_or(|at| now - at > chrono::Duration::seconds(60))
        {
            if let Err(e) = state.store.ping_computer(computer.id, now).await {
                tracing::warn!(computer = computer.id, error = %e, "cannot record the ping");
            }
        }
        Ok(Self(computer))
    }
}

/// Which computer the credentials belong to (the agent's health check).
#[utoipa::path(
    get, path = "/agent/v1/me", operation_id = "agentMe", tag = "agent",
    responses(
        (status = 200, description = "The calling computer", body = AgentIdentity),
        (status = 401, description = "Bad credentials, or the computer was deleted", body = ErrorBody),
    )
)]
pub async fn me(Agent(computer): Agent) -> Json<AgentIdentity> {
    Json(AgentIdentity {
        computer_id: computer.id,
        hostname: computer.hostname,
        account_id: computer.account_id,
    })
}

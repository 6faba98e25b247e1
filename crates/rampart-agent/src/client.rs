//! The HTTP side of the agent protocol (`docs/agent-protocol.md`): register, `me`, poll
//! activities, upload results, post an outcome. Every answer becomes a typed result; failures are
//! either transient (connection errors, timeouts, 5xx, 408, 429: try again later) or final (any
//! other 4xx: the server has decided, and sending the same thing again cannot help).

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

use crate::identity::Identity;
use crate::protocol::{ActivityList, Me, Outcome, Poll, Registered, Registration, UploadAnswer};

/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a call may take, beyond the long-poll wait for polls.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Uploads carry a results file of a few MB over links that may be slow.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// Why a call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// Worth trying again later: the server could not be reached or was not able to answer.
    Transient(String),
    /// The server answered with a final refusal (4xx), its code and its message.
    Refused {
        status: u16,
        code: String,
        message: String,
    },
}

impl CallError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transient(reason) => write!(f, "the server is not available: {reason}"),
            Self::Refused {
                status,
                code,
                message,
            } => write!(f, "the server refused ({status} {code}): {message}"),
        }
    }
}

impl std::error::Error for CallError {}

/// The error body every API refusal carries.
#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    message: String,
}

/// A connection to one rampart server, with or without this machine's credentials.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    authorization: Option<String>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("base", &self.base).finish()
    }
}

impl Client {
    /// A client for the server at `base` (e.g. `https://rampart.example.com`).
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("rampart-agent/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base: crate::config::normalize_server(base),
            authorization: None,
        })
    }

    /// The same client, authenticating as `identity`.
    pub fn authenticated(mut self, identity: &Identity) -> Self {
        self.authorization = Some(identity.authorization());
        self
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .timeout(CALL_TIMEOUT);
        match &self.authorization {
            Some(value) => request.header(reqwest::header::AUTHORIZATION, value),
            None => request,
        }
    }

    /// `POST /agent/v1/register`.
    pub async fn register(&self, registration: &Registration) -> Result<Registered, CallError> {
        let request = self
            .request(reqwest::Method::POST, "/agent/v1/register")
            .json(registration);
        json(send(request).await?).await
    }

    /// `GET /agent/v1/me`: who the credentials belong to.
    pub async fn me(&self) -> Result<Me, CallError> {
        json(send(self.request(reqwest::Method::GET, "/agent/v1/me")).await?).await
    }

    /// `GET /agent/v1/activities?wait=…`: the activities waiting for this machine, holding up to
    /// `wait` seconds until there is one, and the benchmark versions the server holds.
    pub async fn activities(&self, wait: u64) -> Result<Poll, CallError> {
        let request = self
            .request(
                reqwest::Method::GET,
                &format!("/agent/v1/activities?wait={wait}"),
            )
            .timeout(CALL_TIMEOUT + Duration::from_secs(wait));
        let list: ActivityList = json(send(request).await?).await?;
        Ok(list.into_poll())
    }

    /// `POST /agent/v1/activities/<id>/results` with a results file (gzip-compressed, as the
    /// spool keeps it): the whole file, or its `TestResult` alone.
    pub async fn upload_results(
        &self,
        activity_id: i64,
        body: Vec<u8>,
    ) -> Result<UploadAnswer, CallError> {
        let request = self
            .request(
                reqwest::Method::POST,
                &format!("/agent/v1/activities/{activity_id}/results"),
            )
            .timeout(UPLOAD_TIMEOUT)
            .header(reqwest::header::CONTENT_TYPE, "application/gzip")
            .body(body);
        let response = send(request).await?;
        // The file is acknowledged by the 200 itself; the counts are only for the log.
        Ok(response.json().await.unwrap_or_default())
    }

    /// `POST /agent/v1/activities/<id>/outcome`.
    pub async fn post_outcome(&self, activity_id: i64, outcome: &Outcome) -> Result<(), CallError> {
        let request = self
            .request(
                reqwest::Method::POST,
                &format!("/agent/v1/activities/{activity_id}/outcome"),
            )
            .json(outcome);
        send(request).await.map(drop)
    }
}

/// Sends `request`; a success status gives the response, anything else a [`CallError`].
async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, CallError> {
    let response = request
        .send()
        .await
        .map_err(|e| CallError::Transient(describe(&e)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let bytes = response.bytes().await.unwrap_or_default();
    let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => (body.error, body.message),
        Err(_) => (
            status
                .canonical_reason()
                .unwrap_or("Error")
                .replace(' ', ""),
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
                .trim()
                .to_owned(),
        ),
    };
    Err(classify(status, code, message))
}

/// Transient for 5xx, 408 and 429 (and any non-4xx surprise); final for the other 4xx.
fn classify(status: StatusCode, code: String, message: String) -> CallError {
    let transient = status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || !status.is_client_error();
    if transient {
        CallError::Transient(format!("{status}: {code}: {message}"))
    } else {
        CallError::Refused {
            status: status.as_u16(),
            code,
            message,
        }
    }
}

/// A success answer's JSON body; one that does not parse is treated as a passing fault (a proxy
/// page, a server being upgraded) rather than a final answer.
async fn json<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T, CallError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|e| CallError::Transient(describe(&e)))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| CallError::Transient(format!("the server's answer is not understood: {e}")))
}

/// A reqwest error with its causes (reqwest's own text omits the interesting part).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_and_throttling_are_transient_and_other_4xx_are_final() {
        let c = |s: u16| classify(StatusCode::from_u16(s).unwrap(), "E".into(), "m".into());
        for status in [500, 502, 503, 504, 429, 408] {
            assert!(c(status).is_transient(), "{status}");
        }
        for status in [400, 401, 403, 404, 409, 413] {
            assert_eq!(
                c(status),
                CallError::Refused {
                    status,
                    code: "E".into(),
                    message: "m".into()
                }
            );
        }
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_transient_failure() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = Client::new(&format!("http://127.0.0.1:{port}")).unwrap();
        let error = client.me().await.unwrap_err();
        assert!(error.is_transient(), "{error}");
    }
}

//! Extractors that turn raw requests into typed input or an `ApiError` with the documented body:
//! JSON objects (whatever the `Content-Type`, since the reference page's own curl examples send
//! JSON as a form), typed request bodies with the faulty field named, and query parameters.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::ApiError;

/// A request body that is a JSON object.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(
                    "the request body is larger than the server accepts (setting max_body_bytes)"
                        .into(),
                )
            } else {
                ApiError::BadRequest {
                    code: "InvalidJson",
                    message: format!("the request body could not be read: {rejection}"),
                }
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::BadRequest {
                code: "InvalidJson",
                message: "the request body is empty; send a JSON object".into(),
            });
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) if map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)) => {
                Err(ApiError::BadRequest {
                    code: "InvalidJson",
                    message:
                        "the request body holds a NUL character (\\u0000), which no field accepts"
                            .into(),
                })
            }
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(other) => Err(ApiError::BadRequest {
                code: "InvalidJson",
                message: format!(
                    "the request body must be a JSON object, not {}",
                    kind(&other)
                ),
            }),
            Err(e) => Err(ApiError::BadRequest {
                code: "InvalidJson",
                message: format!("the request body is not valid JSON: {e}"),
            }),
        }
    }
}

/// Whether any string in `value` holds a NUL, which PostgreSQL cannot store in text.
fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Deserializes a JSON object into a request type, naming the field at fault on error.
pub fn from_object<T: DeserializeOwned>(map: Map<String, Value>) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner().to_string();
        if let Some(rest) = inner.strip_prefix("missing field ") {
            ApiError::BadRequest {
                code: "MissingField",
                message: format!("{rest} is required"),
            }
        } else if inner.starts_with("unknown field ") {
            ApiError::BadRequest {
                code: "UnknownField",
                message: inner,
            }
        } else if field == "." {
            ApiError::invalid(inner)
        } else {
            ApiError::invalid(format!("`{field}`: {inner}"))
        }
    })
}

/// The query string's parameters, in order.
pub struct QueryParams(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let params: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|e| ApiError::parameter(format!("the query string cannot be read: {e}")))?;
        if params
            .iter()
            .any(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(ApiError::parameter(
                "the query string holds a NUL character (%00), which no parameter accepts",
            ));
        }
        Ok(Self(params))
    }
}

impl QueryParams {
    /// The value of `name`, if given once; given twice is an error.
    pub fn single(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::parameter(format!(
                "`{name}` is given more than once"
            )));
        }
        Ok(first)
    }

    /// An integer parameter within `range`.
    pub fn integer(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<i64>,
        meaning: &str,
    ) -> Result<Option<i64>, ApiError> {
        let Some(text) = self.single(name)? else {
            return Ok(None);
        };
        match text.parse::<i64>() {
            Ok(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::parameter(format!(
                "`{name}` must be {meaning}; got `{}`",
                rampart_domain::profile::shorten(text)
            ))),
        }
    }

    /// Every parameter but the named ones, for building `next`/`previous` links.
    pub fn without(&self, names: &[&str]) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter(|(k, _)| !names.contains(&k.as_str()))
            .cloned()
            .collect()
    }
}

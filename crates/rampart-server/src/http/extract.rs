//! Extractors that turn raw requests into typed input or an `ApiError` with the documented body:
//! JSON objects (whatever the `Content-Type`, since the reference page's own curl examples send
//! JSON as a form), typed request bodies with the faulty field named, and query parameters.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::ApiError;

/// Several `Authorization` headers on one request: which one a proxy or client would pick is
/// anyone's guess, so none is taken.
pub struct SeveralAuthorizations;

/// The request's `Authorization` header, `None` without one; refused when it comes more than once.
pub fn authorization(headers: &HeaderMap) -> Result<Option<&HeaderValue>, SeveralAuthorizations> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let first = values.next();
    match values.next() {
        Some(_) => Err(SeveralAuthorizations),
        None => Ok(first),
    }
}

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
        match serde_json::from_slice::<UniqueKeys>(&bytes).map(|u| u.0) {
            Err(e) if e.to_string().starts_with("duplicate field") => Err(ApiError::BadRequest {
                code: "InvalidJson",
                message: format!(
                    "the request body is not acceptable: {}",
                    plain(&e.to_string())
                ),
            }),
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
                message: format!(
                    "the request body is not valid JSON: {}",
                    plain(&e.to_string())
                ),
            }),
        }
    }
}

/// A JSON value whose top-level object, if it is one, names each field once: a repeated field is
/// refused rather than silently taking its last value.
struct UniqueKeys(Value);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = UniqueKeys;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<UniqueKeys, A::Error> {
                let mut map = Map::new();
                while let Some(key) = access.next_key::<String>()? {
                    if map.contains_key(&key) {
                        return Err(serde::de::Error::custom(format!(
                            "duplicate field `{}`",
                            rampart_domain::profile::shorten(&key)
                        )));
                    }
                    map.insert(key, access.next_value()?);
                }
                Ok(UniqueKeys(Value::Object(map)))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                access: A,
            ) -> Result<UniqueKeys, A::Error> {
                let value = serde::Deserialize::deserialize(
                    serde::de::value::SeqAccessDeserializer::new(access),
                )?;
                Ok(UniqueKeys(value))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<UniqueKeys, E> {
                Ok(UniqueKeys(Value::String(v.to_owned())))
            }

            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<UniqueKeys, E> {
                Ok(UniqueKeys(Value::Bool(v)))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<UniqueKeys, E> {
                Ok(UniqueKeys(Value::from(v)))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<UniqueKeys, E> {
                Ok(UniqueKeys(Value::from(v)))
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<UniqueKeys, E> {
                Ok(UniqueKeys(Value::from(v)))
            }

            fn visit_unit<E: serde::de::Error>(self) -> Result<UniqueKeys, E> {
                Ok(UniqueKeys(Value::Null))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// A serde message in the API's words: no Rust type names, and never longer than 300
/// characters however long the value it quotes.
fn plain(message: &str) -> String {
    let mut text = message
        .replace("expected i64", "expected an integer")
        .replace("expected u64", "expected a non-negative integer")
        .replace("expected a sequence", "expected a list")
        .replace("expected a map", "expected an object")
        .replace("invalid type: sequence", "invalid type: list")
        .replace("invalid type: map", "invalid type: object")
        .replace("floating point", "number");
    if text.chars().count() > 300 {
        text = text.chars().take(300).collect::<String>() + "…";
    }
    text
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
        let field = rampart_domain::profile::shorten(&e.path().to_string());
        let inner = plain(&e.into_inner().to_string());
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

/// The id in a `…/<id>` path, in canonical form only (`+7` and `007` name nothing); anything
/// else is a 404 naming `what`.
pub fn path_id(text: &str, what: &str) -> Result<i64, ApiError> {
    let canonical =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
    canonical
        .then(|| text.parse::<i64>().ok())
        .flatten()
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no {what} `{}`",
                rampart_domain::profile::shorten(text)
            ))
        })
}

/// For optional request fields that, when present, must hold a value: `null` is refused rather
/// than read as "no change".
pub fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

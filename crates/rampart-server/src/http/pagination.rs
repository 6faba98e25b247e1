//! `limit`/`offset` paging and the `next`/`previous` links of every list.

use axum::http::{header, HeaderMap, Uri};

use super::error::ApiError;
use super::extract::QueryParams;
use crate::config::Settings;

/// The most a page may hold, and what it holds when `limit` is not given.
pub const MAX_LIMIT: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub limit: i64,
    pub offset: i64,
}

impl Paging {
    pub fn from_query(query: &QueryParams) -> Result<Self, ApiError> {
        let limit = query
            .integer("limit", 1..=MAX_LIMIT, "an integer from 1 to 1000")?
            .unwrap_or(MAX_LIMIT);
        let offset = query
            .integer(
                "offset",
                0..=i64::from(i32::MAX),
                "an integer from 0 to 2147483647",
            )?
            .unwrap_or(0);
        Ok(Self { limit, offset })
    }

    /// The links to the pages after and before this one, keeping the other parameters.
    pub fn links(
        &self,
        count: i64,
        returned: usize,
        query: &QueryParams,
        uri: &Uri,
        headers: &HeaderMap,
        settings: &Settings,
    ) -> (Option<String>, Option<String>) {
        let base = match &settings.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                // Only a plain host[:port] goes into a link; anything else could point elsewhere.
                let host = headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .filter(|h| {
                        !h.is_empty()
                            && h.len() <= 255
                            && h.chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
                    })
                    .unwrap_or("localhost");
                format!("http://{host}")
            }
        };
        let link = |offset: i64| {
            let mut params = query.without(&["limit", "offset"]);
            params.push(("limit".into(), self.limit.to_string()));
            params.push(("offset".into(), offset.to_string()));
            let query = serde_urlencoded::to_string(params).unwrap_or_default();
            format!("{base}{}?{query}", uri.path())
        };
        let end = self.offset + returned as i64;
        let next = (end < count).then(|| link(end));
        let previous = (self.offset > 0).then(|| link((self.offset - self.limit).max(0)));
        (next, previous)
    }
}

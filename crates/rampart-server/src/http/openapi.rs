//! The OpenAPI 3 document, generated from the handlers' annotations and the request/response
//! types, served at `/api/v2/openapi.json` (no token needed).

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::AppState;
use super::{access_groups, activities, agent, blobs, computers, error, login, profiles, reports};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rampart",
        description = "Schedules, runs and reports CIS and DISA-STIG compliance audits across a fleet of Ubuntu machines. `/api/v2/usg-profiles` is an alias of `/api/v2/security-profiles`. Errors are `{\"error\": code, \"message\": text}`."
    ),
    paths(
        login::login,
        access_groups::list,
        access_groups::create,
        computers::list,
        computers::read,
        computers::update,
        computers::remove,
        computers::tags,
        agent::register,
        agent::me,
        agent::work::activities,
        agent::work::results,
        agent::work::outcome,
        profiles::list,
        profiles::read,
        profiles::create,
        profiles::update,
        profiles::archive,
        profiles::execute,
        reports::report,
        blobs::blob,
        activities::list,
        activities::read,
    ),
    components(schemas(error::ErrorBody)),
    modifiers(&BearerAuth),
    tags(
        (name = "login", description = "Tokens"),
        (name = "access-groups", description = "The tree of access groups machines belong to"),
        (name = "security-profiles", description = "What to audit, how, when and where"),
        (name = "activities", description = "Runs, each machine's part in them, and report generation"),
        (name = "computers", description = "The machines agents registered, and their tags"),
        (name = "agent", description = "rampart's own protocol between the server and `rampart-agent`; authenticated with `Authorization: Agent <computer id>:<secret>`"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/v2/openapi.json",
        get(|| async { Json(ApiDoc::openapi()) }),
    )
}

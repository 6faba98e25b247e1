//! API tests: each starts a real server on a random port with a fresh database and talks HTTP
//! to it. Every test runs on SQLite and on PostgreSQL (`RAMPART_TEST_POSTGRES_URL`).

#[path = "../common/mod.rs"]
mod common;
mod helpers;

mod access_groups;
mod auth;
mod first_uploads;
mod fleet;
mod fleet_sim;
mod hardening;
mod hostile_uploads;
mod known_versions;
mod openapi;
mod processes;
mod profiles_bad_input;
mod profiles_create;
mod profiles_list;
mod profiles_update;
mod reports;
mod retention;
mod tailoring;

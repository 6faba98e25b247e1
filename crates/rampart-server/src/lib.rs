//! The rampart server: HTTP API, storage and admin commands. `main.rs` only parses the command
//! line and calls [`cli::run`].
#![forbid(unsafe_code)]

pub mod auth;
pub mod cli;
pub mod config;
pub mod fleet_sim;
pub mod http;
pub mod reports;
pub mod scheduler;
pub mod startup;
pub mod storage;

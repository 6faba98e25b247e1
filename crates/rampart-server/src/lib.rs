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

/// The cores this process may use (2 when the system cannot tell), read once: the server sizes
/// its queues and pools by it.
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

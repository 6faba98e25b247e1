//! The agent's command line: every flag, its environment variable where it has one, and the
//! defaults. `--help` is the reference; this module only parses.

use std::fmt;
use std::path::PathBuf;

use clap::Parser;

/// The default folder for the identity, the spool and work files.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/rampart-agent";

/// The longest long-poll the server accepts (`wait` is 0–60 seconds).
pub const MAX_POLL_WAIT: u64 = 60;

/// The one-line usage, in the spirit of the first agent's.
const USAGE: &str = "\
rampart-agent --server URL --registration-key KEY [--account NAME] [--hostname H]
                     [--tags t1,t2] [--access-group G] [--state-dir DIR] [--usg PATH]
                     [--oscap PATH] [--oscap-datastream FILE] [--restart-command CMD]
                     [--poll-wait SECONDS] [--once]";

/// What `--help` says after the options.
const AFTER_HELP: &str = "\
Registers once with the account's registration key (the identity is kept in
<state dir>/identity.json; later starts need no key), then polls the server for this
machine's activities and carries them out: audits and fixes with `usg` when it is found
(the --usg path, else `usg` on PATH, else /usr/sbin/usg), otherwise with `oscap` and the
--oscap-datastream file; restarts with the restart command. Results wait in
<state dir>/spool until the server acknowledges them, so a server outage loses nothing.
Without --once the agent runs as a daemon, retrying with backoff (1 s doubling to 5 min)
when the server cannot be reached, until SIGINT or SIGTERM.

Exit codes: 0 done (or the daemon stopped by a signal), 1 an error or, with --once, answers
left in the spool, 2 a bad command line. Logs go to stderr; RUST_LOG sets their level.";

/// The agent's command line.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "rampart-agent",
    version,
    about = "rampart-agent — audits this machine for a rampart server",
    override_usage = USAGE,
    after_help = AFTER_HELP
)]
pub struct Config {
    /// Base URL of the rampart server, e.g. https://rampart.example.com.
    #[arg(long, env = "RAMPART_SERVER", value_name = "URL")]
    pub server: String,

    /// The account's registration key; needed only while the machine is not registered.
    #[arg(
        long,
        env = "RAMPART_REGISTRATION_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub registration_key: Option<RegistrationKey>,

    /// The account the key belongs to (checked by the server when given).
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,

    /// The name this machine is listed under [default: the OS host name].
    #[arg(long, value_name = "H")]
    pub hostname: Option<String>,

    /// Tags for this machine, comma-separated.
    #[arg(long, value_name = "t1,t2", value_delimiter = ',')]
    pub tags: Vec<String>,

    /// The access group this machine joins [server's default: global].
    #[arg(long, value_name = "G")]
    pub access_group: Option<String>,

    /// Folder for the identity, the results spool and work files.
    #[arg(long, env = "RAMPART_STATE_DIR", value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,

    /// The usg executable [default: usg on PATH, else /usr/sbin/usg].
    #[arg(long, value_name = "PATH")]
    pub usg: Option<PathBuf>,

    /// The oscap executable, used without usg [default: oscap on PATH].
    #[arg(long, value_name = "PATH")]
    pub oscap: Option<PathBuf>,

    /// The SCAP data stream for oscap; without it oscap is not used.
    #[arg(long, value_name = "FILE")]
    pub oscap_datastream: Option<PathBuf>,

    /// The command that restarts this machine, run with `sh -c`.
    #[arg(long, value_name = "CMD", default_value = "systemctl reboot")]
    pub restart_command: String,

    /// How long a poll waits for activities, 0-60 s (--once: 0).
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=MAX_POLL_WAIT))]
    pub poll_wait: u64,

    /// Handle what is pending, then exit (1 if answers stay in the spool).
    #[arg(long)]
    pub once: bool,
}

impl Config {
    /// The server URL without trailing slashes, as it is compared and joined.
    pub fn server_url(&self) -> String {
        normalize_server(&self.server)
    }
}

/// `https://h/` and `https://h` are the same server.
pub fn normalize_server(url: &str) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

/// The registration key: kept out of `Debug` output and logs.
#[derive(Clone)]
pub struct RegistrationKey(String);

impl RegistrationKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RegistrationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RegistrationKey(****)")
    }
}

impl std::str::FromStr for RegistrationKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim().is_empty() {
            Err("the registration key is empty".into())
        } else {
            Ok(Self(s.trim().to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("rampart-agent").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Config::command().debug_assert();
    }

    #[test]
    fn flags_are_parsed_with_their_defaults() {
        let config = parse(&[
            "--server",
            "http://rampart.test/",
            "--registration-key",
            "k3y-k3y-k3y-k3y-k3y",
            "--tags",
            "web,db",
            "--once",
        ])
        .unwrap();
        assert_eq!(config.server_url(), "http://rampart.test");
        assert_eq!(config.tags, ["web", "db"]);
        assert_eq!(config.poll_wait, 30);
        assert_eq!(config.restart_command, "systemctl reboot");
        assert!(config.once);
        assert!(
            !format!("{config:?}").contains("k3y"),
            "the key stays out of Debug"
        );
    }

    #[test]
    fn a_poll_wait_beyond_the_servers_limit_is_refused() {
        assert!(parse(&["--server", "http://s", "--poll-wait", "61"]).is_err());
        assert!(parse(&["--server", "http://s", "--poll-wait", "60"]).is_ok());
    }
}

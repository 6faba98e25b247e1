//! Settings: one typed struct filled from defaults, then a TOML file, then `RAMPART_*`
//! environment variables, then command-line flags (each later source wins).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

/// A secret that never shows in `Debug` output or logs.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(value))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// Everything `rampart serve` and `rampart admin` can be told.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
    /// Folder for the SQLite database, the JWT secret and blobs.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; default `sqlite://<data_dir>/rampart.db`. A secret, as
    /// it may hold a password.
    pub database_url: Option<Secret>,
    /// Secret that signs login tokens; generated into `<data_dir>/jwt-secret` when absent.
    pub jwt_secret: Option<Secret>,
    /// How long a login token is valid, in hours.
    pub token_ttl_hours: u32,
    /// Largest request body accepted, in bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Largest results file an agent may upload, in bytes (compressed or not).
    pub max_upload_bytes: usize,
    /// Hours a machine has to answer an activity before it fails.
    pub activity_timeout_hours: u32,
    /// Seconds between two looks of the scheduler for due runs and late activities.
    pub scheduler_interval_seconds: u32,
    /// Most active security profiles an account may have.
    pub max_active_profiles: u32,
    /// Most instances one profile audits.
    pub max_instances_per_profile: u32,
    /// Days a run's results are kept, for profiles created without `retention_period`.
    pub retention_period_days: u32,
    /// Base URL used for `next`/`previous` links (e.g. `https://rampart.example.com`); by default
    /// they are built from the request's `Host` header.
    pub public_url: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./rampart-data"),
            database_url: None,
            jwt_secret: None,
            token_ttl_hours: 24,
            max_body_bytes: 8 * 1024 * 1024,
            max_upload_bytes: 64 * 1024 * 1024,
            activity_timeout_hours: 24,
            scheduler_interval_seconds: 10,
            max_active_profiles: 5,
            max_instances_per_profile: 5000,
            retention_period_days: 730,
            public_url: None,
        }
    }
}

/// Values given on the command line, which win over every other source.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
}

impl Settings {
    /// Defaults, then the TOML file (`--config`, else `RAMPART_CONFIG`), then the environment,
    /// then the flags.
    pub fn load(
        overrides: &Overrides,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let file = overrides
            .config
            .clone()
            .or_else(|| env("RAMPART_CONFIG").map(PathBuf::from));
        let mut settings = match &file {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        settings.apply_env(&env)?;
        if let Some(listen) = overrides.listen {
            settings.listen = listen;
        }
        if let Some(url) = &overrides.database_url {
            settings.database_url = Some(Secret::new(url.clone()));
        }
        if let Some(dir) = &overrides.data_dir {
            settings.data_dir = dir.clone();
        }
        settings.check()?;
        Ok(settings)
    }

    fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    fn apply_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        fn parsed<T: std::str::FromStr>(name: &str, value: String) -> anyhow::Result<T>
        where
            T::Err: fmt::Display,
        {
            value
                .trim()
                .parse()
                .map_err(|e| anyhow::anyhow!("{name}={value:?} is not valid: {e}"))
        }
        let var = |name: &str| env(name).filter(|v| !v.is_empty());
        if let Some(v) = var("RAMPART_LISTEN") {
            self.listen = parsed("RAMPART_LISTEN", v)?;
        }
        if let Some(v) = var("RAMPART_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = var("RAMPART_DATABASE_URL") {
            self.database_url = Some(Secret::new(v));
        }
        if let Some(v) = var("RAMPART_JWT_SECRET") {
            self.jwt_secret = Some(Secret::new(v));
        }
        if let Some(v) = var("RAMPART_TOKEN_TTL_HOURS") {
            self.token_ttl_hours = parsed("RAMPART_TOKEN_TTL_HOURS", v)?;
        }
        if let Some(v) = var("RAMPART_MAX_BODY_BYTES") {
            self.max_body_bytes = parsed("RAMPART_MAX_BODY_BYTES", v)?;
        }
        if let Some(v) = var("RAMPART_MAX_UPLOAD_BYTES") {
            self.max_upload_bytes = parsed("RAMPART_MAX_UPLOAD_BYTES", v)?;
        }
        if let Some(v) = var("RAMPART_ACTIVITY_TIMEOUT_HOURS") {
            self.activity_timeout_hours = parsed("RAMPART_ACTIVITY_TIMEOUT_HOURS", v)?;
        }
        if let Some(v) = var("RAMPART_SCHEDULER_INTERVAL_SECONDS") {
            self.scheduler_interval_seconds = parsed("RAMPART_SCHEDULER_INTERVAL_SECONDS", v)?;
        }
        if let Some(v) = var("RAMPART_MAX_ACTIVE_PROFILES") {
            self.max_active_profiles = parsed("RAMPART_MAX_ACTIVE_PROFILES", v)?;
        }
        if let Some(v) = var("RAMPART_MAX_INSTANCES_PER_PROFILE") {
            self.max_instances_per_profile = parsed("RAMPART_MAX_INSTANCES_PER_PROFILE", v)?;
        }
        if let Some(v) = var("RAMPART_RETENTION_PERIOD_DAYS") {
            self.retention_period_days = parsed("RAMPART_RETENTION_PERIOD_DAYS", v)?;
        }
        if let Some(v) = var("RAMPART_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        Ok(())
    }

    fn check(&self) -> anyhow::Result<()> {
        if !(1..=8760).contains(&self.token_ttl_hours) {
            bail!("token_ttl_hours must be between 1 and 8760 (a year)");
        }
        if self.max_body_bytes < 1024 {
            bail!("max_body_bytes must be at least 1024");
        }
        if self.activity_timeout_hours == 0 || self.scheduler_interval_seconds == 0 {
            bail!("activity_timeout_hours and scheduler_interval_seconds must be at least 1");
        }
        if self.max_upload_bytes < 1024 {
            bail!("max_upload_bytes must be at least 1024");
        }
        if self.max_active_profiles == 0 || self.max_instances_per_profile == 0 {
            bail!("max_active_profiles and max_instances_per_profile must be at least 1");
        }
        if !(1..=36_500).contains(&self.retention_period_days) {
            bail!("retention_period_days must be between 1 and 36500");
        }
        if self
            .jwt_secret
            .as_ref()
            .is_some_and(|s| s.expose().len() < 32)
        {
            bail!("jwt_secret must be at least 32 characters");
        }
        if let Some(url) = &self.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("public_url must start with http:// or https://");
            }
        }
        Ok(())
    }

    /// The database URL in force: the configured one, else the SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_owned(),
            None => format!("sqlite://{}", self.data_dir.join("rampart.db").display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn defaults_put_everything_under_the_data_dir() {
        let settings = Settings::load(&Overrides::default(), env(&[])).unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            settings.database_url(),
            "sqlite://./rampart-data/rampart.db"
        );
        assert_eq!(settings.max_active_profiles, 5);
        assert_eq!(settings.max_instances_per_profile, 5000);
        assert_eq!(settings.retention_period_days, 730);
    }

    #[test]
    fn file_then_environment_then_flags_each_win() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rampart.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\nmax_active_profiles = 7\ndata_dir = \"/srv/a\"\n",
        )
        .unwrap();
        let overrides = Overrides {
            config: Some(file),
            data_dir: Some("/srv/c".into()),
            ..Overrides::default()
        };
        let settings = Settings::load(
            &overrides,
            env(&[
                ("RAMPART_LISTEN", "127.0.0.1:9001"),
                ("RAMPART_DATA_DIR", "/srv/b"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:9001");
        assert_eq!(settings.max_active_profiles, 7);
        assert_eq!(settings.data_dir, PathBuf::from("/srv/c"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rampart.toml");
        std::fs::write(&file, "listne = \"0.0.0.0:9000\"\n").unwrap();
        let overrides = Overrides {
            config: Some(file),
            ..Overrides::default()
        };
        let err = format!("{:#}", Settings::load(&overrides, env(&[])).unwrap_err());
        assert!(err.contains("listne"), "{err}");
        let err = Settings::load(&Overrides::default(), env(&[("RAMPART_LISTEN", "nowhere")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("RAMPART_LISTEN"), "{err}");
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let settings = Settings {
            jwt_secret: Some(Secret::new("a-very-long-secret-that-must-not-leak")),
            database_url: Some(Secret::new("postgres://u:db-password@h/db")),
            ..Settings::default()
        };
        let debug = format!("{settings:?}");
        assert!(
            !debug.contains("must-not-leak") && !debug.contains("db-password"),
            "{debug}"
        );
    }
}

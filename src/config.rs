//! Settings: compiled-in defaults, then an optional TOML file (`--config`), then `SONAR_SLACK_*`
//! environment variables. Secrets are held as [`SecretString`] and never printed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::Deserialize;

use crate::domain::delivery::RetryPolicy;

/// Everything the service can be told. Field names are the TOML keys; the environment variable is
/// `SONAR_SLACK_` + the name in upper case (e.g. `SONAR_SLACK_DATABASE_URL`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default = "defaults::database_url")]
    pub database_url: String,
    #[serde(default = "defaults::listen")]
    pub listen: String,
    #[serde(default = "defaults::slack_api_url")]
    pub slack_api_url: String,
    /// Base64 of 32 random bytes. When absent, a key file is created beside the database.
    #[serde(default)]
    pub encryption_key: Option<SecretString>,
    /// Keys that sealed values before `encryption_key` (base64, comma-separated): they only open,
    /// until `sonar-slack keys rotate` has re-sealed everything under `encryption_key`.
    #[serde(default)]
    pub previous_encryption_keys: Option<SecretString>,
    /// Where the generated key lives when `encryption_key` is not set.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// `text` or `json`.
    #[serde(default = "defaults::log_format")]
    pub log_format: String,
    #[serde(default = "defaults::one")]
    pub slack_channel_per_second: u32,
    #[serde(default = "defaults::one")]
    pub slack_channel_burst: u32,
    #[serde(default = "defaults::workspace_per_minute")]
    pub slack_workspace_per_minute: u32,
    #[serde(default = "defaults::slack_timeout_secs")]
    pub slack_timeout_secs: u64,
    #[serde(default = "defaults::retry_after_default_secs")]
    pub retry_after_default_secs: u64,
    #[serde(default = "defaults::retry_backoff_base_ms")]
    pub retry_backoff_base_ms: u64,
    #[serde(default = "defaults::retry_backoff_max_secs")]
    pub retry_backoff_max_secs: u64,
    #[serde(default = "defaults::retry_max_ambiguous")]
    pub retry_max_ambiguous: u32,
    /// This instance's name in channel leases; default: the host name. A restart under the same name
    /// resumes its channels at once. Give each instance its own when several share a host.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// How long an instance owns a channel after its last post (several instances on one database).
    #[serde(default = "defaults::delivery_lease_secs")]
    pub delivery_lease_secs: u64,
    /// How often pending deliveries are looked for (those of other instances, or left by a crash).
    #[serde(default = "defaults::delivery_sweep_secs")]
    pub delivery_sweep_secs: u64,
    /// Connection pool size for PostgreSQL (SQLite always uses one writer connection).
    #[serde(default = "defaults::db_max_connections")]
    pub db_max_connections: u32,
    /// The base URL Slack and browsers reach this service at (redirect, command and linking
    /// URLs). Default: `http://` + `listen`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// The Slack app's Client ID (Basic Information page). Needed for `/slack/install`.
    #[serde(default)]
    pub slack_client_id: Option<String>,
    /// The Slack app's Client Secret. Needed for `/slack/install`.
    #[serde(default)]
    pub slack_client_secret: Option<SecretString>,
    /// The Slack app's Signing Secret. Without it, Slack's requests are refused.
    #[serde(default)]
    pub slack_signing_secret: Option<SecretString>,
    /// Where installers are sent to approve the app.
    #[serde(default = "defaults::slack_authorize_url")]
    pub slack_authorize_url: String,
    /// The slash command's name.
    #[serde(default = "defaults::slack_command")]
    pub slack_command: String,
    /// Bot scopes asked for at install, comma-separated.
    #[serde(default = "defaults::slack_bot_scopes")]
    pub slack_bot_scopes: String,
    /// The app's display name in the manifest.
    #[serde(default = "defaults::slack_app_name")]
    pub slack_app_name: String,
    /// Keep a workspace's subscriptions when the app is uninstalled, so a reinstall restores them.
    #[serde(default = "defaults::yes")]
    pub keep_subscriptions_on_uninstall: bool,
    /// Timeout of each SonarQube Web API call (permission checks on subscribe).
    #[serde(default = "defaults::sonar_timeout_secs")]
    pub sonar_timeout_secs: u64,
    /// A slash command answers inline if done within this; later answers go to `response_url`
    /// (Slack shows an error after 3,000 ms).
    #[serde(default = "defaults::slack_ack_budget_ms")]
    pub slack_ack_budget_ms: u64,
    /// On SIGTERM/SIGINT: how long in-flight HTTP requests and requests out to Slack may take to
    /// finish before the process exits anyway (what is not finished stays pending).
    #[serde(default = "defaults::shutdown_grace_secs")]
    pub shutdown_grace_secs: u64,
    /// How long a client may take to send a request's head (line and headers): 408 after that.
    #[serde(default = "defaults::http_head_timeout_ms")]
    pub http_head_timeout_ms: u64,
    /// How long a client may take to send a request's body: 408 after that.
    #[serde(default = "defaults::http_body_timeout_ms")]
    pub http_body_timeout_ms: u64,
    /// A project's or channel's actor with nothing to do for this long is stopped to free its
    /// memory; its state stays in the database and is read again when it is next needed.
    #[serde(default = "defaults::actor_idle_secs")]
    pub actor_idle_secs: u64,
}

mod defaults {
    pub fn database_url() -> String {
        "sqlite://sonar-slack.db?mode=rwc".into()
    }
    pub fn listen() -> String {
        "127.0.0.1:8080".into()
    }
    pub fn slack_api_url() -> String {
        "https://slack.com/api".into()
    }
    pub fn log_format() -> String {
        "text".into()
    }
    pub fn one() -> u32 {
        1
    }
    pub fn workspace_per_minute() -> u32 {
        100
    }
    pub fn slack_timeout_secs() -> u64 {
        10
    }
    pub fn retry_after_default_secs() -> u64 {
        30
    }
    pub fn retry_backoff_base_ms() -> u64 {
        1000
    }
    pub fn retry_backoff_max_secs() -> u64 {
        300
    }
    pub fn retry_max_ambiguous() -> u32 {
        5
    }
    pub fn delivery_lease_secs() -> u64 {
        30
    }
    pub fn delivery_sweep_secs() -> u64 {
        15
    }
    pub fn db_max_connections() -> u32 {
        10
    }
    pub fn slack_authorize_url() -> String {
        "https://slack.com/oauth/v2/authorize".into()
    }
    pub fn slack_command() -> String {
        "/sonarqube".into()
    }
    pub fn slack_bot_scopes() -> String {
        "channels:read,chat:write,chat:write.public,commands,groups:read".into()
    }
    pub fn slack_app_name() -> String {
        "SonarQube Notifications".into()
    }
    pub fn yes() -> bool {
        true
    }
    pub fn sonar_timeout_secs() -> u64 {
        10
    }
    pub fn slack_ack_budget_ms() -> u64 {
        2000
    }
    pub fn shutdown_grace_secs() -> u64 {
        15
    }
    pub fn http_head_timeout_ms() -> u64 {
        5000
    }
    pub fn http_body_timeout_ms() -> u64 {
        10_000
    }
    pub fn actor_idle_secs() -> u64 {
        300
    }
}

/// `SONAR_SLACK_*` variables that are command arguments, not settings.
const NON_SETTINGS: &[&str] = &["bot_token", "webhook_secret"];

/// Settings that are text, however they look.
const TEXT_SETTINGS: &[&str] = &[
    "database_url",
    "listen",
    "slack_api_url",
    "encryption_key",
    "previous_encryption_keys",
    "key_file",
    "log_format",
    "instance_id",
    "public_url",
    "slack_client_id",
    "slack_client_secret",
    "slack_signing_secret",
    "slack_authorize_url",
    "slack_command",
    "slack_bot_scopes",
    "slack_app_name",
];

/// A base URL browsers and Slack can use: http(s), a host, an optional path, nothing else.
pub fn check_public_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|r| r.split('/').next().unwrap_or_default());
    let fine = host.is_some_and(|h| !h.is_empty())
        && !url.contains(char::is_whitespace)
        && !url.contains(['?', '#']);
    if fine {
        Ok(())
    } else {
        Err(format!(
            "must be an http(s) base URL with a host and no ?query or #fragment, such as https://sonar-slack.example.com or https://example.com/sonar, not {url:?}"
        ))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(String);

impl Settings {
    /// Loads defaults ← `file` ← environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        // A stray SONAR_SLACK_* typo is reported, not silently ignored. The variables read by
        // single commands (CLI secrets) and by the tests are not settings.
        figment = figment.merge(Env::prefixed("SONAR_SLACK_").filter(|k| {
            let k = k.as_str().to_ascii_lowercase();
            !k.starts_with("test_")
                && !NON_SETTINGS.contains(&k.as_str())
                && !TEXT_SETTINGS.contains(&k.as_str())
        }));
        // Figment would read `1111.2222` (a Slack client id) as a number: text settings are taken
        // from the environment as they are.
        for key in TEXT_SETTINGS {
            if let Ok(value) = std::env::var(format!("SONAR_SLACK_{}", key.to_ascii_uppercase())) {
                figment = figment.merge(Serialized::default(key, value));
            }
        }
        let settings: Self = figment.extract().map_err(|e| ConfigError(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Defaults only, for tests and the demo.
    pub fn defaults() -> Self {
        // Deserializing an empty map applies every `#[serde(default)]`.
        serde_json::from_str("{}").unwrap_or_else(|_| unreachable!("every field has a default"))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            (
                "slack_channel_per_second",
                u64::from(self.slack_channel_per_second),
            ),
            ("slack_channel_burst", u64::from(self.slack_channel_burst)),
            (
                "slack_workspace_per_minute",
                u64::from(self.slack_workspace_per_minute),
            ),
            ("db_max_connections", u64::from(self.db_max_connections)),
            ("delivery_lease_secs", self.delivery_lease_secs),
            ("delivery_sweep_secs", self.delivery_sweep_secs),
            ("shutdown_grace_secs", self.shutdown_grace_secs),
            ("http_head_timeout_ms", self.http_head_timeout_ms),
            ("http_body_timeout_ms", self.http_body_timeout_ms),
            ("actor_idle_secs", self.actor_idle_secs),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(ConfigError(format!("{name} must be at least 1")));
            }
        }
        if self.slack_timeout_secs == 0 {
            return Err(ConfigError("slack_timeout_secs must be at least 1".into()));
        }
        let urls = [
            (
                "slack_api_url",
                Some(&self.slack_api_url),
                "https://slack.com/api",
            ),
            (
                "slack_authorize_url",
                Some(&self.slack_authorize_url),
                "https://slack.com/oauth/v2/authorize",
            ),
            (
                "public_url",
                self.public_url.as_ref(),
                "https://sonar-slack.example.com",
            ),
        ];
        for (name, value, example) in urls {
            if let Some(v) = value
                && (!(v.starts_with("http://") || v.starts_with("https://"))
                    || v.contains(char::is_whitespace))
            {
                return Err(ConfigError(format!(
                    "{name} must be an http(s) URL such as {example}, not {v:?}"
                )));
            }
        }
        if !(1..=2800).contains(&self.slack_ack_budget_ms) {
            return Err(ConfigError(format!(
                "slack_ack_budget_ms must be between 1 and 2800 (Slack waits 3000 ms), not {}",
                self.slack_ack_budget_ms
            )));
        }
        if let Some(url) = &self.public_url {
            check_public_url(url).map_err(|why| ConfigError(format!("public_url {why}")))?;
        }
        if self.slack_app_name.trim().is_empty() || self.bot_scopes().is_empty() {
            return Err(ConfigError(
                "slack_app_name and slack_bot_scopes must not be empty (Slack refuses such a manifest)".into(),
            ));
        }
        if self.sonar_timeout_secs == 0 {
            return Err(ConfigError("sonar_timeout_secs must be at least 1".into()));
        }
        if !self.slack_command.starts_with('/') || self.slack_command.len() < 2 {
            return Err(ConfigError(format!(
                "slack_command must start with / (like /sonarqube), not {:?}",
                self.slack_command
            )));
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(ConfigError(format!(
                "log_format must be `text` or `json`, not {:?}",
                self.log_format
            )));
        }
        Ok(())
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            default_retry_after: Duration::from_secs(self.retry_after_default_secs),
            backoff_base: Duration::from_millis(self.retry_backoff_base_ms),
            backoff_max: Duration::from_secs(self.retry_backoff_max_secs),
            max_ambiguous_attempts: self.retry_max_ambiguous,
            ..RetryPolicy::default()
        }
    }

    pub fn delivery_lease(&self) -> Duration {
        Duration::from_secs(self.delivery_lease_secs)
    }

    pub fn delivery_sweep(&self) -> Duration {
        Duration::from_secs(self.delivery_sweep_secs)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// The public base URL, without a trailing slash.
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// The bot scopes, one per item.
    pub fn bot_scopes(&self) -> Vec<String> {
        self.slack_bot_scopes
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn sonar_timeout(&self) -> Duration {
        Duration::from_secs(self.sonar_timeout_secs)
    }

    pub fn http_head_timeout(&self) -> Duration {
        Duration::from_millis(self.http_head_timeout_ms)
    }

    pub fn http_body_timeout(&self) -> Duration {
        Duration::from_millis(self.http_body_timeout_ms)
    }

    pub fn slack_timeout(&self) -> Duration {
        Duration::from_secs(self.slack_timeout_secs)
    }

    pub fn actor_idle(&self) -> Duration {
        Duration::from_secs(self.actor_idle_secs)
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment::Error.
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn defaults_match_the_documented_ones() {
        let s = Settings::defaults();
        assert_eq!(s.database_url, "sqlite://sonar-slack.db?mode=rwc");
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.slack_api_url, "https://slack.com/api");
        assert_eq!(s.slack_workspace_per_minute, 100);
        assert_eq!(s.http_head_timeout(), Duration::from_secs(5));
        assert_eq!(s.http_body_timeout(), Duration::from_secs(10));
        assert!(s.encryption_key.is_none());
    }

    #[test]
    fn file_then_env_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "listen = \"0.0.0.0:9000\"\nslack_channel_burst = 3\n",
            )?;
            jail.set_env("SONAR_SLACK_SLACK_CHANNEL_BURST", "5");
            // Variables of the tests and of single commands are not settings.
            jail.set_env("SONAR_SLACK_TEST_POSTGRES_URL", "postgres://x");
            jail.set_env("SONAR_SLACK_BOT_TOKEN", "xoxb-1");
            // Slack client ids look like numbers; secrets may be all digits.
            jail.set_env("SONAR_SLACK_SLACK_CLIENT_ID", "1111.2222");
            jail.set_env("SONAR_SLACK_SLACK_SIGNING_SECRET", "0123456789");
            let s = Settings::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(s.listen, "0.0.0.0:9000");
            assert_eq!(s.slack_channel_burst, 5);
            assert_eq!(s.slack_client_id.as_deref(), Some("1111.2222"));
            assert_eq!(
                s.slack_signing_secret
                    .as_ref()
                    .map(|x| x.expose_secret().to_owned()),
                Some("0123456789".to_owned())
            );
            Ok(())
        });
    }

    #[test]
    fn public_urls_need_a_scheme_and_a_host_and_nothing_after_the_path() {
        for good in [
            "https://x.example.com",
            "https://example.com/sonar/",
            "http://127.0.0.1:8080",
        ] {
            assert!(check_public_url(good).is_ok(), "{good}");
        }
        for bad in [
            "https://",
            "https:///x",
            "ftp://x",
            "x.example.com",
            "https://x/?a=1",
            "https://x/#f",
            "https://x y",
        ] {
            assert!(check_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_keys_and_zero_rates_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SONAR_SLACK_LISTN", "x");
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("listn"), "{err}");
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("SONAR_SLACK_SLACK_CHANNEL_PER_SECOND", "0");
            assert!(Settings::load(None).is_err());
            Ok(())
        });
    }
}

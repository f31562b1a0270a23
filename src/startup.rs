//! Building and running the service: database, key, actors, resumed deliveries and the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix::{Actor, Addr};
use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use sea_orm::DatabaseConnection;

use crate::actors::tokens::BotTokens;
use crate::actors::{Dispatch, Pacing, Registry, Shared};
use crate::config::Settings;
use crate::crypto::Sealer;
use crate::http::{self, AppState, SlackApp};
use crate::keys;
use crate::shutdown;
use crate::slack::{SlackClient, SlackOAuth};
use crate::sonar::SonarClient;
use crate::store;
use crate::store::writer::Writer;
use crate::telemetry::Counters;

/// A built service, bound to its port but not yet serving.
pub struct Application {
    port: u16,
    server: Server,
    db: DatabaseConnection,
    registry: Addr<Registry>,
    instance: String,
    banner: String,
    shared: Arc<Shared>,
    grace: std::time::Duration,
    stop_clock: shutdown::StopClock,
}

/// Opens (and if needed creates) the database and applies migrations.
pub async fn open_database(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    let db = store::connect(&settings.database_url, settings.db_max_connections)
        .await
        .with_context(|| {
            format!(
                "cannot open the database at {}",
                redact_url(&settings.database_url)
            )
        })?;
    store::migrate(&db)
        .await
        .context("database migration failed")?;
    Ok(db)
}

/// The keys from `SONAR_SLACK_ENCRYPTION_KEY` (and `_PREVIOUS_ENCRYPTION_KEYS`), else the key file
/// (created when missing, unless the database already holds sealed secrets). Refuses keys that do
/// not open every secret sealed in this database, and changes nothing then.
pub async fn load_sealer(settings: &Settings, db: &DatabaseConnection) -> anyhow::Result<Sealer> {
    let source = keys::KeySource::of(settings);
    let sealer = match keys::configured_sealer(settings)? {
        Some(sealer) => sealer,
        None => {
            let keys::KeySource::File(path) = &source else {
                anyhow::bail!("the configured encryption key cannot be read");
            };
            let holds_secrets = !store::sealed::all(db).await?.is_empty();
            if holds_secrets && !path.exists() {
                anyhow::bail!(
                    "this database holds sealed secrets but the key file {} is missing: restore it, or set SONAR_SLACK_ENCRYPTION_KEY (or SONAR_SLACK_KEY_FILE) to the key that sealed them",
                    path.display()
                );
            }
            let (sealer, created) = Sealer::load_or_create(path)?;
            let shown = path.canonicalize().unwrap_or_else(|_| path.clone());
            if created {
                tracing::warn!(key_file = %shown.display(), "created a new encryption key; back it up with the database, sealed tokens cannot be read without it");
            } else {
                warn_if_readable_by_others(path);
            }
            sealer
        }
    };
    let checked = keys::check_all(db, &sealer, &source).await?;
    let ring = sealer.keyring();
    tracing::info!(
        keys = %source.describe(),
        key_id = %ring.primary().id(),
        older_keys = ring.keys().len() - 1,
        secrets = checked,
        "every sealed secret opens"
    );
    Ok(sealer)
}

fn warn_if_readable_by_others(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(key_file = %path.display(), "the key file is readable by other users; chmod 600 it");
        }
    }
}

impl Application {
    /// Must run inside an actix System (`#[actix_web::main]`, `actix_web::rt::System`).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // Bind first: a bad address should fail before anything is created on disk.
        let listener = TcpListener::bind(&settings.listen)
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let db = open_database(&settings).await?;
        let sealer = load_sealer(&settings, &db).await?;
        Self::build_with(settings, db, sealer, listener)
    }

    /// Builds from parts already opened (tests and the demo bind port 0 themselves).
    pub fn build_with(
        settings: Settings,
        db: DatabaseConnection,
        sealer: Sealer,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        let address = listener.local_addr()?;
        let port = address.port();
        let counters = Arc::new(Counters::default());
        // Without a configured public URL, links point at the address actually bound.
        let public_base = match &settings.public_url {
            Some(_) => settings.public_base(),
            None => format!("http://{address}"),
        };
        let oauth = slack_oauth(&settings, &public_base)?;
        let shared = Arc::new(Shared {
            db: db.clone(),
            writer: Writer::spawn(db.clone()),
            sealer: sealer.clone(),
            slack: SlackClient::new(&settings.slack_api_url, settings.slack_timeout())
                .context("cannot build the Slack HTTP client")?,
            tokens: BotTokens::new(db.clone(), sealer.clone(), oauth.clone()),
            policy: settings.retry_policy(),
            pacing: Pacing::new(
                settings.slack_channel_per_second,
                settings.slack_channel_burst,
                settings.slack_workspace_per_minute,
            ),
            counters: counters.clone(),
            instance_id: settings.instance_id.clone().unwrap_or_else(host_name),
            lease_ttl: settings.delivery_lease(),
            sweep_every: settings.delivery_sweep(),
            actor_idle: settings.actor_idle(),
            in_flight: Default::default(),
            stopping: Default::default(),
            armed: Default::default(),
            restart_holds: Default::default(),
        });
        let instance = shared.instance_id.clone();
        let shared_for_stop = shared.clone();
        let registry = Registry::new(shared).start();
        let state_app = Arc::new(SlackApp {
            signing_secret: settings.slack_signing_secret.clone(),
            oauth,
            command: settings.slack_command.clone(),
            public_base,
            keep_subscriptions_on_uninstall: settings.keep_subscriptions_on_uninstall,
            ack_budget: std::time::Duration::from_millis(settings.slack_ack_budget_ms),
        });
        let state = AppState {
            db: db.clone(),
            sealer,
            registry: registry.clone(),
            counters,
            shared: shared_for_stop.clone(),
            app: state_app.clone(),
            sonar: SonarClient::new(settings.sonar_timeout())
                .context("cannot build the SonarQube HTTP client")?,
            sources: Default::default(),
        };
        let grace = settings.shutdown_grace();
        let body_timeout = http::limits::BodyTimeout(settings.http_body_timeout());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(state.clone()))
                .app_data(body_timeout)
                .wrap(actix_web::middleware::from_fn(http::limits::bound_head))
                .configure(http::routes)
        })
        // Stops are ours (`serve` listens for signals; see `shutdown`), bounded by the grace period.
        .disable_signals()
        .shutdown_timeout(grace.as_secs())
        // Slow or stalled clients: the head must arrive in time (else 408), idle connections close
        // after 5 s, and a closing connection gets 1 s to finish.
        .client_request_timeout(settings.http_head_timeout())
        .keep_alive(std::time::Duration::from_secs(5))
        .client_disconnect_timeout(std::time::Duration::from_secs(1))
        .listen(listener)?
        .run();
        let public_unset = settings.public_url.is_none();
        if settings.slack_signing_secret.is_some() && (public_unset || !state_app.secure_cookies())
        {
            tracing::warn!(
                public_base = %state_app.public_base,
                "the Slack app's public URL is {}: Slack calls only https URLs it can reach, and install redirects and linking links point there; set SONAR_SLACK_PUBLIC_URL to the https address",
                if public_unset { "not set (the listening address is used)" } else { "not https" }
            );
        }
        let slack_app = match (&state_app.oauth, &state_app.signing_secret) {
            (Some(_), Some(_)) if public_unset => format!(
                "Slack app configured, but without SONAR_SLACK_PUBLIC_URL its links point at {}",
                state_app.public_base
            ),
            (Some(_), Some(_)) => format!("Slack app ready: install at {}/slack/install", state_app.public_base),
            (None, Some(_)) => "Slack app: commands and events on; set SONAR_SLACK_SLACK_CLIENT_ID and _CLIENT_SECRET to enable /slack/install".into(),
            (_, None) => "Slack app off: set SONAR_SLACK_SLACK_SIGNING_SECRET (and the client id and secret) to enable it".into(),
        };
        let banner = format!(
            "sonar-slack is listening on http://{address} (Slack API {}, instance {instance}); {slack_app}",
            settings.slack_api_url
        );
        Ok(Self {
            port,
            server,
            db,
            registry,
            instance,
            banner,
            shared: shared_for_stop,
            grace,
            stop_clock: Default::default(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the HTTP server (gracefully or not) from anywhere.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// [`Application::run_until_stopped`], stopping gracefully on SIGTERM or SIGINT (`serve`).
    pub async fn serve(self) -> anyhow::Result<()> {
        actix_web::rt::spawn(shutdown::on_signals(
            self.handle(),
            self.shared.clone(),
            self.stop_clock.clone(),
        ));
        self.run_until_stopped().await
    }

    /// Sends what was left pending by an earlier run to the channels, then serves until stopped.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.resume_pending().await?;
        tracing::info!("{}", self.banner);
        self.server.await?;
        let began = self
            .stop_clock
            .get()
            .copied()
            .unwrap_or_else(tokio::time::Instant::now);
        shutdown::finish(&self.shared, began + self.grace).await;
        // A clean stop hands our channels over at once instead of after the lease runs out.
        match store::leases::release_all(&self.db, &self.instance).await {
            Ok(n) => tracing::info!(released = n, "stopped; channel leases released"),
            Err(e) => tracing::warn!(error = %e, "stopped; leases will expire on their own"),
        }
        Ok(())
    }

    async fn resume_pending(&self) -> anyhow::Result<()> {
        let bound = self.shared.policy.max_ambiguous_attempts;
        let interrupted = store::deliveries::note_interrupted(&self.db, bound).await?;
        if !interrupted.given_up.is_empty() {
            let n = interrupted.given_up.len();
            self.shared.counters.deliveries.add("failed", n as u64);
            tracing::warn!(
                failed = n,
                ids = ?interrupted.given_up,
                bound,
                "deliveries that may have posted {bound} times are failed, not sent again; see `sonar-slack deliveries list --state failed`"
            );
        }
        if !interrupted.channels.is_empty() {
            let until = tokio::time::Instant::now() + self.shared.pacing.channel_interval();
            let mut holds = self
                .shared
                .restart_holds
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for channel in &interrupted.channels {
                holds.insert(channel.clone(), until);
            }
        }
        // Each request that was out at the stop may have posted: counted like any other ambiguous
        // failure, so the alert on that counter sees a possible duplicate after a crash too.
        self.shared
            .counters
            .slack_ambiguous_failures
            .fetch_add(interrupted.noted, std::sync::atomic::Ordering::Relaxed);
        let pending = store::deliveries::pending(&self.db).await?;
        if !pending.is_empty() {
            tracing::info!(
                pending = pending.len(),
                interrupted = interrupted.noted,
                "resuming deliveries left pending"
            );
            self.registry.do_send(Dispatch {
                deliveries: pending,
            });
        }
        Ok(())
    }
}

/// The OAuth client, when the Slack app's client id and secret are configured.
fn slack_oauth(settings: &Settings, public_base: &str) -> anyhow::Result<Option<SlackOAuth>> {
    let (Some(id), Some(secret)) = (&settings.slack_client_id, &settings.slack_client_secret)
    else {
        return Ok(None);
    };
    let redirect = format!("{public_base}/slack/oauth/callback");
    SlackOAuth::new(
        id,
        secret,
        &settings.slack_authorize_url,
        &settings.slack_api_url,
        &redirect,
        &settings.bot_scopes(),
        settings.slack_timeout(),
    )
    .map(Some)
    .map_err(|e| anyhow::anyhow!("the Slack OAuth settings are unusable: {e}"))
}

/// The host name, the default instance name in channel leases.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sonar-slack".into())
}

/// Hides a password in a database URL for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => {
                    format!("{}://{}:***{}", &url[..scheme], &creds[..colon], &url[at..])
                }
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}

//! HTTP surface: one file per endpoint group. Handlers are thin: read, verify, hand to actors, answer.

pub mod body;
pub mod commands;
pub mod connect;
pub mod error;
pub mod events;
pub mod health;
pub mod install;
pub mod limits;
pub mod pages;
pub mod slack_auth;
pub mod sources;
pub mod webhooks;

use std::sync::Arc;

use actix::Addr;
use actix_web::web;
use sea_orm::DatabaseConnection;
use secrecy::SecretString;

use crate::actors::{Registry, Shared};
use crate::crypto::Sealer;
use crate::slack::SlackOAuth;
use crate::sonar::SonarClient;
use crate::telemetry::Counters;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub sealer: Sealer,
    pub registry: Addr<Registry>,
    pub counters: Arc<Counters>,
    /// The actors' shared parts: the Slack client and bot tokens.
    pub shared: Arc<Shared>,
    pub app: Arc<SlackApp>,
    pub sonar: SonarClient,
    /// Webhook connections looked up in the last second.
    pub sources: Arc<sources::Sources>,
}

/// The Slack app's settings, as the handlers need them.
pub struct SlackApp {
    /// Without it, every request from Slack is refused.
    pub signing_secret: Option<SecretString>,
    /// Without it, `/slack/install` explains what to configure.
    pub oauth: Option<SlackOAuth>,
    /// The slash command's name, e.g. `/sonarqube`.
    pub command: String,
    /// Where browsers and Slack reach us, without a trailing slash.
    pub public_base: String,
    pub keep_subscriptions_on_uninstall: bool,
    /// How long a slash command may run before it is acknowledged and answered later.
    pub ack_budget: std::time::Duration,
}

impl SlackApp {
    /// Cookies get `Secure` when we are served over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_base.starts_with("https://")
    }

    /// The public URL's path (`/sonar` behind a proxy that mounts us there, else empty): cookie
    /// paths must match what browsers see.
    pub fn cookie_path(&self, path: &str) -> String {
        let prefix = reqwest::Url::parse(&self.public_base)
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        format!("{prefix}{path}")
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    // Each path answers its own methods; another method gets 405 with `Allow`.
    let resource = |path: &'static str, allow: &'static str| {
        web::resource(path).default_service(web::to(move || method_not_allowed(allow)))
    };
    cfg.service(
        resource("/healthz", "GET, HEAD")
            .route(web::get().to(health::healthz))
            .route(web::head().to(health::healthz)),
    )
    .service(
        resource("/readyz", "GET, HEAD")
            .route(web::get().to(health::readyz))
            .route(web::head().to(health::readyz)),
    )
    .service(
        resource("/metrics", "GET, HEAD")
            .route(web::get().to(health::metrics))
            .route(web::head().to(health::metrics)),
    )
    .service(resource("/webhooks/sonarqube", "POST").route(web::post().to(webhooks::receive)))
    .service(resource("/slack/install", "GET").route(web::get().to(install::start)))
    .service(resource("/slack/oauth/callback", "GET").route(web::get().to(install::callback)))
    .service(resource("/slack/commands", "POST").route(web::post().to(commands::receive)))
    .service(resource("/slack/events", "POST").route(web::post().to(events::receive)))
    .service(resource("/slack/interactions", "POST").route(web::post().to(events::interaction)))
    .service(
        resource("/connect/{token}", "GET, POST")
            .route(web::get().to(connect::form))
            .route(web::post().to(connect::submit)),
    )
    .default_service(web::to(not_found));
}

async fn method_not_allowed(allow: &'static str) -> actix_web::HttpResponse {
    actix_web::HttpResponse::MethodNotAllowed()
        .insert_header((actix_web::http::header::ALLOW, allow))
        .json(serde_json::json!({
            "error": "method_not_allowed",
            "message": format!("this endpoint answers {allow} only"),
        }))
}

/// Unknown paths and methods get a JSON answer that lists what exists.
async fn not_found(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    actix_web::HttpResponse::NotFound().json(serde_json::json!({
        "error": "not_found",
        "message": format!(
            "no {} {} here; endpoints: POST /webhooks/sonarqube, GET /slack/install, GET /slack/oauth/callback, POST /slack/commands, POST /slack/events, POST /slack/interactions, GET|POST /connect/{{token}}, GET|HEAD /healthz, GET|HEAD /readyz, GET|HEAD /metrics",
            req.method(),
            req.path()
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::SlackApp;

    fn app(public_base: &str) -> SlackApp {
        SlackApp {
            signing_secret: None,
            oauth: None,
            command: "/sonarqube".into(),
            public_base: public_base.into(),
            keep_subscriptions_on_uninstall: true,
            ack_budget: std::time::Duration::from_secs(2),
        }
    }

    #[test]
    fn cookie_paths_follow_the_public_url_path() {
        assert_eq!(
            app("https://x.example.com").cookie_path("/connect"),
            "/connect"
        );
        assert_eq!(
            app("https://x.example.com/sonar").cookie_path("/connect"),
            "/sonar/connect"
        );
        assert_eq!(
            app("https://x.example.com/a/b").cookie_path("/slack/oauth"),
            "/a/b/slack/oauth"
        );
        assert!(app("https://x.example.com").secure_cookies());
        assert!(!app("http://127.0.0.1:8080").secure_cookies());
    }
}

//! HTTP surface: one file per endpoint group. Handlers are thin: read, verify, hand to actors, answer.

pub mod error;
pub mod health;
pub mod webhooks;

use std::sync::Arc;

use actix::Addr;
use actix_web::web;
use sea_orm::DatabaseConnection;

use crate::actors::Registry;
use crate::crypto::Sealer;
use crate::telemetry::Counters;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub sealer: Sealer,
    pub registry: Addr<Registry>,
    pub counters: Arc<Counters>,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/metrics", web::get().to(health::metrics))
        .route("/webhooks/sonarqube", web::post().to(webhooks::receive));
}

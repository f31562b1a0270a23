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
        .route("/webhooks/sonarqube", web::post().to(webhooks::receive))
        .default_service(web::to(not_found));
}

/// Unknown paths and methods get a JSON answer that lists what exists.
async fn not_found(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    actix_web::HttpResponse::NotFound().json(serde_json::json!({
        "error": "not_found",
        "message": format!(
            "no {} {} here; endpoints: POST /webhooks/sonarqube, GET /healthz, GET /metrics",
            req.method(),
            req.path()
        ),
    }))
}

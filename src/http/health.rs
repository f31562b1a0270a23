//! `GET /healthz` (the process is up and the database answers) and `GET /metrics` (Prometheus text).

use actix_web::{HttpResponse, web};

use super::AppState;
use super::error::ApiError;
use crate::store;

pub async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    store::ping(&state.db)
        .await
        .map_err(|e| ApiError::Unavailable(format!("the database does not answer: {e}")))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ok", "database": "ok"})))
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.counters.render())
}

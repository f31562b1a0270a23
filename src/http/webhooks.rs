//! `POST /webhooks/sonarqube`: read at most 1 MiB, find the connection by `serverUrl`, verify the
//! HMAC over the raw bytes, parse, and answer 200 only once the ProjectActor has committed.

use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;

use super::AppState;
use super::body::read_raw;
use super::error::ApiError;
use super::sources::{Source, SourceError};
use crate::actors::project::IngestError;
use crate::actors::{IngestAnalysis, IngestReport};
use crate::domain::signature::verify_sonar;
use crate::domain::types::ServerUrl;
use crate::domain::webhook::{parse_envelope, parse_event};

/// Largest body accepted; SonarQube's payloads are a few KiB.
pub const MAX_BODY: usize = 1024 * 1024;

pub const SIGNATURE_HEADER: &str = "X-Sonar-Webhook-HMAC-SHA256";

pub async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let result = handle(&req, payload, &state).await;
    // Counted by what SonarQube was told: the decision, or the error code of the refusal.
    match &result {
        Ok(report) => state.counters.webhooks.bump(&report.decision),
        Err(e) => {
            state.counters.webhooks.bump(e.code());
            tracing::warn!(error = %e, "webhook refused");
        }
    }
    let report = result?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "status": "accepted",
        "decision": report.decision,
        "detail": report.detail,
        "channels": report.channels,
    })))
}

async fn handle(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<IngestReport, ApiError> {
    let body = read_raw(req, payload, MAX_BODY, "a SonarQube webhook (JSON)").await?;
    let envelope = parse_envelope(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let server_url = match envelope.server_url.as_deref().map(str::trim) {
        None | Some("") => Err(ApiError::BadRequest(
            "`serverUrl` is missing or empty; SonarQube always sends it".into(),
        )),
        Some(given) => ServerUrl::parse(given).map_err(|_| {
            ApiError::BadRequest(
                "`serverUrl` is not an http(s) URL; SonarQube sends its base URL there (set in Administration > General > Server base URL)".into(),
            )
        }),
    }?;
    let header = req
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    let mut connection = source(state, &server_url, false).await?;
    if let Err(e) = verify(&connection, &body, header) {
        // The secret may have been rotated within the last second: check the stored one.
        connection = source(state, &server_url, true).await?;
        verify(&connection, &body, header).map_err(|_| e)?;
    }
    let event = parse_event(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    state
        .registry
        .send(IngestAnalysis {
            connection_id: connection.id,
            event,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
        .await
        .map_err(|_| {
            ApiError::Unavailable("the service is shutting down; the event was not stored".into())
        })?
        .map_err(|e: IngestError| ApiError::Unavailable(format!("the event was not stored: {e}")))
}

async fn source(
    state: &AppState,
    server_url: &ServerUrl,
    fresh: bool,
) -> Result<std::sync::Arc<Source>, ApiError> {
    state
        .sources
        .get(&state.db, &state.sealer, server_url, fresh)
        .await
        .map_err(|e| match e {
            SourceError::Database(e) => ApiError::Unavailable(format!("the database does not answer ({e}); SonarQube will not retry, so check the service")),
            SourceError::Crypto(e) => ApiError::Unavailable(e.to_string()),
        })?
        .ok_or_else(|| {
            ApiError::Forbidden(format!(
                "SonarQube server {server_url} is not a known connection; add it with `sonar-slack connections add --server-url {server_url} --secret <webhook secret>`"
            ))
        })
}

fn verify(connection: &Source, body: &[u8], header: Option<&str>) -> Result<(), ApiError> {
    let Some(secret) = &connection.secret else {
        return Ok(());
    };
    verify_sonar(secret.expose_secret().as_bytes(), body, header).map_err(|e| {
        ApiError::Unauthorized(format!("{e}; set the same secret on the SonarQube webhook"))
    })
}

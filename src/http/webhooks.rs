//! `POST /webhooks/sonarqube`: read at most 1 MiB, find the connection by `serverUrl`, verify the
//! HMAC over the raw bytes, parse, and answer 200 only once the ProjectActor has committed.

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use secrecy::ExposeSecret;

use super::AppState;
use super::error::ApiError;
use crate::actors::IngestAnalysis;
use crate::actors::project::IngestError;
use crate::domain::signature::verify_sonar;
use crate::domain::types::ServerUrl;
use crate::domain::webhook::{parse_envelope, parse_event};
use crate::store::catalog;
use crate::telemetry::Counters;

/// Largest body accepted; SonarQube's payloads are a few KiB.
pub const MAX_BODY: usize = 1024 * 1024;

/// How long a client may take to send the body (SonarQube itself gives up after 10 s).
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub const SIGNATURE_HEADER: &str = "X-Sonar-Webhook-HMAC-SHA256";

pub async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let result = handle(&req, payload, &state).await;
    match &result {
        Ok(_) => Counters::bump(&state.counters.webhooks_accepted),
        Err(e) => {
            Counters::bump(&state.counters.webhooks_rejected);
            tracing::warn!(error = %e, "webhook refused");
        }
    }
    result
}

async fn handle(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<HttpResponse, ApiError> {
    let body = tokio::time::timeout(BODY_TIMEOUT, read_body(req, payload))
        .await
        .map_err(|_| {
            ApiError::Timeout(format!(
                "the body did not arrive within {} s",
                BODY_TIMEOUT.as_secs()
            ))
        })??;
    let envelope = parse_envelope(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let server_url = envelope
        .server_url
        .as_deref()
        .and_then(|s| ServerUrl::parse(s).ok())
        .ok_or_else(|| {
            ApiError::BadRequest(
                "`serverUrl` is missing or empty; SonarQube always sends it".into(),
            )
        })?;
    let connection = catalog::connection_by_url(&state.db, &server_url)
        .await
        .map_err(|e| ApiError::Unavailable(format!("the database does not answer ({e}); SonarQube will not retry, so check the service")))?
        .ok_or_else(|| {
            ApiError::Forbidden(format!(
                "SonarQube server {server_url} is not a known connection; add it with `sonar-slack connections add --server-url {server_url} --secret <webhook secret>`"
            ))
        })?;
    if let Some(sealed) = &connection.secret_sealed {
        let secret = state
            .sealer
            .open(
                sealed,
                &catalog::webhook_secret_context(&connection.server_url),
            )
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        let header = req
            .headers()
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok());
        verify_sonar(secret.expose_secret().as_bytes(), &body, header).map_err(|e| {
            ApiError::Unauthorized(format!("{e}; set the same secret on the SonarQube webhook"))
        })?;
    }
    let event = parse_event(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let report = state
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
        .map_err(|e: IngestError| {
            ApiError::Unavailable(format!("the event was not stored: {e}"))
        })?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "status": "accepted",
        "decision": report.decision,
        "detail": report.detail,
        "channels": report.channels,
    })))
}

async fn read_body(req: &HttpRequest, mut payload: web::Payload) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::TooLarge(format!(
            "the body is larger than {MAX_BODY} bytes; SonarQube webhooks are far smaller, so check what is posting here"
        ))
    };
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(4096).min(MAX_BODY));
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("the body could not be read: {e}")))?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    if body.is_empty() {
        return Err(ApiError::BadRequest(
            "the body is empty; expected SonarQube's JSON payload".into(),
        ));
    }
    Ok(body)
}

//! Requests from Slack: the raw body is read and its `X-Slack-Signature` checked before anything
//! parses it. A missing, wrong or stale signature gets 401 and nothing is done.

use actix_web::{HttpRequest, web};
use secrecy::ExposeSecret;

use super::AppState;
use super::body::read_raw;
use super::error::ApiError;
use crate::domain::slack_signature::verify_slack;

/// Slash commands and events are small; interaction payloads can carry a whole message.
const MAX_BODY: usize = 256 * 1024;

/// The verified raw body of a request from Slack.
pub async fn verified_body(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    what: &str,
) -> Result<Vec<u8>, ApiError> {
    let Some(secret) = &state.app.signing_secret else {
        return Err(ApiError::Unavailable(
            "the Slack app is not configured here: set SONAR_SLACK_SLACK_SIGNING_SECRET to the app's Signing Secret (Basic Information page) and restart".into(),
        ));
    };
    let body = read_raw(req, payload, MAX_BODY, what).await?;
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    verify_slack(
        secret.expose_secret().as_bytes(),
        header("X-Slack-Request-Timestamp"),
        header("X-Slack-Signature"),
        &body,
        chrono::Utc::now().timestamp(),
    )
    .map_err(|e| {
        crate::telemetry::Counters::bump(&state.counters.slack_requests_refused);
        tracing::warn!(error = %e, path = req.path(), "request from Slack refused");
        ApiError::Unauthorized(e.to_string())
    })?;
    Ok(body)
}

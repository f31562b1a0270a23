//! Reading request bodies as raw bytes (signatures are checked over them), with a size limit
//! enforced while streaming and a time limit for slow senders.

use std::time::Duration;

use actix_web::{HttpRequest, web};
use futures_util::StreamExt;

use super::error::ApiError;
use super::limits::BodyTimeout;

/// How long a client may take to send the body, unless the server says otherwise.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads at most `limit` bytes; `expected` names what should arrive, for the error messages.
pub async fn read_raw(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    expected: &str,
) -> Result<Vec<u8>, ApiError> {
    let timeout = req.app_data::<BodyTimeout>().map_or(BODY_TIMEOUT, |t| t.0);
    tokio::time::timeout(timeout, read(req, payload, limit, expected))
        .await
        .map_err(|_| {
            ApiError::Timeout(format!(
                "the body did not arrive within {} ms",
                timeout.as_millis()
            ))
        })?
}

async fn read(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    expected: &str,
) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::TooLarge(format!(
            "the body is larger than {limit} bytes; {expected} is far smaller, so check what is posting here"
        ))
    };
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(4096).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("the body could not be read: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    if body.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "the body is empty; expected {expected}"
        )));
    }
    Ok(body)
}

//! Bounds on request heads: a request whose headers exceed what any legitimate caller sends is
//! answered 431 before a handler sees it. (actix-http itself refuses heads over 128 KiB or with
//! more than 96 headers, also with 431; the time limits are set on the server in `startup`.)

use actix_web::HttpResponse;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;

/// The most header bytes (names, values, request target) accepted, as common reverse proxies do.
/// SonarQube and Slack send well under 4 KiB.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// How long a client may take to send a request's body, unless configured otherwise.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub std::time::Duration);

/// Answers 431 to requests whose head is larger than [`MAX_HEAD_BYTES`].
pub async fn bound_head(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let size = head_size(&req);
    if size > MAX_HEAD_BYTES {
        let res = HttpResponse::build(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE).json(
            serde_json::json!({
                "error": "headers_too_large",
                "message": format!(
                    "the request's headers take {size} bytes; at most {MAX_HEAD_BYTES} are accepted, so check what is adding headers on the way"
                ),
            }),
        );
        return Ok(req.into_response(res).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

fn head_size(req: &ServiceRequest) -> usize {
    let target = req.uri().to_string().len();
    req.headers()
        .iter()
        // ": " and "\r\n" around each value.
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum::<usize>()
        + target
}

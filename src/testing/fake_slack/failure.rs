//! Every answer but a success: Slack's `ok:false` errors, 429s, 413s and outage pages.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::RETRY_AFTER;
use serde_json::json;

pub(super) enum Failure {
    Error(String),
    Status(u16),
    RateLimited(Option<String>),
    TooLarge,
}

impl Failure {
    pub(super) fn error(code: &str) -> Self {
        Self::Error(code.to_owned())
    }

    /// The HTTP answer and the Slack error code it carries, if any.
    pub(super) fn respond(self) -> (HttpResponse, Option<String>) {
        let slack = |status: StatusCode, code: &str| {
            let response = HttpResponse::build(status).json(json!({ "ok": false, "error": code }));
            (response, Some(code.to_owned()))
        };
        match self {
            Self::Error(code) => slack(StatusCode::OK, &code),
            Self::TooLarge => slack(StatusCode::PAYLOAD_TOO_LARGE, "request_too_large"),
            Self::RateLimited(retry_after) => {
                let (mut response, error) = slack(StatusCode::TOO_MANY_REQUESTS, "ratelimited");
                if let Some(value) = retry_after.and_then(|v| v.try_into().ok()) {
                    response.headers_mut().insert(RETRY_AFTER, value);
                }
                (response, error)
            }
            Self::Status(code) => {
                let status = StatusCode::from_u16(code);
                let status = status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let page = format!("<html><body><h1>{status}</h1></body></html>");
                let mut html = HttpResponse::build(status);
                let response = html.content_type("text/html; charset=utf-8").body(page);
                (response, None)
            }
        }
    }
}

/// Maps any error to the Slack error `code`, for `map_err`.
pub(super) fn fail<E>(code: &'static str) -> impl FnOnce(E) -> Failure {
    move |_| Failure::error(code)
}

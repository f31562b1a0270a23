//! The `oauth2` crate's HTTP client contract over our reqwest client, so reqwest is compiled once
//! and OAuth calls share our timeouts and redirect policy.

use std::future::Future;
use std::pin::Pin;

/// Transport failures talking to `oauth.v2.access`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// `oauth2`'s HTTP client contract over our reqwest client, so reqwest is compiled once.
#[derive(Clone)]
pub(super) struct ReqwestForOAuth(pub(super) reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for ReqwestForOAuth {
    type Error = HttpError;
    type Future =
        Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|e| HttpError(format!("bad request: {e}")))?;
            let response = self
                .0
                .execute(request)
                // Without the URL: it is ours, and errors should stay short.
                .await
                .map_err(|e| HttpError(e.without_url().to_string()))?;
            let mut out = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                out = out.header(name, value);
            }
            let body = response
                .bytes()
                .await
                .map_err(|e| HttpError(e.without_url().to_string()))?;
            out.body(body.to_vec())
                .map_err(|e| HttpError(format!("bad response: {e}")))
        })
    }
}

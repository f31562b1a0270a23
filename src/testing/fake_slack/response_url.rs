//! A `response_url` sink for slash-command replies: JSON POSTs to `/response/{id}`, 5 per URL.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::Value;

use super::failure::Failure;
use super::request::read_body;
use super::{FakeSlack, Shared};

/// Bodies accepted per response_url, after Slack's "up to 5 times within 30 minutes"; the
/// 30 minutes are not enforced.
pub const RESPONSE_URL_USES: usize = 5;

impl FakeSlack {
    /// `http://127.0.0.1:{port}/response/{id}` (not under `/api`). Any id works without setup;
    /// keep it URL-safe (letters, digits, `-`, `_`, `/`).
    pub fn response_url(&self, id: &str) -> String {
        format!("http://{}/response/{id}", self.inner.server.addr())
    }

    /// The JSON bodies accepted at `response_url(id)`, in arrival order.
    pub fn responses(&self, id: &str) -> Vec<Value> {
        self.lock().responses.get(id).cloned().unwrap_or_default()
    }

    /// Waits until `response_url(id)` accepted at least `n` bodies or `timeout` passed, and
    /// returns those accepted by then (fewer than `n` on timeout); needs a tokio runtime with timers.
    pub async fn wait_for_responses(&self, id: &str, n: usize, timeout: Duration) -> Vec<Value> {
        // Subscribing before looking means no body accepted in between goes unnoticed.
        let mut responded = self.inner.shared.responded.subscribe();
        let enough = async {
            while self.responses(id).len() < n {
                if responded.changed().await.is_err() {
                    return; // the sender lives as long as `self`: never
                }
            }
        };
        let _ = tokio::time::timeout(timeout, enough).await;
        self.responses(id)
    }
}

/// HTTP 200 `ok` for the first `RESPONSE_URL_USES` JSON bodies, then 404 `used_url`; a body
/// that is no JSON object gets 400 `invalid_payload` and uses nothing.
pub(super) async fn receive(
    id: web::Path<String>,
    body: web::Payload,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let plain = |status: StatusCode, text: &'static str| {
        let mut response = HttpResponse::build(status);
        response
            .content_type("text/plain; charset=utf-8")
            .body(text)
    };
    let body = match read_body(body).await {
        Ok(bytes) => bytes,
        Err(Failure::TooLarge) => return plain(StatusCode::PAYLOAD_TOO_LARGE, "request_too_large"),
        Err(_) => return plain(StatusCode::BAD_REQUEST, "invalid_payload"),
    };
    let payload = match serde_json::from_slice::<Value>(&body) {
        Ok(payload) if payload.is_object() => payload,
        _ => return plain(StatusCode::BAD_REQUEST, "invalid_payload"),
    };
    {
        let mut state = shared.lock();
        let used = state.responses.entry(id.into_inner()).or_default();
        if used.len() >= RESPONSE_URL_USES {
            return plain(StatusCode::NOT_FOUND, "used_url");
        }
        used.push(payload);
    }
    shared.responded.send_modify(|count| *count += 1);
    plain(StatusCode::OK, "ok")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::super::FakeSlackConfig;
    use super::super::test_support::fake;
    use super::{FakeSlack, RESPONSE_URL_USES};

    async fn respond(slack: &FakeSlack, id: &str, body: &str) -> (u16, String) {
        let response = reqwest::Client::new()
            .post(slack.response_url(id))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    #[tokio::test]
    async fn five_uses_per_url_then_used_url() {
        let slack = fake(FakeSlackConfig::default());
        let url = slack.response_url("T1/42/abc");
        assert_eq!(url, format!("http://{}/response/T1/42/abc", slack.addr()));
        assert_eq!(respond(&slack, "T1/42/abc", "{nope").await.0, 400);
        assert_eq!(respond(&slack, "T1/42/abc", "[1]").await.0, 400);
        for i in 0..RESPONSE_URL_USES {
            let body = json!({ "text": format!("reply {i}") }).to_string();
            let reply = respond(&slack, "T1/42/abc", &body).await;
            assert_eq!(reply, (200, "ok".to_owned()), "use {i}");
        }
        let sixth = respond(&slack, "T1/42/abc", r#"{"text":"six"}"#).await;
        assert_eq!(sixth, (404, "used_url".to_owned()));
        let texts: Vec<_> = slack
            .responses("T1/42/abc")
            .iter()
            .map(|r| r["text"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            texts,
            ["reply 0", "reply 1", "reply 2", "reply 3", "reply 4"]
        );
        assert_eq!(respond(&slack, "other", r#"{"text":"x"}"#).await.0, 200);
        assert_eq!(slack.responses("other"), [json!({ "text": "x" })]);
        assert!(slack.responses("never").is_empty());
        slack.clear();
        assert!(slack.responses("other").is_empty());
    }

    #[tokio::test]
    async fn wait_for_responses_wakes_on_arrival_and_gives_up_at_timeout() {
        let slack = fake(FakeSlackConfig::default());
        let sender = slack.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let first = respond(&sender, "r1", r#"{"text":"one"}"#).await.0;
            let other = respond(&sender, "r2", r#"{"text":"elsewhere"}"#).await.0;
            let second = respond(&sender, "r1", r#"{"text":"two"}"#).await.0;
            [first, other, second]
        });
        let got = slack
            .wait_for_responses("r1", 2, Duration::from_secs(5))
            .await;
        assert_eq!(got, [json!({ "text": "one" }), json!({ "text": "two" })]);
        assert_eq!(task.await.unwrap(), [200, 200, 200]);
        let short = slack
            .wait_for_responses("r1", 3, Duration::from_millis(50))
            .await;
        assert_eq!(short.len(), 2);
    }
}
